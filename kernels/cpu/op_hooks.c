/* The hooked op table (cpu/op_hooks.h). */
#include "cpu/op_hooks.h"
#include <stdio.h>
#include <stdlib.h>

static const char *const NAMES[MM_OP_N] = {
    "gemm", "linear_fwd", "linear_bwd", "linear_fwd_w16", "linear_bwd_dx_w16", "layernorm_fwd", "layernorm_bwd",
    "rmsnorm_fwd", "rmsnorm_bwd", "rope", "swiglu_fwd", "swiglu_bwd", "gelu_tanh_fwd", "gelu_tanh_bwd",
    "embedding_fwd", "embedding_bwd", "dropout_fwd", "attention_fwd", "attention_bwd", "attention_rows",
    "xent_fwd_bwd", "adamw", "dropout_bits", "dropout_apply_bits", "upload", "download", "zero", "add", "gather_rows",
    "scatter_rows", "positions", "row_scale", "row_dot", "group_sum_rows", "softmax_topk_rows",
    "softmax_topk_bwd_rows", "scale", "sumsq", "copy_rows", "argmax_rows", "expert_down", "expert_down_bwd_a",
    "expert_down_bwd_x", "to_bf16", "from_bf16"};

static const mm_kernels *g_in;
static mm_op_hooks g_h;

/* void ops: before, the inner op, after */
#define WRAP(id, name, params, args) \
    static void p_##name params {    \
        g_h.before();                \
        g_in->name args;             \
        g_h.after(MM_OP_##id);       \
    }
