/* Local corpus: CodeSearchNet-style records extracted from source trees that Debian packages install.
 *
 * Pipeline (data/corpus_build.c): list the source files of each language (sorted) -> per file, the
 * language's extractor (corpus_clike.c for go/java/javascript/php, corpus_py.c, corpus_rb.c) finds
 * every function with a doc comment -> the docstring is cleaned (corpus_doc.c) and summarized as
 * CodeSearchNet does (first paragraph, else text before the first '@'), tokenized with
 * CodeSearchNet's docstring regex, and filtered as CodeXGLUE does (3-256 tokens, no URL / HTML tag,
 * English) -> near-duplicates removed (MinHash + exact Jaccard >= 0.8 on code-token sets) -> split
 * by source file (80/10/10 by a seeded hash of the path) -> <out>/<lang>/{train,valid,test}.jsonl. */
#ifndef MMLORA_DATA_CORPUS_H
#define MMLORA_DATA_CORPUS_H
#include <stddef.h>
#include <stdint.h>

enum { MM_C_GO = 0, MM_C_JAVA, MM_C_JS, MM_C_PHP, MM_C_PY, MM_C_RUBY, MM_C_NLANGS };   /* = CSN ids */

/* A lexical token: [off, off+len) of the source. */
enum { TK_IDENT = 1, TK_NUM, TK_STR, TK_PUNCT, TK_COMMENT, TK_NL };
typedef struct {
    int type;
    uint32_t off, len;
    int line;   /* 1-based */
} mm_tok;
typedef struct {
    mm_tok *v;
    size_t n, cap;
} mm_toks;
void mm_toks_push(mm_toks *t, int type, size_t off, size_t len, int line);

/* One documented function found in a file. */
typedef struct {
    char *name;
    char *code;          /* the function without its doc comment / docstring */
    char *original;      /* the function as in the file (with the docstring) */
    char *doc;           /* the docstring text, comment markers removed */
    char **code_tokens;  /* leaves of the code, comments excluded (CodeSearchNet style) */
    size_t n_code_tokens;
    int line_start, line_end;
} mm_func;
typedef struct {
    mm_func *v;
    size_t n, cap;
} mm_funcs;
void mm_funcs_free(mm_funcs *f);
/* helpers for the extractors */
/* code / original = src ranges; code_tokens = tokens [t0, t1) minus comments and newlines */
void mm_funcs_add(mm_funcs *f, const char *src, const mm_toks *tk, size_t t0, size_t t1, const char *name,
                  size_t name_len, char *doc, size_t code_from, size_t code_to, size_t orig_from, size_t orig_to);
/* same with malloc'd code / original strings (taken) and one token index to leave out (python docstring) */
void mm_funcs_add_ex(mm_funcs *f, const char *src, const mm_toks *tk, size_t t0, size_t t1, size_t skip,
                     const char *name, size_t name_len, char *doc, char *code, char *original);
char *mm_strndup(const char *s, size_t n);

/* Extractors: append the documented functions of one file's text (NUL-terminated) to out. */
int mm_extract_clike(int lang, const char *src, size_t len, mm_funcs *out);
int mm_extract_python(const char *src, size_t len, mm_funcs *out);
int mm_extract_ruby(const char *src, size_t len, mm_funcs *out);
int mm_extract(int lang, const char *src, size_t len, mm_funcs *out);

/* Docstrings (corpus_doc.c). */
char *mm_doc_summary(const char *doc);                 /* CodeSearchNet get_docstring_summary */
char **mm_doc_tokenize(const char *s, size_t *n);      /* CodeSearchNet DOCSTRING_REGEX_TOKENIZER */
/* CodeXGLUE's filters on the summary tokens; NULL if kept, else the reason. */
const char *mm_doc_filter(const char *summary, char **toks, size_t n);
void mm_strv_free(char **v, size_t n);

/* The builder. */
typedef struct {
    const char *out;           /* output root, e.g. data/raw/local */
    const char *work;          /* scratch dir for unpacked archives (default <out>/.src) */
    uint64_t seed;             /* split seed */
    unsigned lang_mask;        /* 0 = all six */
    int progress;
    const char *roots[MM_C_NLANGS];   /* override a language's source root (tests) */
} mm_corpus_opts;
typedef struct {
    size_t files[MM_C_NLANGS], funcs[MM_C_NLANGS], filtered[MM_C_NLANGS], dups[MM_C_NLANGS];
    size_t split[MM_C_NLANGS][3];
    double seconds[MM_C_NLANGS];
} mm_corpus_stats;
int mm_corpus_build(const mm_corpus_opts *o, mm_corpus_stats *st);
/* Parse check with the language's own tool (gofmt -e, javac parse-only, node --check, php -l,
 * python3 -m py_compile, ruby -wc): number of codes that fail (first error in err), -1 if the tool is absent. */
int mm_corpus_tool_available(int lang);
long mm_corpus_check(int lang, const char *const *codes, size_t n, char *err, size_t cap);
/* the default source roots and the Debian packages that install them (for messages and docs) */
const char *mm_corpus_default_root(int lang);
const char *mm_corpus_package(int lang);
#endif
