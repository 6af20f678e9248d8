/* Training and decoding throughput of the engine on an op table (issue 7: tokens/s and MFU on one H200).
 *
 * A model with StarCoderBase-1B's shapes (`--shape 1b`: GPTBigCode, 24 layers, d_model 2048, 16 heads, multi-query
 * = 1 KV head of 128, d_ff 8192, vocab 49152, n_positions 8192, tied LM head: the config.json of
 * models/starcoderbase-1b, 1,137,207,296 parameters as ../shared/docs/models-spec.md §1.1/§1.3 give them; checked
 * at start), DeepSeek-Coder-1.3B's (`--shape deepseek`: LLaMA, 24 layers, d 2048, 16 heads and 16 KV heads, d_ff 5504,
 * vocab 32256, RoPE theta 1e5 with linear scaling 4, untied head, no dropout: 1,346,471,936 parameters, checked) or
 * a small one (`--shape tiny` / `tiny-llama`: 2 layers, d 64, for the self-test), random weights
 * (mm_model_init_random: GPT-2 style normal(0, 0.02), seed 1234).  For each method (`--methods`, default LoRA-Mix
 * and MMLoRA with the paper's presets, mm_method_from_name) the real training path runs: adapters built by
 * mm_method_build, mm_engine_init_opts on the table, mm_trainer_step (AdamW, clipping, gradient accumulation over
 * micro-batches; MMLoRA's host-side Global Language Router through its trainer hooks, as core/train/run.c drives
 * it) on synthetic batches: random token ids, six languages mixed in every micro-batch, and the loss on the last
 * `--target` positions of each sequence (default 32: a 256-token source + 32-token summary = 288, the shape of a
 * code-summarization example; `--target 0`: every position).  `--warmup` steps, then `--steps` timed steps.
 *
 * Timer: wall clock (CLOCK_MONOTONIC) around the timed steps, with the device drained at both ends by downloading
 * one float of the trainable parameters (table->download is a synchronous device-to-host copy on the CUDA table,
 * after every queued op of the legacy default stream: the last op of a step is AdamW, which does not synchronize by
 * itself; xent_fwd_bwd and sumsq inside the step do).
 *
 * FLOPs counted (GEMM work only; norms, softmax, GELU, dropout, AdamW and copies are not counted), per micro-batch
 * of N = B·T tokens, L layers, C = d_model, V = vocab, M = rows that carry loss (B·target, or B·(T−1)):
 *   frozen base linears   forward 2·P_lin·N + input gradients 2·P_lin·N (no weight gradient for frozen weights;
 *                         the input gradient of layer 0 is computed too), P_lin = L·Σ in·out of the four block
 *                         linears (1,019,215,872 for 1B); full fine-tuning adds the weight gradients 2·P_lin·N
 *   attention             per layer and sequence 2 GEMMs forward (Q·Kᵀ, P·V) and 4 backward (dP, dV, dQ, dK), each
 *                         2·T²·D per head over the full T×T square as the kernels compute it: 12·B·H·T²·D·L
 *   LM head (tied)        forward 2·C·V·M + input gradient 2·C·V·M (+ 2·C·V·M weight gradient when trainable)
 *   adapters              every expert of every adapted module is computed (MMLoRA's unselected experts have gate 0
 *                         but run; so do MoLA's): 6·r·(in+out)·N per expert (forward h·Aᵀ, u·Bᵀ; backward dy·B,
 *                         dB, dA, dh·A), token routers 6·in·E·N
 *   --act-dtype bf16      without --recompute: the attention forward again in backward (4·B·H·T²·D·L), the rest
 *                         read from the bf16 stash
 *   --recompute           one more forward of every block (base 2·P_lin·N, attention 4·B·H·T²·D·L, adapters
 *                         2·r·(in+out)·N): executed work, so it is in the executed count (hardware FLOPs)
 * Two readings are printed: "executed" (the count above per second, MFU = that / --peak-tflops) and the
 * conventional model-FLOPs MFU 6·N_all·tokens/s / peak with N_all = base + trainable parameters (PEFT's "all
 * params"), which ignores that frozen weights get no weight gradient (so it reads ~1.5x the executed one).
 * The peak (default 989 TFLOP/s: H200 dense bf16) is what MFU is quoted against even for fp32 runs.
 *
 * Decoding (after all training measurements, so that a failure there loses no training number): greedy decoding
 * with the KV cache (infer/generate.h, mm_generate_greedy on the same table) of `--decode-batch` (64) random
 * prompts of `--prompt` (256) tokens, `--new` (64) new tokens each (eos disabled: every sequence generates all of
 * them), with the method's trained adapters (MMLoRA: language 0's router weights on every row, as run.c does).
 * One warm-up call, a prefill-only call (max_new 0) and the full call are timed; reported: generated tokens/s
 * end to end (prefill included) and per decoding step (full − prefill over new − 1 single-token steps).
 * `--no-decode` skips it.
 *
 * Memory: the planner (train/memory_plan.h) sizes the run before anything is allocated and is printed; a run that
 * does not fit the device (or host) memory stops with exit 3.
 *
 *   build/gpu/train_bench [--shape 1b|deepseek|tiny|tiny-llama] [--table cuda|cpu] [--methods lora-mix,mmlora] [--batch 24] [--seq 288]
 *                         [--micro 24] [--target 32] [--steps 5] [--warmup 2] [--recompute] [--dtype fp32|bf16]
 *                         [--act-dtype fp32|bf16] [--peak-tflops 989] [--profile] [--no-decode] [--decode-batch 64]
 *                         [--prompt 256] [--new 64]
 *
 * `--profile`: every op waits for the device before and after (tests/gpu/op_profile.h) and the timed steps' op
 * times are printed per op, largest first ("| op | ..." lines after "op profile of"): where a step's time goes.
 * The profiled step is slower than a free-running one (its row in the table says so).
 *
 * `--table cuda` (default) is mm_kernels_cuda(): the CUDA table in build/gpu/train_bench, the CPU stand-in for a
 * device table in build/gpu/train_bench_cpu (`make gpu-train-bench-selftest`); `--table cpu` is the plain CPU
 * table.  MMLORA_CUDA_TF32=1 lets the CUDA table's fp32 GEMMs use TF32 (the dtype column then says fp32/tf32).
 * Output: progress on stderr; on stdout one "measured: ..." line per measurement as it completes and, at the end,
 * one table line per measurement (`^| train ` / `^| decode `).  Exit 0; 1 a measurement failed (non-finite loss,
 * generation error); 2 no table; 3 set-up error (bad option, model, memory). */
