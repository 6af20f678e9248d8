/* Elementwise ops: tanh-GELU, dropout. */
#include <math.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "cpu/cpu_ops.h"
#include "util/philox.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* tanh as a 13/6 rational function (the coefficients of Eigen's generic_fast_tanh_float): a few ulp
 * from tanhf on [-9, 9], branch-free and vectorizable, unlike libm's tanhf which dominated the GELU
 * forward and backward (measured: 13.6% of a full fine-tuning step).  Tested against tanh() in
 * tests/unit/test_kernels_fd.c. */
static inline float fast_tanhf(float x) {
    const float clamp = 7.90531110763549805f;
    float c = x > clamp ? clamp : (x < -clamp ? -clamp : x);
    float x2 = c * c;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * c;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float r = p / q;
    return fabsf(x) < 0.0004f ? x : r;
}
float mm_fast_tanhf(float x) { return fast_tanhf(x); }

void cpu_gelu_tanh_fwd(float *y, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + fast_tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    }
}

void cpu_gelu_tanh_bwd(float *dx, const float *dy, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_K * (v + 0.044715f * v * v * v);
        float t = fast_tanhf(u);
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
    }
}

void cpu_dropout_fwd(float *y, const float *x, size_t n, mm_dropout d, uint64_t first) {
    if (d.p <= 0.0f) {
        if (y != x) for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    }
    const float scale = 1.0f / (1.0f - d.p);
    const size_t CH = 4096;
#pragma omp parallel for schedule(static)
    for (size_t c0 = 0; c0 < n; c0 += CH) {
        uint8_t keep[4096];
        size_t m = n - c0 < CH ? n - c0 : CH;
        mm_dropout_mask(keep, m, d.p, d.seed, d.step, d.stream, first + c0);
        for (size_t i = 0; i < m; i++) y[c0 + i] = keep[i] ? x[c0 + i] * scale : 0.0f;
    }
}

void cpu_dropout_bits(uint64_t *bits, size_t n, mm_dropout d, uint64_t first) {
    const size_t words = (n + 63) / 64;
#pragma omp parallel for schedule(static)
    for (size_t w = 0; w < words; w++) {
        size_t m = n - w * 64 < 64 ? n - w * 64 : 64;
        if (m == 64) {
            bits[w] = mm_dropout_word(d.p, d.seed, d.step, d.stream, first + w * 64);
            continue;
        }
        uint8_t keep[64];
        mm_dropout_mask(keep, m, d.p, d.seed, d.step, d.stream, first + w * 64);
        uint64_t v = 0;
        for (size_t i = 0; i < m; i++) v |= (uint64_t)keep[i] << i;
        bits[w] = v;
    }
}

void cpu_dropout_apply_bits(float *y, const float *x, size_t n, const uint64_t *bits, float p) {
    const float scale = 1.0f / (1.0f - p);
    size_t done = 0;
#if defined(__AVX512F__)
    /* 16 elements per masked multiply: the mask word's bits are the keep bits (the same products, 0 elsewhere) */
    const size_t words = n / 64;
#pragma omp parallel for schedule(static) if (n > 16384)
    for (size_t w = 0; w < words; w++) {
        const __m512 s = _mm512_set1_ps(scale);
        const uint64_t b = bits[w];
        for (int q = 0; q < 4; q++) {
            const size_t i = w * 64 + 16 * (size_t)q;
            _mm512_storeu_ps(y + i, _mm512_maskz_mul_ps((__mmask16)(b >> (16 * q)), _mm512_loadu_ps(x + i), s));
        }
    }
    done = words * 64;
#endif
#pragma omp parallel for simd schedule(static) if (n - done > 16384)
    for (size_t i = done; i < n; i++) y[i] = ((bits[i >> 6] >> (i & 63)) & 1) ? x[i] * scale : 0.0f;
}
