/* One-shot / few-shot in-context baselines (train/run_icl.h): shot draws, prompt layout and fitting,
 * greedy generation with the base model. */
#include "train/run_icl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "infer/generate.h"
#include "kernels.h"
#include "train/run_dir.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/philox.h"

enum { ICL_EVAL_DEFAULT = 50 }; /* the paper: 50 test samples per language for the prompted LLMs */

void mm_icl_defaults(mm_run_opts *o) {
    for (int i = 0; i < o->n_sets; i++)
        if (!strncmp(o->sets[i], "eval_per_lang=", 14)) return; /* set explicitly: kept */
    if (o->eval_per_lang <= 0 || o->eval_per_lang > ICL_EVAL_DEFAULT) o->eval_per_lang = ICL_EVAL_DEFAULT;
}

/* ------------------------------------------------------------------ shots */
static uint64_t draw_u64(uint64_t seed, uint64_t test_index, uint64_t i) {
    const uint32_t st = mm_rng_stream(-1, MM_RNG_SHOTS);
    return ((uint64_t)mm_rng_u32(seed, (uint32_t)test_index, st, 2 * i) << 32) |
           mm_rng_u32(seed, (uint32_t)test_index, st, 2 * i + 1);
}

int mm_icl_draw(uint64_t seed, uint64_t test_index, size_t n, int k, size_t *out) {
    if (k < 1 || (size_t)k > n) return mm_fail("cannot draw %d distinct examples out of %zu", k, n);
    /* Floyd's algorithm: a uniform k-subset with exactly k draws */
    int m = 0;
    for (size_t j = n - (size_t)k; j < n; j++, m++) {
        size_t t = (size_t)(draw_u64(seed, test_index, (uint64_t)m) % (j + 1));
        for (int q = 0; q < m; q++)
            if (out[q] == t) { t = j; break; }
        out[m] = t;
    }
    /* then a uniform order (Fisher-Yates, draws k .. 2k-2) */
    for (int i = k - 1; i > 0; i--) {
        size_t j = (size_t)(draw_u64(seed, test_index, (uint64_t)(k + i)) % (uint64_t)(i + 1));
        size_t x = out[i];
        out[i] = out[j];
        out[j] = x;
    }
    return 0;
}

void mm_icl_pool_init(mm_icl_pool *p, const mm_cache *train, long max_per_lang) {
    memset(p, 0, sizeof *p);
    size_t total = mm_cache_count(train), cap[MM_CACHE_MAX_LANGS] = {0};
    for (size_t i = 0; i < total; i++) {
        mm_cache_example ex;
        if (mm_cache_get(train, i, &ex) || ex.lang < 0 || ex.lang >= MM_CACHE_MAX_LANGS) continue;
        const int l = ex.lang;
        if (max_per_lang > 0 && p->n[l] >= (size_t)max_per_lang) continue;
        if (p->n[l] == cap[l]) p->idx[l] = mm_xrealloc(p->idx[l], sizeof(size_t) * (cap[l] = cap[l] ? 2 * cap[l] : 64));
        p->idx[l][p->n[l]++] = i;
    }
}

void mm_icl_pool_free(mm_icl_pool *p) {
    for (int l = 0; l < MM_CACHE_MAX_LANGS; l++) free(p->idx[l]);
    memset(p, 0, sizeof *p);
}

int mm_icl_shots(const mm_icl_pool *p, int lang, uint64_t seed, uint64_t test_index, int k, size_t *out) {
    if (lang < 0 || lang >= MM_CACHE_MAX_LANGS) return mm_fail("language id %d out of range", lang);
    if (mm_icl_draw(seed, test_index, p->n[lang], k, out)) return -1;
    for (int i = 0; i < k; i++) out[i] = p->idx[lang][out[i]];
    return 0;
}

/* ------------------------------------------------------------------ prompt */
static int32_t *put(int32_t *o, const int32_t *ids, int n) {
    if (n > 0) memcpy(o, ids, sizeof(int32_t) * (size_t)n);
    return o + (n > 0 ? n : 0);
}

