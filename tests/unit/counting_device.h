/* A device table for tests, run on the CPU: the CPU ops behind memory that behaves like a device's.  Every
 * allocation is separate memory filled with NaN bytes (a buffer the device path forgot to upload or zero shows
 * up as NaN), upload/download really copy (and a copy of a buffer onto itself fails the test: a device table
 * never does that), and allocations are counted (cd_live_allocs: not yet freed; cd_alloc_bytes: bytes
 * requested since the test last reset it), so a test can check that what a component allocates is what it
 * plans and that it frees everything.  Used by the engine, decoder and bf16 device tests. */
#ifndef MMLORA_TEST_COUNTING_DEVICE_H
#define MMLORA_TEST_COUNTING_DEVICE_H
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"

static __attribute__((unused)) size_t cd_live_allocs, cd_alloc_bytes;
static inline void *cd_alloc(size_t bytes) {
    void *p = mm_xmalloc_aligned(bytes ? bytes : 1);
    memset(p, 0xff, bytes); /* NaN everywhere until written */
    cd_live_allocs++;
    cd_alloc_bytes += bytes;
    return p;
}
static inline void cd_free(void *p) {
    if (!p) return;
    cd_live_allocs--;
    free(p);
}
static inline void cd_copy(void *dst, const void *src, size_t bytes) {
    cr_assert(dst != src || !bytes, "a device table never copies a buffer onto itself");
    memcpy(dst, src, bytes);
}
static inline mm_kernels counting_device(void) {
    mm_kernels k = mm_kernels_cpu;
    k.name = "cpu-as-device";
    k.device_memory = 1;
    k.alloc = cd_alloc;
    k.free = cd_free;
    k.upload = cd_copy;
    k.download = cd_copy;
    return k;
}

/* One training step's inputs for the device tests: tokens drawn from the vocabulary, loss weights that leave the
 * last 4·b positions of sequence b out (right padding), languages (2b + 1) mod n_lang; and small random adapter
 * parameters (B is 0 at init: random everywhere so that every gradient flows). */
static inline void cd_step_inputs(int32_t *tokens, float *w, int32_t *langs, int B, int T, int V, int n_lang) {
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (int32_t)(mm_rng_u32(5, 1, 2, (uint64_t)i) % (uint32_t)V);
        w[i] = (i % T) < T - 4 * (i / T) ? 1.0f : 0.0f;
    }
    for (int b = 0; b < B; b++) langs[b] = (b * 2 + 1) % n_lang;
}
static inline void cd_random_params(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = 0.2f * (2.0f * mm_u32_to_unit(mm_rng_u32(5, 0, 1, i)) - 1.0f);
}
#endif
