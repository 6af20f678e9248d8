/* Public C API of the evaluation metrics (one include for training runs and tools):
 *   bleu.h        CodeXGLUE smoothed sentence BLEU-4 (mm_bleu_sentence, mm_bleu)
 *   meteor.h      NLTK METEOR scorer object holding WordNet (mm_meteor_new / _score / _clone / _free)
 *   score.h       CodeXGLUE gold/pred files, pairing, parallel scoring of item or line arrays, corpus means
 *   stats.h       paired t-test, Wilcoxon, paired bootstrap, approximate randomization
 *   samples_csv.h per-sample CSV (id,bleu,meteor) via libcsv
 * See metrics/README.md for the exact reference behaviours. */
#ifndef MMLORA_METRICS_H
#define MMLORA_METRICS_H
#include "metrics/bleu.h"
#include "metrics/meteor.h"
#include "metrics/samples_csv.h"
#include "metrics/score.h"
#include "metrics/stats.h"
#endif
