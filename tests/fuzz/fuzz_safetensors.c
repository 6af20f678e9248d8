/* libFuzzer target: safetensors header/tensor validation on arbitrary bytes (mm_st_open_memory),
 * then every accessor on what was accepted.  Seeds: tests/fuzz/seeds/fuzz_safetensors/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mm_safetensors *st = mm_st_open_memory(data, size, "fuzz.safetensors");
    if (!st) return 0;
    (void)mm_st_metadata(st, "format");
    for (int i = 0; i < mm_st_count(st); i++) {
        const mm_st_tensor *t = mm_st_at(st, i);
        if (mm_st_find(st, t->name) != t) abort();
        /* accepted tensors tile the buffer, so they lie inside it */
        if ((const uint8_t *)t->data < data || (const uint8_t *)t->data + t->nbytes > data + size) abort();
        if (t->dtype == MM_DT_F32 || t->dtype == MM_DT_F16 || t->dtype == MM_DT_BF16) {
            float *dst = malloc((size_t)t->numel * sizeof(float) + 1);
            if (mm_st_read_f32(st, t->name, dst, t->ndim, t->shape) != 0) abort();
            free(dst);
        }
    }
    mm_st_close(st);
    return 0;
}
