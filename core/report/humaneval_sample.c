/* mmlora humaneval sample: finished runs -> a blinded, shuffled rating sheet and its key (humaneval.h). */
#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "metrics/score.h"
#include "report/hecsv.h"
#include "report/humaneval_internal.h"
#include "report/report_internal.h"
#include "report/results.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/philox.h"

const char *const MM_HE_CRITERIA[MM_HE_NCRIT] = {"Similarity", "Naturalness", "Informativeness", "Relevance"};
const char *const MM_HE_PAPER_ORDER[] = {"gpt-4 (one-shot)", "gpt-4 (few-shot)", "fpft-mix", "lora-each", "lora-mix",
                                          "mola", "mmlora", NULL};

enum { MAXM = 26, MAXRUNS = 64, HE_STREAM_PURPOSE = 253 /* model-level draws: 250-252 are taken */ };
enum { STEP_SHUFFLE_EXAMPLES = 0x10000, STEP_SHUFFLE_CANDIDATES = 0x10001 };

uint64_t mm_he_rand(uint64_t seed, uint32_t step, uint64_t index, uint64_t n) {
    const uint32_t stream = mm_rng_stream(-1, HE_STREAM_PURPOSE);
    uint64_t u = (uint64_t)mm_rng_u32(seed, step, stream, 2 * index) << 32 | mm_rng_u32(seed, step, stream, 2 * index + 1);
    return n ? u % n : 0;
}

int mm_he_is_llm(const char *label) { return strchr(label, '(') != NULL; }

const char *mm_he_display(const char *label) { return mm_he_is_llm(label) ? label : mm_report_display(label); }

typedef struct {
    char label[64], model[64], method[32];
    const mm_rep_run *run;
} he_method;

typedef struct {
    const char *lang;    /* the run's language name */
    char *id, *ref, *hyp[MAXM], *code;
} he_example;

static void trim(char *s) {
    char *a = s;
    while (isspace((unsigned char)*a)) a++;
    size_t n = strlen(a);
    while (n && isspace((unsigned char)a[n - 1])) n--;
    memmove(s, a, n);
    s[n] = 0;
}

static int add_method(he_method *m, int *n, const char *model, const char *method, const char *self_model) {
    if (*n >= MAXM) return mm_fail("humaneval: at most %d methods", MAXM);
    int known = 0;
    for (int i = 0; MM_REP_METHODS[i]; i++) known |= !strcmp(MM_REP_METHODS[i], method);
    if (!known) return mm_fail("humaneval: unknown method \"%s\" (fpft-mix, lora-each, lora-mix, mola, mmlora, one-shot, "
                               "few-shot; model:method for another model's run)", method);
    he_method *x = &m[*n];
    memset(x, 0, sizeof *x);
    snprintf(x->model, sizeof x->model, "%s", model);
    snprintf(x->method, sizeof x->method, "%s", method);
    if (!strcmp(model, self_model)) snprintf(x->label, sizeof x->label, "%s", method);
    else snprintf(x->label, sizeof x->label, "%s (%s)", model, method);
    for (int i = 0; i < *n; i++)
        if (!strcmp(m[i].label, x->label)) return mm_fail("humaneval: method %s given twice", x->label);
    (*n)++;
    return 0;
}

/* --methods "a,b,model:c": a prompted method without a model is GPT-4's (Table VI) */
static int parse_methods(const char *spec, const char *self_model, he_method *m, int *n) {
    char *s = mm_xstrdup(spec), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(s, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        trim(t);
        if (!*t) continue;
        char *colon = strchr(t, ':');
        if (colon) {
            *colon = 0;
            trim(t);
            trim(colon + 1);
            rc = add_method(m, n, t, colon + 1, self_model);
        } else {
            int llm = !strcmp(t, "one-shot") || !strcmp(t, "few-shot");
            rc = add_method(m, n, llm ? "gpt-4" : self_model, t, self_model);
        }
    }
    free(s);
    if (!rc && !*n) rc = mm_fail("humaneval: --methods names no method");
    return rc;
}

