/* prepare: tokenization, sequence assembly, cache build / reuse, statistics.  See prepare.h. */
#include "data/prepare.h"
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "data/subset.h"
#include "data/xlcost.h"
#include "util/fileio.h"
#include "util/log.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void ids_reserve(mm_ids *v, size_t n) {
    if (v->cap < n) {
        v->cap = n < 64 ? 64 : n * 2;
        v->ids = mm_xrealloc(v->ids, v->cap * sizeof *v->ids);
    }
}

int mm_assemble(const mm_seq_spec *sp, const char *src, const char *tgt, mm_ids *scratch, mm_ids *out,
                int *n_src, int *src_full, int *tgt_full) {
    out->n = 0;
    if (sp->encode(sp->ctx, src, strlen(src), out) < 0) return -1;
    *src_full = (int)out->n;
    if (out->n > (size_t)sp->max_source) out->n = (size_t)sp->max_source;
    ids_reserve(out, out->n + (size_t)sp->n_sep);
    memcpy(out->ids + out->n, sp->sep_ids, (size_t)sp->n_sep * sizeof(int32_t));
    out->n += (size_t)sp->n_sep;
    *n_src = (int)out->n;
    scratch->n = 0;
    if (sp->encode(sp->ctx, tgt, strlen(tgt), scratch) < 0) return -1;
    *tgt_full = (int)scratch->n;
    size_t nt = scratch->n > (size_t)sp->max_target ? (size_t)sp->max_target : scratch->n;
    ids_reserve(out, out->n + nt + 1);
    memcpy(out->ids + out->n, scratch->ids, nt * sizeof(int32_t));
    out->n += nt;
    out->ids[out->n++] = sp->eos_id;
    return 0;
}

const char *mm_prepare_dataset_name(const mm_load_opts *o) {
    if (o->kind == MM_DS_XLCOST) return o->xlcost_level == MM_XLCOST_SNIPPET ? "xlcost-snippet" : "xlcost";
    return mm_lang_table_get(o->kind)->name;
}

void mm_prepare_cache_dir(const mm_prepare_opts *o, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "%s/%s%s-%.12s-s%d-t%d", o->cache_root, mm_prepare_dataset_name(&o->load),
                     o->load.kind == MM_DS_XLCOST && o->load.py_layout ? "-pylayout" : "",
                     o->spec.tokenizer_sha256, o->spec.max_source, o->spec.max_target);
    if (o->fraction < 1.0 && n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, "-f%g-seed%llu", o->fraction, (unsigned long long)o->seed);
    if (o->load.lang_mask && n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, "-L%x", o->load.lang_mask);
}

