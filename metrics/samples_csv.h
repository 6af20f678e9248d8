/* Per-sample score CSV (libcsv): header "id,bleu,meteor", one row per sentence, scores as %.17g. */
#ifndef MMLORA_METRICS_SAMPLES_CSV_H
#define MMLORA_METRICS_SAMPLES_CSV_H
#include <stddef.h>

/* ids[i] has length id_lens[i] (may contain any bytes; quoted as needed). -1 + mm_fail on error. */
int mm_samples_write(const char *path, const char *const *ids, const size_t *id_lens, size_t n, const double *bleu,
                     const double *meteor);

typedef struct { char **ids; double *vals; size_t n; } mm_samples;
/* Reads column `column` (by header name) of a per-sample CSV. Every row must have as many fields
 * as the header and a finite number in that column; errors name the file and the row. */
int mm_samples_read(const char *path, const char *column, mm_samples *out);
void mm_samples_free(mm_samples *s);
#endif