#include <math.h>
#include <stdarg.h>
#include "op_profile.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "infer/generate.h"
#include "kernels.h"
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "train/memory_plan.h"
#include "train/trainer.h"
#include "util/device.h"
#include "util/log.h"
#include "util/omp_policy.h"
#include "util/philox.h"

/* models/starcoderbase-1b/config.json (bigcode/starcoderbase-1b), the keys the loader reads */
static const char CFG_1B[] =
    "{\"model_type\": \"gpt_bigcode\", \"n_layer\": 24, \"n_embd\": 2048, \"n_head\": 16, \"n_inner\": 8192,\n"
    " \"vocab_size\": 49152, \"n_positions\": 8192, \"multi_query\": true, \"activation_function\": "
    "\"gelu_pytorch_tanh\",\n \"layer_norm_epsilon\": 1e-05, \"resid_pdrop\": 0.1, \"embd_pdrop\": 0.1, \"attn_pdrop\": 0.1,\n"
    " \"bos_token_id\": 0, \"eos_token_id\": 0}\n";
static const long long PARAMS_1B = 1137207296LL; /* models-spec.md §1.3 */
/* a few-layer model of the same family for the self-test on the CPU stand-in */
static const char CFG_TINY[] =
    "{\"model_type\": \"gpt_bigcode\", \"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4, \"n_inner\": 256,\n"
    " \"vocab_size\": 512, \"n_positions\": 512, \"multi_query\": true, \"activation_function\": "
    "\"gelu_pytorch_tanh\",\n \"layer_norm_epsilon\": 1e-05, \"resid_pdrop\": 0.1, \"embd_pdrop\": 0.1, \"attn_pdrop\": 0.1,\n"
    " \"bos_token_id\": 0, \"eos_token_id\": 0}\n";
/* models/deepseekcoder-1.3b/config.json (deepseek-ai/deepseek-coder-1.3b-base): the paper's other model, the LLaMA
 * path (RMSNorm, RoPE with linear scaling, SwiGLU, 16 KV heads, untied head, no dropout) */
static const char CFG_DEEPSEEK[] =
    "{\"model_type\": \"llama\", \"num_hidden_layers\": 24, \"hidden_size\": 2048, \"num_attention_heads\": 16,\n"
    " \"num_key_value_heads\": 16, \"intermediate_size\": 5504, \"vocab_size\": 32256, \"max_position_embeddings\": 16384,\n"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 100000, \"rope_scaling\": {\"factor\": 4.0, \"type\": \"linear\"},\n"
    " \"tie_word_embeddings\": false, \"hidden_act\": \"silu\", \"bos_token_id\": 32013, \"eos_token_id\": 32014}\n";
static const long long PARAMS_DEEPSEEK = 1346471936LL; /* models-spec.md: DeepSeek-Coder-1.3B total */
/* a few-layer LLaMA (grouped-query attention) for the self-test */
static const char CFG_TINY_LLAMA[] =
    "{\"model_type\": \"llama\", \"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 4,\n"
    " \"num_key_value_heads\": 2, \"intermediate_size\": 172, \"vocab_size\": 512, \"max_position_embeddings\": 512,\n"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000, \"tie_word_embeddings\": false, \"hidden_act\": \"silu\",\n"
    " \"bos_token_id\": 1, \"eos_token_id\": 2}\n";
enum { N_LANG = 6, SEED = 1234, MAX_METHODS = 8, MAX_ROWS = 2 * MAX_METHODS };

typedef struct {
    const char *shape, *table, *dtype, *act_dtype;
    char methods[256];
    int batch, seq, micro, target, steps, warmup, recompute, decode, dbatch, prompt, new_tokens, check_flops, profile;
    double peak;
} opts;

