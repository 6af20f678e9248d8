/* prepare -> train -> generate -> score for one run directory (train/run.h). */
#include "train/run.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "data/cache.h"
#include "data/prepare_model.h"
#include "infer/generate.h"
#include "io/safetensors.h"
#include "io/tokenizer.h"
#include "model/engine.h"
#include "peft/mmlora.h"
#include "peft/peft_io.h"
#include "train/batches.h"
#include "train/dist.h"
#include "train/memory_plan.h"
#include "train/run_dir.h"
#include "train/run_icl.h"
#include "train/trainer.h"
#include "util/device.h"
#include "util/fileio.h"
#include "util/log.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const mm_run_opts *o;
    mm_model model;
    mm_tokenizer *tok;
    mm_cache *train, *test;
    char cache_dir[1024];
    int n_lang;
    int eos, n_sep;
    double t_train, t_generate;
    long long trainable, all_params;
    char model_name[64];
    const mm_kernels *k; /* the table training and generation run on (--device) */
    char device[192];    /* run.json's "device": cpu, cuda:<GPU name>, cpu-standin */
} run_ctx;

/* ------------------------------------------------------------------ set-up */
static int load_everything(run_ctx *r) {
    const mm_run_opts *o = r->o;
    char path[2048];
    snprintf(path, sizeof path, "%s/config.json", o->model_dir);
    if (!mm_file_exists(path))
        return mm_fail("%s: no config.json; see models/README.md for the files a model directory needs", o->model_dir);
    r->tok = mm_tokenizer_load(o->model_dir);
    if (!r->tok) return -1;
    if (mm_model_load(&r->model, o->model_dir)) {
        char m[1024];
        snprintf(m, sizeof m, "%s", mm_last_error());
        return mm_fail("%s (download the weights as models/README.md says)", m);
    }
    if (mm_tokenizer_vocab_size(r->tok) > r->model.cfg.vocab_size)
        return mm_fail("%s: tokenizer has %d ids but the model's vocab_size is %d", o->model_dir,
                       mm_tokenizer_vocab_size(r->tok), r->model.cfg.vocab_size);
    /* prepare (or reuse) the token caches */
    mm_prepare_opts po;
    memset(&po, 0, sizeof po);
    int kind = mm_dataset_parse(o->dataset);
    if (kind < 0) return mm_fail("unknown dataset '%s' (csn, xlcost or local)", o->dataset);
    po.load.kind = (mm_dataset_kind)kind;
    po.load.raw = o->raw_dir;
    po.cache_root = o->cache_root;
    po.spec.max_source = o->max_source;
    po.spec.max_target = o->max_target;
    po.fraction = o->fraction;
    po.seed = o->seed;
    po.progress = isatty(2) ? 1 : 2;
    char msg[8192];
    if (mm_dataset_check(&po.load, 7, msg, sizeof msg) < 0) return mm_fail("%s", msg);
    if (mm_prepare_bind_model(&po, o->model_dir, r->tok, o->sep)) return -1;
    mm_prepare_result pr;
    /* data parallel: rank 0 builds the caches, the others then find them valid and reuse them */
    int prc = mm_dist_rank() == 0 ? mm_prepare_run(&po, &pr) : 0;
    mm_dist_barrier();
    if (!prc && mm_dist_rank() != 0) prc = mm_prepare_run(&po, &pr);
    if (prc) return -1;
    snprintf(r->cache_dir, sizeof r->cache_dir, "%s", pr.dir);
    snprintf(path, sizeof path, "%s/train.bin", pr.dir);
    if (!(r->train = mm_cache_open(path))) return -1;
    snprintf(path, sizeof path, "%s/test.bin", pr.dir);
    if (!(r->test = mm_cache_open(path))) return -1;
    const mm_cache_header *h = mm_cache_header_get(r->train);
    r->n_lang = h->n_langs;
    r->eos = h->eos_id;
    r->n_sep = h->n_sep;
    return 0;
}

