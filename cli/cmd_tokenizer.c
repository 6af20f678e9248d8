/* mmlora tokenizer train | encode | decode */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer.h"
#include "util/log.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage:\n"
            "  mmlora tokenizer train --vocab-size N --pretokenizer starcoder|deepseek --input FILES... --out DIR/tokenizer.json\n"
            "  mmlora tokenizer encode --tokenizer FILE [--text STR | --input FILE] [--lines] [--no-parse-special]\n"
            "                          [--add-special] [--threads N]\n"
            "  mmlora tokenizer decode --tokenizer FILE [--skip-special] [--lines] [IDS...]\n"
            "\n"
            "train   byte-level BPE on the files with the StarCoder or DeepSeek-Coder pre-tokenizer; the\n"
            "        tokenizer.json it writes loads in HF `tokenizers` and encodes identically there.\n"
            "encode  text (--text, --input FILE, else stdin) -> ids, space separated, one line; with --lines\n"
            "        every input line (without its newline) is encoded on its own (in parallel, --threads).\n"
            "        Added tokens in the text are matched (HF default) unless --no-parse-special;\n"
            "        --add-special applies the post-processor (DeepSeek's BOS).  Invalid UTF-8 -> U+FFFD.\n"
            "decode  ids (arguments, else stdin) -> text; --lines decodes each stdin line on its own.\n");
}

static int err(const char *msg) {
    fprintf(stderr, "mmlora: error: %s\n", msg);
    return 1;
}

static char *read_stream(FILE *f, size_t *n) {
    size_t cap = 0, len = 0, k;
    char *b = NULL;
    do {
        if (cap - len < 65536) b = mm_xrealloc(b, cap = cap * 2 + 65536);
        k = fread(b + len, 1, cap - len, f);
        len += k;
    } while (k > 0);
    b[len] = 0;
    *n = len;
    return b;
}

static void print_ids(const mm_ids *v) {
    for (size_t i = 0; i < v->n; i++) printf(i ? " %d" : "%d", v->ids[i]);
    putchar('\n');
}

static int do_train(int argc, char **argv) {
    int vocab = 0;
    const char *pt = NULL, *out = NULL;
    const char **files = mm_xcalloc((size_t)argc + 1, sizeof *files);
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vocab-size") && i + 1 < argc) vocab = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pretokenizer") && i + 1 < argc) pt = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--input")) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) files[nf++] = argv[++i];
        } else {
            fprintf(stderr, "mmlora: error: tokenizer train: unknown or incomplete option '%s'\n", argv[i]);
            free(files);
            return 2;
        }
    }
    int rc = 0;
    if (!out || !pt || vocab <= 0 || !nf) rc = err("tokenizer train needs --vocab-size N --pretokenizer P --input FILES... --out FILE");
    else if (mm_tokenizer_train(files, nf, vocab, pt, out)) rc = err(mm_last_error());
    free(files);
    return rc;
}

static int do_encode(mm_tokenizer *t, int argc, char **argv) {
    const char *text = NULL, *input = NULL;
    int lines = 0, flags = MM_TOK_PARSE_SPECIAL, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer")) i++;
        else if (!strcmp(argv[i], "--text") && i + 1 < argc) text = argv[++i];
        else if (!strcmp(argv[i], "--input") && i + 1 < argc) input = argv[++i];
        else if (!strcmp(argv[i], "--lines")) lines = 1;
        else if (!strcmp(argv[i], "--no-parse-special")) flags &= ~MM_TOK_PARSE_SPECIAL;
        else if (!strcmp(argv[i], "--add-special")) flags |= MM_TOK_ADD_SPECIAL;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "mmlora: error: tokenizer encode: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        }
    }
    char *buf;
    size_t n;
    if (text) buf = mm_xstrdup(text), n = strlen(text);
    else {
        FILE *f = input ? fopen(input, "rb") : stdin;
        if (!f) {
            fprintf(stderr, "mmlora: error: %s: cannot open: %s\n", input, strerror(errno));
            return 1;
        }
        buf = read_stream(f, &n);
        if (input) fclose(f);
    }
    int rc = 0;
    if (!lines) {
        mm_ids v = {0};
        if (mm_tokenizer_encode(t, buf, n, flags, &v)) rc = err(mm_last_error());
        else print_ids(&v);
        free(v.ids);
    } else {
        size_t nl = 0, cap = 0;
        const char **ptr = NULL;
        size_t *len = NULL;
        for (size_t s = 0; s < n;) {
            char *e = memchr(buf + s, '\n', n - s);
            size_t end = e ? (size_t)(e - buf) : n;
            if (nl == cap) {
                cap = cap * 2 + 1024;
                ptr = mm_xrealloc(ptr, cap * sizeof *ptr);
                len = mm_xrealloc(len, cap * sizeof *len);
            }
            ptr[nl] = buf + s, len[nl] = end - s, nl++;
            s = end + 1;
        }
        mm_ids *outs = mm_xcalloc(nl ? nl : 1, sizeof *outs);
        if (mm_tokenizer_encode_batch(t, ptr, len, nl, flags, outs, threads)) rc = err(mm_last_error());
        for (size_t i = 0; i < nl; i++) {
            if (!rc) print_ids(&outs[i]);
            free(outs[i].ids);
        }
        free(outs);
        free(ptr);
        free(len);
    }
    free(buf);
    return rc;
}

