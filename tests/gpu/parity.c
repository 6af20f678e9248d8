/* CPU vs CUDA op-table parity.  For every op of kernels/kernels.h: fresh random inputs, the same call on the
 * CPU table (host buffers) and the CUDA table (device buffers), outputs poisoned with NaN before each run
 * (so an element an op should write but does not shows up, and so does one it should leave alone but writes:
 * both-NaN counts as equal).  Pass criterion per element: |gpu − cpu| <= tol·(|cpu| + rms(cpu)), with tol
 * 1e-5 for elementwise ops and 1e-4 for reductions / GEMM-based ops; dropout outputs and masks must be
 * bit-identical.  One line per checked output, then "N passed, M failed"; exit 1 on any failure, 2 when no
 * CUDA device is present.
 * The bf16 helpers (cuda/cuda_bf16.h) are checked too: conversions bit-exact against a host
 * round-to-nearest-even, linear layers against the CPU fp32 linear on bf16-rounded inputs; and the table's
 * bf16 ops linear_fwd_w16 / linear_bwd_dx_w16 against the CPU table's on fresh fp32 activations (not rounded
 * beforehand: each side rounds them, to the same bf16 values, which t_bf16 checks bit for bit) and the same
 * bf16 weight.  The products of two bf16 values are exact in fp32, so the two sides differ only in the order
 * of the fp32 summation, as the fp32 linears do: the same tolerance, TOL_RED.
 * Should the CPU table lack rmsnorm / rope / swiglu (a NULL entry), those are checked against the small
 * references in this file instead; the line says so.  The memory, row, decoding, expert, optimizer and NCCL
 * checks are in parity_rows.c, the harness in parity.h.
 * Without arguments the program runs these fixed cases (the same inputs and lines on every run: tests/gpu/run.sh,
 * make test).  `parity --sweep N [--seed S]` runs N random edge-favouring shape draws per op family instead through
 * the same per-shape checks (tests/gpu/parity_sweep.c; --fixed runs the fixed cases first). */
#include <time.h>
#include <unistd.h>
#include "cuda/cuda_bf16.h"
#include "util/philox.h"
#include "parity.h"

int n_pass, n_fail;
const mm_kernels *CPU, *GPU;
uint64_t rng = 0x9E3779B97F4A7C15ull;
char sweep_tag[192];
int sweeping;
double rms_floor;

/* ------------------------------------------------------------------ local references (see header) */
static void ref_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += (double)xr[c] * xr[c];
        float rs = (float)(1.0 / sqrt(s / C + (double)eps));
        for (int c = 0; c < C; c++) y[(size_t)n * C + c] = w[c] * (xr[c] * rs);
        if (rstd) rstd[n] = rs;
    }
}
static void ref_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                            int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *g = dy + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += (double)(g[c] * w[c]) * (xr[c] * rstd[n]);
        float m = (float)(s / C);
        for (int c = 0; c < C; c++) dx[(size_t)n * C + c] += (g[c] * w[c] - xr[c] * rstd[n] * m) * rstd[n];
        if (dw)
            for (int c = 0; c < C; c++) dw[c] += g[c] * (xr[c] * rstd[n]);
    }
}
static void ref_rope(float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N, const float *cos_t,
                     const float *sin_t, int inverse) {
    const int half = D / 2;
    for (int n = 0; n < N; n++)
        for (int h = 0; h < n_heads; h++) {
            float *xr = x + (size_t)n * ldx + col0 + (size_t)h * D;
            for (int i = 0; i < half; i++) {
                float c = cos_t[(size_t)pos[n] * half + i], s = sin_t[(size_t)pos[n] * half + i];
                if (inverse) s = -s;
                float x1 = xr[i], x2 = xr[i + half];
                xr[i] = x1 * c - x2 * s;
                xr[i + half] = x2 * c + x1 * s;
            }
        }
}
static void ref_swiglu_fwd(float *act, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) act[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}
static void ref_swiglu_bwd(float *dgate, float *dup, const float *dact, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-gate[i]));
        dgate[i] = dact[i] * up[i] * s * (1.0f + gate[i] * (1.0f - s));
        dup[i] = dact[i] * gate[i] * s;
    }
}

/* ------------------------------------------------------------------ tests */
/* C[M, N] = 0.7·op(A)·op(B) (+ 0.5·C when acc), leading dimensions padded by pad_a, pad_b, pad_c */
void gemm_case(int ta, int tb, int acc, int M, int N, int K, int pad_a, int pad_b, int pad_c) {
    const int lda = (ta ? M : K) + pad_a, ldb = (tb ? K : N) + pad_b, ldc = N + pad_c;
    buf A = brand((size_t)(ta ? K : M) * lda, 1), B = brand((size_t)(tb ? N : K) * ldb, 1);
    buf C = acc ? brand((size_t)M * ldc, 1) : bpoison((size_t)M * ldc);
    const float beta = acc ? 0.5f : 0.0f;
    CPU->gemm(ta, tb, M, N, K, 0.7f, A.h, lda, B.h, ldb, beta, C.h, ldc);
    GPU->gemm(ta, tb, M, N, K, 0.7f, A.d, lda, B.d, ldb, beta, C.d, ldc);
    char name[64];
    snprintf(name, sizeof name, "gemm %c%c beta=%.1f", ta ? 'T' : 'N', tb ? 'T' : 'N', beta);
    check(name, &C, TOL_RED);
    bfree(&A), bfree(&B), bfree(&C);
}

static void t_gemm(void) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int acc = 0; acc < 2; acc++) gemm_case(ta, tb, acc, 67, 45, 133, 3, 1, 2);
}