static void free_everything(run_ctx *r) {
    if (r->train) mm_cache_close(r->train);
    if (r->test) mm_cache_close(r->test);
    if (r->tok) mm_tokenizer_free(r->tok);
    if (r->model.params) mm_model_free(&r->model);
}

static const char *lang_name(const run_ctx *r, int l) { return mm_cache_header_get(r->train)->lang_names[l]; }

/* ------------------------------------------------------------------ training */
typedef struct {
    run_ctx *r;
    const char *unit;     /* "all" or a language */
    int lang;             /* -1 or the language (LoRA-Each) */
    mm_adapters ad;
    mm_mmlora mm;
    int has_ad;
} unit_state;

static int save_adapter(unit_state *u, const char *dir) {
    const mm_run_opts *o = u->r->o;
    if (mm_mkdirs(dir)) return -1;
    char path[4200];
    if (!u->has_ad) { /* full fine-tuning: the whole model */
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        return mm_model_save(&u->r->model, path);
    }
    if (o->method.kind == MM_METHOD_LORA_MIX || o->method.kind == MM_METHOD_LORA_EACH)
        return mm_adapters_save_peft(&u->ad, &u->r->model, dir, o->model_dir);
    /* MoLA / MMLoRA: the flat trainable buffer and a description (not loadable by stock PEFT) */
    mm_st_writer *w = mm_st_writer_new();
    int64_t shape[1] = {(int64_t)u->ad.n_params};
    mm_st_writer_add(w, "adapter.params", MM_DT_F32, 1, shape, u->ad.params);
    char desc[512];
    mm_method_describe(&o->method, desc, sizeof desc);
    mm_st_writer_metadata(w, "format", "pt");
    mm_st_writer_metadata(w, "mmlora_method", desc);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    int rc = mm_st_writer_save(w, path);
    mm_st_writer_free(w);
    return rc;
}

static void progress(const char *unit, int step, int total, double loss, double aux, float lr, double tps, double elapsed) {
    static double last = 0;
    double t = now_s();
    int tty = isatty(2);
    if (!tty && step != total && t - last < 10.0) return;
    last = t;
    double eta = step > 0 ? elapsed / step * (total - step) : 0;
    fprintf(stderr, "%s[%s] step %d/%d loss %.4f%s lr %.2e %.0f tok/s ETA %02d:%02d%s", tty ? "\r" : "", unit, step,
            total, loss, aux != 0 ? " (+expert)" : "", lr, tps, (int)(eta / 60), (int)eta % 60, tty ? "  " : "\n");
    if (tty && step == total) fputc('\n', stderr);
}

/* test hook MMLORA_FAULT=rank:step:hang|error: this rank stops responding, or fails, after that step
 * (tests/unit/test_dist.c: the other ranks must stop with a message, not wait forever) */
static int fault_hook(long step) {
    const char *f = getenv("MMLORA_FAULT");
    int rank;
    long at;
    char what[16];
    if (!f || sscanf(f, "%d:%ld:%15s", &rank, &at, what) != 3 || rank != mm_dist_rank() || at != step) return 0;
    if (!strcmp(what, "hang"))
        for (;;) sleep(60);
    return mm_fail("MMLORA_FAULT: rank %d fails at step %ld (test hook)", rank, step);
}

