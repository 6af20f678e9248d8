/* Device Philox4x32-10: the same function and (seed, step, stream, index) mapping as core/util/philox.c,
 * so dropout masks are bit-identical to the CPU backend.  Element `index` uses block index>>2, lane index&3;
 * counter = {lo32(block), step, stream, hi32(block)}, key = {lo32(seed), hi32(seed)}.
 * Keep rule: (u >> 8) >= thr with thr = ceil(p·2^24) (mm_dropout_threshold), i.e. unit(u) >= p. */
#ifndef MMLORA_CUDA_PHILOX_CUH
#define MMLORA_CUDA_PHILOX_CUH
#include <math.h>
#include <stdint.h>

__device__ __forceinline__ uint4 mm_dev_philox_block(uint64_t seed, uint32_t step, uint32_t stream, uint64_t blk) {
    uint32_t c0 = (uint32_t)blk, c1 = step, c2 = stream, c3 = (uint32_t)(blk >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
#pragma unroll
    for (int r = 0; r < 10; r++) {
        uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return make_uint4(c0, c1, c2, c3);
}

__device__ __forceinline__ uint32_t mm_dev_rng_u32(uint64_t seed, uint32_t step, uint32_t stream, uint64_t index) {
    uint4 o = mm_dev_philox_block(seed, step, stream, index >> 2);
    switch ((unsigned)(index & 3)) {
    case 0: return o.x;
    case 1: return o.y;
    case 2: return o.z;
    default: return o.w;
    }
}

__device__ __forceinline__ bool mm_dev_keep(uint64_t seed, uint32_t step, uint32_t stream, uint64_t index,
                                            uint32_t thr) {
    return (mm_dev_rng_u32(seed, step, stream, index) >> 8) >= thr;
}

/* host: the integer threshold exactly as mm_dropout_mask computes it */
static inline uint32_t mm_dropout_threshold(float p) {
    return p <= 0.0f ? 0u : (uint32_t)ceil((double)p * 16777216.0);
}
#endif
