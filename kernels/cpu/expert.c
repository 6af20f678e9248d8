/* An expert's down-projection with its input dropout fused (kernels.h: expert_down, expert_down_bwd_a,
 * expert_down_bwd_x; used by core/peft/adapter.c while training with dropout).  h = drop(x) is never written
 * out: with AVX-512 each 16-float slice of x is loaded under its keep bits, scaled, and fed to r accumulators
 * (forward), summed into per-row-block partial dA planes (dA), or the rank-r expansion is masked on its way
 * into dx.  That saves, per expert, the N·in-float buffer the unfused path writes and rereads twice, and
 * OpenBLAS packing the N·in operand for each skinny (r-column) GEMM.  Per element h is the same float as
 * dropout_apply_bits gives; only the summation order of the dot products differs from sgemm's.  On a CPU
 * without AVX-512, and for ranks above 16 (where the packed sgemm wins), the ops are the unfused path itself
 * (apply into a scratch buffer, sgemm), bit-identical to it; MMLORA_CPU_FUSED=0 forces that path (make test
 * runs the golden tests on it). */
#include <stdlib.h>
#include <string.h>
#include "cpu/cpu_ops.h"
#include "util/log.h"
/* The fused loops are compiled for AVX-512 whatever the build's flags (a target attribute) and taken when the CPU
 * has it (checked once at run time), so every build of this file on one machine computes the same bits: the
 * optimized build, the sanitizer build (-O1, no -march) and the CLI a test kills and resumes agree. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MM_EXPERT_FUSED 1
#include <immintrin.h>
#define AVX512_FN __attribute__((target("avx512f")))
static int fused_ok(void) {
    static int v = -1;
    if (v < 0) {
        __builtin_cpu_init();
        const char *e = getenv("MMLORA_CPU_FUSED"); /* 0: the unfused path even with AVX-512 (tests, comparisons) */
        v = __builtin_cpu_supports("avx512f") && !(e && !strcmp(e, "0")) ? 1 : 0;
    }
    return v;
}
#endif

#if MM_EXPERT_FUSED
static AVX512_FN float drop_scale(const uint64_t *bits, float p) { return bits ? 1.0f / (1.0f - p) : 1.0f; }
/* keep bits of elements b .. b + cnt - 1 (cnt <= 16) as a lane mask; reads the next word only when needed */
static inline AVX512_FN __mmask16 keep16(const uint64_t *bits, uint64_t b, int cnt) {
    const unsigned s = (unsigned)(b & 63);
    uint64_t v = bits[b >> 6] >> s;
    if (s + (unsigned)cnt > 64) v |= bits[(b >> 6) + 1] << (64 - s);
    return (__mmask16)(v & ((1u << cnt) - 1u));
}
static inline AVX512_FN __mmask16 lanes(int cnt) { return (__mmask16)(cnt >= 16 ? 0xFFFFu : (1u << cnt) - 1u); }
/* the 16-float slice of h = drop(x) at row n, column c (cnt valid lanes) */
static inline AVX512_FN __m512 h16(const float *x, const uint64_t *bits, __m512 s, int n, int in, int c, int cnt) {
    __mmask16 m = lanes(cnt);
    if (bits) m &= keep16(bits, (uint64_t)n * in + (uint64_t)c, cnt);
    return _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + (size_t)n * in + c), s);
}