static int train_unit(unit_state *u, mm_engine *e) {
    run_ctx *r = u->r;
    const mm_run_opts *o = r->o;
    mm_batches bt;
    if (mm_batches_init(&bt, r->train, u->lang, o->train_per_lang, o->epochs, o->micro, o->seed, r->eos)) return -1;
    mm_train_config tc;
    mm_train_config_defaults(&tc);
    tc.lr = o->lr;
    tc.warmup_steps = o->warmup;
    tc.weight_decay = o->weight_decay;
    tc.clip_norm = o->clip;
    tc.accum = o->batch / o->micro;
    tc.seed = o->seed;
    uint64_t micro_total = mm_batches_total_micro(&bt);
    int total = (int)((micro_total + tc.accum - 1) / tc.accum);
    if (o->max_steps > 0 && o->max_steps < total) total = (int)o->max_steps;
    tc.total_steps = total;
    mm_trainer tr;
    if (mm_trainer_init(&tr, e, &tc)) { mm_batches_free(&bt); return -1; }
    if (u->mm.gates) mm_mmlora_hooks(&u->mm, &tr.hooks);
    char ckpt[2048], log[2048];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint/%s.safetensors", o->out_dir, u->unit);
    /* one log per trained adapter: train.jsonl, or train.<lang>.jsonl for LoRA-Each */
    if (u->lang < 0) snprintf(log, sizeof log, "%s/train.jsonl", o->out_dir);
    else snprintf(log, sizeof log, "%s/train.%s.jsonl", o->out_dir, u->unit);
    int rc = 0;
    if (mm_file_exists(ckpt)) {
        if ((rc = mm_trainer_load(&tr, ckpt))) goto done;
        if (tr.step < total) mm_info("[%s] resuming from %s at step %d of %d", u->unit, ckpt, tr.step, total);
    }
    if (mm_dist_rank() == 0) mm_train_log_truncate(log, tr.step);
    mm_info("[%s] training %zu examples x %d epoch(s): %d steps of %d sequences (micro-batch %d), lr %g, warm-up %d",
            u->unit, bt.n, o->epochs, total, o->batch, o->micro, o->lr, o->warmup);
    double t0 = now_s();
    while (tr.step < total) {
        double ts = now_s();
        int st = mm_trainer_step(&tr, mm_batches_next, &bt);
        if (st < 0) {
            char m[1024];
            snprintf(m, sizeof m, "%s", mm_last_error());
            rc = mm_fail("[%s] training stopped: %s (the last checkpoint, %s, is intact)", u->unit, m,
                         mm_file_exists(ckpt) ? ckpt : "none yet");
            goto done;
        }
        if (st == 0) break;
        double dt = now_s() - ts;
        double tps = tr.last_tokens > 0 ? (double)e->B * e->T * tc.accum / dt : 0;
        if (mm_dist_rank() == 0)
            mm_train_log_append(log, tr.step, tr.last_loss, tr.last_aux_loss, tr.last_lr, tps, tr.last_grad_norm);
        if (mm_dist_rank() == 0) progress(u->unit, tr.step, total, tr.last_loss, tr.last_aux_loss, tr.last_lr, tps, now_s() - t0);
        if ((rc = fault_hook(tr.step))) goto done;
        if (tr.step % o->ckpt_every == 0 && tr.step < total) {
            if ((rc = mm_trainer_save(&tr, ckpt, NULL))) goto done;
            /* test hook: die without any clean-up right after a given checkpoint (tests/unit/test_run.c) */
            const char *kill_at = getenv("MMLORA_KILL_AT_STEP");
            if (kill_at && atoi(kill_at) == tr.step) raise(SIGKILL);
        }
    }
    rc = mm_trainer_save(&tr, ckpt, NULL);
    r->t_train += now_s() - t0;
done:
    mm_trainer_free(&tr);
    mm_batches_free(&bt);
    return rc;
}

/* ------------------------------------------------------------------ generation */

/* the run's table is a real GPU's (its memory is the GPU's; the stand-in's is the host's) */
static int on_gpu(const run_ctx *r) {
    return r->k->device_memory && r->k != mm_kernels_cpu_standin() && r->k != mm_kernels_cpu_standin_guarded();
}