typedef struct {
    double base, attn, head, adapters, recompute, total; /* per optimizer step */
} flops;

static char rows_out[MAX_ROWS][256];
static int n_rows;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f) {
    fprintf(f, "usage: train_bench [--shape 1b|deepseek|tiny|tiny-llama] [--table cuda|cpu] [--methods m1,m2] [--batch B] [--seq T]\n"
               "                   [--micro M] [--target N] [--steps S] [--warmup W] [--recompute] [--dtype fp32|bf16]\n"
               "                   [--act-dtype fp32|bf16] [--profile]\n"
               "                   [--peak-tflops X] [--no-decode] [--decode-batch B] [--prompt P] [--new G]\n");
}

/* ------------------------------------------------------------------ synthetic batches */

typedef struct {
    int V, target;
} batch_ctx;

/* micro-batch u: random ids (Philox, deterministic), languages cycling over the six, loss weight 1 on the last
 * `target` positions of every sequence (0: every position) */
static int next_batch(void *ctx, uint64_t u, int32_t *tokens, float *w, int32_t *langs, int B, int *T) {
    const batch_ctx *c = ctx;
    const int t0 = c->target > 0 && c->target < *T ? *T - c->target : 0;
    for (int b = 0; b < B; b++) {
        langs[b] = (int32_t)((u * (uint64_t)B + (uint64_t)b) % N_LANG);
        for (int t = 0; t < *T; t++) {
            const size_t i = (size_t)b * *T + t;
            tokens[i] = (int32_t)(mm_rng_u32(SEED, (uint32_t)u, 9, i) % (uint32_t)c->V);
            w[i] = t >= t0 ? 1.0f : 0.0f;
        }
    }
    return B;
}

/* ------------------------------------------------------------------ FLOP count (see the header) */

static flops count_flops(const mm_model *m, const mm_adapters *ad, int fpft, int micro, int T, int target, int accum,
                         int recompute, int act16) {
    const mm_model_config *c = &m->cfg;
    const double N = (double)micro * T, L = c->n_layer, C = c->d_model, V = c->vocab_size;
    const double H = c->n_head, D = c->head_dim;
    double p_lin = 0.0;
    for (int t = 0; t < m->n_targets; t++) p_lin += (double)m->targets[t].in * m->targets[t].out;
    p_lin *= L;
    const double M = (double)micro * (target > 0 && target < T ? target : T - 1);
    flops f = {0};
    f.base = (fpft ? 6.0 : 4.0) * p_lin * N;
    f.attn = 12.0 * micro * H * (double)T * T * D * L;
    f.head = (fpft ? 6.0 : 4.0) * C * V * M;
    double ad_fwd = 0.0;
    if (ad)
        for (int l = 0; l < ad->n_layers; l++)
            for (int t = 0; t < ad->n_targets; t++) {
                const mm_adapted *md = mm_adapted_at(ad, l, t);
                for (int e = 0; e < md->n_experts; e++) ad_fwd += 2.0 * md->experts[e].r * (double)(md->in + md->out) * N;
                if (md->token_router) ad_fwd += 2.0 * md->in * (double)(md->n_experts - md->routed_from) * N;
            }
    f.adapters = 3.0 * ad_fwd;
    if (recompute) f.recompute = 2.0 * p_lin * N + 4.0 * micro * H * (double)T * T * D * L + ad_fwd;
    else if (act16) f.recompute = 4.0 * micro * H * (double)T * T * D * L; /* the probabilities, not stashed */
    f.base *= accum, f.attn *= accum, f.head *= accum, f.adapters *= accum, f.recompute *= accum;
    f.total = f.base + f.attn + f.head + f.adapters + f.recompute;
    return f;
}

/* ------------------------------------------------------------------ --check-flops: the ops count their GEMM work */

/* A copy of the table whose GEMM-carrying ops add what they execute (from their arguments, on the host) before
 * calling the real op: gemm 2·M·N·K, linear_fwd (and linear_fwd_w16) 2·N·in·out, linear_bwd 2·N·in·out for dx
 * and again for dW when asked (linear_bwd_dx_w16: dx only), the experts' fused down-projection ops 2·N·in·r each, attention_fwd 4·B·H·T²·D and attention_bwd 8·B·H·T²·D (the kernels' 2 and 4 strided-batched GEMMs over
 * the full T×T square).  The measured count must equal count_flops(): the formula is what the engine runs. */