/* nulls (the sweep's variants; 0 in the fixed cases): NL_DENSE passes the row strides as 0 (dense, pad 0); in
 * linear_bwd NL_DX / NL_DW / NL_DB pass that output as NULL (its buffer must come back untouched) */
void t_linear(int N, int in, int out, int pad, int nulls) {
    const int ldx = in + pad, ldy = out + pad, lx = nulls & NL_DENSE ? 0 : ldx, ly = nulls & NL_DENSE ? 0 : ldy;
    char name[96];
    for (int mode = 0; mode < 3; mode++) { /* bias+overwrite, bias+acc, no bias+overwrite */
        buf x = brand((size_t)N * ldx, 1), W = brand((size_t)out * in, 0.1f), b = brand((size_t)out, 1);
        buf y = mode == 1 ? brand((size_t)N * ldy, 1) : bpoison((size_t)N * ldy);
        const float *bh = mode == 2 ? NULL : b.h, *bd = mode == 2 ? NULL : b.d;
        CPU->linear_fwd(y.h, ly, x.h, lx, W.h, bh, N, in, out, mode == 1);
        GPU->linear_fwd(y.d, ly, x.d, lx, W.d, bd, N, in, out, mode == 1);
        snprintf(name, sizeof name, "linear_fwd %dx%d->%d %s", N, in, out,
                 mode == 0 ? "bias" : mode == 1 ? "bias acc" : "nobias");
        check(name, &y, TOL_RED);
        bfree(&x), bfree(&W), bfree(&b), bfree(&y);
    }
    for (int acc = 0; acc < 2; acc++) {
        buf x = brand((size_t)N * ldx, 1), W = brand((size_t)out * in, 0.1f), dy = brand((size_t)N * ldy, 1);
        buf dx = acc ? brand((size_t)N * ldx, 1) : bpoison((size_t)N * ldx);
        buf dW = brand((size_t)out * in, 1), db = brand((size_t)out, 1);
        CPU->linear_bwd(NUL(NL_DX, dx.h), lx, NUL(NL_DW, dW.h), NUL(NL_DB, db.h), dy.h, ly, x.h, lx, W.h, N, in, out, acc);
        GPU->linear_bwd(NUL(NL_DX, dx.d), lx, NUL(NL_DW, dW.d), NUL(NL_DB, db.d), dy.d, ly, x.d, lx, W.d, N, in, out, acc);
        snprintf(name, sizeof name, "linear_bwd.dx %dx%d->%d acc=%d", N, in, out, acc);
        check(name, &dx, TOL_RED);
        snprintf(name, sizeof name, "linear_bwd.dW %dx%d->%d", N, in, out);
        check(name, &dW, TOL_RED);
        snprintf(name, sizeof name, "linear_bwd.db %dx%d->%d", N, in, out);
        check(name, &db, TOL_RED);
        bfree(&x), bfree(&W), bfree(&dy), bfree(&dx), bfree(&dW), bfree(&db);
    }
}

/* the table's bf16 linears: W bf16 (the same bits on both sides), x / dy fresh fp32 rounded by each op */
void t_linear_w16(int N, int in, int out, int pad, int nulls) { /* nulls: NL_DENSE only */
    const int ldx = in + pad, ldy = out + pad, lx = nulls & NL_DENSE ? 0 : ldx, ly = nulls & NL_DENSE ? 0 : ldy;
    const size_t nw = (size_t)out * in;
    uint16_t *Wh = mm_xmalloc(nw * sizeof(uint16_t)), *Wd = mm_cuda_malloc(nw * sizeof(uint16_t));
    if (!Wd) die("alloc");
    for (size_t i = 0; i < nw; i++) {
        const float w = 0.1f * frand();
        uint32_t u;
        memcpy(&u, &w, 4);
        Wh[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16); /* round to nearest even (finite values) */
    }
    if (mm_cuda_h2d(Wd, Wh, nw * sizeof(uint16_t))) die("h2d");
    char name[96];
    for (int mode = 0; mode < 3; mode++) { /* bias+overwrite, bias+acc, no bias+overwrite */
        buf x = brand((size_t)N * ldx, 1), b = brand((size_t)out, 1);
        buf y = mode == 1 ? brand((size_t)N * ldy, 1) : bpoison((size_t)N * ldy);
        const float *bh = mode == 2 ? NULL : b.h, *bd = mode == 2 ? NULL : b.d;
        CPU->linear_fwd_w16(y.h, ly, x.h, lx, Wh, bh, N, in, out, mode == 1);
        GPU->linear_fwd_w16(y.d, ly, x.d, lx, Wd, bd, N, in, out, mode == 1);
        snprintf(name, sizeof name, "linear_fwd_w16 %dx%d->%d %s", N, in, out,
                 mode == 0 ? "bias" : mode == 1 ? "bias acc" : "nobias");
        check(name, &y, TOL_RED);
        bfree(&x), bfree(&b), bfree(&y);
    }
    for (int acc = 0; acc < 2; acc++) {
        buf dy = brand((size_t)N * ldy, 1), dx = acc ? brand((size_t)N * ldx, 1) : bpoison((size_t)N * ldx);
        CPU->linear_bwd_dx_w16(dx.h, lx, dy.h, ly, Wh, N, in, out, acc);
        GPU->linear_bwd_dx_w16(dx.d, lx, dy.d, ly, Wd, N, in, out, acc);
        snprintf(name, sizeof name, "linear_bwd_dx_w16 %dx%d->%d acc=%d", N, in, out, acc);
        check(name, &dx, TOL_RED);
        bfree(&dy), bfree(&dx);
    }
    free(Wh);
    mm_cuda_free(Wd);
}

