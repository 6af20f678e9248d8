/* mmlora info: model size and the trainable parameters of a method, printed as PEFT does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "model/model.h"
#include "peft/method.h"
#include "train/memory_plan.h"
#include "util/device.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f, "usage: mmlora info --model DIR [--method fpft-mix|lora-mix|lora-each|mola|mmlora|one-shot|few-shot]\n"
               "                   [--rank R] [--alpha A] [--languages N] [--set key=value ...]\n"
               "                   [--memory [--device cpu|cuda|auto] [--batch B] [--seq T] [--recompute] [--budget-gb G] [--dtype fp32|bf16]\n"
               "                    [--act-dtype fp32|bf16]]\n"
               "  DIR needs only config.json; prints layers, base parameters, trainable parameters and\n"
               "  trainable%% = trainable / (frozen + trainable), tied weights once, truncated to 2 decimals.\n"
               "  --memory: the planned training memory for micro-batch B (default 24) x sequence T (default 288):\n"
               "  weights, trainable, gradients, AdamW, activations; cpu = what the CPU engine allocates (fp32),\n"
               "  cuda = the CUDA engine (in device memory; no GPU needed to plan).  --dtype bf16 (a run's --set\n"
               "  dtype=bf16): bf16 copies of the frozen linears and LM head, everything else fp32; on cuda they\n"
               "  replace the fp32 matrices, on cpu they come beside the model.  Not for full fine-tuning.\n"
               "  --act-dtype bf16 (a run's --set act_dtype=bf16): the activations backward reads kept in bf16.\n"
               "  Checked against --budget-gb (default: the GPU's memory, else 24 for cuda, the available RAM for\n"
               "  cpu), with the switches that shrink it.\n");
}

static int print_memory(const mm_model *m, const mm_method_spec *spec, int n_lang, const char *device, int batch,
                        int seq, int recompute, double budget_gb, const char *dtype, const char *act_dtype) {
    if (!mm_device_name_ok(device)) {
        fprintf(stderr, "mmlora: error: --device %s: expected cpu, cuda or auto\n", device);
        return 2;
    }
    const mm_device_info *gpu = mm_device_probe();
    const int cuda = !strcmp(device, "cuda") || (!strcmp(device, "auto") && gpu->n_gpus);
    const int dt = mm_engine_dtype_parse(dtype);
    if (dt < 0) {
        fprintf(stderr, "mmlora: error: --dtype %s: expected fp32 or bf16\n", dtype);
        return 2;
    }
    const int adt = mm_engine_dtype_parse(act_dtype);
    if (adt < 0) {
        fprintf(stderr, "mmlora: error: --act-dtype %s: expected fp32 or bf16\n", act_dtype);
        return 2;
    }
    const int layout = mm_memory_plan_layout(cuda, dt);
    const int act16 = adt == MM_DTYPE_BF16, act = (recompute ? MM_ACT_RECOMPUTE : 0) | (act16 ? MM_ACT_BF16 : 0);
    mm_memory_plan p, alt;
    if (mm_memory_plan_make(m, spec, n_lang, batch, seq, act, layout, &p)) {
        fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
        return 2;
    }
    mm_memory_plan_print(&p, stdout);
    double budget = budget_gb * 1073741824.0;
    const char *what = "--budget-gb";
    if (budget <= 0 && cuda) {
        budget = gpu->n_gpus ? (double)gpu->total_bytes : 24.0 * 1073741824.0;
        what = gpu->n_gpus ? gpu->name : "a 24 GiB GPU (RTX 4090, the paper's)";
    } else if (budget <= 0) {
        budget = (double)mm_memory_available();
        what = "available RAM";
    }
    if (budget <= 0) return 0;
    const int fits = (double)p.total <= budget;
    printf("budget: %.2f GiB (%s): %s\n", budget / 1073741824.0, what, fits ? "fits" : "does NOT fit");
    if (!act16 && !mm_memory_plan_make(m, spec, n_lang, batch, seq, act | MM_ACT_BF16, layout, &alt))
        printf("  with --act-dtype bf16: %.3f GiB (activations %.3f GiB)%s\n", alt.total / 1073741824.0,
               alt.activations / 1073741824.0, !fits && (double)alt.total <= budget ? ": fits" : "");
    if (!recompute && !mm_memory_plan_make(m, spec, n_lang, batch, seq, act | MM_ACT_RECOMPUTE, layout, &alt))
        printf("  with --recompute: %.3f GiB (activations %.3f GiB)%s\n", alt.total / 1073741824.0,
               alt.activations / 1073741824.0, !fits && (double)alt.total <= budget ? ": fits" : "");
    if (!fits && batch > 1 && !mm_memory_plan_make(m, spec, n_lang, batch / 2, seq, act, layout, &alt))
        printf("  with micro-batch %d (same global batch by accumulation, --set micro_batch=%d): %.3f GiB\n", batch / 2,
               batch / 2, alt.total / 1073741824.0);
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *method = "lora-mix";
    int rank = 0, n_lang = 6, memory = 0, batch = 24, seq = 288, recompute = 0;
    const char *device = "auto", *dtype = "fp32", *act_dtype = "fp32";
    double alpha = 0, budget_gb = 0;
    const char *sets[64];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--memory")) { memory = 1; continue; }
        if (!strcmp(a, "--recompute")) { recompute = 1; continue; }
        if (i + 1 >= argc) { fprintf(stderr, "mmlora: error: option '%s' needs a value\n", a); return 2; }
        if (!strcmp(a, "--model")) model = argv[++i];
        else if (!strcmp(a, "--method")) method = argv[++i];
        else if (!strcmp(a, "--rank")) rank = atoi(argv[++i]);
        else if (!strcmp(a, "--alpha")) alpha = atof(argv[++i]);
        else if (!strcmp(a, "--languages")) n_lang = atoi(argv[++i]);
        else if (!strcmp(a, "--set") && n_sets < 64) sets[n_sets++] = argv[++i];
        else if (!strcmp(a, "--device")) device = argv[++i];
        else if (!strcmp(a, "--batch")) batch = atoi(argv[++i]);
        else if (!strcmp(a, "--seq")) seq = atoi(argv[++i]);
        else if (!strcmp(a, "--budget-gb")) budget_gb = atof(argv[++i]);
        else if (!strcmp(a, "--dtype")) dtype = argv[++i];
        else if (!strcmp(a, "--act-dtype")) act_dtype = argv[++i];
        else { fprintf(stderr, "mmlora: error: unknown option '%s'\n", a); usage(stderr); return 2; }
    }
    if (!model) { fprintf(stderr, "mmlora: error: --model DIR is required\n"); usage(stderr); return 2; }
    mm_model_config cfg;
    mm_model m;
    mm_method_spec spec;
    if (mm_config_load(model, &cfg) || mm_model_layout(&m, &cfg) || mm_method_from_name(method, &spec)) {
        fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
        return 1;
    }
    if (rank < 0) { fprintf(stderr, "mmlora: error: --rank must be positive\n"); return 2; }
    if (rank) { spec.rank = rank; if (!alpha) spec.alpha = 2.0f * rank; }
    if (alpha) spec.alpha = (float)alpha;
    for (int i = 0; i < n_sets; i++)
        if (mm_method_set(&spec, sets[i])) { fprintf(stderr, "mmlora: error: %s\n", mm_last_error()); free(m.tensors); return 2; }
    if (mm_method_validate(&spec)) { fprintf(stderr, "mmlora: error: %s\n", mm_last_error()); free(m.tensors); return 2; }
    long long base = mm_config_base_params(&cfg), trainable = mm_method_trainable(&m, &spec, n_lang);
    long long all = spec.kind == MM_METHOD_FPFT_MIX ? base : base + trainable;
    char b[32], t[32], a[32], pct[32];
    mm_format_thousands(b, sizeof b, base);
    mm_format_thousands(t, sizeof t, trainable);
    mm_format_thousands(a, sizeof a, all);
    mm_format_percent_trunc2(pct, sizeof pct, trainable, all);
    printf("model: %s (%s, %d layers, d_model %d, %d heads, %d kv heads, d_ff %d, vocab %d)\n", model,
           cfg.family == MM_FAMILY_LLAMA ? "llama" : "gpt_bigcode", cfg.n_layer, cfg.d_model, cfg.n_head,
           cfg.n_kv_head, cfg.d_ff, cfg.vocab_size);
    printf("base params: %s\n", b);
    char desc[512];
    mm_method_describe(&spec, desc, sizeof desc);
    printf("method: %s\n", desc);
    if (spec.kind != MM_METHOD_FPFT_MIX && !mm_method_in_context(&spec)) {
        printf("targets:");
        for (int i = 0; i < m.n_targets; i++) printf("%s %s", i ? "," : "", m.targets[i].name);
        printf("\n");
    }
    printf("trainable params: %s || all params: %s || trainable%%: %s\n", t, a, pct);
    int rc = memory ? print_memory(&m, &spec, n_lang, device, batch, seq, recompute, budget_gb, dtype, act_dtype) : 0;
    free(m.tensors);
    return rc;
}
