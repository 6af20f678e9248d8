/* config.json loader tests: the two shipped model configs, transformers defaults, bad configs.
 * `python3 tests/reference/io_ref.py --check-configs` confirms the counts and defaults with transformers. */
#include <criterion/criterion.h>
#include <string.h>
#include "model/config.h"
#include "util/log.h"

static int parse(const char *json, mm_model_config *c) {
    mm_clear_error();
    return mm_config_parse(json, strlen(json), "cfg.json", c);
}
static const char *err_of(const char *json) {
    mm_model_config c;
    cr_assert_eq(parse(json, &c), -1, "accepted: %s", json);
    return mm_last_error();
}

Test(config, starcoderbase_1b) {
    mm_model_config c;
    cr_assert_eq(mm_config_load("models/starcoderbase-1b", &c), 0, "%s", mm_last_error());
    cr_assert_eq(c.family, MM_FAMILY_GPT_BIGCODE);
    cr_assert_eq(c.n_layer, 24);
    cr_assert_eq(c.d_model, 2048);
    cr_assert_eq(c.n_head, 16);
    cr_assert_eq(c.n_kv_head, 1);
    cr_assert_eq(c.head_dim, 128);
    cr_assert_eq(c.d_ff, 8192);
    cr_assert_eq(c.vocab_size, 49152);
    cr_assert_eq(c.max_pos, 8192);
    cr_assert_float_eq(c.norm_eps, 1e-5f, 1e-12);
    cr_assert_eq(c.tie_embeddings, 1);
    cr_assert_float_eq(c.embd_pdrop, 0.1f, 1e-9);
    cr_assert_float_eq(c.attn_pdrop, 0.1f, 1e-9);
    cr_assert_float_eq(c.resid_pdrop, 0.1f, 1e-9);
    cr_assert_eq(c.rope_scale, 1.0f);
    cr_assert_eq(c.bos_id, 0);
    cr_assert_eq(c.eos_id, 0);
    cr_assert_eq(c.pad_id, -1);
    cr_assert_eq(mm_config_base_params(&c), 1137207296LL);
}

Test(config, deepseekcoder_1_3b) {
    mm_model_config c;
    cr_assert_eq(mm_config_load("models/deepseekcoder-1.3b/config.json", &c), 0, "%s", mm_last_error());
    cr_assert_eq(c.family, MM_FAMILY_LLAMA);
    cr_assert_eq(c.n_layer, 24);
    cr_assert_eq(c.d_model, 2048);
    cr_assert_eq(c.n_head, 16);
    cr_assert_eq(c.n_kv_head, 16);
    cr_assert_eq(c.head_dim, 128);
    cr_assert_eq(c.d_ff, 5504);
    cr_assert_eq(c.vocab_size, 32256);
    cr_assert_eq(c.max_pos, 16384);
    cr_assert_float_eq(c.norm_eps, 1e-6f, 1e-13);
    cr_assert_eq(c.tie_embeddings, 0);
    cr_assert_eq(c.rope_theta, 100000.0f);
    cr_assert_eq(c.rope_scale, 4.0f);
    cr_assert_eq(c.attn_pdrop, 0.0f);
    cr_assert_eq(c.embd_pdrop, 0.0f);
    cr_assert_eq(c.resid_pdrop, 0.0f);
    cr_assert_eq(c.bos_id, 32013);
    cr_assert_eq(c.eos_id, 32014);
    cr_assert_eq(c.pad_id, -1);
    cr_assert_eq(mm_config_base_params(&c), 1346471936LL);
}

