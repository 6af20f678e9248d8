/* Byte-level BPE trainer: pre-tokenizes the input with the very pipeline the encoder runs (StarCoder or
 * DeepSeek-Coder layout), counts pieces, then repeatedly merges the most frequent adjacent pair
 * (ties: smaller left id, then smaller right id) until the vocabulary is full.  Writes tokenizer.json. */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/tokenizer_internal.h"
#include "util/log.h"

static const char *const ST_SPECIALS[] = {
    "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
    "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>"};
/* DeepSeek-Coder: specials after the BPE vocab; special flag per entry */
static const struct { const char *s; int special; } DS_SPECIALS[] = {
    {"<｜begin▁of▁sentence｜>", 1}, {"<｜end▁of▁sentence｜>", 1}, {"<｜fim▁hole｜>", 0}, {"<｜fim▁begin｜>", 0},
    {"<｜fim▁end｜>", 0}, {"<pad>", 0}, {"<|User|>", 0}, {"<|Assistant|>", 0}, {"<|EOT|>", 1}};
enum { N_ST = sizeof ST_SPECIALS / sizeof *ST_SPECIALS, N_DS = sizeof DS_SPECIALS / sizeof *DS_SPECIALS };

static cJSON *obj(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}
static cJSON *split(const char *re) {
    cJSON *o = obj("Split"), *p = cJSON_AddObjectToObject(o, "pattern");
    cJSON_AddStringToObject(p, "Regex", re);
    cJSON_AddStringToObject(o, "behavior", "Isolated");
    cJSON_AddFalseToObject(o, "invert");
    return o;
}
static cJSON *added_json(int id, const char *s, int special) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "content", s);
    cJSON_AddFalseToObject(o, "single_word");
    cJSON_AddFalseToObject(o, "lstrip");
    cJSON_AddFalseToObject(o, "rstrip");
    cJSON_AddBoolToObject(o, "normalized", !special);
    cJSON_AddBoolToObject(o, "special", special);
    return o;
}

