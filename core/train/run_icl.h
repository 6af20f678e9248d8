/* The in-context baselines of Tables II/III (`--method one-shot|few-shot`): no training and no adapter;
 * the base model is prompted with k training examples of the test example's language and decodes
 * greedily (docs/METHODS.md, "In-context baselines").
 *
 * Prompt (token ids, data/cache.h layout):
 *   for each shot:  code ids, separator ids, summary ids, eos     (= the cached example, ids[0 .. n_tok))
 *   then the test:  code ids, separator ids                       (= ids[0 .. n_src))
 * Shots: k = `shots` distinct examples drawn from the language's training pool (the first train_per_lang
 * training examples of that language in cache order, those the fine-tuned methods train on), by Floyd's
 * algorithm then a Fisher-Yates shuffle on Philox draws (run seed, step = the test example's index in
 * test.bin, stream MM_RNG_SHOTS): a pure function of (seed, test index), independent of the batch size.
 * Context: the prompt gets budget = max_positions - max_new tokens.  If it does not fit, the shots'
 * code (never their separator, summary or eos) is cut from its end, evenly: every shot keeps
 * min(its code, c) tokens for the largest c that fits, and the tokens left over go one each to the
 * first longer shots.  If not even one code token per shot fits, shots are dropped from the end.  The
 * test example's code is cut (keeping its start and the separator) only when it alone exceeds the
 * budget; the prompt then has no shot. */
#ifndef MMLORA_RUN_ICL_H
#define MMLORA_RUN_ICL_H
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>
#include "data/cache.h"
#include "io/tokenizer.h"
#include "model/model.h"
#include "train/run.h"

/* one-shot / few-shot defaults on a copy of the run options: eval_per_lang = 50 (the paper's 50 test
 * samples per language; a scale preset below 50 is kept, e.g. smoke's 4) unless eval_per_lang was set */
void mm_icl_defaults(mm_run_opts *o);

/* k distinct values of [0, n) for the test example test_index; -1 (mm_fail) if k > n or k < 1 */
int mm_icl_draw(uint64_t seed, uint64_t test_index, size_t n, int k, size_t *out);

/* training pool per language: cache indices of the first max_per_lang (0: all) examples of each */
typedef struct {
    size_t *idx[MM_CACHE_MAX_LANGS];
    size_t n[MM_CACHE_MAX_LANGS];
} mm_icl_pool;
void mm_icl_pool_init(mm_icl_pool *p, const mm_cache *train, long max_per_lang);
void mm_icl_pool_free(mm_icl_pool *p);
/* the k shots (train cache indices, prompt order) of test example test_index of language lang */
int mm_icl_shots(const mm_icl_pool *p, int lang, uint64_t seed, uint64_t test_index, int k, size_t *out);

typedef struct {
    int len;             /* prompt tokens */
    int shots;           /* shots in the prompt (k minus those dropped) */
    int shot_code_cut;   /* code tokens cut from the shots */
    int test_code_cut;   /* code tokens cut from the test example (only when it alone is too long) */
} mm_icl_prompt;

/* Writes the prompt (at most budget ids) to out.  Each example's ids[n_src - n_sep .. n_src) is its
 * separator.  -1 (mm_fail) when the budget cannot hold the separator and one code token. */
int mm_icl_build_prompt(const mm_cache_example *shots, int k, const mm_cache_example *test, int n_sep, int budget,
                        int32_t *out, mm_icl_prompt *info);

/* Generation phase of a one-shot / few-shot run (called by mm_run after the model and caches are
 * loaded): gold/<lang>.txt and predictions/<lang>.txt for the first eval_per_lang test examples of each
 * language, the same examples (ids) the trained methods score.  *stats (run.json "in_context") is set
 * on success. */
int mm_icl_generate(const mm_run_opts *o, const mm_kernels *kt, const mm_model *m, const mm_tokenizer *tok, const mm_cache *train,
                    const mm_cache *test, const char *cache_dir, cJSON **stats);
#endif