WRAP(GEMM, gemm, (int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
     int ldb, float beta, float *C, int ldc), (tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
WRAP(LINEAR_FWD, linear_fwd, (float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N,
     int in, int out, int acc), (y, ldy, x, ldx, W, b, N, in, out, acc))
WRAP(LINEAR_BWD, linear_bwd, (float *dx, int lddx, float *dW, float *db, const float *dy, int lddy, const float *x,
     int ldx, const float *W, int N, int in, int out, int acc_dx),
     (dx, lddx, dW, db, dy, lddy, x, ldx, W, N, in, out, acc_dx))
WRAP(LINEAR_FWD_W16, linear_fwd_w16, (float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b,
     int N, int in, int out, int acc), (y, ldy, x, ldx, W, b, N, in, out, acc))
WRAP(LINEAR_BWD_DX_W16, linear_bwd_dx_w16, (float *dx, int lddx, const float *dy, int lddy, const uint16_t *W,
     int N, int in, int out, int acc_dx), (dx, lddx, dy, lddy, W, N, in, out, acc_dx))
WRAP(LAYERNORM_FWD, layernorm_fwd, (float *y, float *mean, float *rstd, const float *x, const float *w,
     const float *b, int N, int C, float eps), (y, mean, rstd, x, w, b, N, C, eps))
WRAP(LAYERNORM_BWD, layernorm_bwd, (float *dx, float *dw, float *db, const float *dy, const float *x,
     const float *w, const float *mean, const float *rstd, int N, int C), (dx, dw, db, dy, x, w, mean, rstd, N, C))
WRAP(RMSNORM_FWD, rmsnorm_fwd, (float *y, float *rstd, const float *x, const float *w, int N, int C, float eps),
     (y, rstd, x, w, N, C, eps))
WRAP(RMSNORM_BWD, rmsnorm_bwd, (float *dx, float *dw, const float *dy, const float *x, const float *w,
     const float *rstd, int N, int C), (dx, dw, dy, x, w, rstd, N, C))
WRAP(ROPE, rope, (float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N, const float *cos_t,
     const float *sin_t, int inverse), (x, ldx, col0, n_heads, D, pos, N, cos_t, sin_t, inverse))
WRAP(SWIGLU_FWD, swiglu_fwd, (float *act, const float *gate, const float *up, size_t n), (act, gate, up, n))
WRAP(SWIGLU_BWD, swiglu_bwd, (float *dgate, float *dup, const float *dact, const float *gate, const float *up,
     size_t n), (dgate, dup, dact, gate, up, n))
WRAP(GELU_FWD, gelu_tanh_fwd, (float *y, const float *x, size_t n), (y, x, n))
WRAP(GELU_BWD, gelu_tanh_bwd, (float *dx, const float *dy, const float *x, size_t n), (dx, dy, x, n))
WRAP(EMBEDDING_FWD, embedding_fwd, (float *y, const int32_t *ids, const int32_t *pos, const float *wte,
     const float *wpe, int N, int C), (y, ids, pos, wte, wpe, N, C))
WRAP(EMBEDDING_BWD, embedding_bwd, (float *dwte, float *dwpe, const float *dy, const int32_t *ids,
     const int32_t *pos, int N, int C), (dwte, dwpe, dy, ids, pos, N, C))
WRAP(DROPOUT_FWD, dropout_fwd, (float *y, const float *x, size_t n, mm_dropout d, uint64_t first),
     (y, x, n, d, first))
WRAP(ATTENTION_FWD, attention_fwd, (float *out, int ldout, float *probs, const float *qkv, int ldqkv, int B, int T,
     int H, int Hkv, int D, mm_dropout d), (out, ldout, probs, qkv, ldqkv, B, T, H, Hkv, D, d))
WRAP(ATTENTION_BWD, attention_bwd, (float *dqkv, const float *dout, int lddout, const float *qkv, int ldqkv,
     const float *probs, int B, int T, int H, int Hkv, int D, mm_dropout d),
     (dqkv, dout, lddout, qkv, ldqkv, probs, B, T, H, Hkv, D, d))
WRAP(ATTENTION_ROWS, attention_rows, (float *out, int ldout, const float *q, int ldq, const float *kcache,
     const float *vcache, const int32_t *seq, const int32_t *pos, int R, int max_len, int H, int Hkv, int D),
     (out, ldout, q, ldq, kcache, vcache, seq, pos, R, max_len, H, Hkv, D))
WRAP(ADAMW, adamw, (float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
     float eps, float wd, int t), (p, g, m, v, n, lr, beta1, beta2, eps, wd, t))
WRAP(DROPOUT_BITS, dropout_bits, (uint64_t *bits, size_t n, mm_dropout d, uint64_t first), (bits, n, d, first))
WRAP(DROPOUT_APPLY_BITS, dropout_apply_bits, (float *y, const float *x, size_t n, const uint64_t *bits, float p),
     (y, x, n, bits, p))
WRAP(UPLOAD, upload, (void *dst, const void *src, size_t bytes), (dst, src, bytes))
WRAP(DOWNLOAD, download, (void *dst, const void *src, size_t bytes), (dst, src, bytes))
WRAP(ZERO, zero, (void *p, size_t bytes), (p, bytes))
WRAP(ADD, add, (float *y, const float *a, const float *b, size_t n), (y, a, b, n))
WRAP(GATHER_ROWS, gather_rows, (float *dst, const float *src, const int32_t *rows, int R, int C),
     (dst, src, rows, R, C))
WRAP(SCATTER_ROWS, scatter_rows, (float *dst, const float *src, const int32_t *rows, int R, int C),
     (dst, src, rows, R, C))
WRAP(POSITIONS, positions, (int32_t *pos, int B, int T), (pos, B, T))
WRAP(ROW_SCALE, row_scale, (float *y, int ldy, const float *x, int ldx, const float *g, int g_stride, int group,
     float s, int N, int C), (y, ldy, x, ldx, g, g_stride, group, s, N, C))
WRAP(ROW_DOT, row_dot, (float *out, int ld_out, const float *a, int lda, const float *b, int ldb, float s, int N,
     int C), (out, ld_out, a, lda, b, ldb, s, N, C))
WRAP(GROUP_SUM_ROWS, group_sum_rows, (float *out, int ld_out, const float *x, int ldx, int N, int E, int group),
     (out, ld_out, x, ldx, N, E, group))
WRAP(SOFTMAX_TOPK, softmax_topk_rows, (float *probs, float *gates, int N, int E, int top_k),
     (probs, gates, N, E, top_k))
WRAP(SOFTMAX_TOPK_BWD, softmax_topk_bwd_rows, (float *dlogits, const float *probs, const float *gates,
     const float *dgates, int ld_dgates, int N, int E), (dlogits, probs, gates, dgates, ld_dgates, N, E))
WRAP(SCALE, scale, (float *x, float s, size_t n), (x, s, n))
WRAP(COPY_ROWS, copy_rows, (float *dst, int lddst, const int32_t *dst_rows, const float *src, int ldsrc,
     const int32_t *src_rows, int R, int C), (dst, lddst, dst_rows, src, ldsrc, src_rows, R, C))
WRAP(ARGMAX_ROWS, argmax_rows, (int32_t *out, const float *x, int ldx, int R, int V), (out, x, ldx, R, V))
WRAP(EXPERT_DOWN, expert_down, (float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A,
     int N, int in, int r), (u, ldu, x, bits, p, A, N, in, r))
WRAP(EXPERT_DOWN_BWD_A, expert_down_bwd_a, (float *dA, const float *du, int lddu, const float *x,
     const uint64_t *bits, float p, int N, int in, int r), (dA, du, lddu, x, bits, p, N, in, r))
WRAP(EXPERT_DOWN_BWD_X, expert_down_bwd_x, (float *dx, const float *du, int lddu, const uint64_t *bits, float p,
     const float *A, int N, int in, int r), (dx, du, lddu, bits, p, A, N, in, r))
WRAP(TO_BF16, to_bf16, (uint16_t *dst, const float *src, size_t n), (dst, src, n))
WRAP(FROM_BF16, from_bf16, (float *dst, const uint16_t *src, size_t n), (dst, src, n))
#undef WRAP

static double p_xent_fwd_bwd(float *logits, const int32_t *targets, const float *weights, int N, int V, float scale) {
    g_h.before();
    const double r = g_in->xent_fwd_bwd(logits, targets, weights, N, V, scale);
    g_h.after(MM_OP_XENT);
    return r;
}
static double p_sumsq(const float *x, size_t n) {
    g_h.before();
    const double r = g_in->sumsq(x, n);
    g_h.after(MM_OP_SUMSQ);
    return r;
}

const char *mm_op_name(int op) { return op >= 0 && op < MM_OP_N ? NAMES[op] : "?"; }

void mm_op_hooks_table(mm_kernels *out, const mm_kernels *inner, const mm_op_hooks *hooks) {
    if (g_in) { /* the wrappers share one inner table and one pair of hooks: a second table would recurse */
        fprintf(stderr, "mmlora: a second hooked op table in one process (the guarded stand-in and the op profiler "
                        "cannot be combined)\n");
        abort();
    }
    g_in = inner;
    g_h = *hooks;
    mm_kernels t = *inner;
    t.gemm = p_gemm, t.linear_fwd = p_linear_fwd, t.linear_bwd = p_linear_bwd, t.linear_fwd_w16 = p_linear_fwd_w16;
    t.linear_bwd_dx_w16 = p_linear_bwd_dx_w16, t.layernorm_fwd = p_layernorm_fwd, t.layernorm_bwd = p_layernorm_bwd;
    t.rmsnorm_fwd = p_rmsnorm_fwd, t.rmsnorm_bwd = p_rmsnorm_bwd, t.rope = p_rope, t.swiglu_fwd = p_swiglu_fwd;
    t.swiglu_bwd = p_swiglu_bwd, t.gelu_tanh_fwd = p_gelu_tanh_fwd, t.gelu_tanh_bwd = p_gelu_tanh_bwd;
    t.embedding_fwd = p_embedding_fwd, t.embedding_bwd = p_embedding_bwd, t.dropout_fwd = p_dropout_fwd;
    t.attention_fwd = p_attention_fwd, t.attention_bwd = p_attention_bwd, t.attention_rows = p_attention_rows;
    t.xent_fwd_bwd = p_xent_fwd_bwd, t.adamw = p_adamw, t.dropout_bits = p_dropout_bits;
    t.dropout_apply_bits = p_dropout_apply_bits, t.upload = p_upload, t.download = p_download, t.zero = p_zero;
    t.add = p_add, t.gather_rows = p_gather_rows, t.scatter_rows = p_scatter_rows, t.positions = p_positions;
    t.row_scale = p_row_scale, t.row_dot = p_row_dot, t.group_sum_rows = p_group_sum_rows;
    t.softmax_topk_rows = p_softmax_topk_rows, t.softmax_topk_bwd_rows = p_softmax_topk_bwd_rows, t.scale = p_scale;
    t.sumsq = p_sumsq, t.copy_rows = p_copy_rows, t.argmax_rows = p_argmax_rows, t.expert_down = p_expert_down;
    t.expert_down_bwd_a = p_expert_down_bwd_a, t.expert_down_bwd_x = p_expert_down_bwd_x, t.to_bf16 = p_to_bf16;
    t.from_bf16 = p_from_bf16;
    *out = t;
}