/* nulls (0 in the fixed cases): NL_B no bias, NL_STATS no mean/rstd saved (their buffers must stay untouched; the
 * backward then takes them from another CPU forward), NL_DW / NL_DB no dw / db */
void t_layernorm(int N, int C, int nulls) {
    buf x = brand((size_t)N * C, 2), w = brand(C, 1), b = brand(C, 1);
    for (size_t i = 0; i < x.n; i++) x.h[i] += 0.5f; /* a non-zero mean */
    bpush(&x);
    buf y = bpoison((size_t)N * C), mean = bpoison(N), rstd = bpoison(N);
    CPU->layernorm_fwd(y.h, NUL(NL_STATS, mean.h), NUL(NL_STATS, rstd.h), x.h, w.h, NUL(NL_B, b.h), N, C, 1e-5f);
    GPU->layernorm_fwd(y.d, NUL(NL_STATS, mean.d), NUL(NL_STATS, rstd.d), x.d, w.d, NUL(NL_B, b.d), N, C, 1e-5f);
    check("layernorm_fwd.y", &y, TOL_RED);
    check("layernorm_fwd.mean", &mean, TOL_RED);
    check("layernorm_fwd.rstd", &rstd, TOL_RED);
    if (nulls & NL_STATS) { /* the statistics for the backward */
        float *yy = mm_xmalloc((size_t)N * C * sizeof(float));
        CPU->layernorm_fwd(yy, mean.h, rstd.h, x.h, w.h, b.h, N, C, 1e-5f);
        free(yy);
    }
    /* backward from the CPU statistics on both sides */
    bpush(&mean), bpush(&rstd);
    buf dy = brand((size_t)N * C, 1), dx = brand((size_t)N * C, 1), dw = brand(C, 1), db = brand(C, 1);
    CPU->layernorm_bwd(dx.h, NUL(NL_DW, dw.h), NUL(NL_DB, db.h), dy.h, x.h, w.h, mean.h, rstd.h, N, C);
    GPU->layernorm_bwd(dx.d, NUL(NL_DW, dw.d), NUL(NL_DB, db.d), dy.d, x.d, w.d, mean.d, rstd.d, N, C);
    check("layernorm_bwd.dx (acc)", &dx, TOL_RED);
    check("layernorm_bwd.dw (acc)", &dw, TOL_RED);
    check("layernorm_bwd.db (acc)", &db, TOL_RED);
    bfree(&x), bfree(&w), bfree(&b), bfree(&y), bfree(&mean), bfree(&rstd);
    bfree(&dy), bfree(&dx), bfree(&dw), bfree(&db);
}

/* nulls (0 in the fixed cases): NL_STATS no rstd saved, NL_DW no dw */
void t_rmsnorm(int N, int C, int nulls) {
    const int have = CPU->rmsnorm_fwd && CPU->rmsnorm_bwd;
    const char *sfx = have ? "" : " [vs local ref]";
    char name[96];
    buf x = brand((size_t)N * C, 2), w = brand(C, 1);
    buf y = bpoison((size_t)N * C), rstd = bpoison(N);
    if (have) CPU->rmsnorm_fwd(y.h, NUL(NL_STATS, rstd.h), x.h, w.h, N, C, 1e-6f);
    else ref_rmsnorm_fwd(y.h, NUL(NL_STATS, rstd.h), x.h, w.h, N, C, 1e-6f);
    GPU->rmsnorm_fwd(y.d, NUL(NL_STATS, rstd.d), x.d, w.d, N, C, 1e-6f);
    snprintf(name, sizeof name, "rmsnorm_fwd.y%s", sfx);
    check(name, &y, TOL_RED);
    snprintf(name, sizeof name, "rmsnorm_fwd.rstd%s", sfx);
    check(name, &rstd, TOL_RED);
    if (nulls & NL_STATS) { /* the statistics for the backward */
        float *yy = mm_xmalloc((size_t)N * C * sizeof(float));
        if (have) CPU->rmsnorm_fwd(yy, rstd.h, x.h, w.h, N, C, 1e-6f);
        else ref_rmsnorm_fwd(yy, rstd.h, x.h, w.h, N, C, 1e-6f);
        free(yy);
    }
    bpush(&rstd);
    buf dy = brand((size_t)N * C, 1), dx = brand((size_t)N * C, 1), dw = brand(C, 1);
    if (have) CPU->rmsnorm_bwd(dx.h, NUL(NL_DW, dw.h), dy.h, x.h, w.h, rstd.h, N, C);
    else ref_rmsnorm_bwd(dx.h, NUL(NL_DW, dw.h), dy.h, x.h, w.h, rstd.h, N, C);
    GPU->rmsnorm_bwd(dx.d, NUL(NL_DW, dw.d), dy.d, x.d, w.d, rstd.d, N, C);
    snprintf(name, sizeof name, "rmsnorm_bwd.dx (acc)%s", sfx);
    check(name, &dx, TOL_RED);
    snprintf(name, sizeof name, "rmsnorm_bwd.dw (acc)%s", sfx);
    check(name, &dw, TOL_RED);
    bfree(&x), bfree(&w), bfree(&y), bfree(&rstd), bfree(&dy), bfree(&dx), bfree(&dw);
}

