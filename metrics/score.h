/* Scoring predictions against gold with CodeXGLUE's file rules (bleu.py computeMaps/bleuFromMaps):
 * reading, pairing by id, per-sentence BLEU + METEOR, corpus means x100.
 *
 * File rules (metrics-spec.md 1.2, 1.6), all CodeXGLUE-compatible:
 *  PRED: lines split on '\n' only; each line is str.strip()'d then split on TAB: id = field 1,
 *        hypothesis = field 2 ('' when absent; fields after the 2nd ignored); a later duplicate id
 *        replaces the earlier one; a blank line defines the id '' (empty hypothesis).
 *  GOLD: universal newlines ('\n', "\r\n", lone '\r'); every line must contain exactly one TAB
 *        (bleu.py crashes otherwise: here an error "GOLD:LINE: ..."); the id is NOT stripped;
 *        several lines with one id are multiple references; gold ids without a prediction and
 *        prediction ids without gold are ignored (counted, reported as a warning by the CLI).
 *  Both files must be valid UTF-8 (Python raises UnicodeDecodeError): error "FILE:LINE: invalid UTF-8".
 *  No common id: error (bleu.py: ZeroDivisionError).
 * Scored items are in first-appearance order of gold ids; this is the summation order. */
#ifndef MMLORA_METRICS_SCORE_H
#define MMLORA_METRICS_SCORE_H
#include <stddef.h>
#include "metrics/meteor.h"

typedef struct {
    const char *id; size_t id_len;       /* gold id (spans point into the loaded files) */
    const char *hyp; size_t hyp_len;     /* hypothesis: PRED field 2 as in the file */
    const char **refs; size_t *ref_lens; /* gold texts (without the line terminator) */
    size_t nref;
} mm_score_item;

typedef struct {
    mm_score_item *items; size_t n;
    size_t pred_lines, gold_lines, pred_unmatched, gold_unmatched_lines;
    char *gold_buf, *pred_buf;           /* file contents */
    void *priv;
} mm_score_set;

/* Reads and pairs the two files. -1 + mm_fail("FILE:LINE: ...") on error. */
int mm_score_read(const char *gold_path, const char *pred_path, mm_score_set *out);
/* Same from memory (gold and pred contents; names are used in messages). Buffers are copied. */
int mm_score_parse(const char *gold, size_t gold_len, const char *gold_name, const char *pred, size_t pred_len,
                   const char *pred_name, mm_score_set *out);
void mm_score_set_free(mm_score_set *s);

/* Per-item sentence BLEU and METEOR in [0, 1] (either output may be NULL; meteor NULL skips it).
 * Uses up to `threads` OpenMP threads (<= 0: OpenMP default). */
int mm_score_items(const mm_score_item *items, size_t n, mm_meteor *meteor, double *bleu_out, double *meteor_out,
                   int threads);
/* Parallel lines: hyps[i] against refs[i] (one reference each), NUL-terminated strings. */
int mm_score_lines(const char *const *hyps, const char *const *refs, size_t n, mm_meteor *meteor, double *bleu_out,
                   double *meteor_out, int threads);
/* bleuFromMaps: (sum in order * 100.0) / n; the same formula is used for METEOR. */
double mm_corpus_mean100(const double *scores, size_t n);
/* Python repr(float) (shortest round-trip, "100.0" style); buf >= 32 bytes. */
const char *mm_fmt_repr(double x, char *buf);
#endif
