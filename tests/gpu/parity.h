/* The CPU-vs-CUDA parity program's harness (tests/gpu/parity.c, parity_rows.c): host/device buffer pairs with
 * the same contents, the xorshift inputs, and the checks that print one PASS/FAIL line per output. */
#ifndef MMLORA_GPU_PARITY_H
#define MMLORA_GPU_PARITY_H
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda/cuda_util.h"
#include "kernels.h"
#include "util/log.h"

#define TOL_EW 1e-5
#define TOL_RED 1e-4

/* defined in parity.c */
extern int n_pass, n_fail;
extern const mm_kernels *CPU, *GPU;
extern uint64_t rng;
/* the sweep (parity_sweep.c): while sweep_tag is set, every PASS/FAIL line ends with it (the case and its shape);
 * sweeping != 0 adds the checks the fixed cases do not make (the fixed run's lines and count stay as they are) */
extern char sweep_tag[192];
extern int sweeping;
/* check_vals scales its tolerance by max(rms(cpu), rms_floor): a check of a few elements of an op whose outputs
 * cancel (1 + tanh(u) in GELU's left tail) sets the floor to the op's typical magnitude, so a small draw is held
 * to the same absolute accuracy as a large one rather than to a purely relative one (0: off, the default) */
extern double rms_floor;

static inline float frand(void) { /* uniform [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0) - 1.0);
}
static inline int irand(int n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (int)((rng >> 33) % (uint64_t)n);
}

static inline void die(const char *what) {
    fprintf(stderr, "parity: %s: %s\n", what, mm_last_error());
    exit(3);
}

/* a host/device pair holding the same contents */
typedef struct {
    float *h, *d;
    size_t n;
} buf;

static inline buf bnew(size_t n) {
    buf b = {mm_xmalloc(n * sizeof(float) + 1), mm_cuda_malloc(n * sizeof(float)), n};
    if (!b.d) die("alloc");
    return b;
}
static inline void bpush(buf *b) {
    if (mm_cuda_h2d(b->d, b->h, b->n * sizeof(float))) die("h2d");
}
static inline buf brand(size_t n, float scale) {
    buf b = bnew(n);
    for (size_t i = 0; i < n; i++) b.h[i] = scale * frand();
    bpush(&b);
    return b;
}
static inline buf bpos(size_t n, float lo, float hi) { /* uniform [lo, hi) */
    buf b = bnew(n);
    for (size_t i = 0; i < n; i++) b.h[i] = lo + (hi - lo) * 0.5f * (frand() + 1.0f);
    bpush(&b);
    return b;
}
static inline buf bpoison(size_t n) {
    buf b = bnew(n);
    for (size_t i = 0; i < n; i++) b.h[i] = NAN;
    bpush(&b);
    return b;
}
static inline buf bclone(const buf *s) {
    buf b = bnew(s->n);
    memcpy(b.h, s->h, s->n * sizeof(float));
    bpush(&b);
    return b;
}
static inline void bfree(buf *b) {
    free(b->h);
    mm_cuda_free(b->d);
    b->h = b->d = NULL;
}
static inline float *bpull(const buf *b) {
    float *g = mm_xmalloc(b->n * sizeof(float) + 1);
    if (mm_cuda_d2h(g, b->d, b->n * sizeof(float))) die("d2h (an op faulted? rerun with MMLORA_CUDA_SYNC=1)");
    return g;
}

typedef struct {
    int32_t *h, *d;
    size_t n;
} ibuf;
static inline ibuf inew(size_t n, int lo, int hi) { /* uniform ints in [lo, hi) */
    ibuf b = {mm_xmalloc(n * sizeof(int32_t) + 1), mm_cuda_malloc(n * sizeof(int32_t)), n};
    if (!b.d) die("alloc");
    for (size_t i = 0; i < n; i++) b.h[i] = lo + irand(hi - lo);
    if (mm_cuda_h2d(b.d, b.h, n * sizeof(int32_t))) die("h2d");
    return b;
}
static inline void ifree(ibuf *b) {
    free(b->h);
    mm_cuda_free(b->d);
}

static inline void report(const char *name, int ok, const char *fmt, ...) MM_PRINTF(3, 4);
static inline void report(const char *name, int ok, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sweep_tag[0]) printf("%s  %-34s %s  [%s]\n", ok ? "PASS" : "FAIL", name, msg, sweep_tag);
    else printf("%s  %-34s %s\n", ok ? "PASS" : "FAIL", name, msg);
    fflush(stdout);
    if (ok) n_pass++;
    else n_fail++;
}

