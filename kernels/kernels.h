/* THE op interface.  Each op is declared once here, forward and backward; the CPU backend
 * (kernels/cpu/) and the CUDA backend (kernels/cuda/) fill the same table, and the model code calls
 * ops only through a `const mm_kernels *`.  All tensors are row-major fp32 (CPU); weights follow
 * nn.Linear: W is [out, in] and y = x·Wᵀ + b.  "acc" arguments: 1 adds into the output, 0 overwrites.
 * Dropout masks are never stored: they are regenerated from (seed, step, stream, index) (util/philox.h). */
#ifndef MMLORA_KERNELS_H
#define MMLORA_KERNELS_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t seed;
    uint32_t step;   /* global micro-step counter */
    uint32_t stream; /* mm_rng_stream(layer, purpose) */
    float p;         /* drop probability; 0 = identity */
} mm_dropout;

typedef struct mm_kernels {
    const char *name;
    /* 0: every pointer the ops take is host memory (the CPU table: alloc is malloc, upload/download are
     * memcpy, a no-op on the same pointer); 1: device memory, reached from the host only through
     * upload/download. */
    int device_memory;
    /* C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, op = transpose when trans* != 0 */
    void (*gemm)(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
    /* y[N,out] = x[N,in]·W[out,in]ᵀ + b (b may be NULL); ldx/ldy are row strides (0 = dense) */
    void (*linear_fwd)(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N,
                       int in, int out, int acc);
    /* dx (+)= dy·W (dx NULL: skip), dW += dyᵀ·x (NULL: skip), db += Σrows dy (NULL: skip) */
    void (*linear_bwd)(float *dx, int lddx, float *dW, float *db, const float *dy, int lddy,
                       const float *x, int ldx, const float *W, int N, int in, int out, int acc_dx);
    /* LayerNorm over C; saves mean/rstd per row */
    void (*layernorm_fwd)(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                          int N, int C, float eps);
    /* dx += ...; dw, db += ... (NULL: skip) */
    void (*layernorm_bwd)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          const float *mean, const float *rstd, int N, int C);
    /* RMSNorm (LLaMA): x̂ = x·rsqrt(mean(x²) + eps) in fp32, y = w ⊙ x̂; saves rstd per row */
    void (*rmsnorm_fwd)(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps);
    /* dx += ...; dw += Σ dy ⊙ x̂ (NULL: skip) */
    void (*rmsnorm_bwd)(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                        int N, int C);
    /* Rotary embedding, HF rotate-half (NeoX) pairing, in place on n_heads heads of width D starting at
     * column col0 of rows x[N, ldx]; row n has position pos[n].  cos/sin tables [max_pos, D/2] come from
     * mm_rope_tables().  inverse != 0 rotates by −θ (the backward). */
    void (*rope)(float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N, const float *cos_t,
                 const float *sin_t, int inverse);
    /* SwiGLU: act = silu(gate) ⊙ up */
    void (*swiglu_fwd)(float *act, const float *gate, const float *up, size_t n);
    /* dgate = dact ⊙ up ⊙ silu'(gate), dup = dact ⊙ silu(gate) (overwrite) */
    void (*swiglu_bwd)(float *dgate, float *dup, const float *dact, const float *gate, const float *up, size_t n);
    void (*gelu_tanh_fwd)(float *y, const float *x, size_t n);
    void (*gelu_tanh_bwd)(float *dx, const float *dy, const float *x, size_t n); /* dx = dy·gelu'(x) */
    /* y[n] = wte[ids[n]] + (wpe ? wpe[pos[n]] : 0) */
    void (*embedding_fwd)(float *y, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                          int N, int C);
    /* dwte[ids[n]] += dy[n], dwpe[pos[n]] += dy[n] (NULL: skip); deterministic order */
    void (*embedding_bwd)(float *dwte, float *dwpe, const float *dy, const int32_t *ids, const int32_t *pos,
                          int N, int C);
    /* y = x ⊙ keep / (1-p) (in place allowed). `first` = index of x[0] in the stream. */
    void (*dropout_fwd)(float *y, const float *x, size_t n, mm_dropout d, uint64_t first);
    /* Causal self-attention over a right-padded batch [B,T]; q/k/v live in `qkv` rows of stride ldqkv at
     * column offsets 0, H·D, H·D + Hkv·D.  probs [B,H,T,T] saved (pre-dropout; an entry that dropout zeroed is stored with its sign bit set, so
     * |probs| are the probabilities and backward needs no mask); out [B·T, ld_out]. */
    void (*attention_fwd)(float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T,
                          int H, int Hkv, int D, mm_dropout attn_drop);
    /* dqkv (same layout as qkv) is overwritten */
    void (*attention_bwd)(float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
                          const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout attn_drop);
    /* Attention of R independent rows against a KV cache (decoding).  Row r belongs to sequence seq[r] at
     * position pos[r] and attends to cache positions 0..pos[r] of its sequence (its own K/V must already be
     * in the cache).  q [R, ldq] (heads at h·D), cache [n_seq, max_len, Hkv·D], out [R, ldout]. */
    void (*attention_rows)(float *out, int ldout, const float *q, int ldq, const float *kcache, const float *vcache,
                           const int32_t *seq, const int32_t *pos, int R, int max_len, int H, int Hkv, int D);
    /* Row-wise softmax cross-entropy over V logits; rows with weight 0 get dlogits 0.  logits are
     * overwritten with dlogits = (softmax − onehot)·weight·scale.  Returns Σ weight·(−log p). */
    double (*xent_fwd_bwd)(float *logits, const int32_t *targets, const float *weights, int N, int V,
                           float scale);
    /* AdamW (decoupled weight decay, bias correction) on n parameters */
    void (*adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float wd, int t);
    /* Bit-packed dropout mask, for a mask applied several times (an expert's input in forward and backward):
     * bit (i % 64) of bits[i / 64] = keep(first + i), the same keep rule as dropout_fwd. */
    void (*dropout_bits)(uint64_t *bits, size_t n, mm_dropout d, uint64_t first);
    /* y = x ⊙ keep / (1-p) from bits (in place allowed) */
    void (*dropout_apply_bits)(float *y, const float *x, size_t n, const uint64_t *bits, float p);

    /* ---- memory: the only way model code allocates or reaches the table's memory (kernels/cpu/memory.c) */
    /* bytes of the table's memory, 64-byte aligned, contents undefined; aborts when out of memory */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p); /* NULL: nothing */
    /* host src -> table memory dst / table memory src -> host dst (dst == src: nothing to do) */
    void (*upload)(void *dst, const void *src, size_t bytes);
    void (*download)(void *dst, const void *src, size_t bytes);
    void (*zero)(void *p, size_t bytes);

    /* ---- small ops that replace the engine's and the adapters' former host loops (kernels/cpu/rows.c) */
    void (*add)(float *y, const float *a, const float *b, size_t n); /* y = a + b (y may alias a or b) */
    /* dst[i, :] = src[rows[i], :] for i < R, rows C floats wide */
    void (*gather_rows)(float *dst, const float *src, const int32_t *rows, int R, int C);
    /* dst[rows[i], :] = src[i, :] (rows distinct) */
    void (*scatter_rows)(float *dst, const float *src, const int32_t *rows, int R, int C);
    /* pos[b·T + t] = t for b < B */
    void (*positions)(int32_t *pos, int B, int T);
    /* y[n, c] = (s·g_n)·x[n, c] for n < N, c < C with g_n = g[(n / group)·g_stride] (g NULL: g_n = 1, group >= 1);
     * y may alias x when ldy == ldx */
    void (*row_scale)(float *y, int ldy, const float *x, int ldx, const float *g, int g_stride, int group, float s,
                      int N, int C);
    /* out[n·ld_out] = s·Σ_c a[n, c]·b[n, c] (fp32, c in order) */
    void (*row_dot)(float *out, int ld_out, const float *a, int lda, const float *b, int ldb, float s, int N, int C);
    /* out[(group ? n / group : 0)·ld_out + e] += x[n·ldx + e] for e < E, rows n in order (deterministic) */
    void (*group_sum_rows)(float *out, int ld_out, const float *x, int ldx, int N, int E, int group);
    /* token router forward: probs [N, E] holds logits and is overwritten with softmax (fp32); gates [N, E] =
     * mm_topk_renorm(probs row, top_k) */
    void (*softmax_topk_rows)(float *probs, float *gates, int N, int E, int top_k);
    /* token router backward: dlogits [N, E] from probs, gates and dL/dgates (row n at dgates + n·ld_dgates):
     * dp = mm_topk_renorm_bwd, dlogits = p ⊙ (dp − Σ dp ⊙ p) */
    void (*softmax_topk_bwd_rows)(float *dlogits, const float *probs, const float *gates, const float *dgates,
                                  int ld_dgates, int N, int E);

    /* ---- the trainer's reductions over the trainable buffer (gradient normalization, global-norm clipping;
     * kernels/cpu/rows.c) */
    void (*scale)(float *x, float s, size_t n); /* x[i] *= s (fp32) */
    /* Σ (double)x[i]·x[i].  CPU: one double accumulator, i in order (the trainer's former host loop, so a
     * sum continued on the host over a following block equals one loop over both); CUDA: a fixed-order
     * tree (deterministic, not bit-identical to the CPU). */
    double (*sumsq)(const float *x, size_t n);

    /* ---- decoding (kernels/cpu/decode.c; core/infer/generate.c) */
    /* dst[(dst_rows ? dst_rows[i] : i)·lddst + c] = src[(src_rows ? src_rows[i] : i)·ldsrc + c] for i < R, c < C
     * (destination rows distinct; writes the KV cache and picks the rows whose logits are wanted) */
    void (*copy_rows)(float *dst, int lddst, const int32_t *dst_rows, const float *src, int ldsrc,
                      const int32_t *src_rows, int R, int C);
    /* out[r] = the lowest index of the largest of x[r·ldx + 0..V) (greedy decoding); NaN entries are never
     * chosen; a row of NaN gives 0 */
    void (*argmax_rows)(int32_t *out, const float *x, int ldx, int R, int V);

    /* ---- linears with a frozen bf16 weight (the engine's dtype bf16, model/engine.h; kernels/cpu/linear_bf16.c,
     * kernels/cuda/bf16.cu).  W [out, in] is bf16 in table memory, as uint16_t (the upper half of an IEEE float,
     * rounded as mm_f32_to_bf16: nearest even).  The fp32 activation (x, dy) is rounded to bf16 the same way on
     * the fly; the products of two bf16 values are exact in fp32 and are summed in fp32.  CPU: the rounded
     * activation and the widened W (exact) go through the fp32 linear's sgemm, so the result equals
     * linear_fwd / linear_bwd on those inputs bit for bit (a reference: it widens W on every call, no faster than
     * fp32); CUDA: cublasGemmEx bf16 x bf16 -> fp32 on tensor cores, fp32 compute (the same products, another
     * summation order).  Strides and acc as linear_fwd / linear_bwd; b (fp32) may be NULL. */
    /* y[N, out] (+)= bf16(x)·Wᵀ + b */
    void (*linear_fwd_w16)(float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b, int N,
                           int in, int out, int acc);
    /* dx[N, in] (+)= bf16(dy)·W (no dW: the weight is frozen) */
    void (*linear_bwd_dx_w16)(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N, int in,
                              int out, int acc_dx);

    /* ---- an expert's down-projection with its input dropout fused (core/peft/adapter.c while training with
     * dropout; kernels/cpu/expert.c): h = drop(x) = x ⊙ keep / (1 − p), keep = bit (n·in + c) of bits (as
     * dropout_apply_bits; bits NULL: h = x), is never written out.  x and dx are dense [N, in]; A is [r, in].
     * CPU with AVX-512: fused loops (h per element as dropout_apply_bits, another summation order than sgemm);
     * otherwise, and on CUDA: dropout_apply_bits into scratch + gemm (the unfused path). */
    /* u[n, j] (row stride ldu) = Σ_c h[n, c]·A[j, c] for j < r (overwrite) */
    void (*expert_down)(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A, int N, int in,
                        int r);
    /* dA[j, c] += Σ_n du[n, j]·h[n, c] */
    void (*expert_down_bwd_a)(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits, float p,
                              int N, int in, int r);
    /* dx[n, c] += keep(n, c)/(1 − p) · Σ_j du[n, j]·A[j, c] (the input gradient through the dropout) */
    void (*expert_down_bwd_x)(float *dx, const float *du, int lddu, const uint64_t *bits, float p, const float *A,
                              int N, int in, int r);

    /* ---- bf16 activation storage (the engine's act_dtype bf16, model/engine.h; kernels/cpu/linear_bf16.c,
     * kernels/cuda/bf16.cu): dst[i] = bf16(src[i]) rounded as mm_f32_to_bf16 (nearest even, NaN stays NaN), and
     * the exact widening back.  Bit-identical on every table. */
    void (*to_bf16)(uint16_t *dst, const float *src, size_t n);
    void (*from_bf16)(float *dst, const uint16_t *src, size_t n);
} mm_kernels;

