/* Optimization: AdamW over one flat trainable buffer, linear warm-up + linear decay (HF's
 * get_linear_schedule_with_warmup), gradient accumulation, global-norm clipping, and atomic
 * checkpoints that allow a bitwise-identical continuation. */
#ifndef MMLORA_TRAINER_H
#define MMLORA_TRAINER_H
#include <stdint.h>
#include "model/engine.h"

typedef struct {
    float lr;            /* peak learning rate (paper: 1e-4) */
    float beta1, beta2, eps, weight_decay;
    float clip_norm;     /* <= 0: no clipping (HF default 1.0) */
    int warmup_steps;    /* paper: 100 */
    int total_steps;     /* for the linear decay; 0 = constant after warm-up */
    int accum;           /* micro-batches per optimizer step */
    uint64_t seed;       /* dropout / data-order seed */
} mm_train_config;

void mm_train_config_defaults(mm_train_config *c);
/* learning rate used by optimizer step `step` (0-based), as HF's LambdaLR with the linear schedule */
float mm_lr_at(const mm_train_config *c, int step);

/* Fills micro-batch number `micro` (0-based over the whole run): tokens [B, *T], loss weights [B, *T] and
 * the language id of each sequence [B].  *T comes in as the capacity and may be lowered to the length
 * actually used (rows are then *T apart).  Returns the number of sequences filled (<= B), 0 at the end
 * of the data, -1 on error. */
typedef int (*mm_batch_fn)(void *ctx, uint64_t micro, int32_t *tokens, float *weights, int32_t *langs, int B, int *T);

/* Method-specific work around each micro-batch and step (MMLoRA's router and expert loss). */
typedef struct {
    void *ctx;
    int (*begin_micro)(void *ctx, const int32_t *langs, int B, int T, int train, uint64_t seed, uint32_t step);
    void (*end_micro)(void *ctx);
    /* after the gradients are normalized, before clipping: add auxiliary-loss gradients, return the loss */
    double (*post_normalize)(void *ctx, int train, uint64_t seed, uint32_t step);
} mm_train_hooks;

/* Where the state lives: p, g, m, v are memory of the engine's op table (k) and every update of them is an
 * op (zero, scale, sumsq, adamw); on the CPU table they are host memory and p/g are the whole trainable
 * buffer (model params for full fine-tuning, adapter params otherwise).  On a device table (CUDA,
 * device_memory = 1) p/g are the engine's device copies (e->params/e->dparams, or the adapters' dev_params /
 * dev_grads over the modules' block [0, extra_off)), and the adapters' extra block (MMLoRA's Global Language
 * Router, updated by host code in the hooks) is the host-owned tail hp/hg/hm/hv: the same arithmetic on the
 * host (mm_kernels_cpu.adamw, the sum of squares continued in order).  Checkpoints hold p then the tail, the
 * layout of the CPU run, so a checkpoint moves between tables. */
typedef struct {
    mm_train_config cfg;
    mm_engine *engine;
    const mm_kernels *k; /* the engine's table */
    float *p, *g;       /* the trainable block and its gradient (table memory) */
    size_t n;
    float *m, *v;       /* AdamW moments (table memory) */
    float *hp, *hg, *hm, *hv; /* host-owned tail (device table with an extra adapter block), else NULL */
    size_t hn;
    int step;           /* optimizer steps done */
    uint64_t micro;     /* micro-batches consumed */
    int32_t *tokens, *langs;
    float *weights;
    mm_train_hooks hooks;
    /* last step's statistics */
    double last_loss, last_aux_loss, last_tokens, last_grad_norm;
    float last_lr;
} mm_trainer;

int mm_trainer_init(mm_trainer *tr, mm_engine *e, const mm_train_config *cfg);
void mm_trainer_free(mm_trainer *tr);
/* One optimizer step over cfg.accum micro-batches. Returns 1 if a step was taken, 0 when the data
 * ended before any micro-batch, -1 on error (non-finite loss: parameters left untouched). */
int mm_trainer_step(mm_trainer *tr, mm_batch_fn next, void *ctx);

/* Checkpoint: trainable parameters, both moments (n + hn floats each: the table's block, then the host
 * tail; downloaded from / uploaded to a device table), step/micro counters and the seed (safetensors,
 * written atomically).  `extra_json` (may be NULL) is stored in the metadata as "run". */
int mm_trainer_save(const mm_trainer *tr, const char *path, const char *extra_json);
int mm_trainer_load(mm_trainer *tr, const char *path);
#endif
