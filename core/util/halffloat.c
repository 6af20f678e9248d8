/* Half-precision conversions (util/halffloat.h): bf16 and IEEE fp16 <-> fp32, bit manipulation only. */
#include "util/halffloat.h"
#include <string.h>

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float mm_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t mm_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep sign and top payload, force quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even; overflow rounds to Inf correctly */
    return (uint16_t)(u >> 16);
}

float mm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return u2f(sign | 0x7f800000u | (man << 13)); /* Inf / NaN (payload kept) */
    if (exp == 0) {
        if (man == 0) return u2f(sign);
        int e = -1; /* subnormal: normalise */
        do { man <<= 1; e++; } while (!(man & 0x400u));
        return u2f(sign | (uint32_t)(112 - e) << 23 | (man & 0x3ffu) << 13);
    }
    return u2f(sign | (exp + 112u) << 23 | man << 13);
}

uint16_t mm_f32_to_f16(float f) {
    uint32_t u = f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t fexp = u & 0x7f800000u, fsig;
    if (fexp >= 0x47800000u) { /* |f| >= 65536, Inf or NaN */
        if (fexp == 0x7f800000u && (u & 0x007fffffu))
            return (uint16_t)(sign | 0x7e00u | ((u & 0x007fffffu) >> 13)); /* quiet NaN */
        return (uint16_t)(sign | 0x7c00u);
    }
    if (fexp <= 0x38000000u) { /* result is subnormal or zero */
        if (fexp < 0x33000000u) return sign;
        uint32_t e = fexp >> 23;
        fsig = 0x00800000u + (u & 0x007fffffu);
        uint32_t lost = u & 0x7ffu; /* bits the extra shift below may drop (sticky) */
        fsig >>= (113 - e);
        if ((fsig & 0x3fffu) != 0x1000u || lost) fsig += 0x1000u;
        return (uint16_t)(sign + (fsig >> 13)); /* a carry into the exponent is the right answer */
    }
    uint16_t hexp = (uint16_t)((fexp - 0x38000000u) >> 13);
    fsig = u & 0x007fffffu;
    if ((fsig & 0x3fffu) != 0x1000u) fsig += 0x1000u;
    return (uint16_t)(sign + hexp + (fsig >> 13)); /* carry may reach Inf: correct */
}
