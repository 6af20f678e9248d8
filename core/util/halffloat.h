/* Half-precision conversions, bit manipulation only (no library): bf16 (the upper half of an IEEE float) and
 * IEEE fp16 to and from fp32.  Used by the safetensors reader/writer (F16/BF16 tensors), the engine's bf16
 * weight copies and the CPU bf16 linears, so the kernels need no I/O code. */
#ifndef MMLORA_HALFFLOAT_H
#define MMLORA_HALFFLOAT_H
#include <stdint.h>

float mm_bf16_to_f32(uint16_t h);
uint16_t mm_f32_to_bf16(float f); /* round to nearest even, NaN preserved (quiet) */
float mm_f16_to_f32(uint16_t h);
uint16_t mm_f32_to_f16(float f); /* round to nearest even, subnormals, Inf and NaN */
#endif
