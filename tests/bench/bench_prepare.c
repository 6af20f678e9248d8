/* bench_prepare: `prepare` throughput (examples/s, MB/s of raw jsonl) on 2 threads, extrapolated to the
 * full CodeSearchNet train split (908,224 examples; target < 10 min on 2 cores).
 * Input: the shared CodeSearchNet samples (ruby/python test+valid, real records) replicated into all six
 * languages' train files; tokenizer: the tokenizer.json given as argv[1] (default: the StarCoder-style
 * test fixture tests/fixtures/tokenizer/st.json -- a small vocabulary; pass a real model's file for
 * the real figure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "data/prepare.h"
#include "util/log.h"

static int enc(void *ctx, const char *text, size_t len, mm_ids *out) { return mm_tokenizer_encode(ctx, text, len, 0, out); }

int main(int argc, char **argv) {
    const char *tokpath = argc > 1 ? argv[1] : "tests/fixtures/tokenizer/st.json";
    long per_lang = argc > 2 ? atol(argv[2]) : 8000;
    const char *sd = getenv("SHARED_DIR");
    char src[4][1024];
    const char *names[4] = {"ruby/test", "ruby/valid", "python/test", "python/valid"};
    char *lines = NULL;
    size_t n_lines = 0, total_len = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(src[i], sizeof src[i], "%s/data/codesearchnet/%s.jsonl", sd ? sd : "../shared", names[i]);
        size_t len;
        char *b = mm_read_file(src[i], &len);
        if (!b) continue;
        lines = mm_xrealloc(lines, total_len + len + 1);
        memcpy(lines + total_len, b, len);
        total_len += len;
        free(b);
    }
    if (!total_len) {
        printf("bench_prepare: SKIP (no CodeSearchNet samples under SHARED_DIR)\n");
        return 0;
    }
    for (size_t i = 0; i < total_len; i++) n_lines += lines[i] == '\n';
    char raw[] = "/tmp/mmlora-bench-XXXXXX";
    if (!mkdtemp(raw)) return 1;
    const char *langs[6] = {"go", "java", "javascript", "php", "python", "ruby"};
    size_t bytes = 0;
    for (int l = 0; l < 6; l++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/codesearchnet", raw);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/codesearchnet/%s", raw, langs[l]);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/codesearchnet/%s/train.jsonl", raw, langs[l]);
        FILE *f = fopen(p, "wb");
        long written = 0;
        while (written < per_lang) {
            const char *q = lines;
            while (q < lines + total_len && written < per_lang) {
                const char *e = memchr(q, '\n', (size_t)(lines + total_len - q));
                fwrite(q, 1, (size_t)(e - q + 1), f);
                bytes += (size_t)(e - q + 1);
                q = e + 1;
                written++;
            }
        }
        fclose(f);
    }
    mm_tokenizer *t = mm_tokenizer_load(tokpath);
    if (!t) {
        fprintf(stderr, "bench_prepare: %s\n", mm_last_error());
        return 1;
    }
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    char cache[1300];
    snprintf(cache, sizeof cache, "%s/cache", raw);
    mm_prepare_opts o = {0};
    o.load = (mm_load_opts){.kind = MM_DS_CSN, .raw = raw};
    o.spec = (mm_seq_spec){.encode = enc, .ctx = t, .tokenizer_sha256 = mm_tokenizer_sha256(t), .eos_id = 0,
                           .n_sep = 1, .sep_ids = {10}, .sep_text = "\\n", .max_source = 256, .max_target = 128};
    o.cache_root = cache;
    o.split_mask = 1;
    o.fraction = 1.0;
    mm_prepare_result r;
    if (mm_prepare_run(&o, &r) < 0) {
        fprintf(stderr, "bench_prepare: %s\n", mm_last_error());
        return 1;
    }
    double eps = (double)r.examples / r.seconds, mbs = (double)bytes / 1e6 / r.seconds;
    printf("bench_prepare: %llu examples (%.1f MB jsonl, %.1f MB code+summary text), 2 threads, tokenizer %s\n",
           (unsigned long long)r.examples, (double)bytes / 1e6, (double)r.bytes_in / 1e6, tokpath);
    printf("  %.2f s: %.0f examples/s, %.2f MB/s of jsonl -> full CSN train (908,224) in %.1f min (target < 10)\n",
           r.seconds, eps, mbs, 908224.0 / eps / 60.0);
    mm_tokenizer_free(t);
    free(lines);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", raw);
    if (system(cmd)) {}
    (void)n_lines;
    return 908224.0 / eps < 600 ? 0 : 1;
}
