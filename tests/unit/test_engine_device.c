/* The engine's device-memory path, run on the CPU: a copy of the CPU table that declares device memory
 * (device_memory = 1; alloc returns separate memory filled with NaN bytes, upload/download really copy).
 * Every buffer the engine and the adapters use must then be allocated, uploaded and downloaded through
 * the table: a missing upload leaves NaNs or stale values, a missing download leaves the host side
 * unchanged.  One training step of each method on both tiny fixture models must give bit-identical loss,
 * logits and gradients to the plain CPU table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/engine.h"
#include "peft/method.h"
#include "peft/mmlora.h"
#include "util/log.h"
#include "util/philox.h"
#include "test_util.h"
#include "counting_device.h"
#include "engine_step.h"

static void same(const char *dir, const char *method) {
    const mm_kernels dev = counting_device();
    const mm_engine_opts o = {0};
    result c = es_step(&mm_kernels_cpu, dir, method, &o);
    cd_live_allocs = 0;
    result d = es_step(&dev, dir, method, &o);
    cr_expect_eq(cd_live_allocs, 0, "%s %s: %zu device allocations not freed", dir, method, cd_live_allocs);
    char what[256];
    snprintf(what, sizeof what, "%s %s: device table vs CPU", dir, method);
    es_bit_identical(what, &c, &d);
    result_free(&c), result_free(&d);
}

#define GPTBC "tests/fixtures/engine/tiny"
#define LLAMA "tests/fixtures/engine_llama/tiny"
Test(engine_device, full_fine_tuning_bit_identical) { same(GPTBC, "fpft-mix"); same(LLAMA, "fpft-mix"); }
Test(engine_device, lora_mix_bit_identical) { same(GPTBC, "lora-mix"); same(LLAMA, "lora-mix"); }
Test(engine_device, mmlora_bit_identical) { same(GPTBC, "mmlora"); same(LLAMA, "mmlora"); }
Test(engine_device, mola_bit_identical) { same(GPTBC, "mola"); same(LLAMA, "mola"); }
/* the trainer on a device table: tests/unit/test_trainer_device.c */
