#include "util/philox.h"
#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void mm_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static inline void block(uint64_t seed, uint32_t step, uint32_t stream, uint64_t blk, uint32_t out[4]) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)blk, step, stream, (uint32_t)(blk >> 32)};
    mm_philox4x32(ctr, key, out);
}

uint32_t mm_rng_u32(uint64_t seed, uint32_t step, uint32_t stream, uint64_t index) {
    uint32_t out[4];
    block(seed, step, stream, index >> 2, out);
    return out[index & 3];
}

/* 16 consecutive blocks at once, written as plain arrays so the compiler vectorizes the rounds */
#define LANES 16
static void blocks16_generic(uint64_t seed, uint32_t step, uint32_t stream, uint64_t blk0, uint32_t out[4][LANES]) {
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    for (int j = 0; j < LANES; j++) {
        uint64_t b = blk0 + (uint64_t)j;
        c0[j] = (uint32_t)b; c1[j] = step; c2[j] = stream; c3[j] = (uint32_t)(b >> 32);
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        for (int j = 0; j < LANES; j++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * c0[j];
            uint64_t p1 = (uint64_t)PHILOX_M1 * c2[j];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ k1;
            c1[j] = (uint32_t)p1;
            c3[j] = (uint32_t)p0;
            c0[j] = n0;
            c2[j] = n2;
        }
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    for (int j = 0; j < LANES; j++) { out[0][j] = c0[j]; out[1][j] = c1[j]; out[2][j] = c2[j]; out[3][j] = c3[j]; }
}

#if defined(__AVX512F__)
#include <immintrin.h>
/* hi and lo halves of the 32x32 -> 64-bit products a[i]·m, 16 lanes: mul_epu32 multiplies the even lanes, a
 * 64-bit shift brings the odd ones down, and blends put each half back in its lane */
static inline __m512i mulhilo(__m512i a, __m512i m, __m512i *lo) {
    const __m512i pe = _mm512_mul_epu32(a, m);
    const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
}
/* the same 16 blocks in AVX-512 registers: c[w] lane j = word w of block blk0 + j (the low counter word
 * must not wrap inside the 16 blocks: callers check) */
static inline void blocks16_avx512(uint64_t seed, uint32_t step, uint32_t stream, uint64_t blk0, __m512i c[4]) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)blk0), iota);
    __m512i c1 = _mm512_set1_epi32((int)step), c2 = _mm512_set1_epi32((int)stream);
    __m512i c3 = _mm512_set1_epi32((int)(uint32_t)(blk0 >> 32));
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        __m512i lo0, lo1;
        const __m512i hi0 = mulhilo(c0, m0, &lo0), hi1 = mulhilo(c2, m1, &lo1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c1 = lo1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    c[0] = c0; c[1] = c1; c[2] = c2; c[3] = c3;
}
static inline int no_wrap16(uint64_t blk0) { return (uint32_t)blk0 <= 0xFFFFFFFFu - (LANES - 1); }
#endif

static void blocks16(uint64_t seed, uint32_t step, uint32_t stream, uint64_t blk0, uint32_t out[4][LANES]) {
#if defined(__AVX512F__)
    if (no_wrap16(blk0)) {
        __m512i c[4];
        blocks16_avx512(seed, step, stream, blk0, c);
        for (int w = 0; w < 4; w++) _mm512_storeu_si512((void *)out[w], c[w]);
        return;
    }
#endif
    blocks16_generic(seed, step, stream, blk0, out);
}

/* (u >> 8)·2^-24 >= p  <=>  (u >> 8) >= ceil(p·2^24): both sides exact in float/double */
static uint32_t keep_threshold(float p) { return p <= 0.0f ? 0u : (uint32_t)ceil((double)p * 16777216.0); }

uint64_t mm_dropout_word(float p, uint64_t seed, uint32_t step, uint32_t stream, uint64_t first) {
#if defined(__AVX512F__)
    if ((first & 3) == 0 && no_wrap16(first >> 2)) {
        __m512i c[4];
        blocks16_avx512(seed, step, stream, first >> 2, c);
        const __m512i thr = _mm512_set1_epi32((int)keep_threshold(p));
        uint64_t v = 0;
        for (int w = 0; w < 4; w++) { /* lane j of word w is element 4j + w: bit 4j + w */
            const uint32_t m = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c[w], 8), thr);
#if defined(__BMI2__)
            v |= _pdep_u64(m, 0x1111111111111111ull << w);
#else
            for (int j = 0; j < LANES; j++) v |= (uint64_t)((m >> j) & 1u) << (4 * j + w);
#endif
        }
        return v;
    }
#endif
    uint8_t keep[64];
    mm_dropout_mask(keep, 64, p, seed, step, stream, first);
    uint64_t v = 0;
    for (int i = 0; i < 64; i++) v |= (uint64_t)keep[i] << i;
    return v;
}

void mm_dropout_mask(uint8_t *keep, uint64_t n, float p, uint64_t seed, uint32_t step, uint32_t stream,
                     uint64_t first) {
    uint64_t i = 0;
    /* head: up to the next multiple of 4*LANES elements; then whole groups of 16 blocks; then a tail */
    const uint32_t thr_exact = keep_threshold(p);
    while (i < n && ((first + i) % (4 * LANES)) != 0) {
        keep[i] = mm_u32_to_unit(mm_rng_u32(seed, step, stream, first + i)) >= p;
        i++;
    }
#if defined(__AVX512F__) && defined(__AVX512BW__)
    /* whole words of 64: the keep bits in registers, widened to bytes in one mask move */
    while (n - i >= 4 * LANES && no_wrap16((first + i) >> 2)) {
        const uint64_t v = mm_dropout_word(p, seed, step, stream, first + i);
        _mm512_storeu_si512((void *)(keep + i), _mm512_maskz_mov_epi8(v, _mm512_set1_epi8(1)));
        i += 4 * LANES;
    }
#endif
    uint32_t out[4][LANES];
    while (n - i >= 4 * LANES) {
        blocks16(seed, step, stream, (first + i) >> 2, out);
        for (int j = 0; j < LANES; j++)
            for (int lane = 0; lane < 4; lane++) keep[i + 4 * j + lane] = (out[lane][j] >> 8) >= thr_exact;
        i += 4 * LANES;
    }
    while (i < n) {
        uint64_t idx = first + i;
        uint32_t out[4];
        block(seed, step, stream, idx >> 2, out);
        for (uint32_t lane = (uint32_t)(idx & 3); lane < 4 && i < n; lane++, i++)
            keep[i] = mm_u32_to_unit(out[lane]) >= p;
    }
}
