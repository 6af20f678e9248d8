/* Malformed / unsupported tokenizer.json: an error naming the key and what is supported. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer.h"
#include "io/tokenizer_internal.h"
#include "util/log.h"

#define MODEL_OK "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}"
#define PRE_OK "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}"

static void expect_error(const char *json, const char *must1, const char *must2) {
    mm_clear_error();
    mm_tokenizer *t = mm_tokenizer_load_json(json, strlen(json), "t.json");
    cr_assert_null(t, "loaded: %s", json);
    const char *e = mm_last_error();
    cr_expect(strstr(e, "t.json") != NULL, "error does not name the file: %s", e);
    cr_expect(strstr(e, must1) != NULL, "error '%s' lacks '%s'", e, must1);
    if (must2) cr_expect(strstr(e, must2) != NULL, "error '%s' lacks '%s'", e, must2);
}

Test(tokenizer, minimal_ok) {
    const char *j = "{" MODEL_OK "," PRE_OK "}";
    mm_tokenizer *t = mm_tokenizer_load_json(j, strlen(j), "t.json");
    cr_assert(t, "%s", mm_last_error());
    mm_ids v = {0};
    cr_assert_eq(mm_tokenizer_encode(t, "abba", 4, MM_TOK_PARSE_SPECIAL, &v), 0);
    cr_assert_eq(v.n, 3);   /* ab b a */
    cr_expect_eq(v.ids[0], 2);
    cr_expect_eq(v.ids[1], 1);
    cr_expect_eq(v.ids[2], 0);
    free(v.ids);
    cr_expect_eq(mm_tokenizer_vocab_size(t), 3);
    cr_expect_eq(strlen(mm_tokenizer_sha256(t)), 64);
    mm_tokenizer_free(t);
}

Test(tokenizer, merges_pair_format) {
    const char *j = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[[\"a\",\"b\"]]}," PRE_OK "}";
    mm_tokenizer *t = mm_tokenizer_load_json(j, strlen(j), "t.json");
    cr_assert(t, "%s", mm_last_error());
    mm_ids v = {0};
    mm_tokenizer_encode(t, "ab", 2, 0, &v);
    cr_assert_eq(v.n, 1);
    cr_expect_eq(v.ids[0], 2);
    free(v.ids);
    mm_tokenizer_free(t);
}

Test(tokenizer, bad_json) { expect_error("{\"model\": ", "not valid JSON", NULL); }
Test(tokenizer, missing_model) { expect_error("{" PRE_OK "}", "'model'", "BPE"); }
Test(tokenizer, unknown_model_type) {
    expect_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}," PRE_OK "}", "model.type 'WordPiece'", "supported: BPE");
}
Test(tokenizer, missing_merges) {
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}," PRE_OK "}", "model.merges", "supported");
}
Test(tokenizer, missing_vocab) { expect_error("{\"model\":{\"type\":\"BPE\",\"merges\":[]}," PRE_OK "}", "model.vocab", NULL); }
Test(tokenizer, duplicate_vocab_id) {
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}," PRE_OK "}", "model.vocab",
                 "duplicate id 0");
}
Test(tokenizer, duplicate_vocab_token) {   /* "a" twice (cJSON keeps both) */
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"a\":1},\"merges\":[]}," PRE_OK "}", "model.vocab",
                 "duplicate token 'a'");
}
Test(tokenizer, duplicate_added_id) {
    expect_error("{" MODEL_OK "," PRE_OK ",\"added_tokens\":[{\"id\":5,\"content\":\"<x>\"},{\"id\":5,\"content\":\"<y>\"}]}",
                 "added_tokens[1]", "duplicate id 5");
}
Test(tokenizer, merge_not_in_vocab) {
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}," PRE_OK "}",
                 "model.merges[0]", "merged token not in model.vocab");
}
Test(tokenizer, bad_merge_string) {
    expect_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}," PRE_OK "}", "model.merges[0]", "\"a b\"");
}
Test(tokenizer, unknown_pretokenizer) {
    expect_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Metaspace\"}]}}",
                 "pre_tokenizer.pretokenizers[0].type 'Metaspace'", "supported: Sequence, Split, Digits, ByteLevel");
}
Test(tokenizer, no_bytelevel) {
    expect_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":true}}", "ByteLevel", NULL);
}
Test(tokenizer, split_bad_behavior) {
    expect_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                 "{\"Regex\":\"x\"},\"behavior\":\"Sideways\"},{\"type\":\"ByteLevel\"}]}}",
                 "pre_tokenizer.pretokenizers[0].behavior 'Sideways'", "Isolated");
}
Test(tokenizer, split_bad_regex) {
    expect_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                 "{\"Regex\":\"(\"},\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\"}]}}",
                 "pre_tokenizer.pretokenizers[0].pattern", "invalid regex");
}
Test(tokenizer, unknown_normalizer) {
    expect_error("{" MODEL_OK "," PRE_OK ",\"normalizer\":{\"type\":\"NFKC\"}}", "normalizer.type 'NFKC'", "supported");
}
Test(tokenizer, unknown_decoder) {
    expect_error("{" MODEL_OK "," PRE_OK ",\"decoder\":{\"type\":\"Metaspace\"}}", "decoder.type 'Metaspace'", "ByteLevel");
}
Test(tokenizer, unknown_post_processor) {
    expect_error("{" MODEL_OK "," PRE_OK ",\"post_processor\":{\"type\":\"RobertaProcessing\"}}",
                 "post_processor.type 'RobertaProcessing'", "TemplateProcessing");
}
Test(tokenizer, byte_fallback_unsupported) {
    expect_error("{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{},\"merges\":[]}," PRE_OK "}",
                 "model.byte_fallback", "false");
}
Test(tokenizer, bad_bool) {
    expect_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":\"yes\"}}", "pre_tokenizer.use_regex",
                 "true or false");
}
Test(tokenizer, missing_file) {
    mm_clear_error();
    cr_assert_null(mm_tokenizer_load("tests/fixtures/tokenizer/no-such.json"));
    cr_expect(strstr(mm_last_error(), "no-such.json") != NULL);
}
Test(tokenizer, load_directory) {
    /* a directory is looked up as DIR/tokenizer.json */
    mm_clear_error();
    cr_assert_null(mm_tokenizer_load("tests/fixtures/tokenizer"));
    cr_expect(strstr(mm_last_error(), "tests/fixtures/tokenizer/tokenizer.json") != NULL, "%s", mm_last_error());
}
