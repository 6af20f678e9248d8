/* Training loop: schedule, loss goes down, and kill-and-resume gives bit-identical parameters. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "model/engine.h"
#include "peft/adapter.h"
#include "train/trainer.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"

Test(trainer, linear_schedule_matches_hf) {
    mm_train_config c;
    mm_train_config_defaults(&c);
    c.lr = 1e-4f;
    c.warmup_steps = 10;
    c.total_steps = 110;
    cr_expect_eq(mm_lr_at(&c, 0), 0.0f); /* HF's first update uses lr_lambda(0) = 0 */
    cr_expect(fabsf(mm_lr_at(&c, 5) - 5e-5f) < 1e-10f);
    cr_expect(fabsf(mm_lr_at(&c, 10) - 1e-4f) < 1e-10f);
    cr_expect(fabsf(mm_lr_at(&c, 60) - 5e-5f) < 1e-10f);
    cr_expect_eq(mm_lr_at(&c, 110), 0.0f);
    cr_expect_eq(mm_lr_at(&c, 200), 0.0f);
}

/* a small random GPTBigCode and a deterministic stream of batches: a copy task the model can learn */
static void tiny_config(mm_model_config *c) {
    memset(c, 0, sizeof *c);
    c->family = MM_FAMILY_GPT_BIGCODE;
    c->n_layer = 2; c->d_model = 32; c->n_head = 4; c->n_kv_head = 1; c->head_dim = 8; c->d_ff = 128;
    c->vocab_size = 64; c->max_pos = 32; c->norm_eps = 1e-5f; c->tie_embeddings = 1;
    c->embd_pdrop = c->attn_pdrop = c->resid_pdrop = 0.1f;
    c->bos_id = c->eos_id = 0; c->pad_id = -1;
}

static int copy_batches(void *ctx, uint64_t micro, int32_t *tok, float *w, int32_t *langs, int B, int *Tp) {
    const int T = *Tp;
    for (int b = 0; b < B; b++) langs[b] = b % 6;
    (void)ctx;
    for (int b = 0; b < B; b++) {
        int half = T / 2;
        for (int t = 0; t < half; t++)
            tok[b * T + t] = 1 + (int32_t)(mm_rng_u32(7, (uint32_t)micro, 1, (uint64_t)b * T + t) % 63);
        for (int t = half; t < T; t++) tok[b * T + t] = tok[b * T + t - half];
        for (int t = 0; t < T; t++) w[b * T + t] = t > half ? 1.0f : 0.0f;
    }
    return B;
}

typedef struct { mm_model m; mm_adapters ad; mm_engine e; mm_trainer tr; } rig;

static void rig_init(rig *r, int lora) {
    mm_model_config c;
    tiny_config(&c);
    cr_assert_eq(mm_model_init(&r->m, &c), 0);
    mm_model_init_random(&r->m, 5);
    if (lora) cr_assert_eq(mm_adapters_init_lora(&r->ad, &r->m, 4, 8.0f, 0.1f, 0xF, 9), 0);
    cr_assert_eq(mm_engine_init(&r->e, &mm_kernels_cpu, &r->m, lora ? &r->ad : NULL, !lora, 4, 16), 0);
    mm_train_config tc;
    mm_train_config_defaults(&tc);
    tc.lr = lora ? 1e-2f : 3e-3f;
    tc.warmup_steps = 2;
    tc.total_steps = 10;
    tc.accum = 2;
    tc.weight_decay = 0.01f;
    cr_assert_eq(mm_trainer_init(&r->tr, &r->e, &tc), 0, "%s", mm_last_error());
}
static void rig_free(rig *r, int lora) {
    mm_trainer_free(&r->tr);
    mm_engine_free(&r->e);
    if (lora) mm_adapters_free(&r->ad);
    mm_model_free(&r->m);
}

static void resume_case(int lora) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/mmlora-test-ckpt-%d-%d.safetensors", (int)getpid(), lora);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) { /* child: 5 steps, checkpoint, then killed without any clean-up */
        rig r;
        rig_init(&r, lora);
        for (int s = 0; s < 5; s++) mm_trainer_step(&r.tr, copy_batches, NULL);
        if (mm_trainer_save(&r.tr, path, NULL)) _exit(3);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child did not die by SIGKILL (status %d)", status);
    rig straight, resumed;
    rig_init(&straight, lora);
    double first = 0;
    for (int s = 0; s < 10; s++) {
        cr_assert_eq(mm_trainer_step(&straight.tr, copy_batches, NULL), 1);
        if (s == 0) first = straight.tr.last_loss;
    }
    rig_init(&resumed, lora);
    cr_assert_eq(mm_trainer_load(&resumed.tr, path), 0, "%s", mm_last_error());
    cr_assert_eq(resumed.tr.step, 5);
    for (int s = 0; s < 5; s++) mm_trainer_step(&resumed.tr, copy_batches, NULL);
    cr_expect_eq(memcmp(straight.tr.p, resumed.tr.p, straight.tr.n * sizeof(float)), 0,
                 "resumed parameters differ from the uninterrupted run");
    cr_expect_eq(memcmp(straight.tr.m, resumed.tr.m, straight.tr.n * sizeof(float)), 0);
    cr_expect(straight.tr.last_loss < first, "loss did not go down: %g -> %g", first, straight.tr.last_loss);
    rig_free(&straight, lora);
    rig_free(&resumed, lora);
    unlink(path);
}

Test(trainer, kill_and_resume_is_bitwise_identical_lora, .timeout = 60) { resume_case(1); }
Test(trainer, kill_and_resume_is_bitwise_identical_full, .timeout = 60) { resume_case(0); }

Test(trainer, checkpoint_with_other_seed_is_refused) {
    rig r;
    rig_init(&r, 1);
    char path[128];
    snprintf(path, sizeof path, "/tmp/mmlora-test-seed-%d.safetensors", (int)getpid());
    cr_assert_eq(mm_trainer_save(&r.tr, path, NULL), 0);
    r.tr.cfg.seed = 43;
    cr_expect_eq(mm_trainer_load(&r.tr, path), -1);
    cr_expect(strstr(mm_last_error(), "seed") != NULL, "%s", mm_last_error());
    unlink(path);
    rig_free(&r, 1);
}
