#include "util/philox.h"

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

void mm_dropout_mask(uint8_t *keep, uint64_t n, float p, uint64_t seed, uint32_t step, uint32_t stream,
                     uint64_t first) {
    uint64_t i = 0;
    while (i < n) {
        uint64_t idx = first + i;
        uint32_t out[4];
        block(seed, step, stream, idx >> 2, out);
        for (uint32_t lane = (uint32_t)(idx & 3); lane < 4 && i < n; lane++, i++)
            keep[i] = mm_u32_to_unit(out[lane]) >= p;
    }
}