int mm_icl_build_prompt(const mm_cache_example *shots, int k, const mm_cache_example *test, int n_sep, int budget,
                        int32_t *out, mm_icl_prompt *info) {
    memset(info, 0, sizeof *info);
    if (n_sep < 0 || test->n_src < n_sep || test->n_src < 1) return mm_fail("icl prompt: malformed test example");
    for (int s = 0; s < k; s++)
        if (shots[s].n_src < n_sep || shots[s].n_tok < shots[s].n_src) return mm_fail("icl prompt: malformed shot %d", s);
    if (budget < n_sep + 1)
        return mm_fail("icl prompt: a budget of %d tokens cannot hold the separator (%d) and a code token", budget, n_sep);
    const int tsrc = test->n_src;
    if (tsrc > budget) { /* the test example alone is too long: its code is cut, no shot fits */
        int code = budget - n_sep;
        int32_t *o = put(out, test->ids, code);
        o = put(o, test->ids + tsrc - n_sep, n_sep);
        info->len = (int)(o - out);
        info->test_code_cut = tsrc - budget;
        return 0;
    }
    /* shots that can keep at least one code token each; the last ones are dropped otherwise */
    int kk = k;
    long avail = 0, total_code = 0;
    for (;; kk--) {
        long fixed = tsrc;
        total_code = 0;
        for (int s = 0; s < kk; s++) {
            fixed += n_sep + (shots[s].n_tok - shots[s].n_src);
            total_code += shots[s].n_src - n_sep;
        }
        avail = budget - fixed;
        if (kk == 0 || avail >= kk) break;
    }
    int cap[256];
    if (kk > (int)(sizeof cap / sizeof cap[0])) return mm_fail("icl prompt: at most 256 shots");
    if (total_code <= avail) {
        for (int s = 0; s < kk; s++) cap[s] = shots[s].n_src - n_sep;
    } else { /* the largest c with sum min(code_s, c) <= avail, then the remainder one token each */
        long lo = 0, hi = 0;
        for (int s = 0; s < kk; s++) hi = hi > shots[s].n_src - n_sep ? hi : shots[s].n_src - n_sep;
        while (lo < hi) {
            long c = (lo + hi + 1) / 2, used = 0;
            for (int s = 0; s < kk; s++) used += shots[s].n_src - n_sep < c ? shots[s].n_src - n_sep : c;
            if (used <= avail) lo = c;
            else hi = c - 1;
        }
        long rem = avail;
        for (int s = 0; s < kk; s++) {
            int code = shots[s].n_src - n_sep;
            cap[s] = code < lo ? code : (int)lo;
            rem -= cap[s];
        }
        for (int s = 0; s < kk && rem > 0; s++)
            if (shots[s].n_src - n_sep > cap[s]) { cap[s]++; rem--; }
    }
    int32_t *o = out;
    for (int s = 0; s < kk; s++) {
        const mm_cache_example *e = &shots[s];
        o = put(o, e->ids, cap[s]);
        o = put(o, e->ids + e->n_src - n_sep, e->n_tok - e->n_src + n_sep); /* separator, summary, eos */
        info->shot_code_cut += e->n_src - n_sep - cap[s];
    }
    o = put(o, test->ids, tsrc);
    info->len = (int)(o - out);
    info->shots = kk;
    return 0;
}

/* ------------------------------------------------------------------ generation */

typedef struct {
    long prompts, truncated, shots_dropped, test_cut, tokens, max_tokens;
} icl_totals;

static int generate_lang(const mm_run_opts *o, const mm_kernels *kt, const mm_model *m, const mm_tokenizer *tok, const mm_cache *train,
                         const mm_cache *test, const char *cache_dir, const mm_icl_pool *pool, int lang, int max_len,
                         icl_totals *tot) {
    const mm_cache_header *h = mm_cache_header_get(test);
    const char *name = h->lang_names[lang];
    const int k = o->method.shots, budget = max_len - o->max_new, G = o->gen_batch;
    size_t *sel, n;
    int rc = mm_eval_select(test, lang, name, o->eval_per_lang, cache_dir, o->out_dir, &sel, &n);
    if (rc || !n) return rc;
    const int max_rows = G * (o->max_source + h->n_sep) > G ? G * (o->max_source + h->n_sep) : G;
    mm_generator g;
    if ((rc = mm_generator_init_dtype(&g, kt, m, NULL, G, max_len, max_rows, o->dtype))) goto out_sel;
    int32_t *pbuf = mm_xmalloc(sizeof(int32_t) * (size_t)G * (size_t)budget);
    int32_t *obuf = mm_xmalloc(sizeof(int32_t) * (size_t)G * (size_t)o->max_new);
    size_t *shot_idx = mm_xmalloc(sizeof(size_t) * (size_t)k);
    mm_cache_example *shots = mm_xmalloc(sizeof(mm_cache_example) * (size_t)k);
    mm_sbuf pred = {0};
    mm_sb_puts(&pred, "");
    for (size_t i0 = 0; i0 < n && !rc; i0 += (size_t)G) {
        int B = (int)(n - i0 < (size_t)G ? n - i0 : (size_t)G);
        const int32_t *prompts[256];
        int plen[256], olen[256];
        int32_t *outs[256];
        for (int b = 0; b < B && !rc; b++) {
            mm_cache_example ex;
            mm_cache_get(test, sel[i0 + b], &ex);
            if ((rc = mm_icl_shots(pool, lang, o->seed, sel[i0 + b], k, shot_idx))) break;
            for (int s = 0; s < k; s++) mm_cache_get(train, shot_idx[s], &shots[s]);
            int32_t *p = pbuf + (size_t)b * budget;
            mm_icl_prompt info;
            if ((rc = mm_icl_build_prompt(shots, k, &ex, h->n_sep, budget, p, &info))) break;
            prompts[b] = p;
            plen[b] = info.len;
            outs[b] = obuf + (size_t)b * o->max_new;
            tot->prompts++;
            tot->tokens += info.len;
            if (info.len > tot->max_tokens) tot->max_tokens = info.len;
            if (info.shot_code_cut || info.shots < k) tot->truncated++;
            tot->shots_dropped += k - info.shots;
            if (info.test_code_cut) tot->test_cut++;
        }
        if (rc || (rc = mm_generate_greedy(&g, prompts, plen, B, o->max_new, h->eos_id, outs, olen))) break;
        for (int b = 0; b < B; b++) {
            char *txt = mm_tokenizer_decode(tok, outs[b], (size_t)olen[b], 1);
            mm_prediction_add(&pred, sel[i0 + b], txt);
            free(txt);
        }
    }
    if (!rc) {
        char path[2048];
        snprintf(path, sizeof path, "%s/predictions/%s.txt", o->out_dir, name);
        rc = mm_sb_write(&pred, path);
        mm_info("[%s] %zu predictions for %s", o->method.name, n, name);
    }
    mm_sb_free(&pred);
    free(shots);
    free(shot_idx);
    free(obuf);
    free(pbuf);
    mm_generator_free(&g);
out_sel:
    free(sel);
    return rc;
}

