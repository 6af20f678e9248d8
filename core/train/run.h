/* One experiment run: prepare -> train -> generate -> score, in a run directory (DESIGN.md §6):
 *   run.json  train.jsonl  checkpoint/  adapter/  predictions/<lang>.txt  gold/<lang>.txt
 *   scores.json  scores/<lang>.csv  experts.json (MMLoRA)  DONE
 * Rerunning the same command resumes from the last checkpoint; a finished run (DONE) is skipped. */
#ifndef MMLORA_RUN_H
#define MMLORA_RUN_H
#include <stdint.h>
#include "peft/method.h"

#define MM_RUN_MAX_SETS 64

typedef struct {
    char model_dir[1024], out_dir[1024], raw_dir[1024], cache_root[1024];
    char dataset[32];
    char rq[16], variant[128], scale[16];
    char sep[16];
    mm_method_spec method;
    /* training */
    float lr, weight_decay, clip;
    int batch, micro, epochs, warmup;
    long max_steps;          /* 0: epochs decide */
    uint64_t seed;
    int max_source, max_target;
    long train_per_lang;     /* 0: all */
    double fraction;         /* RQ4 subset of the train split (1 = all) */
    /* evaluation */
    long eval_per_lang;      /* test examples per language (0: all) */
    int max_new, gen_batch;
    int ckpt_every;
    int threads;
    int recompute;           /* activation recomputation (bit-identical gradients, less memory) */
    char device[8];          /* cpu | cuda | auto (util/device.h) */
    int dtype;               /* storage of the frozen base's linears: MM_DTYPE_FP32 | MM_DTYPE_BF16 (model/engine.h) */
    int act_dtype;           /* storage of the activations backward reads (mm_engine_opts.act_dtype) */
    /* the --set assignments as given, for run.json */
    int n_sets;
    char sets[MM_RUN_MAX_SETS][96];
} mm_run_opts;

/* the paper's defaults (§IV-C): lr 1e-4, batch 24, warm-up 100, 1 epoch, lengths 256/128 */
void mm_run_defaults(mm_run_opts *o);
/* key=value: a run key (lr, batch, micro_batch, epochs, warmup, max_steps, weight_decay, clip, seed,
 * max_source, max_target, train_per_lang, eval_per_lang, max_new, gen_batch, ckpt_every, fraction,
 * scale=smoke|default|full, low_resource=on, recompute=on|off, device=cpu|cuda|auto, dtype=fp32|bf16,
 * act_dtype=fp32|bf16) or a method key (peft/method.h).  dtype and act_dtype are configuration keys (run.json's
 * "set", so a run made with the other dtype is not reused), recorded only when bf16: fp32 is the default and the
 * same run as no key. */
int mm_run_set(mm_run_opts *o, const char *assignment);
int mm_run_validate(const mm_run_opts *o);

enum { MM_PHASE_TRAIN = 1, MM_PHASE_GENERATE = 2, MM_PHASE_SCORE = 4, MM_PHASE_ALL = 7 };
/* Returns 0 (done or already complete), -1 (mm_fail). */
int mm_run(const mm_run_opts *o, int phases);
#endif