static int parse_ids(const char *s, mm_ids *v) {
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',' || *s == '\r' || *s == '\n' || *s == '[' || *s == ']') s++;
        if (!*s) break;
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10);
        if (end == s || errno || x < 0 || x > INT32_MAX) return mm_fail("tokenizer decode: '%.20s' is not an id", s);
        if (v->n == v->cap) v->ids = mm_xrealloc(v->ids, (v->cap = v->cap * 2 + 64) * sizeof *v->ids);
        v->ids[v->n++] = (int32_t)x;
        s = end;
    }
    return 0;
}

static int do_decode(mm_tokenizer *t, int argc, char **argv) {
    int skip = 0, lines = 0, rc = 0;
    mm_ids v = {0};
    int have_args = 0;
    for (int i = 1; i < argc && !rc; i++) {
        if (!strcmp(argv[i], "--tokenizer")) i++;
        else if (!strcmp(argv[i], "--skip-special")) skip = 1;
        else if (!strcmp(argv[i], "--lines")) lines = 1;
        else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "mmlora: error: tokenizer decode: unknown option '%s'\n", argv[i]);
            free(v.ids);
            return 2;
        } else {
            have_args = 1;
            if (parse_ids(argv[i], &v)) rc = err(mm_last_error());
        }
    }
    if (!rc && !have_args) {
        size_t n;
        char *buf = read_stream(stdin, &n);
        if (!lines) rc = parse_ids(buf, &v) ? err(mm_last_error()) : 0;
        for (size_t pos = 0; lines && pos < n && !rc;) {   /* one output line per input line, empty ones too */
            char *nl = memchr(buf + pos, '\n', n - pos);
            size_t end = nl ? (size_t)(nl - buf) : n;
            buf[end] = 0;
            v.n = 0;
            if (parse_ids(buf + pos, &v)) { rc = err(mm_last_error()); break; }
            size_t len;
            char *s = mm_tokenizer_decode_len(t, v.ids, v.n, skip, &len);
            fwrite(s, 1, len, stdout);
            putchar('\n');
            free(s);
            pos = end + 1;
        }
        free(buf);
        if (lines) { free(v.ids); return rc; }
    }
    if (!rc) {
        size_t len;
        char *s = mm_tokenizer_decode_len(t, v.ids, v.n, skip, &len);
        fwrite(s, 1, len, stdout);
        free(s);
    }
    free(v.ids);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "train")) return do_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "encode") && strcmp(argv[1], "decode")) {
        fprintf(stderr, "mmlora: error: tokenizer: unknown subcommand '%s' (train, encode, decode)\n", argv[1]);
        return 2;
    }
    const char *path = NULL;
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--tokenizer")) path = argv[i + 1];
    if (!path) return err("tokenizer encode/decode needs --tokenizer FILE (tokenizer.json or its directory)");
    mm_tokenizer *t = mm_tokenizer_load(path);
    if (!t) return err(mm_last_error());
    int rc = !strcmp(argv[1], "encode") ? do_encode(t, argc - 1, argv + 1) : do_decode(t, argc - 1, argv + 1);
    mm_tokenizer_free(t);
    return rc;
}