/* H heads of width D (even) at column col0 of rows ldx = col0 + H·D + pad wide, positions < max_pos */
void rope_case(int N, int H, int D, int max_pos, int col0, int pad) {
    const int ldx = col0 + H * D + pad, half = D / 2;
    const int have = CPU->rope != NULL;
    buf cs = bnew((size_t)max_pos * half), sn = bnew((size_t)max_pos * half);
    mm_rope_tables(cs.h, sn.h, max_pos, D, 10000.0f, 1.0f);
    bpush(&cs), bpush(&sn);
    ibuf pos = inew(N, 0, max_pos);
    for (int inv = 0; inv < 2; inv++) {
        buf x = brand((size_t)N * ldx, 1);
        buf x0 = bclone(&x);
        if (have) CPU->rope(x.h, ldx, col0, H, D, pos.h, N, cs.h, sn.h, inv);
        else ref_rope(x.h, ldx, col0, H, D, pos.h, N, cs.h, sn.h, inv);
        GPU->rope(x.d, ldx, col0, H, D, pos.d, N, cs.d, sn.d, inv);
        check(inv ? (have ? "rope inverse" : "rope inverse [vs local ref]") : (have ? "rope" : "rope [vs local ref]"),
              &x, TOL_EW);
        /* inverse(forward(x)) == x on the device */
        GPU->rope(x.d, ldx, col0, H, D, pos.d, N, cs.d, sn.d, !inv);
        float *g = bpull(&x);
        check_vals(inv ? "rope fwd(inv(x)) == x (gpu)" : "rope inv(fwd(x)) == x (gpu)", g, x0.h, x.n, TOL_EW);
        free(g);
        bfree(&x), bfree(&x0);
    }
    bfree(&cs), bfree(&sn), ifree(&pos);
}
static void t_rope(void) { rope_case(29, 3, 16, 64, 5, 7); }

/* In a sweep, the outputs that cancel are checked against a floor of half their rms over these input distributions
 * (x in [-4, 4): gelu 1.6, gelu' · dy 0.42, swiglu's dgate 0.47), the scale the fixed case's 100003 elements give
 * them: the CPU's GELU goes through fast_tanhf (about 1 ulp of tanh near ±1, kernels/cpu/elementwise.c), and
 * 1 + tanh(u) cancels in the left tail (at x = -3.64 the CPU's gelu is 3e-4 relative off the exact value, tanhf's
 * 2e-6), which a draw of one element would otherwise judge by a purely relative tolerance. */