static const mm_kernels *g_inner;
static double g_counted;
static void c_gemm(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                   float beta, float *C, int ldc) {
    g_counted += 2.0 * M * N * K;
    g_inner->gemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void c_linear_fwd(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N, int in,
                         int out, int acc) {
    g_counted += 2.0 * N * in * out;
    g_inner->linear_fwd(y, ldy, x, ldx, W, b, N, in, out, acc);
}
static void c_linear_bwd(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x, int ldx,
                         const float *W, int N, int in, int out, int acc_dx) {
    g_counted += 2.0 * N * in * out * ((dx != NULL) + (dW != NULL));
    g_inner->linear_bwd(dx, lddx, dW, db, dy, lddy, x, ldx, W, N, in, out, acc_dx);
}
static void c_linear_fwd_w16(float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b, int N,
                             int in, int out, int acc) {
    g_counted += 2.0 * N * in * out;
    g_inner->linear_fwd_w16(y, ldy, x, ldx, W, b, N, in, out, acc);
}
static void c_linear_bwd_dx_w16(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N, int in,
                                int out, int acc_dx) {
    g_counted += dx ? 2.0 * N * in * out : 0.0;
    g_inner->linear_bwd_dx_w16(dx, lddx, dy, lddy, W, N, in, out, acc_dx);
}
static void c_expert_down(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A, int N,
                          int in, int r) {
    g_counted += 2.0 * N * in * r;
    g_inner->expert_down(u, ldu, x, bits, p, A, N, in, r);
}
static void c_expert_down_bwd_a(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits, float p,
                                int N, int in, int r) {
    g_counted += 2.0 * N * in * r;
    g_inner->expert_down_bwd_a(dA, du, lddu, x, bits, p, N, in, r);
}
static void c_expert_down_bwd_x(float *dx, const float *du, int lddu, const uint64_t *bits, float p, const float *A,
                                int N, int in, int r) {
    g_counted += 2.0 * N * in * r;
    g_inner->expert_down_bwd_x(dx, du, lddu, bits, p, A, N, in, r);
}
static void c_attention_fwd(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T, int H,
                            int Hkv, int D, mm_dropout d) {
    g_counted += 4.0 * B * H * (double)T * T * D;
    g_inner->attention_fwd(out, ldout, probs, qkv, ldqkv, B, T, H, Hkv, D, d);
}
static void c_attention_bwd(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv, const float *probs,
                            int B, int T, int H, int Hkv, int D, mm_dropout d) {
    g_counted += 8.0 * B * H * (double)T * T * D;
    g_inner->attention_bwd(dqkv, dout, lddout, qkv, ldqkv, probs, B, T, H, Hkv, D, d);
}
static const mm_kernels *counting_table(const mm_kernels *k) {
    static mm_kernels c;
    g_inner = k;
    c = *k;
    c.gemm = c_gemm;
    c.linear_fwd = c_linear_fwd;
    c.linear_bwd = c_linear_bwd;
    c.linear_fwd_w16 = c_linear_fwd_w16;
    c.linear_bwd_dx_w16 = c_linear_bwd_dx_w16;
    c.expert_down = c_expert_down;
    c.expert_down_bwd_a = c_expert_down_bwd_a;
    c.expert_down_bwd_x = c_expert_down_bwd_x;
    c.attention_fwd = c_attention_fwd;
    c.attention_bwd = c_attention_bwd;
    return &c;
}

/* ------------------------------------------------------------------ one method */

typedef struct {
    mm_method_spec spec;
    mm_adapters ad;
    mm_mmlora mm;
    int built;
} method_state;

static int g_tf32; /* MMLORA_CUDA_TF32 set and the table is the CUDA one (not a CPU table) */
static int act16(const opts *o) { return !strcmp(o->act_dtype, "bf16"); }
/* the weights' dtype, "/tf32" when the fp32 GEMMs may use TF32, "+a16" with bf16 activations */
static const char *dtype_label(const opts *o) {
    static char b[32];
    snprintf(b, sizeof b, "%s%s", g_tf32 ? "fp32/tf32" : o->dtype, act16(o) ? "+a16" : "");
    return b;
}

/* memory check before any allocation; 0 fits (or cannot be judged), -1 does not */
static int check_memory(const mm_kernels *k, const mm_model *m, const mm_adapters *ad, const opts *o) {
    mm_memory_plan p;
    const int bf16 = !strcmp(o->dtype, "bf16");
    const int layout = k->device_memory ? (bf16 ? MM_PLAN_CUDA_BF16 : MM_PLAN_CUDA_FP32) : (bf16 ? MM_PLAN_CPU_BF16 : MM_PLAN_CPU);
    if (mm_memory_plan_of(m, ad, o->micro, o->seq, (o->recompute ? MM_ACT_RECOMPUTE : 0) | (act16(o) ? MM_ACT_BF16 : 0),
                          layout, &p))
        return -1;
    mm_memory_plan_print(&p, stderr);
    /* a real GPU: its memory; the stand-in or the CPU table: the host's (the weights already allocated there) */
    const mm_device_info *di = mm_device_probe();
    const int gpu = k->device_memory && di->n_gpus > 0 && strncmp(k->name, "cpu", 3) != 0;
    const size_t need = gpu ? p.total : p.total - p.weights, avail = gpu ? di->total_bytes : mm_memory_available();
    fprintf(stderr, "  available                 %8.3f GiB (%s)\n", avail / 1073741824.0,
            gpu ? di->name : "host MemAvailable");
    if (!avail || need <= avail) return 0;
    return mm_fail("the plan needs %.2f GiB, %.2f GiB available: try --micro %d (accumulation keeps the batch)%s",
                   need / 1073741824.0, avail / 1073741824.0, o->micro > 1 ? o->micro / 2 : 1,
                   o->recompute ? "" : " or --recompute");
}

static void add_row(const char *fmt, ...) MM_PRINTF(1, 2);
static void add_row(const char *fmt, ...) {
    if (n_rows == MAX_ROWS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rows_out[n_rows++], sizeof rows_out[0], fmt, ap);
    va_end(ap);
    printf("measured: %s\n", rows_out[n_rows - 1] + 2); /* now, in case a later measurement dies */
    fflush(stdout);
}

/* builds the method's adapters (kept for decoding) and times its training steps; 0, -1 set-up, 1 failed step */
static int bench_train(const mm_kernels *k, mm_model *m, method_state *ms, const opts *o) {
    const int fpft = ms->spec.kind == MM_METHOD_FPFT_MIX;
    if (!fpft) {
        if (mm_method_build(&ms->spec, m, N_LANG, SEED, &ms->ad)) return -1;
        if (mm_mmlora_init(&ms->mm, &ms->spec, &ms->ad, N_LANG, o->micro, SEED)) {
            mm_adapters_free(&ms->ad);
            return -1;
        }
        ms->built = 1;
    }
    char desc[256];
    mm_method_describe(&ms->spec, desc, sizeof desc);
    const long long trainable = fpft ? (long long)m->n_params : (long long)ms->ad.n_params;
    fprintf(stderr, "\n== %s: %s; trainable %lld of %lld\n", ms->spec.name, desc, trainable,
            (long long)m->n_params + (fpft ? 0 : trainable));
    if (check_memory(k, m, fpft ? NULL : &ms->ad, o)) return -1;
    const int accum = o->batch / o->micro;
    const flops f = count_flops(m, fpft ? NULL : &ms->ad, fpft, o->micro, o->seq, o->target, accum, o->recompute,
                              act16(o));
    const double tokens = (double)o->batch * o->seq;
    fprintf(stderr, "FLOPs executed per step (GEMMs; %.0f tokens): base linears %.4g (%s), attention %.4g, LM head %.4g, "
                    "adapters %.4g, recompute %.4g = %.4g (%.3f GFLOP/token)\n",
            tokens, f.base, fpft ? "6x: weight gradients too" : "4x: forward + input gradients", f.attn, f.head,
            f.adapters, f.recompute, f.total, f.total / tokens * 1e-9);
    const double n_all = (double)m->n_params + (fpft ? 0 : (double)trainable);
    fprintf(stderr, "model FLOPs per step (6·N·tokens, N = %.0f): %.4g\n", n_all, 6.0 * n_all * tokens);

    double t = now();
    mm_engine e;
    /* --dtype reaches the engine here: bf16 stores the frozen linears (and the LM head) in bf16 and runs them through
     * the w16 ops (bf16 tensor cores on CUDA); check_memory plans the matching layout */
    const mm_engine_opts eo = {.recompute = o->recompute, .dtype = mm_engine_dtype_parse(o->dtype),
                               .act_dtype = mm_engine_dtype_parse(o->act_dtype)};
    if (mm_engine_init_with(&e, k, m, fpft ? NULL : &ms->ad, fpft, o->micro, o->seq, &eo)) return -1;
    mm_train_config tc;
    mm_train_config_defaults(&tc);
    tc.warmup_steps = 0; /* a constant learning rate: every step updates, as after the paper's warm-up */
    tc.accum = accum;
    tc.seed = SEED;
    mm_trainer tr;
    if (mm_trainer_init(&tr, &e, &tc)) { mm_engine_free(&e); return -1; }
    if (ms->mm.gates) mm_mmlora_hooks(&ms->mm, &tr.hooks);
    fprintf(stderr, "engine + trainer set up on '%s' in %.1f s (micro-batch %d x %d, %d micro-batch(es) per step)\n",
            k->name, now() - t, o->micro, o->seq, accum);
    batch_ctx bc = {m->cfg.vocab_size, o->target};
    int rc = 0;
    float probe;
    double first_loss = 0.0;
    for (int s = 0; s < o->warmup + o->steps && !rc; s++) {
        if (s == o->warmup) { /* drain the warm-up's work, then start the clock */
            k->download(&probe, tr.p, sizeof probe);
            g_counted = 0.0;
            if (o->profile) op_profile_reset();
            t = now();
        }
        const double ts = now();
        if (mm_trainer_step(&tr, next_batch, &bc) != 1) {
            fprintf(stderr, "train_bench: %s step %d failed: %s\n", ms->spec.name, s, mm_last_error());
            rc = 1;
            break;
        }
        if (s == 0) first_loss = tr.last_loss;
        fprintf(stderr, "  step %d%s: loss %.4f%s, grad norm %.4g, %.1f ms (host wall, not drained)\n", s,
                s < o->warmup ? " (warm-up)" : "", tr.last_loss, tr.last_aux_loss != 0 ? " (+expert)" : "",
                tr.last_grad_norm, (now() - ts) * 1e3);
    }
    if (!rc) {
        k->download(&probe, tr.p, sizeof probe); /* every queued op of the last step done */
        const double dt = (now() - t) / o->steps;
        if (o->check_flops) {
            const double per_step = g_counted / o->steps, rel = fabs(per_step - f.total) / f.total;
            printf("flop check %s: the ops executed %.6g GEMM FLOPs per step, the formula says %.6g: %s\n",
                   ms->spec.name, per_step, f.total, rel <= 1e-9 ? "equal" : "MISMATCH");
            fflush(stdout);
            if (rel > 1e-9) rc = 1;
        }
        const double tps = tokens / dt, tf_exec = f.total / dt * 1e-12, tf_6n = 6.0 * n_all * tokens / dt * 1e-12;
        fprintf(stderr, "%s: %d timed steps, %.1f ms/step, %.0f tokens/s, executed %.2f TFLOP/s, 6N %.2f TFLOP/s "
                        "(loss %.4f -> %.4f)\n",
                ms->spec.name, o->steps, dt * 1e3, tps, tf_exec, tf_6n, first_loss, tr.last_loss);
        char bxs[64];
        snprintf(bxs, sizeof bxs, "%d x %d (micro %d)", o->batch, o->seq, o->micro);
        add_row("| train  | %-9s | %-9s | %-20s | %10.0f | %8.3f | %7.3f %% | %7.3f %% | %9.1f |%s%s", ms->spec.name,
                dtype_label(o), bxs, tps, tf_exec, 100.0 * tf_exec / o->peak, 100.0 * tf_6n / o->peak, dt * 1e3,
                o->recompute ? " recompute" : "", o->profile ? " profiled (a wait after every op)" : "");
        if (o->profile) {
            printf("op profile of %s (%s), %d steps:\n", ms->spec.name, dtype_label(o), o->steps);
            op_profile_print(stdout, o->steps, dt);
            fflush(stdout);
        }
    }
    mm_trainer_free(&tr);
    mm_engine_free(&e); /* the adapters' device copies come back to the host for decoding */
    return rc;
}

/* greedy decoding with the method's adapters; 0, 1 failed */
static int bench_decode(const mm_kernels *k, const mm_model *m, method_state *ms, const opts *o) {
    const int n = o->dbatch, P = o->prompt, G = o->new_tokens, V = m->cfg.vocab_size;
    mm_adapters *ad = ms->built ? &ms->ad : NULL;
    if (ms->mm.gates) { /* one language's router weights on every row, as run.c's generation */
        int32_t lang = 0;
        if (mm_mmlora_begin(&ms->mm, &lang, 1, 1, 0, 0, 0)) return 1;
        ms->ad.gate_group = 0;
        ms->ad.dgates = NULL;
    }
    fprintf(stderr, "\n== decode %s: %d prompts x %d tokens, %d new tokens each (greedy, KV cache, eos off)\n",
            ms->spec.name, n, P, G);
    double t = now();
    mm_generator g;
    if (mm_generator_init_dtype(&g, k, m, ad, n, P + G + 1, n * P, mm_engine_dtype_parse(o->dtype))) {
        fprintf(stderr, "train_bench: decode %s: %s\n", ms->spec.name, mm_last_error());
        return 1;
    }
    fprintf(stderr, "generator set up in %.1f s\n", now() - t);
    int32_t *pbuf = mm_xmalloc(sizeof(int32_t) * (size_t)n * P), *obuf = mm_xmalloc(sizeof(int32_t) * (size_t)n * (G + 1));
    const int32_t **prompts = mm_xmalloc(sizeof(int32_t *) * n);
    int32_t **outs = mm_xmalloc(sizeof(int32_t *) * n);
    int *plen = mm_xmalloc(sizeof(int) * n), *olen = mm_xmalloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < P; j++)
            pbuf[(size_t)i * P + j] = (int32_t)(mm_rng_u32(SEED, 1, 10, (uint64_t)i * P + j) % (uint32_t)V);
        prompts[i] = pbuf + (size_t)i * P;
        plen[i] = P;
        outs[i] = obuf + (size_t)i * (G + 1);
    }
    int rc = 0;
    double tw = 0, tp = 0, tf = 0;
    t = now();
    rc = mm_generate_greedy(&g, prompts, plen, n, G < 2 ? G : 2, -1, outs, olen); /* warm-up */
    tw = now() - t;
    if (!rc) {
        t = now();
        rc = mm_generate_greedy(&g, prompts, plen, n, 0, -1, outs, olen); /* prefill only */
        tp = now() - t;
    }
    if (!rc) {
        t = now();
        rc = mm_generate_greedy(&g, prompts, plen, n, G, -1, outs, olen);
        tf = now() - t;
    }
    long long produced = 0;
    for (int i = 0; !rc && i < n; i++) produced += olen[i];
    if (rc) {
        fprintf(stderr, "train_bench: decode %s failed: %s\n", ms->spec.name, mm_last_error());
        rc = 1;
    } else if (produced != (long long)n * G) {
        fprintf(stderr, "train_bench: decode %s produced %lld tokens, expected %lld\n", ms->spec.name, produced,
                (long long)n * G);
        rc = 1;
    } else {
        const double e2e = produced / tf, steps = G > 1 ? G - 1 : 1, per_step = (tf - tp) / steps;
        fprintf(stderr, "decode %s: warm-up %.2f s, prefill %.3f s (%.0f prompt tokens/s), %d new tokens in %.3f s: "
                        "%.0f tokens/s end to end, %.2f ms per decoding step of %d rows (%.0f tokens/s)\n",
                ms->spec.name, tw, tp, (double)n * P / tp, G, tf, e2e, per_step * 1e3, n, n / per_step);
        char bxs[64];
        snprintf(bxs, sizeof bxs, "%d x (%d+%d)", n, P, G);
        add_row("| decode | %-9s | %-9s | %-20s | %10.0f | %8s | %9s | %9s | %9.2f | tokens/s end to end (prefill "
                "%.3f s); per step %.0f tokens/s%s", ms->spec.name, dtype_label(o), bxs, e2e, "-", "-", "-",
                per_step * 1e3, tp, n / per_step, o->profile ? "; profiled (a wait after every op)" : "");
    }
    free(pbuf), free(obuf), free(prompts), free(outs), free(plen), free(olen);
    mm_generator_free(&g);
    return rc;
}