/* the runs of the methods; the default set keeps those that have one */
static int find_runs(const mm_he_sample_opts *o, const mm_rep_results *res, he_method *m, int *n, int explicit_) {
    const mm_rep_run *runs[MAXRUNS];
    int k = 0;
    char skipped[1024] = "";
    for (int i = 0; i < *n; i++) {
        int nr = mm_rep_find(res, o->rq, o->dataset, m[i].model, m[i].method, NULL, runs, MAXRUNS);
        if (!nr) {
            if (explicit_)
                return mm_fail("humaneval: no complete %s run of %s (dataset %s, model %s) under %s", o->rq, m[i].label,
                               o->dataset, m[i].model, o->results);
            size_t l = strlen(skipped);
            snprintf(skipped + l, sizeof skipped - l, "%s%.63s", l ? ", " : "", m[i].label);
            continue;
        }
        if (nr > 1) mm_info("humaneval: %s: %d runs, using the lowest seed (%ld): %s", m[i].label, nr, runs[0]->seed,
                            runs[0]->dir);
        m[k] = m[i];
        m[k++].run = runs[0];
    }
    if (skipped[0]) mm_info("humaneval: Table VI methods without a complete %s run (left out): %s", o->rq, skipped);
    *n = k;
    if (!k) return mm_fail("humaneval: no complete %s run for dataset %s, model %s under %s", o->rq, o->dataset, o->model,
                           o->results);
    return 0;
}

static int has_lang(const mm_rep_run *r, const char *lang) {
    for (int j = 0; j < r->nlang; j++)
        if (!strcmp(r->lang[j].name, lang)) return 1;
    return 0;
}

static int cmp_item_id(const void *a, const void *b) {
    const mm_score_item *x = *(const mm_score_item *const *)a, *y = *(const mm_score_item *const *)b;
    size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
    int c = memcmp(x->id, y->id, n);
    return c ? c : (x->id_len > y->id_len) - (x->id_len < y->id_len);
}