void t_elementwise(size_t n) {
    const int have = CPU->swiglu_fwd && CPU->swiglu_bwd;
    buf x = brand(n, 4), y = bpoison(n), dy = brand(n, 1), dx = bpoison(n);
    CPU->gelu_tanh_fwd(y.h, x.h, n), GPU->gelu_tanh_fwd(y.d, x.d, n);
    rms_floor = sweeping ? 0.8 : 0.0;
    check("gelu_tanh_fwd", &y, TOL_EW);
    CPU->gelu_tanh_bwd(dx.h, dy.h, x.h, n), GPU->gelu_tanh_bwd(dx.d, dy.d, x.d, n);
    /* 3x TOL_EW: the CPU's tanh is a rational approximation, the device's tanhf within 2 ulp; their worst
     * disagreement through gelu' is estimated at 5e-6 .. 7.5e-6 relative, too close to 1e-5 for a first run */
    rms_floor = sweeping ? 0.2 : 0.0;
    check("gelu_tanh_bwd", &dx, 3 * TOL_EW);
    rms_floor = 0.0;
    buf up = brand(n, 2), act = bpoison(n), dup = bpoison(n);
    for (size_t i = 0; i < n; i++) dx.h[i] = NAN;
    bpush(&dx);
    if (have) CPU->swiglu_fwd(act.h, x.h, up.h, n);
    else ref_swiglu_fwd(act.h, x.h, up.h, n);
    GPU->swiglu_fwd(act.d, x.d, up.d, n);
    check(have ? "swiglu_fwd" : "swiglu_fwd [vs local ref]", &act, TOL_EW);
    if (have) CPU->swiglu_bwd(dx.h, dup.h, dy.h, x.h, up.h, n);
    else ref_swiglu_bwd(dx.h, dup.h, dy.h, x.h, up.h, n);
    GPU->swiglu_bwd(dx.d, dup.d, dy.d, x.d, up.d, n);
    rms_floor = sweeping ? 0.23 : 0.0;
    check(have ? "swiglu_bwd.dgate" : "swiglu_bwd.dgate [vs local ref]", &dx, TOL_EW);
    rms_floor = 0.0;
    check(have ? "swiglu_bwd.dup" : "swiglu_bwd.dup [vs local ref]", &dup, TOL_EW);
    bfree(&x), bfree(&y), bfree(&dy), bfree(&dx), bfree(&up), bfree(&act), bfree(&dup);

    buf p = brand(n, 1), g = brand(n, 1), m = brand(n, 0.1f), v = bpos(n, 0.0f, 0.01f);
    for (int t = 1; t <= 3; t++) {
        CPU->adamw(p.h, g.h, m.h, v.h, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
        GPU->adamw(p.d, g.d, m.d, v.d, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, t);
    }
    check("adamw.p (3 steps)", &p, TOL_EW);
    check("adamw.m (3 steps)", &m, TOL_EW);
    check("adamw.v (3 steps)", &v, TOL_EW);
    bfree(&p), bfree(&g), bfree(&m), bfree(&v);
}

static const char *fmt_first(char *s, size_t n, uint64_t f) { /* 2^k for a large power of two, else decimal */
    if (f >= 1024 && !(f & (f - 1))) snprintf(s, n, "2^%d", __builtin_ctzll(f));
    else snprintf(s, n, "%llu", (unsigned long long)f);
    return s;
}

/* n elements from stream offset `first` at p1; in place at p2 from first2; p 0 (copy); bits + apply at p1 */
void dropout_case(size_t n, uint64_t first, float p1, float p2, uint64_t first2) {
    mm_dropout d = {0x1234567890abcdefull, 17, mm_rng_stream(3, MM_RNG_RESID_MLP), p1};
    char name[96], f2[32];
    buf x = brand(n, 1), y = bpoison(n);
    CPU->dropout_fwd(y.h, x.h, n, d, first), GPU->dropout_fwd(y.d, x.d, n, d, first);
    snprintf(name, sizeof name, "dropout_fwd p=%g", p1);
    check_bits(name, &y);
    /* mask bit-identity against mm_dropout_mask itself */
    uint8_t *keep = mm_xmalloc(n);
    mm_dropout_mask(keep, n, d.p, d.seed, d.step, d.stream, first);
    float *g = bpull(&y);
    size_t bad = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        int gk = !(g[i] == 0.0f && x.h[i] != 0.0f);
        bad += gk != keep[i];
        dropped += !keep[i];
    }
    report("dropout mask == mm_dropout_mask", bad == 0, "%zu mismatches, %zu/%zu dropped (p %g)", bad, dropped, n, p1);
    free(g), free(keep);
    /* in place at p2 from stream offset first2 (the fixed case: p 0.5 from 2^33) */
    d.p = p2;
    buf z = bclone(&x);
    CPU->dropout_fwd(z.h, z.h, n, d, first2), GPU->dropout_fwd(z.d, z.d, n, d, first2);
    snprintf(name, sizeof name, "dropout_fwd in place p=%g first=%s", p2, fmt_first(f2, sizeof f2, first2));
    check_bits(name, &z);
    d.p = 0.0f;
    buf w = bpoison(n);
    CPU->dropout_fwd(w.h, x.h, n, d, 0), GPU->dropout_fwd(w.d, x.d, n, d, 0);
    check_bits("dropout_fwd p=0 (copy)", &w);
    /* bit-packed masks (experts' input dropout): GPU bits + GPU apply == CPU dropout_fwd */
    d.p = p1;
    const size_t words = (n + 63) / 64;
    buf bits = bpoison(2 * words), v2 = bpoison(n);
    CPU->dropout_fwd(v2.h, x.h, n, d, first);
    GPU->dropout_bits((uint64_t *)(void *)bits.d, n, d, first);
    GPU->dropout_apply_bits(v2.d, x.d, n, (const uint64_t *)(void *)bits.d, d.p);
    snprintf(name, sizeof name, "dropout_bits + dropout_apply_bits p=%g", p1);
    check_bits(name, &v2);
    if (sweeping) { /* the words themselves against the CPU's (bits i < n; the last word's tail is unspecified) */
        uint64_t *cb = mm_xmalloc(words * 8), *gb = mm_xmalloc(words * 8);
        CPU->dropout_bits(cb, n, d, first);
        if (mm_cuda_d2h(gb, bits.d, words * 8)) die("d2h");
        size_t nb = 0;
        for (size_t w = 0; w < words; w++) {
            const uint64_t m = w + 1 < words || !(n & 63) ? ~0ull : (1ull << (n & 63)) - 1;
            nb += __builtin_popcountll((cb[w] ^ gb[w]) & m);
        }
        snprintf(name, sizeof name, "dropout_bits p=%g (words)", p1);
        report(name, nb == 0, "%zu/%zu bits differ (%zu words)", nb, n, words);
        buf a2 = bpoison(n); /* apply with the CPU's bits on both sides, in place */
        memcpy(a2.h, x.h, n * sizeof(float)), bpush(&a2);
        if (mm_cuda_h2d(bits.d, cb, words * 8)) die("h2d");
        CPU->dropout_apply_bits(a2.h, a2.h, n, cb, p1);
        GPU->dropout_apply_bits(a2.d, a2.d, n, (const uint64_t *)(void *)bits.d, p1);
        snprintf(name, sizeof name, "dropout_apply_bits in place p=%g", p1);
        check_bits(name, &a2);
        free(cb), free(gb), bfree(&a2);
    }
    bfree(&x), bfree(&y), bfree(&z), bfree(&w), bfree(&bits), bfree(&v2);
}
/* first 13: not a multiple of 4, exercises the partial Philox block at the start */
static void t_dropout(void) { dropout_case(100003, 13, 0.1f, 0.5f, 1ull << 33); }

/* nulls (0 in the fixed cases): NL_DWTE / NL_DWPE pass that gradient as NULL */
void embedding_case(int N, int C, int V, int P, int nulls) {
    ibuf ids = inew(N, 0, V), pos = inew(N, 0, P); /* V < N: repeated ids */
    buf wte = brand((size_t)V * C, 1), wpe = brand((size_t)P * C, 1);
    for (int with_pos = 0; with_pos < 2; with_pos++) {
        buf y = bpoison((size_t)N * C);
        CPU->embedding_fwd(y.h, ids.h, pos.h, wte.h, with_pos ? wpe.h : NULL, N, C);
        GPU->embedding_fwd(y.d, ids.d, pos.d, wte.d, with_pos ? wpe.d : NULL, N, C);
        check_bits(with_pos ? "embedding_fwd wte+wpe" : "embedding_fwd wte", &y);
        bfree(&y);
    }
    buf dy = brand((size_t)N * C, 1), dwte = brand((size_t)V * C, 1), dwpe = brand((size_t)P * C, 1);
    CPU->embedding_bwd(NUL(NL_DWTE, dwte.h), NUL(NL_DWPE, dwpe.h), dy.h, ids.h, pos.h, N, C);
    GPU->embedding_bwd(NUL(NL_DWTE, dwte.d), NUL(NL_DWPE, dwpe.d), dy.d, ids.d, pos.d, N, C);
    check_bits("embedding_bwd.dwte (repeated ids)", &dwte);
    check_bits("embedding_bwd.dwpe", &dwpe);
    bfree(&wte), bfree(&wpe), bfree(&dy), bfree(&dwte), bfree(&dwpe), ifree(&ids), ifree(&pos);
}
static void t_embedding(void) { embedding_case(57, 96, 20, 64, 0); }