static int generate_lang(unit_state *u, int lang) {
    run_ctx *r = u->r;
    const mm_run_opts *o = r->o;
    size_t *sel, n;
    int rc = mm_eval_select(r->test, lang, lang_name(r, lang), o->eval_per_lang, r->cache_dir, o->out_dir, &sel, &n);
    if (rc || !n) return rc;
    if (u->mm.gates) { /* one language: its router weights, the same for every row */
        int32_t l = lang;
        if ((rc = mm_mmlora_begin(&u->mm, &l, 1, 1, 0, 0, 0))) goto out;
        u->ad.gate_group = 0;
        u->ad.dgates = NULL;
    }
    const int max_prompt = o->max_source + r->n_sep;
    if (on_gpu(r)) { /* the decoder's memory on the GPU */
        const size_t need = mm_generator_bytes(&r->model, u->has_ad ? &u->ad : NULL, 1, o->gen_batch,
                                               max_prompt + o->max_new + 1, o->gen_batch * max_prompt, o->dtype);
        const size_t avail = mm_device_probe()->total_bytes;
        if (avail && need > avail) {
            rc = mm_fail("not enough memory on the GPU for generation: %.2f GiB needed (weights, adapters, KV cache for "
                         "%d sequences of %d tokens, a prefill of %d rows), %.2f GiB available; shrink it with "
                         "--set gen_batch=%d",
                         need / 1073741824.0, o->gen_batch, max_prompt + o->max_new + 1, o->gen_batch * max_prompt,
                         avail / 1073741824.0, o->gen_batch > 1 ? o->gen_batch / 2 : 1);
            goto out;
        }
    }
    mm_generator g;
    if ((rc = mm_generator_init_dtype(&g, r->k, &r->model, u->has_ad ? &u->ad : NULL, o->gen_batch,
                                      max_prompt + o->max_new + 1, o->gen_batch * max_prompt, o->dtype)))
        goto out;
    mm_sbuf pred = {0};
    mm_sb_puts(&pred, "");
    int32_t *bufs = mm_xmalloc(sizeof(int32_t) * (size_t)o->gen_batch * o->max_new);
    for (size_t i0 = 0; i0 < n && !rc; i0 += (size_t)o->gen_batch) {
        int B = (int)(n - i0 < (size_t)o->gen_batch ? n - i0 : (size_t)o->gen_batch);
        const int32_t *prompts[256];
        int plen[256], olen[256];
        int32_t *outs[256];
        for (int b = 0; b < B; b++) {
            mm_cache_example ex;
            mm_cache_get(r->test, sel[i0 + b], &ex);
            prompts[b] = ex.ids;
            plen[b] = ex.n_src;
            outs[b] = bufs + (size_t)b * o->max_new;
        }
        if ((rc = mm_generate_greedy(&g, prompts, plen, B, o->max_new, r->eos, outs, olen))) break;
        for (int b = 0; b < B; b++) {
            char *txt = mm_tokenizer_decode(r->tok, outs[b], (size_t)olen[b], 1);
            mm_prediction_add(&pred, sel[i0 + b], txt);
            free(txt);
        }
    }
    if (!rc) {
        char path[2048];
        snprintf(path, sizeof path, "%s/predictions/%s.txt", o->out_dir, lang_name(r, lang));
        rc = mm_sb_write(&pred, path);
        mm_info("[%s] %zu predictions for %s", u->unit, n, lang_name(r, lang));
    }
    mm_sb_free(&pred);
    free(bufs);
    mm_generator_free(&g);
out:
    free(sel);
    return rc;
}

static int write_experts(unit_state *u) {
    run_ctx *r = u->r;
    const int N = r->n_lang, M = u->mm.spec.experts;
    float *w = mm_xmalloc(sizeof(float) * (size_t)N * M);
    if (mm_mmlora_allocation(&u->mm, w)) { free(w); return -1; }
    cJSON *j = cJSON_CreateObject(), *langs = cJSON_AddArrayToObject(j, "languages");
    for (int l = 0; l < N; l++) cJSON_AddItemToArray(langs, cJSON_CreateString(lang_name(r, l)));
    cJSON_AddNumberToObject(j, "experts", M);
    cJSON *W = cJSON_AddArrayToObject(j, "weights"), *T = cJSON_AddArrayToObject(j, "totals");
    for (int l = 0; l < N; l++) {
        cJSON *row = cJSON_CreateArray();
        for (int m = 0; m < M; m++) cJSON_AddItemToArray(row, cJSON_CreateNumber(w[(size_t)l * M + m]));
        cJSON_AddItemToArray(W, row);
    }
    for (int m = 0; m < M; m++) {
        double s = 0;
        for (int l = 0; l < N; l++) s += w[(size_t)l * M + m];
        cJSON_AddItemToArray(T, cJSON_CreateNumber(s));
    }
    char *txt = cJSON_Print(j), path[2048];
    snprintf(path, sizeof path, "%s/experts.json", r->o->out_dir);
    int rc = mm_write_file_atomic(path, txt, strlen(txt));
    free(txt);
    cJSON_Delete(j);
    free(w);
    return rc;
}