/* u[n, j0 .. j0+JN) for one row; JN is a compile-time constant in every call (the switch below) */
static inline AVX512_FN __attribute__((always_inline)) void down_row(float *ur, const float *x, const uint64_t *bits, __m512 s,
                                                           const float *A, int n, int in, int j0, const int JN) {
    __m512 acc[8];
    for (int jj = 0; jj < JN; jj++) acc[jj] = _mm512_setzero_ps();
    for (int c = 0; c < in; c += 16) {
        const int cnt = in - c < 16 ? in - c : 16;
        const __m512 h = h16(x, bits, s, n, in, c, cnt);
        for (int jj = 0; jj < JN; jj++)
            acc[jj] = _mm512_fmadd_ps(h, _mm512_maskz_loadu_ps(lanes(cnt), A + (size_t)(j0 + jj) * in + c), acc[jj]);
    }
    for (int jj = 0; jj < JN; jj++) ur[j0 + jj] = _mm512_reduce_add_ps(acc[jj]);
}
#define JN_SWITCH(JN, CALL)                     \
    switch (JN) {                               \
    case 1: { const int jn_ = 1; CALL; } break; \
    case 2: { const int jn_ = 2; CALL; } break; \
    case 3: { const int jn_ = 3; CALL; } break; \
    case 4: { const int jn_ = 4; CALL; } break; \
    case 5: { const int jn_ = 5; CALL; } break; \
    case 6: { const int jn_ = 6; CALL; } break; \
    case 7: { const int jn_ = 7; CALL; } break; \
    default: { const int jn_ = 8; CALL; } break; \
    }
#endif

/* the unfused path: h = drop(x) into a grow-only scratch buffer (the table's ops run one at a time) */
static float *scratch(size_t n) {
    static float *buf;
    static size_t cap;
    if (n > cap) {
        free(buf);
        buf = mm_xmalloc_aligned(n * sizeof(float));
        cap = n;
    }
    return buf;
}
static const float *dropped(const float *x, const uint64_t *bits, float p, int N, int in) {
    if (!bits) return x;
    float *h = scratch((size_t)N * in);
    cpu_dropout_apply_bits(h, x, (size_t)N * in, bits, p);
    return h;
}

/* the fused loops re-read x once per block of 8 (forward) ranks: beyond 16 ranks OpenBLAS's packed sgemm on the
 * materialized h is faster (measured, N 2048: in 1024 r 32 fused 2.8 / 3.9 ms vs 1.8 / 2.2 ms), so larger ranks
 * (LoRA-Mix's 32) take the unfused path */
enum { FUSED_MAX_R = 16 };

#if MM_EXPERT_FUSED
static AVX512_FN void fused_down(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A,
                                 int N, int in, int r) {
    const __m512 s = _mm512_set1_ps(drop_scale(bits, p));
#pragma omp parallel for schedule(static) if ((size_t)N * in * r > 262144)
    for (int n = 0; n < N; n++)
        for (int j0 = 0; j0 < r; j0 += 8) JN_SWITCH(r - j0, down_row(u + (size_t)n * ldu, x, bits, s, A, n, in, j0, jn_))
}

/* dA[j, c] += Σ_n du[n, j]·h[n, c]: rows in a fixed number of blocks (independent of the thread count), each block
 * summed row by row into its own partial dA (r·in floats, cache-resident) while x is read in order, then the
 * partials added into dA block by block in order.  (Walking x by column groups instead reads it with a stride of
 * one row per access: a page per row at in = 1024, measured 2-3x slower.) */
enum { BWD_A_BLOCKS = 16 };
static AVX512_FN void fused_bwd_a(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits, float p,
                                  int N, int in, int r) {
    const __m512 s = _mm512_set1_ps(drop_scale(bits, p));
    const int P = N < BWD_A_BLOCKS ? N : BWD_A_BLOCKS;
    const size_t plane = (size_t)r * in;
    float *part = scratch((size_t)P * plane);
#pragma omp parallel for schedule(static) if ((size_t)N * in * r > 262144)
    for (int b = 0; b < P; b++) {
        float *pp = part + (size_t)b * plane;
        memset(pp, 0, plane * sizeof(float));
        const int n0 = (int)((long long)N * b / P), n1 = (int)((long long)N * (b + 1) / P);
        for (int n = n0; n < n1; n++) {
            const float *dr = du + (size_t)n * lddu;
            for (int c = 0; c < in; c += 16) {
                const int cnt = in - c < 16 ? in - c : 16;
                const __mmask16 m = lanes(cnt);
                const __m512 h = h16(x, bits, s, n, in, c, cnt);
                for (int j = 0; j < r; j++) {
                    float *q = pp + (size_t)j * in + c;
                    _mm512_mask_storeu_ps(q, m, _mm512_fmadd_ps(_mm512_set1_ps(dr[j]), h, _mm512_maskz_loadu_ps(m, q)));
                }
            }
        }
    }
#pragma omp parallel for schedule(static) if (plane * (size_t)P > 65536)
    for (size_t i = 0; i < plane; i += 16) {
        const int cnt = plane - i < 16 ? (int)(plane - i) : 16;
        const __mmask16 m = lanes(cnt);
        __m512 acc = _mm512_maskz_loadu_ps(m, part + i);
        for (int b = 1; b < P; b++) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, part + (size_t)b * plane + i));
        _mm512_mask_storeu_ps(dA + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dA + i), acc));
    }
}