/* compares the device copy of b with its host copy; frees nothing */
static inline void check_vals(const char *name, const float *g, const float *c, size_t n, double tol) {
    double ss = 0.0;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(c[i])) ss += (double)c[i] * c[i], nf++;
    const double rms = fmax(nf ? sqrt(ss / nf) : 0.0, rms_floor);
    double worst = 0.0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(c[i]) && isnan(g[i])) continue;
        double err = fabs((double)g[i] - c[i]), lim = tol * (fabs(c[i]) + rms);
        if (!(err <= lim)) { /* catches NaN on one side */
            if (!bad) first_bad = i;
            bad++;
        }
        double r = err / (fabs(c[i]) + rms + 1e-30);
        if (r > worst || isnan(r)) worst = r;
    }
    if (bad)
        report(name, 0, "%zu/%zu bad, first [%zu] gpu %.9g cpu %.9g (tol %.0e)", bad, n, first_bad, g[first_bad],
               c[first_bad], tol);
    else
        report(name, 1, "max err %.2e (tol %.0e, n %zu)", worst, tol, n);
}
static inline void check(const char *name, const buf *b, double tol) {
    float *g = bpull(b);
    check_vals(name, g, b->h, b->n, tol);
    free(g);
}
static inline void check_bits(const char *name, const buf *b) {
    float *g = bpull(b);
    size_t bad = 0;
    for (size_t i = 0; i < b->n; i++) bad += memcmp(&g[i], &b->h[i], sizeof(float)) != 0;
    if (bad) report(name, 0, "%zu/%zu elements differ bitwise", bad, b->n);
    else report(name, 1, "bit-identical (n %zu)", b->n);
    free(g);
}


/* the per-shape checks, shared by the fixed cases and the sweep.  parity.c: */
/* the optional outputs and strides the sweep's variants leave out (the `nulls` arguments; 0: everything given) */
enum { NL_DENSE = 1, NL_DX = 2, NL_DW = 4, NL_DB = 8, NL_B = 16, NL_STATS = 32, NL_DWTE = 64, NL_DWPE = 128 };
#define NUL(bit, p) ((nulls & (bit)) ? NULL : (p))
void gemm_case(int ta, int tb, int acc, int M, int N, int K, int pad_a, int pad_b, int pad_c);
void t_linear(int N, int in, int out, int pad, int nulls);
void t_linear_w16(int N, int in, int out, int pad, int nulls);
void t_layernorm(int N, int C, int nulls);
void t_rmsnorm(int N, int C, int nulls);
void rope_case(int N, int H, int D, int max_pos, int col0, int pad);
void t_elementwise(size_t n);
void dropout_case(size_t n, uint64_t first, float p1, float p2, uint64_t first2);
void embedding_case(int N, int C, int V, int P, int nulls);
void t_attention(int B, int T, int H, int Hkv, int D, float p);
void attention_rows_case(int H, int Hkv, int D, int n_seq, int max_len, int R, int pad_q, int pad_out);
/* wmode 0: rows 1 and N-1 weight 0 (N >= 2), 1: weights NULL, 2: as 0 plus random rows of weight 0 */
void xent_case(int N, int V, int wmode);
void bf16_case(size_t n, int N, int in, int out, int pad);
/* parity_rows.c: */
void memory_case(size_t n);
void rows_add(size_t n);
void rows_gather(int NR, int C, int R, int shuffle);
void rows_positions(int B, int T);
void rows_gates(int N, int r, int ld, int E, int group);
void rows_topk(int TN, int TE, int K, int ld_pad);
void optim_case(size_t n);
/* mode 0: the fixed pair (to slots from a strided source, then gathered back); 1: also both row lists NULL and both set */
void decode_copy(int R, int Q, int C, int slots, int col, int mode);
void decode_argmax(int AR, int V, int ld);
/* ld_pad: u and du rows are r + ld_pad wide; nobits: bits NULL (h = x) */
void expert_case(int N, int in, int r, const char *mode, int ld_pad, int nobits);

/* the fixed cases (parity_rows.c) */
void t_memory(void);
void t_rows(void);
void t_decode(void);
void t_expert(void);
void t_nccl(void);
void t_optim(void);

/* parity_sweep.c: N random shape draws per op family from edge-favouring distributions, seeded per (family, draw);
 * only: one family's name or NULL; draw: one draw index or -1.  Returns nothing: results go to n_pass/n_fail. */
void run_sweep(int n, uint64_t seed, const char *only, int draw);
#endif