/* ------------------------------------------------------------------ main */

static int int_arg(const char *s, int lo, const char *what) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > 1 << 20) {
        fprintf(stderr, "train_bench: %s must be an integer >= %d, got '%s'\n", what, lo, s);
        exit(3);
    }
    return (int)v;
}

int main(int argc, char **argv) {
    mm_omp_policy_reexec(argv);
    opts o = {.shape = "1b", .table = "cuda", .dtype = "fp32", .act_dtype = "fp32", .methods = "lora-mix,mmlora", .batch = -1, .seq = -1,
              .micro = -1, .target = 32, .steps = -1, .warmup = -1, .decode = 1, .dbatch = -1, .prompt = -1,
              .new_tokens = -1, .peak = 989.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VAL(name) (!strcmp(a, name) && v && ++i)
        if (VAL("--shape")) o.shape = v;
        else if (VAL("--table")) o.table = v;
        else if (VAL("--dtype")) o.dtype = v;
        else if (VAL("--act-dtype")) o.act_dtype = v;
        else if (VAL("--methods")) snprintf(o.methods, sizeof o.methods, "%s", v);
        else if (VAL("--batch")) o.batch = int_arg(v, 1, "--batch");
        else if (VAL("--seq")) o.seq = int_arg(v, 2, "--seq");
        else if (VAL("--micro")) o.micro = int_arg(v, 1, "--micro");
        else if (VAL("--target")) o.target = int_arg(v, 0, "--target");
        else if (VAL("--steps")) o.steps = int_arg(v, 1, "--steps");
        else if (VAL("--warmup")) o.warmup = int_arg(v, 0, "--warmup");
        else if (VAL("--peak-tflops")) o.peak = atof(v);
        else if (VAL("--decode-batch")) o.dbatch = int_arg(v, 1, "--decode-batch");
        else if (VAL("--prompt")) o.prompt = int_arg(v, 1, "--prompt");
        else if (VAL("--new")) o.new_tokens = int_arg(v, 1, "--new");
        else if (!strcmp(a, "--recompute")) o.recompute = 1;
        else if (!strcmp(a, "--no-decode")) o.decode = 0;
        else if (!strcmp(a, "--check-flops")) o.check_flops = 1;
        else if (!strcmp(a, "--profile")) o.profile = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else { usage(stderr); fprintf(stderr, "train_bench: unknown or incomplete option '%s'\n", a); return 3; }
#undef VAL
    }
    const int deepseek = !strcmp(o.shape, "deepseek"), big = !strcmp(o.shape, "1b") || deepseek;
    const int tiny_llama = !strcmp(o.shape, "tiny-llama");
    if (!big && !tiny_llama && strcmp(o.shape, "tiny")) {
        fprintf(stderr, "train_bench: --shape 1b|deepseek|tiny|tiny-llama\n");
        return 3;
    }
    /* defaults: the 24 x 288 with decoding at batch 64 for 1b; a quick configuration for tiny */
    if (o.batch < 0) o.batch = big ? 24 : 8;
    if (o.seq < 0) o.seq = big ? 288 : 64;
    if (o.micro < 0) o.micro = o.batch;
    if (o.steps < 0) o.steps = big ? 5 : 3;
    if (o.warmup < 0) o.warmup = big ? 2 : 1;
    if (o.dbatch < 0) o.dbatch = big ? 64 : 8;
    if (o.prompt < 0) o.prompt = big ? 256 : 32;
    if (o.new_tokens < 0) o.new_tokens = big ? 64 : 16;
    if (o.batch % o.micro) { fprintf(stderr, "train_bench: --batch %d is not a multiple of --micro %d\n", o.batch, o.micro); return 3; }
    if (!(o.peak > 0)) { fprintf(stderr, "train_bench: --peak-tflops must be > 0\n"); return 3; }
    if (mm_engine_dtype_parse(o.dtype) < 0 || mm_engine_dtype_parse(o.act_dtype) < 0) {
        fprintf(stderr, "train_bench: --dtype %s / --act-dtype %s: expected fp32 or bf16\n", o.dtype, o.act_dtype);
        return 3;
    }
    const mm_kernels *k = !strcmp(o.table, "cpu") ? &mm_kernels_cpu : !strcmp(o.table, "cuda") ? mm_kernels_cuda() : NULL;
    if (!k) {
        fprintf(stderr, "train_bench: no op table '%s' (cuda: no CUDA device, or libmmlora_cuda.a not linked before "
                        "libmmlora.a)\n", o.table);
        return 2;
    }
    if (o.check_flops) k = counting_table(k);
    if (o.profile) k = op_profile_table(k); /* outermost: its waits are not counted as GEMM work */
    const char *tf = getenv("MMLORA_CUDA_TF32");
    g_tf32 = tf && *tf && strcmp(tf, "0") && k->device_memory && strncmp(k->name, "cpu", 3);
    method_state ms[MAX_METHODS];
    memset(ms, 0, sizeof ms);
    int nm = 0;
    for (char *save = NULL, *tok = strtok_r(o.methods, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nm == MAX_METHODS) { fprintf(stderr, "train_bench: at most %d methods\n", MAX_METHODS); return 3; }
        if (mm_method_from_name(tok, &ms[nm].spec) || mm_method_in_context(&ms[nm].spec)) {
            fprintf(stderr, "train_bench: method '%s': %s\n", tok, mm_method_in_context(&ms[nm].spec) ? "nothing trains" : mm_last_error());
            return 3;
        }
        nm++;
    }

    mm_model_config cfg;
    const char *json = deepseek ? CFG_DEEPSEEK : big ? CFG_1B : tiny_llama ? CFG_TINY_LLAMA : CFG_TINY;
    if (mm_config_parse(json, strlen(json), o.shape, &cfg)) {
        fprintf(stderr, "train_bench: %s\n", mm_last_error());
        return 3;
    }
    if (big && !deepseek && (cfg.n_layer != 24 || cfg.d_model != 2048 || cfg.n_head != 16 || cfg.n_kv_head != 1 ||
                             cfg.head_dim != 128 || cfg.d_ff != 8192 || cfg.vocab_size != 49152 || cfg.max_pos != 8192 ||
                             !cfg.tie_embeddings || mm_config_base_params(&cfg) != PARAMS_1B)) {
        fprintf(stderr, "train_bench: the 1b configuration does not match models-spec.md (%lld parameters)\n",
                mm_config_base_params(&cfg));
        return 3;
    }
    if (deepseek && (cfg.family != MM_FAMILY_LLAMA || cfg.n_kv_head != 16 || cfg.d_ff != 5504 || cfg.tie_embeddings ||
                     cfg.rope_scale != 4.0f || mm_config_base_params(&cfg) != PARAMS_DEEPSEEK)) {
        fprintf(stderr, "train_bench: the deepseek configuration does not match models-spec.md (%lld parameters)\n",
                mm_config_base_params(&cfg));
        return 3;
    }
    const mm_device_info *di = mm_device_probe();
    printf("train_bench: table '%s'%s%s, shape %s (%d layers, d %d, %d heads, %d kv head(s), d_ff %d, vocab %d: %lld "
           "parameters), dtype %s, peak %.0f TFLOP/s\n",
           k->name, di->n_gpus ? " on " : "", di->n_gpus ? di->name : "", o.shape, cfg.n_layer, cfg.d_model,
           cfg.n_head, cfg.n_kv_head, cfg.d_ff, cfg.vocab_size, mm_config_base_params(&cfg), dtype_label(&o), o.peak);
    printf("training: batch %d x seq %d (micro-batch %d), loss on the last %d positions, %d warm-up + %d timed steps%s;"
           " decoding: %s\n", o.batch, o.seq, o.micro, o.target ? o.target : o.seq - 1, o.warmup, o.steps,
           o.recompute ? ", activation recomputation" : "", o.decode ? "on" : "off (--no-decode)");
    fflush(stdout);
    double t = now();
    mm_model m;
    if (mm_model_init(&m, &cfg)) { fprintf(stderr, "train_bench: %s\n", mm_last_error()); return 3; }
    mm_model_init_random(&m, SEED);
    fprintf(stderr, "random weights (%zu floats, %.2f GiB) in %.1f s\n", m.n_params, m.n_params * 4.0 / 1073741824.0,
            now() - t);

    int rc = 0;
    for (int i = 0; i < nm; i++) {
        int r = bench_train(k, &m, &ms[i], &o);
        if (r < 0) {
            fprintf(stderr, "train_bench: %s: %s\n", ms[i].spec.name, mm_last_error());
            rc = 3;
            break;
        }
        if (r) rc = 1;
    }
    for (int i = 0; i < nm && o.decode && rc != 3; i++)
        if (bench_decode(k, &m, &ms[i], &o)) rc = rc ? rc : 1;
    for (int i = 0; i < nm; i++)
        if (ms[i].built) {
            mm_mmlora_free(&ms[i].mm);
            mm_adapters_free(&ms[i].ad);
        }
    mm_model_free(&m);

    printf("\nTFLOP/s: executed GEMM FLOPs per second; MFU against %.0f TFLOP/s (executed, and 6·N·tokens); decode "
           "step ms: one new token for every sequence\n", o.peak);
    printf("| what   | method    | dtype     | batch x seq          |   tokens/s |  TFLOP/s | MFU exec  |  MFU 6N   |   step ms |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n_rows; i++) printf("%s\n", rows_out[i]);
    return rc;
}