void t_attention(int B, int T, int H, int Hkv, int D, float p) {
    const int width = (H + 2 * Hkv) * D, ldqkv = width + 3, ldout = H * D + 2;
    mm_dropout d = {777, 5, mm_rng_stream(1, MM_RNG_ATTN_PROBS), p};
    char name[128], cfg[64];
    snprintf(cfg, sizeof cfg, "B%d T%d H%d Hkv%d D%d p%.1f", B, T, H, Hkv, D, p);
    buf qkv = brand((size_t)B * T * ldqkv, 1.5f), out = bpoison((size_t)B * T * ldout);
    buf probs = bpoison((size_t)B * H * T * T);
    CPU->attention_fwd(out.h, ldout, probs.h, qkv.h, ldqkv, B, T, H, Hkv, D, d);
    GPU->attention_fwd(out.d, ldout, probs.d, qkv.d, ldqkv, B, T, H, Hkv, D, d);
    snprintf(name, sizeof name, "attention_fwd.out %s", cfg);
    check(name, &out, TOL_RED);
    snprintf(name, sizeof name, "attention_fwd.probs %s", cfg);
    check(name, &probs, TOL_RED);
    float *g = bpull(&probs);
    size_t bad = 0, neg = 0;
    for (size_t i = 0; i < probs.n; i++) bad += signbit(g[i]) != signbit(probs.h[i]), neg += signbit(probs.h[i]) != 0;
    snprintf(name, sizeof name, "attention dropout sign bits %s", cfg);
    report(name, bad == 0, "%zu mismatches, %zu dropped", bad, neg);
    free(g);
    /* backward from the CPU's probs on both sides */
    bpush(&probs);
    const int lddout = ldout + 1;
    buf dout = brand((size_t)B * T * lddout, 1), dqkv = bpoison((size_t)B * T * ldqkv);
    CPU->attention_bwd(dqkv.h, dout.h, lddout, qkv.h, ldqkv, probs.h, B, T, H, Hkv, D, d);
    GPU->attention_bwd(dqkv.d, dout.d, lddout, qkv.d, ldqkv, probs.d, B, T, H, Hkv, D, d);
    snprintf(name, sizeof name, "attention_bwd.dqkv %s", cfg);
    check(name, &dqkv, TOL_RED);
    bfree(&qkv), bfree(&out), bfree(&probs), bfree(&dout), bfree(&dqkv);
}

/* R rows of n_seq cached sequences of max_len positions; q and out rows padded by pad_q, pad_out */
void attention_rows_case(int H, int Hkv, int D, int n_seq, int max_len, int R, int pad_q, int pad_out) {
    const int kvw = Hkv * D, ldq = H * D + pad_q, ldout = H * D + pad_out;
    ibuf seq = inew(R, 0, n_seq), pos = inew(R, 0, max_len);
    pos.h[0] = 0; /* the edges */
    if (R > 1) pos.h[1] = max_len - 1;
    if (mm_cuda_h2d(pos.d, pos.h, R * sizeof(int32_t))) die("h2d");
    buf q = brand((size_t)R * ldq, 2), kc = brand((size_t)n_seq * max_len * kvw, 2);
    buf vc = brand((size_t)n_seq * max_len * kvw, 1), out = bpoison((size_t)R * ldout);
    CPU->attention_rows(out.h, ldout, q.h, ldq, kc.h, vc.h, seq.h, pos.h, R, max_len, H, Hkv, D);
    GPU->attention_rows(out.d, ldout, q.d, ldq, kc.d, vc.d, seq.d, pos.d, R, max_len, H, Hkv, D);
    char name[96];
    snprintf(name, sizeof name, "attention_rows H%d Hkv%d D%d", H, Hkv, D);
    check(name, &out, TOL_RED);
    bfree(&q), bfree(&kc), bfree(&vc), bfree(&out), ifree(&seq), ifree(&pos);
}
static void t_attention_rows(int H, int Hkv, int D) { attention_rows_case(H, Hkv, D, 3, 150, 7, 5, 3); }

void xent_case(int N, int V, int wmode) {
    buf logits = brand((size_t)N * V, 8), w = bpos(N, 0.5f, 1.5f);
    ibuf tgt = inew(N, 0, V);
    if (N > 1) {
        w.h[1] = 0.0f, w.h[N - 1] = 0.0f;
        tgt.h[1] = -100; /* an ignored row may carry any target */
    }
    if (wmode == 2)
        for (int n = 0; n < N; n++)
            if (!irand(4)) w.h[n] = 0.0f, tgt.h[n] = irand(2) ? -100 : tgt.h[n];
    if (wmode == 1) /* no weights: every row counts, so every target must be a class */
        for (int n = 0; n < N; n++) tgt.h[n] = tgt.h[n] < 0 ? 0 : tgt.h[n];
    bpush(&w);
    if (mm_cuda_h2d(tgt.d, tgt.h, N * sizeof(int32_t))) die("h2d");
    const float *wh = wmode == 1 ? NULL : w.h, *wd = wmode == 1 ? NULL : w.d;
    double lc = CPU->xent_fwd_bwd(logits.h, tgt.h, wh, N, V, 0.25f);
    double lg = GPU->xent_fwd_bwd(logits.d, tgt.d, wd, N, V, 0.25f);
    char name[96];
    snprintf(name, sizeof name, "xent_fwd_bwd.loss N%d V%d%s", N, V, wmode == 1 ? " w=NULL" : "");
    double rel = lc != 0.0 ? fabs(lg - lc) / fabs(lc) : fabs(lg); /* every row weight 0: both must say 0 */
    report(name, rel <= TOL_RED, "gpu %.9g cpu %.9g rel %.2e", lg, lc, rel);
    snprintf(name, sizeof name, "xent_fwd_bwd.dlogits N%d V%d", N, V);
    check(name, &logits, TOL_RED);
    double l0 = GPU->xent_fwd_bwd(logits.d, tgt.d, NULL, 0, V, 1.0f);
    report("xent_fwd_bwd N=0", l0 == 0.0, "loss %g", l0);
    bfree(&logits), bfree(&w), ifree(&tgt);
}
static void t_xent(int N, int V) { xent_case(N, V, 0); }

