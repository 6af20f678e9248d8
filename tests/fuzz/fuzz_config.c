/* libFuzzer target: config.json parsing (mm_config_parse) and the parameter count of accepted
 * configs.  Seeds: tests/fuzz/seeds/fuzz_config/. */
#include <stdint.h>
#include <stdlib.h>
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mm_model_config c;
    if (mm_config_parse((const char *)data, size, "fuzz.json", &c) != 0) return 0;
    if (c.head_dim * c.n_head != c.d_model || c.n_kv_head < 1 || c.n_head % c.n_kv_head) abort();
    if (mm_config_base_params(&c) <= 0) abort();
    return 0;
}