/* Out of memory is a message with the planned sizes and the switches that shrink them, before the
 * allocation (on the host the weights are already loaded, so they are left out of the comparison; a GPU run is
 * checked against the GPU's memory with everything planned on it). */
static int check_memory(unit_state *u, int T) {
    run_ctx *r = u->r;
    const mm_run_opts *o = r->o;
    mm_memory_plan p;
    /* a GPU run is planned and checked against the GPU's memory (the stand-in's memory is the host's) */
    const int gpu = on_gpu(r);
    const int act16 = o->act_dtype == MM_DTYPE_BF16;
    if (mm_memory_plan_of(&r->model, u->has_ad ? &u->ad : NULL, o->micro, T,
                          (o->recompute ? MM_ACT_RECOMPUTE : 0) | (act16 ? MM_ACT_BF16 : 0),
                          mm_memory_plan_layout(gpu, o->dtype), &p))
        return -1;
    const size_t need = gpu ? p.total : p.total - p.weights, avail = gpu ? mm_device_probe()->total_bytes : mm_memory_available();
    if (!avail || need <= avail) return 0;
    mm_memory_plan_print(&p, stderr);
    return mm_fail("not enough memory%s: this run needs %.2f GiB%s, %.2f GiB are available; shrink it "
                   "with --set micro_batch=%d (gradient accumulation keeps the batch)%s%s, or a shorter max_source",
                   gpu ? " on the GPU" : "", need / 1073741824.0, gpu ? "" : " besides the weights", avail / 1073741824.0,
                   o->micro > 1 ? o->micro / 2 : 1,
                   o->recompute ? "" : ", --recompute (activation recomputation)",
                   act16 ? "" : ", --set act_dtype=bf16 (bf16 activations)");
}

static int run_unit(run_ctx *r, const char *unit, int lang, int phases) {
    const mm_run_opts *o = r->o;
    unit_state u;
    memset(&u, 0, sizeof u);
    u.r = r;
    u.unit = unit;
    u.lang = lang;
    int rc = 0;
    const int fpft = o->method.kind == MM_METHOD_FPFT_MIX;
    if (!fpft) {
        if (mm_method_build(&o->method, &r->model, r->n_lang, o->seed, &u.ad)) return -1;
        u.has_ad = 1;
        if (mm_mmlora_init(&u.mm, &o->method, &u.ad, r->n_lang, o->micro, o->seed)) { mm_adapters_free(&u.ad); return -1; }
    }
    r->trainable = mm_method_trainable(&r->model, &o->method, r->n_lang);
    r->all_params = fpft ? r->trainable : (long long)r->model.n_params + r->trainable;
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/checkpoint", o->out_dir);
    mm_mkdirs(dir);
    if (phases & MM_PHASE_TRAIN) {
        mm_engine e;
        const int T = o->max_source + r->n_sep + o->max_target + 1;
        if ((rc = check_memory(&u, T))) goto out;
        const mm_engine_opts eo = {.recompute = o->recompute, .dtype = o->dtype, .act_dtype = o->act_dtype};
        if ((rc = mm_engine_init_with(&e, r->k, &r->model, u.has_ad ? &u.ad : NULL, fpft, o->micro, T, &eo)))
            goto out;
        if (r->k->device_memory)
            mm_info("[%s] training on %s (op table '%s': weights, adapters, gradients and AdamW state in device memory)",
                    unit, r->device, r->k->name);
        if (o->dtype == MM_DTYPE_BF16)
            mm_info("[%s] dtype bf16: the base's linear weights and LM head in bf16 (%.1f MiB), fp32 accumulation, in "
                    "training and generation", unit, e.w16_n * 2 / 1048576.0);
        if (o->act_dtype == MM_DTYPE_BF16)
            mm_info("[%s] act_dtype bf16: the activations backward reads rounded to bf16 and kept as bf16 (arena %.1f "
                    "MiB)", unit, e.arena_bytes / 1048576.0);
        rc = train_unit(&u, &e);
        /* the trained parameters back to the host for the adapter, the generation and the report:
         * full fine-tuning's weights here, the adapters' by mm_engine_free (no-ops on the CPU table) */
        if (fpft) mm_engine_download(&e, NULL);
        mm_engine_free(&e);
        if (rc) goto out;
        snprintf(dir, sizeof dir, "%s/adapter%s%s", o->out_dir, lang >= 0 ? "/" : "", lang >= 0 ? unit : "");
        if (mm_dist_rank() == 0 && (rc = save_adapter(&u, dir))) goto out;
    }
    if ((phases & MM_PHASE_GENERATE) && mm_dist_rank() == 0) {
        double t0 = now_s();
        if (r->k->device_memory)
            mm_info("[%s] greedy generation on %s (op table '%s': weights, adapters and KV cache in device memory)",
                    unit, r->device, r->k->name);
        for (int l = 0; l < r->n_lang && !rc; l++)
            if (lang < 0 || l == lang) rc = generate_lang(&u, l);
        if (!rc && u.mm.gates) rc = write_experts(&u);
        r->t_generate += now_s() - t0;
    }
out:
    if (u.has_ad) { mm_mmlora_free(&u.mm); mm_adapters_free(&u.ad); }
    return rc;
}