/* The document without vocab/merges contents (filled in later). */
static cJSON *skeleton(int ds, int first_special_id) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < (ds ? N_DS : N_ST); i++)
        cJSON_AddItemToArray(added, ds ? added_json(first_special_id + i, DS_SPECIALS[i].s, DS_SPECIALS[i].special)
                                       : added_json(first_special_id + i, ST_SPECIALS[i], 1));
    cJSON *bl = obj("ByteLevel");
    cJSON_AddFalseToObject(bl, "add_prefix_space");
    cJSON_AddTrueToObject(bl, "trim_offsets");
    cJSON_AddBoolToObject(bl, "use_regex", !ds);
    cJSON *pt = obj("Sequence"), *steps = cJSON_AddArrayToObject(pt, "pretokenizers");
    if (ds) {
        cJSON_AddItemToObject(root, "normalizer", obj("Sequence"));
        cJSON_AddArrayToObject(cJSON_GetObjectItem(root, "normalizer"), "normalizers");
        cJSON_AddItemToArray(steps, split("[\r\n]"));
        cJSON_AddItemToArray(steps, split("\\s?\\p{L}+"));
        cJSON_AddItemToArray(steps, split("\\s?\\p{P}+"));
        cJSON_AddItemToArray(steps, split("[一-龥ࠀ-一가-퟿]+"));
    } else {
        cJSON_AddNullToObject(root, "normalizer");
    }
    cJSON *dg = obj("Digits");
    cJSON_AddTrueToObject(dg, "individual_digits");
    cJSON_AddItemToArray(steps, dg);
    cJSON_AddItemToArray(steps, bl);
    cJSON_AddItemToObject(root, "pre_tokenizer", pt);
    if (ds) {   /* TemplateProcessing: BOS $A (DeepSeek-Coder's add_bos_token) */
        const char *bos = DS_SPECIALS[0].s;
        cJSON *pp = obj("TemplateProcessing"), *single = cJSON_AddArrayToObject(pp, "single");
        cJSON *pair = cJSON_AddArrayToObject(pp, "pair");
        for (int k = 0; k < 2; k++) {
            cJSON *arr = k ? pair : single;
            for (int r = 0; r < (k ? 2 : 1); r++) {
                cJSON *st = cJSON_CreateObject(), *sti = cJSON_AddObjectToObject(st, "SpecialToken");
                cJSON_AddStringToObject(sti, "id", bos);
                cJSON_AddNumberToObject(sti, "type_id", r);
                cJSON_AddItemToArray(arr, st);
                cJSON *sq = cJSON_CreateObject(), *sqi = cJSON_AddObjectToObject(sq, "Sequence");
                cJSON_AddStringToObject(sqi, "id", r ? "B" : "A");
                cJSON_AddNumberToObject(sqi, "type_id", r);
                cJSON_AddItemToArray(arr, sq);
            }
        }
        cJSON *sp = cJSON_AddObjectToObject(pp, "special_tokens"), *b = cJSON_AddObjectToObject(sp, bos);
        cJSON_AddStringToObject(b, "id", bos);
        cJSON_AddItemToObject(b, "ids", cJSON_CreateArray());
        cJSON_AddItemToArray(cJSON_GetObjectItem(b, "ids"), cJSON_CreateNumber(first_special_id));
        cJSON_AddItemToObject(b, "tokens", cJSON_CreateArray());
        cJSON_AddItemToArray(cJSON_GetObjectItem(b, "tokens"), cJSON_CreateString(bos));
        cJSON_AddItemToObject(root, "post_processor", pp);
    } else {
        cJSON *pp = obj("ByteLevel");
        cJSON_AddTrueToObject(pp, "add_prefix_space");
        cJSON_AddFalseToObject(pp, "trim_offsets");
        cJSON_AddTrueToObject(pp, "use_regex");
        cJSON_AddItemToObject(root, "post_processor", pp);
    }
    cJSON *dec = obj("ByteLevel");
    cJSON_AddTrueToObject(dec, "add_prefix_space");
    cJSON_AddTrueToObject(dec, "trim_offsets");
    cJSON_AddTrueToObject(dec, "use_regex");
    cJSON_AddItemToObject(root, "decoder", dec);
    cJSON *m = obj("BPE");
    cJSON_AddNullToObject(m, "dropout");
    cJSON_AddNullToObject(m, "unk_token");
    cJSON_AddNullToObject(m, "continuing_subword_prefix");
    cJSON_AddNullToObject(m, "end_of_word_suffix");
    cJSON_AddFalseToObject(m, "fuse_unk");
    cJSON_AddFalseToObject(m, "byte_fallback");
    cJSON_AddFalseToObject(m, "ignore_merges");
    cJSON_AddObjectToObject(m, "vocab");
    cJSON_AddArrayToObject(m, "merges");
    cJSON_AddItemToObject(root, "model", m);
    return root;
}

/* ------------------------------------------------------------------ counting */
typedef struct { int32_t *sym; int n; int64_t cnt; } word;
typedef struct {
    mm_strmap idx;    /* piece bytes -> word index (keys point into the words' own copies) */
    word *w; size_t nw, capw;
    char **keys;
    int32_t byte_tok[256];
    const mm_tokenizer *t;   /* the pre-tokenizer pipeline */
} counter;

static int count_piece(void *ud, const char *p, size_t n) {
    counter *c = ud;
    if (n > UINT32_MAX) return 0;
    int32_t i = mm_strmap_get(&c->idx, p, (uint32_t)n);
    if (i >= 0) { c->w[i].cnt++; return 0; }
    if (c->nw == c->capw) {
        c->capw = c->capw ? c->capw * 2 : 1024;
        c->w = mm_xrealloc(c->w, c->capw * sizeof *c->w);
        c->keys = mm_xrealloc(c->keys, c->capw * sizeof *c->keys);
    }
    char *k = mm_xmalloc(n);
    memcpy(k, p, n);
    word *w = &c->w[c->nw];
    w->sym = mm_xmalloc(n * sizeof *w->sym);
    w->n = (int)n;
    w->cnt = 1;
    for (size_t j = 0; j < n; j++) w->sym[j] = c->byte_tok[(unsigned char)p[j]];
    c->keys[c->nw] = k;
    mm_strmap_put(&c->idx, k, (uint32_t)n, (int32_t)c->nw, 0);
    c->nw++;
    return 0;
}
static int skip_id(void *ud, int32_t id) { (void)ud; (void)id; return 0; }
static int count_gap(void *ud, const char *p, size_t n) {
    counter *c = ud;
    return mm_tok_pretokenize(c->t, p, n, count_piece, c);
}