/* ------------------------------------------------------------------ bf16 helpers */
static uint16_t host_bf16(float f) { /* round to nearest even; NaN -> quiet NaN */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static float bf16_f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t *to_dev_bf16(const float *h, size_t n) { /* host-rounded bf16 copy on the device */
    uint16_t *hb = mm_xmalloc(n * 2 + 1), *d = mm_cuda_malloc(n * 2);
    for (size_t i = 0; i < n; i++) hb[i] = host_bf16(h[i]);
    if (!d || mm_cuda_h2d(d, hb, n * 2)) die("bf16 upload");
    free(hb);
    return d;
}
static void round_bf16_inplace(float *h, size_t n) {
    for (size_t i = 0; i < n; i++) h[i] = bf16_f(host_bf16(h[i]));
}

/* the conversions on n elements (specials first), the cuda_bf16.h linears at N x in -> out, rows padded by pad */
void bf16_case(size_t n, int N, int in, int out, int pad) {
    buf x = brand(n, 3);
    const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 1e-40f, -3e-39f, 3.0e38f, INFINITY, -INFINITY,
                             1.00390625f /* tie, even below */, 1.01171875f /* tie, odd below */, 65504.0f};
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; i++) x.h[i] = special[i];
    bpush(&x);
    uint16_t *db = mm_cuda_malloc(n * 2), *hb = mm_xmalloc(n * 2);
    if (!db) die("alloc");
    mm_cuda_f32_to_bf16(db, x.d, n);
    if (mm_cuda_d2h(hb, db, n * 2)) die("d2h");
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += hb[i] != host_bf16(x.h[i]);
    report("bf16: f32->bf16 round-nearest-even", bad == 0, "%zu/%zu differ from the host rounding", bad, n);
    buf back = bpoison(n);
    mm_cuda_bf16_to_f32(back.d, db, n);
    for (size_t i = 0; i < n; i++) back.h[i] = bf16_f(host_bf16(x.h[i]));
    check_bits("bf16: bf16->f32", &back);
    /* the same conversions as the table's ops to_bf16 / from_bf16 (act_dtype bf16), against the CPU table's */
    uint16_t *cb = mm_xmalloc(n * 2);
    CPU->to_bf16(cb, x.h, n);
    GPU->to_bf16(db, x.d, n);
    if (mm_cuda_d2h(hb, db, n * 2)) die("d2h");
    report("to_bf16 (table)", memcmp(hb, cb, n * 2) == 0, "n %zu, specials, ties", n);
    buf wide = bpoison(n);
    CPU->from_bf16(wide.h, cb, n);
    GPU->from_bf16(wide.d, db, n);
    check_bits("from_bf16 (table)", &wide);
    free(cb), bfree(&wide);
    mm_cuda_free(db), free(hb), bfree(&x), bfree(&back);

    const int ldx = in + pad, ldy = out + pad;
    for (int mode = 0; mode < 3; mode++) { /* bias overwrite, bias acc, no bias */
        buf xx = brand((size_t)N * ldx, 1), W = brand((size_t)out * in, 0.2f), b = brand(out, 1);
        buf y = mode == 1 ? brand((size_t)N * ldy, 1) : bpoison((size_t)N * ldy);
        uint16_t *Wb = to_dev_bf16(W.h, W.n);
        round_bf16_inplace(xx.h, xx.n), round_bf16_inplace(W.h, W.n); /* the CPU side gets the rounded values */
        CPU->linear_fwd(y.h, ldy, xx.h, ldx, W.h, mode == 2 ? NULL : b.h, N, in, out, mode == 1);
        mm_cuda_linear_fwd_wbf16(y.d, ldy, xx.d, ldx, Wb, mode == 2 ? NULL : b.d, N, in, out, mode == 1);
        check(mode == 0 ? "bf16: linear_fwd_wbf16 bias" : mode == 1 ? "bf16: linear_fwd_wbf16 bias acc"
                                                                    : "bf16: linear_fwd_wbf16 nobias",
              &y, TOL_RED);
        mm_cuda_free(Wb), bfree(&xx), bfree(&W), bfree(&b), bfree(&y);
    }
    for (int acc = 0; acc < 2; acc++) {
        buf dy = brand((size_t)N * ldy, 1), W = brand((size_t)out * in, 0.2f);
        buf dx = acc ? brand((size_t)N * ldx, 1) : bpoison((size_t)N * ldx);
        uint16_t *Wb = to_dev_bf16(W.h, W.n);
        round_bf16_inplace(dy.h, dy.n), round_bf16_inplace(W.h, W.n);
        CPU->linear_bwd(dx.h, ldx, NULL, NULL, dy.h, ldy, NULL, 0, W.h, N, in, out, acc);
        mm_cuda_linear_bwd_dx_wbf16(dx.d, ldx, dy.d, ldy, Wb, N, in, out, acc);
        check(acc ? "bf16: linear_bwd_dx_wbf16 acc" : "bf16: linear_bwd_dx_wbf16", &dx, TOL_RED);
        mm_cuda_free(Wb), bfree(&dy), bfree(&W), bfree(&dx);
    }
}
static void t_bf16(void) { bf16_case(70001, 67, 160, 96, 3); }