static AVX512_FN void fused_bwd_x(float *dx, const float *du, int lddu, const uint64_t *bits, float p, const float *A,
                                  int N, int in, int r) {
    const __m512 s = _mm512_set1_ps(drop_scale(bits, p));
#pragma omp parallel for schedule(static) if ((size_t)N * in * r > 262144)
    for (int n = 0; n < N; n++) {
        const float *dr = du + (size_t)n * lddu;
        float *xr = dx + (size_t)n * in;
        for (int c = 0; c < in; c += 16) {
            const int cnt = in - c < 16 ? in - c : 16;
            __m512 t = _mm512_setzero_ps();
            for (int j = 0; j < r; j++)
                t = _mm512_fmadd_ps(_mm512_set1_ps(dr[j]), _mm512_maskz_loadu_ps(lanes(cnt), A + (size_t)j * in + c), t);
            __mmask16 m = lanes(cnt);
            if (bits) m &= keep16(bits, (uint64_t)n * in + (uint64_t)c, cnt);
            /* kept lanes: dx + t·s; dropped ones are left as they are (the unfused path adds 0) */
            _mm512_mask_storeu_ps(xr + c, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, xr + c), _mm512_mul_ps(t, s)));
        }
    }
}
#define FUSED(r) ((r) <= FUSED_MAX_R && fused_ok())
#endif

void cpu_expert_down(float *u, int ldu, const float *x, const uint64_t *bits, float p, const float *A, int N, int in,
                     int r) {
    if (N <= 0 || r <= 0) return;
#if MM_EXPERT_FUSED
    if (FUSED(r)) { fused_down(u, ldu, x, bits, p, A, N, in, r); return; }
#endif
    cpu_gemm(0, 1, N, r, in, 1.0f, dropped(x, bits, p, N, in), in, A, in, 0.0f, u, ldu);
}

void cpu_expert_down_bwd_a(float *dA, const float *du, int lddu, const float *x, const uint64_t *bits, float p, int N,
                           int in, int r) {
    if (N <= 0 || r <= 0) return;
#if MM_EXPERT_FUSED
    if (FUSED(r)) { fused_bwd_a(dA, du, lddu, x, bits, p, N, in, r); return; }
#endif
    cpu_gemm(1, 0, r, in, N, 1.0f, du, lddu, dropped(x, bits, p, N, in), in, 1.0f, dA, in);
}

void cpu_expert_down_bwd_x(float *dx, const float *du, int lddu, const uint64_t *bits, float p, const float *A, int N,
                           int in, int r) {
    if (N <= 0 || r <= 0) return;
#if MM_EXPERT_FUSED
    if (FUSED(r)) { fused_bwd_x(dx, du, lddu, bits, p, A, N, in, r); return; }
#endif
    float *dh = scratch((size_t)N * in);
    cpu_gemm(0, 0, N, in, r, 1.0f, du, lddu, A, in, 0.0f, dh, in);
    if (bits) cpu_dropout_apply_bits(dh, dh, (size_t)N * in, bits, p);
    cpu_add(dx, dx, dh, (size_t)N * in);
}