int mm_icl_generate(const mm_run_opts *o, const mm_kernels *kt, const mm_model *m, const mm_tokenizer *tok, const mm_cache *train,
                    const mm_cache *test, const char *cache_dir, cJSON **stats) {
    *stats = NULL;
    const mm_cache_header *h = mm_cache_header_get(test);
    const int k = o->method.shots, max_pos = m->cfg.max_pos;
    if (k < 1) return mm_fail("%s: --set shots=%d: shots must be >= 1", o->method.name, k);
    if (o->gen_batch < 1 || o->gen_batch > 256) return mm_fail("gen_batch %d must be in [1, 256]", o->gen_batch);
    if (max_pos <= o->max_new + h->n_sep)
        return mm_fail("%s: max_new %d leaves no room for a prompt in the model's %d positions", o->model_dir,
                       o->max_new, max_pos);
    /* the longest prompt the caches allow, so that the KV cache stays small for long-context models */
    long longest = (long)k * (o->max_source + h->n_sep + o->max_target + 1) + o->max_source + h->n_sep;
    int max_len = longest + o->max_new < max_pos ? (int)(longest + o->max_new) : max_pos;
    mm_icl_pool pool;
    mm_icl_pool_init(&pool, train, o->train_per_lang);
    /* every language's pool must hold `shots` examples: checked before any work */
    int rc = 0;
    for (int l = 0; l < h->n_langs && !rc; l++)
        if (h->lang[l].n_examples && pool.n[l] < (size_t)k)
            rc = mm_fail("%s: --set shots=%d but %s has only %zu training example%s to draw from (train_per_lang %ld, "
                         "fraction %g)", o->method.name, k, h->lang_names[l], pool.n[l], pool.n[l] == 1 ? "" : "s",
                         o->train_per_lang, o->fraction);
    mm_info("%s: %d training example%s of the same language per prompt, prompt budget %d tokens (%d positions - "
            "max_new %d; these caches allow at most %d), %ld test examples per language", o->method.name, k,
            k == 1 ? "" : "s", max_pos - o->max_new, max_pos, o->max_new, max_len - o->max_new, o->eval_per_lang);
    icl_totals tot = {0};
    for (int l = 0; l < h->n_langs && !rc; l++)
        rc = generate_lang(o, kt, m, tok, train, test, cache_dir, &pool, l, max_len, &tot);
    mm_icl_pool_free(&pool);
    if (rc) return -1;
    if (tot.truncated || tot.test_cut)
        mm_info("%s: %ld of %ld prompts cut to fit (%ld shots dropped, %ld test sources cut)", o->method.name,
                tot.truncated, tot.prompts, tot.shots_dropped, tot.test_cut);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "shots", k);
    cJSON_AddStringToObject(j, "pool", "the first train_per_lang training examples of the test example's language");
    cJSON_AddNumberToObject(j, "prompt_budget", max_pos - o->max_new);
    cJSON_AddNumberToObject(j, "prompts", (double)tot.prompts);
    cJSON_AddNumberToObject(j, "mean_prompt_tokens", tot.prompts ? (double)tot.tokens / (double)tot.prompts : 0.0);
    cJSON_AddNumberToObject(j, "max_prompt_tokens", (double)tot.max_tokens);
    cJSON_AddNumberToObject(j, "prompts_cut", (double)tot.truncated);
    cJSON_AddNumberToObject(j, "shots_dropped", (double)tot.shots_dropped);
    cJSON_AddNumberToObject(j, "test_sources_cut", (double)tot.test_cut);
    *stats = j;
    return 0;
}