static void usage(void) {
    fprintf(stderr, "usage: parity [--sweep N [--seed S] [--only FAMILY] [--draw I] [--fixed]]\n"
                    "  no arguments: the fixed cases (what tests/gpu/run.sh and make test run)\n"
                    "  --sweep N     instead, N random shape draws per op family (tests/gpu/parity_sweep.c); --fixed runs\n"
                    "                the fixed cases first; --seed S (default: from the clock, printed); --only FAMILY and\n"
                    "                --draw I repeat one family / one draw of a sweep (each draw is seeded by itself)\n");
    exit(64); /* not 2: that says "no device" to tests/gpu/run.sh */
}

static void run_fixed(void);

int main(int argc, char **argv) {
    char dev[160];
    int sweep = -1, fixed = 0, draw = -1, have_seed = 0;
    uint64_t seed = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        const int more = i + 1 < argc;
        if (!strcmp(argv[i], "--sweep") && more) sweep = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && more) seed = strtoull(argv[++i], NULL, 0), have_seed = 1;
        else if (!strcmp(argv[i], "--only") && more) only = argv[++i];
        else if (!strcmp(argv[i], "--draw") && more) draw = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fixed")) fixed = 1;
        else usage();
    }
    if (argc > 1 && sweep < 0) usage();
    if (!have_seed) seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (mm_cuda_device_count() <= 0) {
        printf("parity: no CUDA device\n");
        return 2;
    }
    if (!(GPU = mm_kernels_cuda())) { /* the weak fallback of kernels/cpu/table.c won: see the link order */
        printf("parity: a device is present but mm_kernels_cuda() is the weak CPU-side fallback\n");
        return 2;
    }
    CPU = &mm_kernels_cpu;
    printf("parity: %s vs %s on %s\n", GPU->name, CPU->name, mm_cuda_device_name(dev, sizeof dev));
    if (sweep < 0 || fixed) run_fixed();
    if (sweep >= 0) run_sweep(sweep, seed, only, draw);
    if (mm_cuda_sync()) die("final sync");
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

/* the fixed cases: the same checks, inputs and lines on every run */
static void run_fixed(void) {
    t_gemm();
    t_linear(37, 64, 48, 3, 0);
    t_linear(256, 2048, 512, 0, 0);
    t_linear_w16(37, 64, 48, 3, 0);
    t_linear_w16(256, 2048, 512, 0, 0);
    t_linear_w16(19, 64, 49152, 5, 0); /* an LM head's shape */
    t_layernorm(33, 200, 0);
    t_layernorm(16, 2048, 0);
    t_rmsnorm(33, 200, 0);
    t_rmsnorm(16, 2048, 0);
    t_rope();
    t_elementwise(100003);
    t_dropout();
    t_embedding();
    /* the batched attention driver (default): one chunk; then 5 sequences under scratch caps that cut them into
     * uneven chunks (per sequence: H6 T37 D8 with dropout 40 KB forward, 88 KB backward; H4 T37 D16 without
     * 9.7 KB / 51 KB): 0.08 MB gives forward chunks of 2, 2, 1 and backward chunks of 1; 0.1 MB backward chunks of
     * 2, 2, 1; 0.02 MB (MQA) forward chunks of 2, 2, 1 and backward chunks of 1; then the per-sequence driver
     * (MMLORA_CUDA_ATTN=loop) */
    const int heads[][3] = {{4, 4, 16}, {4, 1, 16}, {6, 2, 8}};
    for (int c = 0; c < 3; c++)
        for (int pi = 0; pi < 2; pi++) t_attention(2, 37, heads[c][0], heads[c][1], heads[c][2], pi ? 0.1f : 0.0f);
    t_attention(1, 130, 4, 1, 64, 0.1f);
    setenv("MMLORA_CUDA_ATTN_SCRATCH_MB", "0.08", 1);
    t_attention(5, 37, 6, 2, 8, 0.1f);
    setenv("MMLORA_CUDA_ATTN_SCRATCH_MB", "0.1", 1);
    t_attention(5, 37, 4, 1, 16, 0.0f);
    setenv("MMLORA_CUDA_ATTN_SCRATCH_MB", "0.02", 1);
    t_attention(5, 37, 4, 1, 16, 0.0f);
    unsetenv("MMLORA_CUDA_ATTN_SCRATCH_MB");
    setenv("MMLORA_CUDA_ATTN", "loop", 1);
    printf("(MMLORA_CUDA_ATTN=loop: the per-sequence driver)\n");
    t_attention(2, 37, 6, 2, 8, 0.1f);
    t_attention(3, 37, 4, 1, 16, 0.0f);
    unsetenv("MMLORA_CUDA_ATTN");
    t_attention_rows(4, 4, 64);
    t_attention_rows(4, 1, 128);
    t_attention_rows(6, 2, 16);
    t_attention_rows(2, 1, 256);
    t_xent(9, 1000);
    t_xent(4, 49152);
    t_bf16();
    /* the same bf16 linears through cuBLASLt (kernels/cuda/gemm_lt.cu) */
    setenv("MMLORA_CUDA_LT", "1", 1);
    printf("(MMLORA_CUDA_LT=1: the bf16 GEMMs through cublasLtMatmul)\n");
    t_linear_w16(37, 64, 48, 3, 0);
    t_linear_w16(256, 2048, 512, 0, 0);
    t_linear_w16(19, 64, 49152, 5, 0);
    t_bf16();
    unsetenv("MMLORA_CUDA_LT");
    t_memory();
    t_rows();
    t_decode();
    t_expert();
    t_nccl();
    t_optim();
}
