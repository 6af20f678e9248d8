/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, Random123 constants).
 * Every random draw in mmlora is a pure function of (seed, step, stream, index), so dropout masks are
 * identical on CPU and CUDA, independent of thread count, and regenerated in backward instead of stored.
 * tests/reference/philox.py implements the same function in numpy for the PyTorch golden tests. */
#ifndef MMLORA_PHILOX_H
#define MMLORA_PHILOX_H
#include <stdint.h>

void mm_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Dropout purposes (low 8 bits of a stream id; the layer goes above them). */
enum {
    MM_RNG_EMBD = 1, MM_RNG_ATTN_PROBS = 2, MM_RNG_RESID_ATTN = 3, MM_RNG_RESID_MLP = 4,
    MM_RNG_LORA = 16, /* + target index * 16 + expert: see mm_rng_stream_lora */
    MM_RNG_INIT = 250, MM_RNG_DATA = 251, MM_RNG_ROUTER = 252,
    MM_RNG_SHOTS = 253 /* in-context examples of one-shot / few-shot prompts (train/run_icl.c) */
};
/* stream id of (layer, purpose); layer -1 for model-level draws */
static inline uint32_t mm_rng_stream(int layer, uint32_t purpose) {
    return ((uint32_t)(layer + 1) << 12) | (purpose & 0xfffu);
}
static inline uint32_t mm_rng_stream_lora(int layer, int target, int expert) {
    return mm_rng_stream(layer, (uint32_t)(MM_RNG_LORA + target * 256 + expert));
}

/* 32 random bits for element `index` of (seed, step, stream). */
uint32_t mm_rng_u32(uint64_t seed, uint32_t step, uint32_t stream, uint64_t index);
/* uniform float in [0, 1) with 24 bits: (u32 >> 8) * 2^-24 */
static inline float mm_u32_to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

/* Fill keep[i] (1 keep / 0 drop) for i in [0, n) with P(drop) = p, element index offset `first`.
 * Element i is kept iff unit(u32(first + i)) >= p. */
void mm_dropout_mask(uint8_t *keep, uint64_t n, float p, uint64_t seed, uint32_t step, uint32_t stream,
                     uint64_t first);
/* The keep bits of the 64 elements first .. first + 63 as one word (bit i = keep(first + i)): the same rule;
 * with AVX-512 (and first a multiple of 4) 16 Philox blocks in registers, no byte mask. */
uint64_t mm_dropout_word(float p, uint64_t seed, uint32_t step, uint32_t stream, uint64_t first);
#endif