/* Absent keys take transformers' GPTBigCodeConfig() / LlamaConfig() defaults. */
Test(config, transformers_defaults) {
    mm_model_config c;
    cr_assert_eq(parse("{\"model_type\": \"gpt_bigcode\"}", &c), 0, "%s", mm_last_error());
    cr_assert(c.vocab_size == 50257 && c.max_pos == 1024 && c.d_model == 768 && c.n_layer == 12 && c.n_head == 12);
    cr_assert(c.d_ff == 4 * 768 && c.n_kv_head == 1 && c.head_dim == 64 && c.tie_embeddings == 1);
    cr_assert_float_eq(c.norm_eps, 1e-5f, 1e-12);
    cr_assert_float_eq(c.attn_pdrop, 0.1f, 1e-9);
    cr_assert(c.bos_id == -1 && c.eos_id == -1 && c.pad_id == -1);
    cr_assert_eq(parse("{\"model_type\": \"gpt_bigcode\", \"n_inner\": null, \"multi_query\": false, "
                       "\"n_embd\": 64, \"n_head\": 4, \"tie_word_embeddings\": false}", &c), 0);
    cr_assert(c.d_ff == 256 && c.n_kv_head == 4 && c.head_dim == 16 && c.tie_embeddings == 0);
    cr_assert_eq(parse("{\"model_type\": \"gpt_bigcode\", \"activation_function\": \"gelu_new\"}", &c), 0);

    cr_assert_eq(parse("{\"model_type\": \"llama\"}", &c), 0, "%s", mm_last_error());
    cr_assert(c.vocab_size == 32000 && c.d_model == 4096 && c.d_ff == 11008 && c.n_layer == 32 && c.n_head == 32);
    cr_assert(c.n_kv_head == 32 && c.max_pos == 2048 && c.tie_embeddings == 0 && c.head_dim == 128);
    cr_assert_float_eq(c.norm_eps, 1e-6f, 1e-13);
    cr_assert(c.rope_theta == 10000.0f && c.rope_scale == 1.0f);
    cr_assert_eq(parse("{\"model_type\": \"llama\", \"num_key_value_heads\": 8, \"rope_scaling\": null, "
                       "\"pretraining_tp\": 2, \"head_dim\": 128, \"eos_token_id\": [7, 9], \"pad_token_id\": null}", &c), 0);
    cr_assert(c.n_kv_head == 8 && c.rope_scale == 1.0f && c.eos_id == 7 && c.pad_id == -1);
    /* newer transformers: rope_type instead of type; rope_parameters with rope_theta inside */
    cr_assert_eq(parse("{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2}}", &c), 0);
    cr_assert_eq(c.rope_scale, 2.0f);
    cr_assert_eq(parse("{\"model_type\": \"llama\", \"rope_parameters\": {\"rope_type\": \"linear\", \"factor\": 4.0, "
                       "\"rope_theta\": 100000.0}}", &c), 0, "%s", mm_last_error());
    cr_assert(c.rope_scale == 4.0f && c.rope_theta == 100000.0f);
    cr_assert_eq(parse("{\"model_type\": \"llama\", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 5e5}}", &c), 0);
    cr_assert(c.rope_scale == 1.0f && c.rope_theta == 500000.0f);
}

Test(config, param_count_small_models) {
    /* hand-computed: gpt_bigcode d=8 h=2 (hd 4) MQA ff=32 V=10 P=6 L=2 tied */
    mm_model_config c;
    cr_assert_eq(parse("{\"model_type\":\"gpt_bigcode\",\"n_embd\":8,\"n_head\":2,\"n_inner\":32,\"vocab_size\":10,"
                       "\"n_positions\":6,\"n_layer\":2}", &c), 0);
    long long layer = 8 * 16 + 16 + 8 * 8 + 8 + 8 * 32 + 32 + 32 * 8 + 8 + 4 * 8;
    cr_assert_eq(mm_config_base_params(&c), 2 * layer + 10 * 8 + 6 * 8 + 16);
    /* llama GQA d=8 h=4 kv=2 (hd 2) ff=12 V=10 L=3 untied */
    cr_assert_eq(parse("{\"model_type\":\"llama\",\"hidden_size\":8,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
                       "\"intermediate_size\":12,\"vocab_size\":10,\"num_hidden_layers\":3}", &c), 0);
    layer = 8 * 8 + 2 * 8 * 4 + 8 * 8 + 3 * 8 * 12 + 2 * 8;
    cr_assert_eq(mm_config_base_params(&c), 3 * layer + 2 * 10 * 8 + 8);
}

