/* libFuzzer target for `mmlora score` input: the fuzz input is GOLD, a 0x00 byte, then PRED (no 0x00: the
 * whole input is used as both). Parses with CodeXGLUE's file rules, then scores every pair with BLEU and
 * METEOR (NLTK 3.8 and 3.9 morphy; WordNet loaded once, skipped when absent) and checks score ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/meteor.h"
#include "metrics/score.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    static mm_meteor *m38, *m39;
    if (!init) {
        init = 1;
        m38 = mm_meteor_new(NULL, false);
        m39 = m38 ? mm_meteor_new(NULL, true) : NULL;
    }
    const char *d = (const char *)data;
    const char *sep = memchr(d, 0, size);
    size_t gl = sep ? (size_t)(sep - d) : size;
    const char *pred = sep ? sep + 1 : d;
    size_t pl = sep ? size - gl - 1 : size;
    mm_score_set set;
    if (mm_score_parse(d, gl, "GOLD", pred, pl, "PRED", &set) != 0) return 0;
    double *b = malloc((set.n + 1) * sizeof *b), *m = malloc((set.n + 1) * sizeof *m);
    mm_score_items(set.items, set.n, m38, b, m38 ? m : NULL, 1);
    for (size_t i = 0; i < set.n; i++) {
        if (!(b[i] >= 0.0 && b[i] <= 1.0)) abort();
        if (m38 && !(m[i] >= 0.0 && m[i] <= 1.0)) abort();
    }
    if (m39) mm_score_items(set.items, set.n, m39, NULL, m, 1);
    (void)mm_corpus_mean100(b, set.n);
    free(b);
    free(m);
    mm_score_set_free(&set);
    return 0;
}
