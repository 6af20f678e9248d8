/* mmlora info: the paper's trainable percentages (models-spec.md §1.4) from the shipped configs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/commands.h"
#include "model/model.h"
#include "peft/method.h"
#include "test_util.h"
#include <criterion/redirect.h>

static void run_info(const char *model, const char *method) {
    char *argv[] = {"info", "--model", (char *)model, "--method", (char *)method, "--rank", "32", NULL};
    fflush(stdout);
    cr_assert_eq(cmd_info(7, argv), 0);
    fflush(stdout);
}

Test(cli_info, starcoderbase_lora_r32_is_1_91_percent, .init = cr_redirect_stdout) {
    run_info("models/starcoderbase-1b", "lora-mix");
    cr_assert_stdout_eq_str(
        "model: models/starcoderbase-1b (gpt_bigcode, 24 layers, d_model 2048, 16 heads, 1 kv heads, d_ff 8192, vocab 49152)\n"
        "base params: 1,137,207,296\n"
        "method: lora-mix (r 32, alpha 64, dropout 0.1)\n"
        "targets: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj\n"
        "trainable params: 22,216,704 || all params: 1,159,424,000 || trainable%: 1.91\n");
}

Test(cli_info, deepseekcoder_lora_r32_is_2_17_percent) {
    mm_model_config c;
    mm_model m;
    mm_method_spec s;
    cr_assert_eq(mm_config_load("models/deepseekcoder-1.3b", &c), 0);
    cr_assert_eq(mm_model_layout(&m, &c), 0);
    cr_assert_eq((long long)m.n_params, 1346471936LL, "layout holds %zu parameters", m.n_params);
    cr_assert_eq(mm_method_from_name("lora-mix", &s), 0);
    cr_assert_eq(mm_method_trainable(&m, &s, 6), 29982720LL);
    char pct[16];
    mm_format_percent_trunc2(pct, sizeof pct, 29982720LL, 1346471936LL + 29982720LL);
    cr_assert_str_eq(pct, "2.17");
    free(m.tensors);
}

Test(cli_info, starcoder_layout_matches_config_count) {
    mm_model_config c;
    mm_model m;
    cr_assert_eq(mm_config_load("models/starcoderbase-1b", &c), 0);
    cr_assert_eq(mm_model_layout(&m, &c), 0);
    cr_assert_eq((long long)m.n_params, mm_config_base_params(&c));
    free(m.tensors);
}

Test(cli_info, unknown_method_is_an_error) {
    mm_method_spec s;
    cr_assert_eq(mm_method_from_name("lora-max", &s), -1);
}

Test(cli_info, thousands_and_truncation) {
    char b[32];
    mm_format_thousands(b, sizeof b, 1159424000LL);
    cr_assert_str_eq(b, "1,159,424,000");
    mm_format_thousands(b, sizeof b, 999);
    cr_assert_str_eq(b, "999");
    mm_format_percent_trunc2(b, sizeof b, 19999, 1000000); /* 1.9999% truncates to 1.99 */
    cr_assert_str_eq(b, "1.99");
}
