/* Encode / decode / batch encode over the loaded pipeline (tokenizer_load.c, tokenizer_pretok.c,
 * tokenizer_bpe.c).  Input bytes that are not valid UTF-8 are first replaced by U+FFFD per maximal
 * invalid subpart, exactly as Python's bytes.decode("utf-8", errors="replace") (HF only sees str). */
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer_internal.h"
#include "util/log.h"

typedef struct { const mm_tokenizer *t; mm_ids *out; int err; } ectx;

static int on_piece(void *ud, const char *p, size_t n) {
    ectx *c = ud;
    return mm_tok_bpe(c->t, (const unsigned char *)p, n, c->out);
}
static int on_gap(void *ud, const char *p, size_t n) {
    ectx *c = ud;
    return mm_tok_pretokenize(c->t, p, n, on_piece, c);
}
static int on_id(void *ud, int32_t id) {
    ectx *c = ud;
    return mm_ids_push(c->out, id);
}

int mm_tokenizer_encode(const mm_tokenizer *t, const char *text, size_t len, int flags, mm_ids *out) {
    if (!t || !out || (!text && len)) return mm_fail("mm_tokenizer_encode: NULL argument");
    size_t fixed_n = 0;
    char *fixed = len ? mm_utf8_lossy(text, len, &fixed_n) : NULL;
    if (fixed) text = fixed, len = fixed_n;
    ectx c = {t, out, 0};
    if (flags & MM_TOK_ADD_SPECIAL)
        for (int i = 0; i < t->n_pre; i++) mm_ids_push(out, t->pre_ids[i]);
    int rc = len ? mm_tok_split_added(t, text, len, flags & MM_TOK_PARSE_SPECIAL, on_gap, on_id, &c) : 0;
    if (flags & MM_TOK_ADD_SPECIAL)
        for (int i = 0; i < t->n_post; i++) mm_ids_push(out, t->post_ids[i]);
    free(fixed);
    return rc ? -1 : 0;
}

char *mm_tokenizer_decode(const mm_tokenizer *t, const int32_t *ids, size_t n, int skip_special) {
    size_t len;
    return mm_tokenizer_decode_len(t, ids, n, skip_special, &len);
}

char *mm_tokenizer_decode_len(const mm_tokenizer *t, const int32_t *ids, size_t n, int skip_special, size_t *outlen) {
    size_t cap = 64, len = 0;
    char *bytes = mm_xmalloc(cap);
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->id_str[id]) continue;   /* unknown ids are dropped, as HF */
        if (skip_special && t->id_special[id]) continue;
        const char *s = t->id_str[id];
        uint32_t sl = t->id_len[id];
        if (len + sl + 2 > cap) bytes = mm_xrealloc(bytes, cap = (len + sl + 2) * 2);
        if (!t->decoder_bytelevel) {   /* no decoder: tokens joined with spaces */
            if (len) bytes[len++] = ' ';
            memcpy(bytes + len, s, sl);
            len += sl;
            continue;
        }
        /* ByteLevel: every char through the inverse table; a token with any char outside the table
         * contributes its UTF-8 bytes unchanged */
        size_t k = len, j = 0;
        int ok_all = 1;
        while (j < sl) {
            uint32_t cp;
            int ok;
            j += mm_utf8_next((const unsigned char *)s + j, sl - j, &cp, &ok);
            int b = ok ? mm_bytelevel_byte(cp) : -1;
            if (b < 0) { ok_all = 0; break; }
            bytes[k++] = (char)b;
        }
        if (ok_all) len = k;
        else memcpy(bytes + len, s, sl), len += sl;
    }
    size_t outn;
    char *fixed = mm_utf8_lossy(bytes, len, &outn);
    if (fixed) { free(bytes); *outlen = outn; return fixed; }
    bytes[len] = 0;
    *outlen = len;
    return bytes;
}

int mm_tokenizer_vocab_size(const mm_tokenizer *t) { return t ? t->n_ids : 0; }

int32_t mm_tokenizer_token_to_id(const mm_tokenizer *t, const char *token) {
    if (!t || !token) return -1;
    return mm_strmap_get(&t->str2id, token, (uint32_t)strlen(token));
}

const char *mm_tokenizer_sha256(const mm_tokenizer *t) { return t ? t->sha256 : ""; }

/* ------------------------------------------------------------------ batch */
typedef struct {
    const mm_tokenizer *t;
    const char *const *texts;
    const size_t *lens;
    size_t n;
    int flags;
    mm_ids *outs;
    size_t next;   /* atomic work counter */
    int err;
} batch;

static void *worker(void *arg) {
    batch *b = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->n) break;
        if (mm_tokenizer_encode(b->t, b->texts[i], b->lens[i], b->flags, &b->outs[i]))
            __atomic_store_n(&b->err, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

int mm_tokenizer_encode_batch(const mm_tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                              int flags, mm_ids *outs, int n_threads) {
    batch b = {t, texts, lens, n, flags, outs, 0, 0};
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    if ((size_t)n_threads > n) n_threads = n ? (int)n : 1;
    pthread_t *th = mm_xmalloc((size_t)n_threads * sizeof *th);
    int started = 0;
    for (int i = 1; i < n_threads; i++)
        if (pthread_create(&th[started], NULL, worker, &b) == 0) started++;
    worker(&b);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    return b.err ? mm_fail("tokenizer: batch encode failed") : 0;
}