/* sha256 hex of everything split s's content depends on */
static void fingerprint(const mm_prepare_opts *o, int split, char hex[65]) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char buf[2048];
    const mm_seq_spec *sp = &o->spec;
    int n = snprintf(buf, sizeof buf, "v%u|%s|%x|%d|%d|%s|%d|%d|%d|%d|%.17g|%llu|%s|", MM_CACHE_VERSION,
                     mm_prepare_dataset_name(&o->load), o->load.lang_mask, o->load.py_layout, split, sp->tokenizer_sha256,
                     sp->max_source, sp->max_target, sp->eos_id, sp->n_sep, split == MM_SPLIT_TRAIN ? o->fraction : 1.0,
                     split == MM_SPLIT_TRAIN ? (unsigned long long)o->seed : 0ull, sp->sep_text ? sp->sep_text : "");
    EVP_DigestUpdate(md, buf, (size_t)n);
    EVP_DigestUpdate(md, sp->sep_ids, (size_t)sp->n_sep * sizeof(int32_t));
    const mm_lang_table *t = mm_lang_table_get(o->load.kind);
    for (int l = 0; l < t->n_langs; l++) {
        char f1[1024], f2[1024];
        if (!mm_dataset_lang_on(&o->load, l)) continue;
        mm_dataset_files(&o->load, l, split, f1, f2, sizeof f1);
        const char *fs[2] = {f1, f2};
        for (int k = 0; k < 2; k++) {
            struct stat st;
            if (!fs[k][0] || stat(fs[k], &st) != 0) continue;
            n = snprintf(buf, sizeof buf, "%s|%lld|%lld.%09ld|", fs[k], (long long)st.st_size,
                         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
            EVP_DigestUpdate(md, buf, (size_t)n);
        }
    }
    unsigned char d[32];
    unsigned dl = 0;
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static void gold_path(const char *dir, int split, const char *lang, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/gold/%s.%s.txt", dir, mm_split_name(split), lang);
}

/* 1 if dir/<split>.bin is a complete cache with this fingerprint and all its gold files exist */
static int cache_valid(const char *dir, int split, const char *fp) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.bin", dir, mm_split_name(split));
    if (!mm_file_exists(path)) return 0;
    mm_cache *c = mm_cache_open(path);
    if (!c) {
        mm_warn("prepare: rebuilding %s (%s)", path, mm_last_error());
        return 0;
    }
    const mm_cache_header *h = mm_cache_header_get(c);
    int ok = !strcmp(h->fingerprint, fp) && h->split == split;
    for (int l = 0; ok && l < h->n_langs; l++) {
        gold_path(dir, split, h->lang_names[l], path, sizeof path);
        ok = mm_file_exists(path);
    }
    if (!ok) mm_info("prepare: %s/%s.bin is stale (inputs or options changed): rebuilding", dir, mm_split_name(split));
    mm_cache_close(c);
    return ok;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static void percentiles(int32_t *v, size_t n, int32_t out[5]) {
    static const double P[4] = {0.50, 0.90, 0.95, 0.99};
    memset(out, 0, 5 * sizeof *out);
    if (!n) return;
    qsort(v, n, sizeof *v, cmp_i32);
    for (int i = 0; i < 4; i++) {   /* nearest rank */
        size_t r = (size_t)ceil(P[i] * (double)n);
        out[i] = v[r ? r - 1 : 0];
    }
    out[4] = v[n - 1];
}

typedef struct {
    char *buf;
    size_t n, cap;
} strbuf;

static void sb_add(strbuf *s, const char *a, size_t la) {
    if (s->n + la + 1 > s->cap) s->buf = mm_xrealloc(s->buf, s->cap = (s->n + la + 1) * 2);
    memcpy(s->buf + s->n, a, la);
    s->n += la;
    s->buf[s->n] = 0;
}

enum { CHUNK = 8192 };

static int build_split(const mm_prepare_opts *o, const char *dir, int split, const char *fp, mm_prepare_result *res,
                       double t_start, uint64_t bytes_total, uint64_t *bytes_done) {
    const mm_lang_table *t = mm_lang_table_get(o->load.kind);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.bin", dir, mm_split_name(split));
    mm_cache_header proto = {0};
    proto.split = split;
    proto.max_source = o->spec.max_source;
    proto.max_target = o->spec.max_target;
    proto.eos_id = o->spec.eos_id;
    proto.n_sep = o->spec.n_sep;
    memcpy(proto.sep_ids, o->spec.sep_ids, sizeof proto.sep_ids);
    proto.n_langs = t->n_langs;
    for (int l = 0; l < t->n_langs; l++) snprintf(proto.lang_names[l], sizeof proto.lang_names[l], "%s", t->langs[l]);
    snprintf(proto.dataset, sizeof proto.dataset, "%s", mm_prepare_dataset_name(&o->load));
    snprintf(proto.tokenizer_sha256, sizeof proto.tokenizer_sha256, "%s", o->spec.tokenizer_sha256);
    snprintf(proto.sep_text, sizeof proto.sep_text, "%s", o->spec.sep_text ? o->spec.sep_text : "");
    snprintf(proto.fingerprint, sizeof proto.fingerprint, "%s", fp);
    proto.fraction = split == MM_SPLIT_TRAIN ? o->fraction : 1.0;
    proto.seed = split == MM_SPLIT_TRAIN ? o->seed : 0;
    mm_cache_writer *w = mm_cache_writer_open(path, &proto);
    if (!w) return -1;
    mm_cache_header *h = mm_cache_writer_header(w);
    strbuf gold[MM_CACHE_MAX_LANGS] = {{0}};
    mm_ids *outs = mm_xcalloc(CHUNK, sizeof *outs);
    int32_t *meta = mm_xmalloc(CHUNK * 3 * sizeof *meta);
    int rc = 0;
    double last = 0;
    for (int l = 0; l < t->n_langs && rc == 0; l++) {
        mm_example_set s = {0};
        char f1[1024], f2[1024];
        mm_dataset_files(&o->load, l, split, f1, f2, sizeof f1);
        struct stat st;
        uint64_t fbytes = 0;
        if (!mm_dataset_lang_on(&o->load, l)) f1[0] = f2[0] = 0;
        if (stat(f1, &st) == 0) fbytes += (uint64_t)st.st_size;
        if (f2[0] && stat(f2, &st) == 0) fbytes += (uint64_t)st.st_size;
        if (mm_dataset_load(&o->load, l, split, &s, &res->bad[split]) < 0) {
            mm_examples_free(&s);
            rc = -1;
            break;
        }
        if (split == MM_SPLIT_TRAIN && o->fraction < 1.0) mm_subset_apply(&s, o->fraction, o->seed);
        mm_cache_lang_stats *ls = &h->lang[l];
        int32_t *src_len = mm_xmalloc((s.n ? s.n : 1) * sizeof *src_len);
        int32_t *tgt_len = mm_xmalloc((s.n ? s.n : 1) * sizeof *tgt_len);
        for (size_t c0 = 0; c0 < s.n && rc == 0; c0 += CHUNK) {
            size_t cn = s.n - c0 < CHUNK ? s.n - c0 : CHUNK;
            int fail = 0;
#pragma omp parallel
            {
                mm_ids scratch = {0};
#pragma omp for schedule(dynamic, 32)
                for (size_t i = 0; i < cn; i++) {
                    const mm_example *e = &s.ex[c0 + i];
                    if (mm_assemble(&o->spec, e->src, e->tgt, &scratch, &outs[i], &meta[3 * i], &meta[3 * i + 1],
                                    &meta[3 * i + 2]) < 0) {
#pragma omp atomic write
                        fail = 1;
                    }
                }
                free(scratch.ids);
            }
            if (fail) {
                rc = mm_fail("prepare: tokenizer failed on %s %s", t->langs[l], mm_split_name(split));
                break;
            }
            for (size_t i = 0; i < cn && rc == 0; i++) {
                const mm_example *e = &s.ex[c0 + i];
                char idx[32];
                int li = snprintf(idx, sizeof idx, "%llu\t", (unsigned long long)h->n_examples);
                sb_add(&gold[l], idx, (size_t)li);
                sb_add(&gold[l], e->tgt, strlen(e->tgt));
                sb_add(&gold[l], "\n", 1);
                rc = mm_cache_writer_add(w, l, e->line, meta[3 * i], outs[i].ids, (int)outs[i].n);
                ls->n_examples++;
                ls->n_tokens += outs[i].n;
                ls->text_bytes += strlen(e->src) + strlen(e->tgt);
                src_len[c0 + i] = meta[3 * i + 1];
                tgt_len[c0 + i] = meta[3 * i + 2];
                ls->n_src_truncated += meta[3 * i + 1] > o->spec.max_source;
                ls->n_tgt_truncated += meta[3 * i + 2] > o->spec.max_target;
            }
            double tn = now_s();
            if (o->progress && tn - last > (o->progress == 1 ? 1.0 : 10.0)) {
                last = tn;
                double frac = bytes_total ? ((double)*bytes_done + (double)fbytes * (double)(c0 + cn) / (double)s.n) /
                                                (double)bytes_total : 0;
                double eta = frac > 0 ? (tn - t_start) * (1 - frac) / frac : 0;
                fprintf(stderr, "%sprepare: %s %-10s %zu/%zu examples, %3.0f%% of input, ETA %.0fs   %s",
                        o->progress == 1 ? "\r" : "", mm_split_name(split), t->langs[l], c0 + cn, s.n, 100 * frac, eta,
                        o->progress == 1 ? "" : "\n");
            }
        }
        percentiles(src_len, s.n, ls->src_pct);
        percentiles(tgt_len, s.n, ls->tgt_pct);
        res->bytes_in += ls->text_bytes;
        res->examples += ls->n_examples;
        *bytes_done += fbytes;
        free(src_len);
        free(tgt_len);
        mm_examples_free(&s);
    }
    if (o->progress == 1) fprintf(stderr, "\r%100s\r", "");
    for (size_t i = 0; i < CHUNK; i++) free(outs[i].ids);
    free(outs);
    free(meta);
    if (rc == 0) {
        for (int l = 0; l < t->n_langs && rc == 0; l++) {
            gold_path(dir, split, t->langs[l], path, sizeof path);
            rc = mm_write_file_atomic(path, gold[l].buf ? gold[l].buf : "", gold[l].n);
        }
    }
    if (rc == 0) rc = mm_cache_writer_commit(w);   /* the .bin last: its presence marks a complete split */
    else mm_cache_writer_abort(w);
    for (int l = 0; l < MM_CACHE_MAX_LANGS; l++) free(gold[l].buf);
    return rc;
}

int mm_prepare_run(const mm_prepare_opts *o, mm_prepare_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = now_s();
    int mask = o->split_mask ? o->split_mask : 7;
    if (o->spec.max_source < 1 || o->spec.max_target < 1) return mm_fail("prepare: max lengths must be >= 1");
    if (o->spec.n_sep < 0 || o->spec.n_sep > MM_CACHE_MAX_SEP) return mm_fail("prepare: separator is 0..16 tokens");
    mm_prepare_cache_dir(o, res->dir, sizeof res->dir);
    char fps[3][65];
    int todo = 0;
    for (int s = 0; s < MM_N_SPLITS; s++) {
        if (!(mask & (1 << s))) continue;
        fingerprint(o, s, fps[s]);
        res->reused[s] = !o->force && cache_valid(res->dir, s, fps[s]);
        if (!res->reused[s]) todo |= 1 << s;
    }
    if (!todo) {
        res->seconds = now_s() - t0;
        return 0;
    }
    if (mm_dataset_check(&o->load, todo, NULL, 0) < 0) return -1;
    char gdir[1200];
    snprintf(gdir, sizeof gdir, "%s/gold", res->dir);
    if (mm_mkdirs(gdir) < 0) return -1;
    uint64_t total = 0, done = 0;
    const mm_lang_table *t = mm_lang_table_get(o->load.kind);
    for (int s = 0; s < MM_N_SPLITS; s++) {
        if (!(todo & (1 << s))) continue;
        for (int l = 0; l < t->n_langs; l++) {
            char f1[1024], f2[1024];
            struct stat st;
            if (!mm_dataset_lang_on(&o->load, l)) continue;
            mm_dataset_files(&o->load, l, s, f1, f2, sizeof f1);
            if (stat(f1, &st) == 0) total += (uint64_t)st.st_size;
            if (f2[0] && stat(f2, &st) == 0) total += (uint64_t)st.st_size;
        }
    }
    res->raw_bytes = total;
    for (int s = 0; s < MM_N_SPLITS; s++) {
        if (!(todo & (1 << s))) continue;
        if (build_split(o, res->dir, s, fps[s], res, t0, total, &done) < 0) return -1;
    }
    res->seconds = now_s() - t0;
    return 0;
}

int mm_prepare_report(const char *dir, int split_mask, FILE *out) {
    mm_cache *c[3] = {0};
    int mask = split_mask ? split_mask : 7;
    for (int s = 0; s < MM_N_SPLITS; s++) {
        if (!(mask & (1 << s))) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.bin", dir, mm_split_name(s));
        if (!(c[s] = mm_cache_open(path))) {
            for (int k = 0; k < s; k++) mm_cache_close(c[k]);
            return -1;
        }
    }
    uint64_t train_total = c[0] ? mm_cache_header_get(c[0])->n_examples : 0;
    fprintf(out, "%-6s %-11s %8s %10s %6s | %-26s | %-26s | %6s %6s | %s\n", "split", "language", "examples",
            "tokens", "mean", "source p50/p90/p95/p99/max", "target p50/p90/p95/p99/max", "trS%", "trT%",
            "share of train");
    for (int s = 0; s < MM_N_SPLITS; s++) {
        if (!c[s]) continue;
        const mm_cache_header *h = mm_cache_header_get(c[s]);
        for (int l = 0; l < h->n_langs; l++) {
            const mm_cache_lang_stats *ls = &h->lang[l];
            double n = (double)ls->n_examples;
            char sp[40], tp[40], share[24] = "";
            snprintf(sp, sizeof sp, "%d/%d/%d/%d/%d", ls->src_pct[0], ls->src_pct[1], ls->src_pct[2], ls->src_pct[3],
                     ls->src_pct[4]);
            snprintf(tp, sizeof tp, "%d/%d/%d/%d/%d", ls->tgt_pct[0], ls->tgt_pct[1], ls->tgt_pct[2], ls->tgt_pct[3],
                     ls->tgt_pct[4]);
            if (s == MM_SPLIT_TRAIN && train_total)
                snprintf(share, sizeof share, "%.2f%%", 100.0 * n / (double)train_total);
            fprintf(out, "%-6s %-11s %8llu %10llu %6.1f | %-26s | %-26s | %6.2f %6.2f | %s\n", mm_split_name(s),
                    h->lang_names[l], (unsigned long long)ls->n_examples, (unsigned long long)ls->n_tokens,
                    n ? (double)ls->n_tokens / n : 0, sp, tp, n ? 100.0 * (double)ls->n_src_truncated / n : 0,
                    n ? 100.0 * (double)ls->n_tgt_truncated / n : 0, share);
        }
        fprintf(out, "%-6s %-11s %8llu %10llu\n", mm_split_name(s), "all", (unsigned long long)h->n_examples,
                (unsigned long long)h->n_tokens);
    }
    for (int s = 0; s < MM_N_SPLITS; s++) mm_cache_close(c[s]);
    return 0;
}