/* The training phase always runs: with a complete checkpoint it only restores the trained parameters
 * (for full fine-tuning the checkpoint holds the whole model), so generation can follow. */
/* A finished run is skipped, but only when it was made with this configuration: a run directory from
 * another preset or version must not slip into the tables beside the current runs. */
static int done_and_same(const mm_run_opts *o, int *done) {
    char path[2048];
    snprintf(path, sizeof path, "%s/DONE", o->out_dir);
    *done = mm_file_exists(path);
    if (!*done) return 0;
    char name[64];
    mm_run_model_name(o->model_dir, name, sizeof name);
    cJSON *cfg = mm_run_config_json(o, name);
    int rc = mm_run_json_check_or_write(o->out_dir, cfg);
    cJSON_Delete(cfg);
    if (rc) {
        char m[1024];
        snprintf(m, sizeof m, "%s", mm_last_error());
        return mm_fail("%s is complete (DONE) but was made with another configuration or version of mmlora: %s",
                       o->out_dir, m);
    }
    mm_info("%s is complete (DONE); skipping", o->out_dir);
    return 0;
}

int mm_run(const mm_run_opts *o, int phases) {
    char path[2048];
    mm_run_opts icl_opts; /* one-shot / few-shot: their evaluation default (train/run_icl.h) */
    const int icl = mm_method_in_context(&o->method);
    if (icl) { icl_opts = *o; mm_icl_defaults(&icl_opts); o = &icl_opts; }
    int done = 0;
    if (done_and_same(o, &done)) return -1;
    if (done) return 0;
    if (mm_run_validate(o)) return -1;
    char device[192], device_note[1200];
    const mm_kernels *k = NULL;
    if (mm_device_resolve(o->device, device, sizeof device, device_note, sizeof device_note, &k)) return -1;
    if (device_note[0] && mm_dist_rank() == 0) mm_info("%s", device_note);
    if (mm_mkdirs(o->out_dir)) return -1;
    cJSON *icl_stats = NULL;
    run_ctx r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.k = k;
    snprintf(r.device, sizeof r.device, "%s", device);
    mm_run_model_name(o->model_dir, r.model_name, sizeof r.model_name);
    cJSON *cfg = mm_run_config_json(o, r.model_name);
    const int rank0 = mm_dist_rank() == 0;
    int rc = rank0 ? mm_run_json_check_or_write(o->out_dir, cfg) : 0;
    double t0 = now_s();
    if (!rc) rc = load_everything(&r);
    if (!rc) {
        mm_info("run: %s on %s (%s), dataset %s, %d languages, out %s%s", o->method.name, r.model_name, o->model_dir,
                o->dataset, r.n_lang, o->out_dir, mm_dist_size() > 1 ? " (data parallel)" : "");
        if (mm_dist_size() > 1)
            mm_info("data parallel: rank %d of %d takes micro-batches u with u mod %d == %d", mm_dist_rank(),
                    mm_dist_size(), mm_dist_size(), mm_dist_rank());
        if (icl) { /* nothing to train: prompt the base model */
            r.all_params = (long long)r.model.n_params;
            double tg = now_s();
            if ((phases & MM_PHASE_GENERATE) && rank0)
                rc = mm_icl_generate(o, r.k, &r.model, r.tok, r.train, r.test, r.cache_dir, &icl_stats);
            r.t_generate = now_s() - tg;
        } else if (o->method.kind == MM_METHOD_LORA_EACH) {
            for (int l = 0; l < r.n_lang && !rc; l++) {
                const mm_cache_header *h = mm_cache_header_get(r.train);
                if (!h->lang[l].n_examples) continue;
                rc = run_unit(&r, lang_name(&r, l), l, (phases & MM_PHASE_GENERATE) | MM_PHASE_TRAIN);
            }
        } else {
            rc = run_unit(&r, "all", -1, (phases & MM_PHASE_GENERATE) | MM_PHASE_TRAIN);
        }
    }
    if (!rc && (phases & MM_PHASE_SCORE) && rank0) {
        const char *names[MM_CACHE_MAX_LANGS];
        for (int l = 0; l < r.n_lang; l++) names[l] = lang_name(&r, l);
        rc = mm_run_score(o->out_dir, names, r.n_lang);
    }
    if (!rc && phases == MM_PHASE_ALL && rank0) {
        cJSON *extra = cJSON_CreateObject();
        char buf[128];
        mm_git_describe(buf, sizeof buf);
        cJSON_AddStringToObject(extra, "git_commit", buf);
        cJSON_AddNumberToObject(extra, "trainable_params", (double)r.trainable);
        cJSON_AddNumberToObject(extra, "all_params", (double)r.all_params);
        mm_format_percent_trunc2(buf, sizeof buf, r.trainable, r.all_params);
        cJSON_AddStringToObject(extra, "trainable_percent", icl ? "-" : buf); /* "-": the paper's prompted rows */
        if (icl_stats) { cJSON_AddItemToObject(extra, "in_context", icl_stats); icl_stats = NULL; }
        cJSON_AddStringToObject(extra, "device", device);
        cJSON_AddBoolToObject(extra, "recompute", o->recompute);
        cJSON_AddStringToObject(extra, "dtype", mm_engine_dtype_name(o->dtype)); /* also in config.set when bf16 */
        cJSON_AddStringToObject(extra, "act_dtype", mm_engine_dtype_name(o->act_dtype));
        cJSON_AddStringToObject(extra, "tokenizer_sha256", mm_tokenizer_sha256(r.tok));
        cJSON_AddStringToObject(extra, "cache", r.cache_dir);
        cJSON_AddNumberToObject(extra, "seconds_train", r.t_train);
        cJSON_AddNumberToObject(extra, "seconds_generate", r.t_generate);
        cJSON_AddNumberToObject(extra, "seconds_total", now_s() - t0);
        long nproc = sysconf(_SC_NPROCESSORS_ONLN);
        cJSON_AddNumberToObject(extra, "cpus", (double)nproc);
        rc = mm_run_json_finish(o->out_dir, cfg, extra);
        snprintf(path, sizeof path, "%s/DONE", o->out_dir);
        if (!rc) rc = mm_write_file_atomic(path, "", 0);
    }
    cJSON_Delete(cfg);
    cJSON_Delete(icl_stats);
    free_everything(&r);
    return rc;
}
