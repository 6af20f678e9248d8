/* __nv_bfloat16 for the CPU emulator of the CUDA backend: storage type, round-to-nearest-even conversion. */
#ifndef MM_CUDA_EMU_BF16_H
#define MM_CUDA_EMU_BF16_H
#include <stdint.h>
#include <string.h>
#include "cuda_runtime.h"
struct __nv_bfloat16 {
    uint16_t x;
};
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) r.x = (uint16_t)((u >> 16) | 0x40u); /* NaN stays a (quiet) NaN */
    else r.x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return r;
}
static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
#endif