/* ------------------------------------------------------------------ merging */
typedef struct { int32_t a, b; int64_t cnt; int32_t *w; int nw, capw; int touched; } pinfo;
typedef struct { int64_t cnt; int32_t a, b, p; } hitem;
typedef struct {
    mm_pairmap map;   /* (a, b) -> index in p (in .id) */
    pinfo *p; size_t np, capp;
    hitem *h; size_t nh, caph;
    int32_t *touched; size_t ntouched, captouched;
} pairs;

static int hbefore(hitem x, hitem y) {
    if (x.cnt != y.cnt) return x.cnt > y.cnt;
    if (x.a != y.a) return x.a < y.a;
    return x.b < y.b;
}
static void hpush(pairs *P, hitem e) {
    if (P->nh == P->caph) P->h = mm_xrealloc(P->h, (P->caph = P->caph * 2 + 1024) * sizeof *P->h);
    size_t i = P->nh++;
    while (i > 0 && hbefore(e, P->h[(i - 1) / 2])) P->h[i] = P->h[(i - 1) / 2], i = (i - 1) / 2;
    P->h[i] = e;
}
static hitem hpop(pairs *P) {
    hitem top = P->h[0], last = P->h[--P->nh];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        hitem best = last;
        if (l < P->nh && hbefore(P->h[l], best)) m = l, best = P->h[l];
        if (r < P->nh && hbefore(P->h[r], best)) m = r;
        if (m == i) break;
        P->h[i] = P->h[m];
        i = m;
    }
    if (P->nh) P->h[i] = last;
    return top;
}
static void add_pair(pairs *P, int32_t a, int32_t b, int64_t d, int32_t wi) {
    const mm_pairmap_slot *s = mm_pairmap_get(&P->map, a, b);
    int32_t pi;
    if (s) pi = s->id;
    else {
        if (P->np == P->capp) P->p = mm_xrealloc(P->p, (P->capp = P->capp * 2 + 1024) * sizeof *P->p);
        pi = (int32_t)P->np++;
        memset(&P->p[pi], 0, sizeof P->p[pi]);
        P->p[pi].a = a, P->p[pi].b = b;
        mm_pairmap_put(&P->map, a, b, 0, pi);
    }
    pinfo *q = &P->p[pi];
    q->cnt += d;
    if (d > 0) {
        if (q->nw == q->capw) q->w = mm_xrealloc(q->w, (size_t)(q->capw = q->capw * 2 + 4) * sizeof *q->w);
        q->w[q->nw++] = wi;
        if (!q->touched) {
            q->touched = 1;
            if (P->ntouched == P->captouched)
                P->touched = mm_xrealloc(P->touched, (P->captouched = P->captouched * 2 + 256) * sizeof *P->touched);
            P->touched[P->ntouched++] = pi;
        }
    }
}
static void flush_touched(pairs *P) {
    for (size_t i = 0; i < P->ntouched; i++) {
        pinfo *q = &P->p[P->touched[i]];
        q->touched = 0;
        if (q->cnt > 0) hpush(P, (hitem){q->cnt, q->a, q->b, P->touched[i]});
    }
    P->ntouched = 0;
}

