/* Greedy decoding equals transformers' generate(do_sample=False) (fixture: tests/reference/engine_ref.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "infer/generate.h"
#include "io/safetensors.h"
#include "util/log.h"
#include "test_util.h"

#define FIX "tests/fixtures/engine/"

static void check_generation_in(const char *fix, int batched) {
    mm_model m;
    char path[256];
    snprintf(path, sizeof path, "%stiny", fix);
    cr_assert_eq(mm_model_load(&m, path), 0, "%s", mm_last_error());
    snprintf(path, sizeof path, "%sgenerate.safetensors", fix);
    mm_safetensors *st = mm_st_open(path);
    cr_assert(st, "%s", mm_last_error());
    enum { NP = 3 };
    const int32_t *prompts[NP];
    int plen[NP], want_len[NP];
    const int32_t *want[NP];
    for (int i = 0; i < NP; i++) {
        char name[32];
        snprintf(name, sizeof name, "prompt%d", i);
        const mm_st_tensor *t = mm_st_find(st, name);
        cr_assert(t && t->dtype == MM_DT_I32);
        prompts[i] = t->data;
        plen[i] = (int)t->numel;
        snprintf(name, sizeof name, "output%d", i);
        t = mm_st_find(st, name);
        cr_assert(t);
        want[i] = t->data;
        want_len[i] = (int)t->numel;
        for (int j = 0; j < want_len[i]; j++)
            if (want[i][j] == 0) { want_len[i] = j; break; } /* eos (0) ends HF's output */
    }
    mm_generator g;
    cr_assert_eq(mm_generator_init(&g, &mm_kernels_cpu, &m, NULL, NP, 32, batched ? 8 : 64), 0, "%s", mm_last_error());
    int32_t buf[NP][16];
    int32_t *outs[NP] = {buf[0], buf[1], buf[2]};
    int out_len[NP];
    if (batched) {
        cr_assert_eq(mm_generate_greedy(&g, prompts, plen, NP, 12, 0, outs, out_len), 0, "%s", mm_last_error());
    } else {
        for (int i = 0; i < NP; i++)
            cr_assert_eq(mm_generate_greedy(&g, &prompts[i], &plen[i], 1, 12, 0, &outs[i], &out_len[i]), 0);
    }
    for (int i = 0; i < NP; i++) {
        cr_expect_eq(out_len[i], want_len[i], "prompt %d: %d tokens, HF %d", i, out_len[i], want_len[i]);
        for (int j = 0; j < want_len[i] && j < out_len[i]; j++)
            cr_expect_eq(outs[i][j], want[i][j], "prompt %d token %d: %d, HF %d", i, j, outs[i][j], want[i][j]);
    }
    mm_generator_free(&g);
    mm_st_close(st);
    mm_model_free(&m);
}

static void check_generation(int batched) { check_generation_in(FIX, batched); }

Test(generate, llama_greedy_equals_hf) { check_generation_in("tests/fixtures/engine_llama/", 1); }
Test(generate, greedy_equals_hf_one_by_one) { check_generation(0); }
/* batched, with a prefill chunk (8 rows) smaller than the prompts' total: same tokens */
Test(generate, greedy_equals_hf_batched_chunked_prefill) { check_generation(1); }