static char *span(const char *s, size_t n) {
    char *r = mm_xmalloc(n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

/* the examples of one language that every method predicted, in gold order; appended to *ex */
static int common_examples(const he_method *m, int nm, const char *lang, he_example **ex, int *nex) {
    mm_score_set set[MAXM];
    const mm_score_item **sorted[MAXM];
    int rc = 0, ok = 0;
    memset(set, 0, sizeof set);
    memset(sorted, 0, sizeof sorted);
    char gold[4096], pred[4096];
    for (int k = 0; k < nm && !rc; k++, ok++) {
        snprintf(gold, sizeof gold, "%s/gold/%s.txt", m[k].run->dir, lang);
        snprintf(pred, sizeof pred, "%s/predictions/%s.txt", m[k].run->dir, lang);
        if ((rc = mm_score_read(gold, pred, &set[k]))) break;
        sorted[k] = mm_xmalloc(sizeof(*sorted[k]) * (set[k].n ? set[k].n : 1));
        for (size_t i = 0; i < set[k].n; i++) sorted[k][i] = &set[k].items[i];
        qsort(sorted[k], set[k].n, sizeof(*sorted[k]), cmp_item_id);
    }
    for (size_t i = 0; !rc && i < set[0].n; i++) {
        const mm_score_item *a = &set[0].items[i], *hit[MAXM];
        int all = 1;
        for (int k = 0; k < nm && all; k++) {
            const mm_score_item **f = bsearch(&a, sorted[k], set[k].n, sizeof(*sorted[k]), cmp_item_id);
            hit[k] = f ? *f : NULL;
            all = f != NULL;
        }
        if (!all || !a->nref) continue;
        for (int k = 1; k < nm; k++)
            if (hit[k]->nref < 1 || hit[k]->ref_lens[0] != a->ref_lens[0] ||
                memcmp(hit[k]->refs[0], a->refs[0], a->ref_lens[0])) {
                rc = mm_fail("humaneval: %s/gold/%s.txt and %s/gold/%s.txt disagree on the reference of id %.*s: "
                             "runs of different test sets cannot be rated side by side", m[0].run->dir, lang,
                             m[k].run->dir, lang, (int)a->id_len, a->id);
                break;
            }
        if (rc) break;
        *ex = mm_xrealloc(*ex, sizeof(he_example) * (size_t)(*nex + 1));
        he_example *e = &(*ex)[(*nex)++];
        memset(e, 0, sizeof *e);
        e->lang = lang;
        e->id = span(a->id, a->id_len);
        e->ref = span(a->refs[0], a->ref_lens[0]);
        for (int k = 0; k < nm; k++) e->hyp[k] = span(hit[k]->hyp, hit[k]->hyp_len);
    }
    for (int k = 0; k < ok; k++) {
        mm_score_set_free(&set[k]);
        free(sorted[k]);
    }
    return rc;
}

static void free_example(he_example *e, int nm) {
    free(e->id);
    free(e->ref);
    free(e->code);
    for (int k = 0; k < nm; k++) free(e->hyp[k]);
}

static int write_atomic_mkdir(const char *path, mm_sbuf *b) {
    char *d = mm_xstrdup(path);
    int rc = mm_mkdirs(dirname(d));
    free(d);
    return rc ? -1 : mm_sb_write(b, path);
}

/* the code snippets of the chosen examples, from the first run whose cache opens */
static void fill_code(const mm_he_sample_opts *o, const he_method *m, int nm, he_example *ex, int n, int *n_no_code) {
    char why[1024] = "", first[1200] = "";
    he_code *c = NULL;
    for (int k = 0; k < nm && !c; k++) c = mm_he_code_open(m[k].run->dir, o->raw, why, sizeof why);
    if (!c) snprintf(first, sizeof first, "%s", why);
    for (int i = 0; i < n; i++) {
        if (c) ex[i].code = mm_he_code_get(c, ex[i].lang, ex[i].id, ex[i].ref, why, sizeof why);
        if (ex[i].code) continue;
        if (!first[0]) snprintf(first, sizeof first, "%s (%s id %s)", why, ex[i].lang, ex[i].id);
        (*n_no_code)++;
    }
    mm_he_code_close(c);
    if (*n_no_code)
        mm_warn("humaneval: the code of %d of %d examples is unavailable: their rows have the reference summary only "
                "(code column \"[code unavailable]\"); first reason: %s", *n_no_code, n, first);
}

/* <out without .csv><suffix> */
static void beside_sheet(const mm_he_sample_opts *o, const char *suffix, char *buf, size_t cap) {
    size_t n = strlen(o->out);
    if (n > 4 && !strcasecmp(o->out + n - 4, ".csv")) snprintf(buf, cap, "%.*s%s", (int)(n - 4), o->out, suffix);
    else snprintf(buf, cap, "%s%s", o->out, suffix);
}

static void key_path_of(const mm_he_sample_opts *o, char *buf, size_t cap) {
    if (o->key) snprintf(buf, cap, "%s", o->key);
    else beside_sheet(o, ".key.csv", buf, cap);
}

/* the raters' instructions: the criteria as the paper (§VI-A) defines them, the scale, the blinding */
static void write_instructions(mm_sbuf *b, const char *sheet) {
    char *s = mm_xstrdup(sheet);
    const char *name = basename(s);
    mm_sb_printf(b,
                 "# Rating instructions\n\n"
                 "Each row of `%s` pairs a code snippet (`code`) and its reference summary (`reference`) with one\n"
                 "candidate summary of that code (`candidate`).  The rows of one example (the same `example` id) are\n"
                 "consecutive: the same code with different candidates.\n\n"
                 "Rate every candidate on the four criteria below, each with a whole number from **0** (lowest) to\n"
                 "**4** (highest), written into the criterion's column:\n\n",
                 name);
    free(s);
    static const char *const DEF[MM_HE_NCRIT] = {
        "similarity with the reference summary.",
        "grammatical correctness and fluency of the summary.",
        "the amount of relevant information transferred from the input code.",
        "alignment with the input code snippet.",
    };
    for (int c = 0; c < MM_HE_NCRIT; c++) mm_sb_printf(b, "- **%s**: %s\n", MM_HE_CRITERIA[c], DEF[c]);
    mm_sb_puts(b, "\nThe names of the methods that wrote the candidates are hidden, and the candidates of an example\n"
                  "are in a random order: rate each candidate on its own.  Fill in only the four rating columns and\n"
                  "leave every other cell as it is (they are checked when the ratings are collected).  A row whose\n"
                  "code reads `[code unavailable]` shows the reference summary only.\n");
}

static int write_files(const mm_he_sample_opts *o, const he_method *m, int nm, const he_example *ex, int n,
                       mm_he_sample_result *res) {
    /* example order: a permutation of all languages' examples; candidates: a permutation per example */
    int *order = mm_xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mm_he_rand(o->seed, STEP_SHUFFLE_EXAMPLES, (uint64_t)i, (uint64_t)i + 1);
        int t = order[i]; order[i] = order[j]; order[j] = t;
    }
    mm_sbuf sheet = {0}, key = {0};
    mm_sb_puts(&sheet, "item,example,language,code,reference,candidate");
    for (int c = 0; c < MM_HE_NCRIT; c++) mm_sb_printf(&sheet, ",%s", MM_HE_CRITERIA[c]);
    mm_sb_puts(&sheet, "\r\n");
    mm_sb_puts(&key, "item,example,language,id,method,run,dataset,model,seed,candidate\r\n");
    const int width = n < 1000 ? 3 : n < 10000 ? 4 : 6;
    for (int p = 0; p < n; p++) {
        const he_example *e = &ex[order[p]];
        int perm[MAXM];
        for (int k = 0; k < nm; k++) perm[k] = k;
        for (int k = nm - 1; k > 0; k--) {
            int j = (int)mm_he_rand(o->seed, STEP_SHUFFLE_CANDIDATES, (uint64_t)p * MAXM + (uint64_t)k, (uint64_t)k + 1);
            int t = perm[k]; perm[k] = perm[j]; perm[j] = t;
        }
        char exid[16], item[24];
        snprintf(exid, sizeof exid, "E%0*d", width, p + 1);
        for (int k = 0; k < nm; k++) {
            const he_method *x = &m[perm[k]];
            snprintf(item, sizeof item, "%s-%c", exid, 'A' + k);
            mm_sb_printf(&sheet, "%s,%s,", item, exid);
            mm_hecsv_field(&sheet, mm_report_display(e->lang));
            mm_sb_puts(&sheet, ",");
            mm_hecsv_field(&sheet, e->code ? e->code : "[code unavailable]");
            mm_sb_puts(&sheet, ",");
            mm_hecsv_field(&sheet, e->ref);
            mm_sb_puts(&sheet, ",");
            mm_hecsv_field(&sheet, e->hyp[perm[k]]);
            mm_sb_puts(&sheet, ",,,,\r\n");
            mm_sb_printf(&key, "%s,%s,", item, exid);
            mm_hecsv_field(&key, e->lang);
            mm_sb_puts(&key, ",");
            mm_hecsv_field(&key, e->id);
            mm_sb_puts(&key, ",");
            mm_hecsv_field(&key, x->label);
            mm_sb_puts(&key, ",");
            mm_hecsv_field(&key, x->run->dir);
            mm_sb_printf(&key, ",%s,%s,%llu,", o->dataset, o->model, (unsigned long long)o->seed);
            mm_hecsv_field(&key, e->hyp[perm[k]]);
            mm_sb_puts(&key, "\r\n");
            res->n_rows++;
        }
    }
    free(order);
    key_path_of(o, res->key_path, sizeof res->key_path);
    int rc = 0;
    if (!strcmp(res->key_path, o->out)) rc = mm_fail("humaneval: the key and the sheet would be the same file %s", o->out);
    if (!rc) rc = write_atomic_mkdir(o->out, &sheet);
    if (!rc) rc = write_atomic_mkdir(res->key_path, &key);
    mm_sbuf ins = {0};
    beside_sheet(o, ".instructions.md", res->instructions_path, sizeof res->instructions_path);
    if (!rc && (!strcmp(res->instructions_path, o->out) || !strcmp(res->instructions_path, res->key_path)))
        rc = mm_fail("humaneval: the instructions would overwrite the sheet or the key (%s)", res->instructions_path);
    write_instructions(&ins, o->out);
    if (!rc) rc = write_atomic_mkdir(res->instructions_path, &ins);
    mm_sb_free(&ins);
    mm_sb_free(&sheet);
    mm_sb_free(&key);
    return rc;
}

int mm_he_sample(const mm_he_sample_opts *o, mm_he_sample_result *res) {
    memset(res, 0, sizeof *res);
    if (!o->dataset || !o->model || !o->out) return mm_fail("humaneval sample: --dataset, --model and --out are required");
    if (o->per_lang < 1) return mm_fail("humaneval sample: --per-lang must be at least 1");
    mm_he_sample_opts d = *o;
    if (!d.results) d.results = "results";
    if (!d.rq) d.rq = "rq1";
    if (!d.raw) d.raw = "data/raw";
    o = &d;
    he_method m[MAXM];
    int nm = 0, rc = 0;
    if (o->methods) rc = parse_methods(o->methods, o->model, m, &nm);
    else
        for (int i = 0; MM_HE_PAPER_ORDER[i] && !rc; i++) {
            const char *p = MM_HE_PAPER_ORDER[i];
            if (mm_he_is_llm(p)) rc = add_method(m, &nm, "gpt-4", strstr(p, "one-shot") ? "one-shot" : "few-shot", o->model);
            else rc = add_method(m, &nm, o->model, p, o->model);
        }
    if (rc) return -1;
    mm_rep_results r;
    if (mm_rep_load(o->results, &r)) return -1;
    he_example *ex = NULL;
    int nex = 0;
    if ((rc = find_runs(o, &r, m, &nm, o->methods != NULL))) goto out;
    res->n_methods = nm;
    const mm_rep_run *r0 = m[0].run;
    for (int l = 0; l < r0->nlang && !rc; l++) {
        const char *lang = r0->lang[l].name;
        int all = 1;
        for (int k = 1; k < nm; k++) all &= has_lang(m[k].run, lang);
        if (!all) { mm_info("humaneval: %s: not in every run, left out", lang); continue; }
        int first = nex;
        if ((rc = common_examples(m, nm, lang, &ex, &nex))) break;
        int avail = nex - first, take = avail < o->per_lang ? avail : o->per_lang;
        if (avail < o->per_lang)
            mm_warn("humaneval: %s: only %d test example(s) predicted by every method (asked for %d)", lang, avail,
                    o->per_lang);
        /* partial Fisher-Yates: the first `take` of a seeded permutation */
        for (int i = 0; i < take; i++) {
            int j = i + (int)mm_he_rand(o->seed, (uint32_t)l, (uint64_t)i, (uint64_t)(avail - i));
            he_example t = ex[first + i]; ex[first + i] = ex[first + j]; ex[first + j] = t;
        }
        for (int i = take; i < avail; i++) free_example(&ex[first + i], nm);
        nex = first + take;
        if (take) res->n_langs++;
    }
    if (!rc && !nex) rc = mm_fail("humaneval: no test example was predicted by every method (%s)", r0->dir);
    if (!rc) {
        res->n_examples = nex;
        fill_code(o, m, nm, ex, nex, &res->n_no_code);
        rc = write_files(o, m, nm, ex, nex, res);
    }
    if (!rc) {
        char list[1024] = "";
        for (int k = 0; k < nm; k++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%.63s", k ? ", " : "", m[k].label);
        }
        mm_info("humaneval: %d examples (%d languages) x %d methods = %d rows -> %s; key -> %s; rater instructions -> "
                "%s; methods: %s", nex, res->n_langs, nm, res->n_rows, o->out, res->key_path, res->instructions_path, list);
    }
out:
    for (int i = 0; i < nex; i++) free_example(&ex[i], nm);
    free(ex);
    mm_rep_free(&r);
    return rc;
}
