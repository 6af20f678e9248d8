/* mmlora run | train | generate: one experiment run (train/run.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "train/run.h"
#include "util/log.h"

static void usage(FILE *f, const char *cmd) {
    fprintf(f,
            "usage: mmlora %s --method fpft-mix|lora-each|lora-mix|mola|mmlora|one-shot|few-shot\n"
            "                  --model DIR --dataset csn|xlcost|local --out DIR [--set key=value ...]\n"
            "                  [--raw DIR] [--cache DIR] [--rq NAME] [--variant LABEL]\n"
            "                  [--low-resource]   (2 epochs, the paper's low-resource setting)\n"
            "                  [--device cpu|cuda|auto] [--recompute]   (activation recomputation: less memory,\n"
            "                  about a third more compute, bit-identical gradients)\n"
            "  run       prepare -> train -> generate (greedy) -> score, in the run directory DIR\n"
            "  train     prepare -> train (checkpoint/, adapter/, train.jsonl)\n"
            "  generate  predictions/ and gold/ from a trained run directory\n"
            "Rerunning a command resumes from the last checkpoint; a finished run (DONE) is skipped.\n"
            "--set keys: scale=smoke|default|full, lr, batch, micro_batch, epochs, warmup, max_steps, seed, max_source,\n"
            "  max_target, train_per_lang, eval_per_lang, max_new, low_resource=on, dtype=fp32|bf16 (bf16: the\n"
            "  frozen base's linears and LM head in bf16, fp32 accumulation; not fpft-mix), act_dtype=fp32|bf16\n"
            "  (bf16: the activations backward reads rounded to bf16 and kept in bf16, about half the activation\n"
            "  memory; any method), and the method's keys\n"
            "  (rank, alpha, dropout, experts, top_k, universal, router=global|token, c_b, diversity_loss, ...;\n"
            "  see `mmlora info --help` and docs/METHODS.md); one-shot/few-shot: shots (no training).\n",
            cmd);
}

static int run_command(int argc, char **argv, int phases) {
    static const struct option LONG[] = {{"method", 1, 0, 'm'}, {"model", 1, 0, 'M'}, {"dataset", 1, 0, 'd'},
                                         {"out", 1, 0, 'o'},    {"set", 1, 0, 's'},   {"raw", 1, 0, 'r'},
                                         {"cache", 1, 0, 'c'},  {"rq", 1, 0, 'q'},    {"variant", 1, 0, 'v'},
                                         {"low-resource", 0, 0, 'L'}, {"help", 0, 0, 'h'},   {"device", 1, 0, 'D'},
                                         {"recompute", 0, 0, 'R'}, {0, 0, 0, 0}};
    mm_run_opts o;
    mm_run_defaults(&o);
    const char *method = NULL;
    const char *sets[MM_RUN_MAX_SETS];
    int n_sets = 0, c;
    char device_set[64];
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", LONG, NULL)) != -1) {
        switch (c) {
        case 'm': method = optarg; break;
        case 'M': snprintf(o.model_dir, sizeof o.model_dir, "%s", optarg); break;
        case 'd': snprintf(o.dataset, sizeof o.dataset, "%s", optarg); break;
        case 'o': snprintf(o.out_dir, sizeof o.out_dir, "%s", optarg); break;
        case 'r': snprintf(o.raw_dir, sizeof o.raw_dir, "%s", optarg); break;
        case 'c': snprintf(o.cache_root, sizeof o.cache_root, "%s", optarg); break;
        case 'q': snprintf(o.rq, sizeof o.rq, "%s", optarg); break;
        case 'v': snprintf(o.variant, sizeof o.variant, "%s", optarg); break;
        case 's':
            if (n_sets == MM_RUN_MAX_SETS) { fprintf(stderr, "mmlora: error: too many --set\n"); return 2; }
            sets[n_sets++] = optarg;
            break;
        case 'L':
            if (n_sets == MM_RUN_MAX_SETS) { fprintf(stderr, "mmlora: error: too many --set\n"); return 2; }
            sets[n_sets++] = "low_resource=on";
            break;
        case 'D':
        case 'R':
            if (n_sets == MM_RUN_MAX_SETS) { fprintf(stderr, "mmlora: error: too many --set\n"); return 2; }
            if (c == 'R') { sets[n_sets++] = "recompute=on"; break; }
            snprintf(device_set, sizeof device_set, "device=%s", optarg);
            sets[n_sets++] = device_set;
            break;
        case 'h': usage(stdout, argv[0]); return 0;
        default: usage(stderr, argv[0]); return 2;
        }
    }
    if (!method) { usage(stderr, argv[0]); fprintf(stderr, "mmlora: error: --method is required\n"); return 2; }
    if (mm_method_from_name(method, &o.method)) { fprintf(stderr, "mmlora: error: %s\n", mm_last_error()); return 2; }
    /* scale first, so that explicit keys override its presets */
    for (int i = 0; i < n_sets; i++)
        if (!strncmp(sets[i], "scale=", 6) && mm_run_set(&o, sets[i])) {
            fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
            return 2;
        }
    for (int i = 0; i < n_sets; i++)
        if (strncmp(sets[i], "scale=", 6) && mm_run_set(&o, sets[i])) {
            fprintf(stderr, "mmlora: error: %s\n", mm_last_error());
            return 2;
        }
    if (mm_run_validate(&o)) { fprintf(stderr, "mmlora: error: %s\n", mm_last_error()); return 2; }
    if (mm_run(&o, phases)) { fprintf(stderr, "mmlora: error: %s\n", mm_last_error()); return 1; }
    return 0;
}

int cmd_run(int argc, char **argv) { return run_command(argc, argv, MM_PHASE_ALL); }
int cmd_train(int argc, char **argv) { return run_command(argc, argv, MM_PHASE_TRAIN); }
int cmd_generate(int argc, char **argv) { return run_command(argc, argv, MM_PHASE_TRAIN | MM_PHASE_GENERATE); }