Test(config, bad_configs_name_the_key) {
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt2\"}"),
                     "cfg.json: key 'model_type' is 'gpt2'; supported: gpt_bigcode, llama");
    cr_assert_str_eq(err_of("{\"n_layer\": 2}"), "cfg.json: key 'model_type' missing; supported: gpt_bigcode, llama");
    cr_assert_str_eq(err_of("{\"model_type\": 3}"), "cfg.json: key 'model_type' must be a string");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\""), "cfg.json: not valid JSON");
    cr_assert_str_eq(err_of("[1]"), "cfg.json: top level is not a JSON object");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"n_embd\": \"2048\"}"),
                     "cfg.json: key 'n_embd' must be an integer");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"n_layer\": 2.5}"),
                     "cfg.json: key 'n_layer' must be an integer");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"n_head\": 0}"),
                     "cfg.json: key 'n_head' is 0, expected 1..65536");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"multi_query\": 1}"),
                     "cfg.json: key 'multi_query' must be true or false");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"layer_norm_epsilon\": \"1e-5\"}"),
                     "cfg.json: key 'layer_norm_epsilon' must be a number");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"activation_function\": \"gelu\"}"),
                     "cfg.json: key 'activation_function' is 'gelu'; supported: gelu_pytorch_tanh, gelu_new, gelu_fast");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"n_embd\": 100, \"n_head\": 3}"),
                     "cfg.json: key 'n_embd' (100) is not a multiple of 'n_head' (3)");
    cr_assert_str_eq(err_of("{\"model_type\": \"gpt_bigcode\", \"eos_token_id\": 50257}"),
                     "cfg.json: key 'eos_token_id' must be a token id in 0..50256");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"hidden_act\": \"gelu\"}"),
                     "cfg.json: key 'hidden_act' is 'gelu'; supported: silu");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"attention_bias\": true}"),
                     "cfg.json: key 'attention_bias' true is not supported");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"mlp_bias\": true}"),
                     "cfg.json: key 'mlp_bias' true is not supported");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"head_dim\": 64}"),
                     "cfg.json: key 'head_dim' is 64 but hidden_size / num_attention_heads is 128 (unsupported)");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"num_key_value_heads\": 5}"),
                     "cfg.json: key 'num_key_value_heads' (5) does not divide num_attention_heads (32)");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}}"),
                     "cfg.json: key 'rope_scaling' has type 'dynamic'; supported: linear (or null)");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}"),
                     "cfg.json: key 'rope_scaling' has type 'llama3'; supported: linear (or null)");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}}"),
                     "cfg.json: key 'rope_scaling' has type 'yarn'; supported: linear (or null)");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"linear\"}}"),
                     "cfg.json: key 'rope_scaling.factor' must be a number >= 1");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"rope_scaling\": \"linear\"}"),
                     "cfg.json: key 'rope_scaling' must be an object or null");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"n_layer\": 1, \"n_layer\": 2}"),
                     "cfg.json: key 'n_layer' appears more than once");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2, \"factor\": 4}}"),
                     "cfg.json: key 'rope_scaling.factor' appears more than once");
    cr_assert_str_eq(err_of("{\"model_type\": \"llama\", \"rope_theta\": \"1e4\"}"),
                     "cfg.json: key 'rope_theta' must be a number");
}

Test(config, load_errors_name_the_file) {
    mm_model_config c;
    cr_assert_eq(mm_config_load("tests/fixtures/io/no-such-config.json", &c), -1);
    cr_assert(strstr(mm_last_error(), "tests/fixtures/io/no-such-config.json: cannot open") == mm_last_error());
    cr_assert_eq(mm_config_load("tests/fixtures/io", &c), -1); /* directory without config.json */
    cr_assert(strstr(mm_last_error(), "tests/fixtures/io/config.json: cannot open"), "%s", mm_last_error());
    cr_assert_eq(mm_config_load("tests/fixtures/io/basic.safetensors", &c), -1);
    cr_assert_str_eq(mm_last_error(), "tests/fixtures/io/basic.safetensors: not valid JSON");
}