/* ------------------------------------------------------------------ driver */
static void mkdir_parents(const char *path) {   /* mkdir -p dirname(path); errors surface at fopen */
    char *p = mm_xstrdup(path);
    for (char *q = p + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(p, 0777);
            *q = '/';
        }
    free(p);
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { mm_fail("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    char *b = NULL;
    size_t cap = 0, len = 0, k;
    do {
        if (cap - len < 65536) b = mm_xrealloc(b, cap = cap * 2 + 65536);
        k = fread(b + len, 1, cap - len, f);
        len += k;
    } while (k > 0);
    fclose(f);
    *n = len;
    return b;
}

int mm_tokenizer_train(const char *const *files, int n_files, int vocab_size, const char *pretokenizer,
                       const char *out_path) {
    int ds;
    if (pretokenizer && !strcmp(pretokenizer, "starcoder")) ds = 0;
    else if (pretokenizer && !strcmp(pretokenizer, "deepseek")) ds = 1;
    else return mm_fail("--pretokenizer '%s' is not supported (supported: starcoder, deepseek)", pretokenizer ? pretokenizer : "");
    int n_spec = ds ? N_DS : N_ST;
    if (vocab_size < 256 + n_spec) return mm_fail("--vocab-size %d too small: needs at least %d (256 bytes + %d specials)", vocab_size, 256 + n_spec, n_spec);
    if (n_files < 1) return mm_fail("no --input files");
    /* token strings by id: starcoder [specials][bytes][merges], deepseek [bytes][merges][specials] */
    int base = ds ? 0 : n_spec, n_bpe = vocab_size - n_spec;
    char **tok = mm_xcalloc((size_t)vocab_size, sizeof *tok);
    uint32_t *tlen = mm_xcalloc((size_t)vocab_size, sizeof *tlen);
    /* bytes in code point order of their byte-level char (as HF's trainer orders the alphabet) */
    int order[256], no = 0;
    for (uint32_t cp = 0; cp < 0x144; cp++)
        if (mm_bytelevel_byte(cp) >= 0) order[no++] = mm_bytelevel_byte(cp);
    counter c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 256; i++) {
        int b = order[i];
        tok[base + i] = mm_xmalloc(4);
        tlen[base + i] = (uint32_t)mm_utf8_put(tok[base + i], mm_bytelevel_cp((uint8_t)b));
        c.byte_tok[b] = base + i;
    }
    /* the pipeline: load the skeleton with the bare byte vocab */
    cJSON *doc = skeleton(ds, ds ? n_bpe : 0);
    cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "model"), "vocab");
    for (int i = 0; i < 256; i++) {
        char s[8];
        memcpy(s, tok[base + i], tlen[base + i]);
        s[tlen[base + i]] = 0;
        cJSON_AddNumberToObject(vocab, s, base + i);
    }
    char *js = cJSON_PrintUnformatted(doc);
    mm_tokenizer *pipe = mm_tokenizer_load_json(js, strlen(js), "trainer pipeline");
    free(js);
    int rc = 0;
    if (!pipe) { rc = -1; goto out; }
    c.t = pipe;
    mm_strmap_init(&c.idx, 1 << 16);
    for (int f = 0; f < n_files && !rc; f++) {
        size_t n, fn;
        char *text = read_all(files[f], &n);
        if (!text) { rc = -1; break; }
        char *fixed = mm_utf8_lossy(text, n, &fn);
        if (fixed) free(text), text = fixed, n = fn;
        rc = mm_tok_split_added(pipe, text, n, 1, count_gap, skip_id, &c);
        free(text);
    }
    mm_tokenizer_free(pipe);
    c.t = NULL;
    if (rc) goto free_words;
    /* merges */
    pairs P;
    memset(&P, 0, sizeof P);
    mm_pairmap_init(&P.map, 1 << 16);
    for (size_t wi = 0; wi < c.nw; wi++)
        for (int j = 0; j + 1 < c.w[wi].n; j++) add_pair(&P, c.w[wi].sym[j], c.w[wi].sym[j + 1], c.w[wi].cnt, (int32_t)wi);
    flush_touched(&P);
    mm_strmap tokid;   /* token string -> id, to reuse an id when two merges give the same string */
    mm_strmap_init(&tokid, (size_t)vocab_size);
    for (int i = 0; i < 256; i++) mm_strmap_put(&tokid, tok[base + i], tlen[base + i], base + i, 0);
    int next_id = base + 256, limit = ds ? n_bpe : vocab_size;
    uint32_t *stamp = mm_xcalloc(c.nw ? c.nw : 1, sizeof *stamp);
    uint32_t epoch = 0;
    cJSON *merges = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "model"), "merges");
    int n_merges = 0;
    while (next_id < limit && P.nh) {
        hitem e = hpop(&P);
        pinfo *q = &P.p[e.p];
        if (e.cnt != q->cnt) continue;   /* stale: a fresher entry was pushed when it changed */
        if (q->cnt <= 0) continue;
        int32_t a = q->a, b = q->b;
        uint32_t la = tlen[a], lb = tlen[b];
        char *s = mm_xmalloc(la + lb + 1);
        memcpy(s, tok[a], la);
        memcpy(s + la, tok[b], lb);
        s[la + lb] = 0;
        int32_t nid = mm_strmap_get(&tokid, s, la + lb);
        if (nid < 0) {
            nid = next_id++;
            tok[nid] = s;
            tlen[nid] = la + lb;
            mm_strmap_put(&tokid, tok[nid], la + lb, nid, 0);
        } else {
            free(s);
        }
        cJSON *m = cJSON_CreateArray();
        char *sa = strndup(tok[a], la), *sb = strndup(tok[b], lb);
        cJSON_AddItemToArray(m, cJSON_CreateString(sa));
        cJSON_AddItemToArray(m, cJSON_CreateString(sb));
        free(sa);
        free(sb);
        cJSON_AddItemToArray(merges, m);
        n_merges++;
        /* rewrite every word holding (a, b): remove its pairs, merge, add them back */
        epoch++;
        int32_t *wl = q->w;
        int nwl = q->nw;
        q->w = NULL, q->nw = q->capw = 0;
        for (int k = 0; k < nwl; k++) {
            int32_t wi = wl[k];
            if (stamp[wi] == epoch) continue;
            stamp[wi] = epoch;
            word *w = &c.w[wi];
            int has = 0;
            for (int j = 0; j + 1 < w->n && !has; j++) has = w->sym[j] == a && w->sym[j + 1] == b;
            if (!has) continue;
            for (int j = 0; j + 1 < w->n; j++) add_pair(&P, w->sym[j], w->sym[j + 1], -w->cnt, wi);
            int o = 0;
            for (int j = 0; j < w->n; j++) {
                if (j + 1 < w->n && w->sym[j] == a && w->sym[j + 1] == b) w->sym[o++] = nid, j++;
                else w->sym[o++] = w->sym[j];
            }
            w->n = o;
            for (int j = 0; j + 1 < w->n; j++) add_pair(&P, w->sym[j], w->sym[j + 1], w->cnt, wi);
        }
        free(wl);
        flush_touched(&P);
    }
    free(stamp);
    mm_strmap_free(&tokid);
    for (size_t i = 0; i < P.np; i++) free(P.p[i].w);
    free(P.p);
    free(P.h);
    free(P.touched);
    mm_pairmap_free(&P.map);
    /* vocab: bytes are already in; merges' tokens; specials (they are also in the vocab, as HF writes) */
    for (int i = base + 256; i < next_id; i++) {
        char *s = strndup(tok[i], tlen[i]);
        cJSON_AddNumberToObject(vocab, s, i);
        free(s);
    }
    {
        int first = ds ? next_id : 0;
        if (ds && first != n_bpe) {   /* fewer merges than asked: move the specials down */
            cJSON *added = cJSON_GetObjectItem(doc, "added_tokens"), *e;
            int k = 0;
            cJSON_ArrayForEach(e, added) cJSON_SetNumberValue(cJSON_GetObjectItem(e, "id"), first + k++);
            cJSON *ids = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
                cJSON_GetObjectItem(doc, "post_processor"), "special_tokens"), DS_SPECIALS[0].s), "ids");
            cJSON_SetNumberValue(cJSON_GetArrayItem(ids, 0), first);
        }
        cJSON *tmp = cJSON_CreateObject();   /* rebuild vocab in id order: specials first for StarCoder */
        for (int i = 0; i < n_spec && !ds; i++) cJSON_AddNumberToObject(tmp, ST_SPECIALS[i], i);
        cJSON *e;
        cJSON_ArrayForEach(e, vocab) cJSON_AddNumberToObject(tmp, e->string, e->valuedouble);
        for (int i = 0; i < n_spec && ds; i++) cJSON_AddNumberToObject(tmp, DS_SPECIALS[i].s, first + i);
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "model"), "vocab", tmp);
    }
    js = cJSON_PrintUnformatted(doc);
    mkdir_parents(out_path);
    FILE *f = fopen(out_path, "wb");
    if (!f) rc = mm_fail("%s: cannot write: %s", out_path, strerror(errno));
    else {
        size_t jl = strlen(js);
        if (fwrite(js, 1, jl, f) != jl || fputc('\n', f) == EOF) rc = mm_fail("%s: write error", out_path);
        if (fclose(f)) rc = mm_fail("%s: write error", out_path);
    }
    free(js);
    if (!rc) mm_info("tokenizer train: %zu distinct pieces, %d merges, vocab %d -> %s", c.nw, n_merges,
                     next_id + (ds ? n_spec : 0), out_path);
free_words:
    for (size_t i = 0; i < c.nw; i++) free(c.w[i].sym), free(c.keys[i]);
    free(c.w);
    free(c.keys);
    mm_strmap_free(&c.idx);
out:
    for (int i = 0; i < vocab_size; i++) free(tok[i]);
    free(tok);
    free(tlen);
    cJSON_Delete(doc);
    return rc;
}