extern const mm_kernels mm_kernels_cpu;

/* cos/sin tables [max_pos, D/2] in fp32 as HF computes them: inv_freq[i] = 1/theta^(2i/D), divided by
 * the linear scaling factor, angle = pos·inv_freq (fp32). */
void mm_rope_tables(float *cos_t, float *sin_t, int max_pos, int D, float theta, float linear_scale);

/* top-k of p[E] (ties: lower index first), kept weights renormalized to sum 1, others exactly 0 (E <= 16) */
void mm_topk_renorm(const float *p, int E, int k, float *w);
/* given probabilities p and renormalized weights w (from mm_topk_renorm) and dL/dw, returns dL/dp */
void mm_topk_renorm_bwd(const float *p, const float *w, const float *dw, int E, float *dp);

/* Collectives over a device table's memory, for data parallelism with one process per device (NCCL for the
 * CUDA table: kernels/cuda/comm.cu; the CPU stand-in has one over MPI: core/train/dist.c).  The caller
 * bootstraps it: rank 0 makes an id, every rank gets it (MPI broadcast) and calls init.  Errors come back as
 * text in err (the backend library has its own log state). */
typedef struct mm_device_comm {
    const char *name;
    size_t id_bytes;                                   /* bytes of the bootstrap id (NCCL: 128) */
    int (*make_id)(void *id, char *err, size_t n);     /* rank 0: a fresh id; 0 or -1 */
    int (*init)(const void *id, int rank, int size, char *err, size_t n); /* every rank, collectively */
    int (*allreduce_sum_f32)(float *x, size_t count, char *err, size_t n); /* in place, synchronizes; 0 or -1 */
    void (*destroy)(void);
} mm_device_comm;

/* CUDA backend table, or NULL when the build has no CUDA (or no device).  build/mmlora does not link
 * the CUDA backend: it loads build/libmmlora_cuda.so at run time (util/backend.h). */
const mm_kernels *mm_kernels_cuda(void);
/* The CPU table claiming device memory (kernels/cpu/standin.c): separate allocations filled with NaN bytes,
 * real copies for upload/download, every op the CPU's.  The device path of the engine and the trainer run on
 * it bit-identically to the CPU table (tests; MMLORA_DEVICE_STANDIN=1 makes --device cuda use it). */
const mm_kernels *mm_kernels_cpu_standin(void);
/* The same with device memory the host cannot touch: every allocation its own pages, PROT_NONE except while one of
 * the table's ops runs (kernels/cpu/standin.c).  A host access to device memory outside the ops is a SIGSEGV, as
 * it would be a fault on a GPU (tests; MMLORA_DEVICE_STANDIN=guard makes --device cuda use it). */
const mm_kernels *mm_kernels_cpu_standin_guarded(void);
#endif
