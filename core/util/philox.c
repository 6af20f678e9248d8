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
static void blocks16(uint64_t seed, uint32_t step, uint32_t stream, uint64_t blk0, uint32_t out[4][LANES]) {
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

void mm_dropout_mask(uint8_t *keep, uint64_t n, float p, uint64_t seed, uint32_t step, uint32_t stream,
                     uint64_t first) {
    uint64_t i = 0;
    /* head: up to the next multiple of 4*LANES elements; then whole groups of 16 blocks; then a tail */
    /* (u >> 8)·2^-24 >= p  <=>  (u >> 8) >= ceil(p·2^24): both sides exact in float/double */
    const uint32_t thr_exact = p <= 0.0f ? 0u : (uint32_t)ceil((double)p * 16777216.0);
    while (i < n && ((first + i) % (4 * LANES)) != 0) {
        keep[i] = mm_u32_to_unit(mm_rng_u32(seed, step, stream, first + i)) >= p;
        i++;
    }
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
