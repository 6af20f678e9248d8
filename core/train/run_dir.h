/* Files of a run directory that are not training state: run.json, train.jsonl lines, predictions,
 * gold subsets, scores, experts.json.  Used by run.c. */
#ifndef MMLORA_RUN_DIR_H
#define MMLORA_RUN_DIR_H
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>
#include "data/cache.h"
#include "report/sbuf.h"
#include "train/run.h"

/* The configuration part of run.json (what must match on resume). */
cJSON *mm_run_config_json(const mm_run_opts *o, const char *model_name);
/* "tiny", "starcoderbase", "deepseekcoder" or the directory's base name */
void mm_run_model_name(const char *model_dir, char *buf, size_t n);
/* run.json: compare the stored config with cfg (if the file exists) or write {config}.  -1 on mismatch. */
int mm_run_json_check_or_write(const char *out_dir, const cJSON *cfg);
/* rewrite run.json = {config, extra...} atomically (takes ownership of extra's items) */
int mm_run_json_finish(const char *out_dir, const cJSON *cfg, cJSON *extra);
/* train.jsonl: keep the lines of steps <= step (resume), then append */
int mm_train_log_truncate(const char *path, int step);
int mm_train_log_append(const char *path, int step, double loss, double aux, double lr, double tokens_per_s,
                        double grad_norm);
/* select the gold lines whose idx has keep[idx] set; writes them to out_path (atomically) */
int mm_gold_subset(const char *gold_path, const uint8_t *keep, size_t n_keep, const char *out_path);
/* The test examples a run scores for language lang (named name): the first eval_per_lang (0: all) in cache
 * order, the same for every method so that paired tests line up.  Writes <out_dir>/gold/<name>.txt from
 * <cache_dir>/gold/test.<name>.txt, creates <out_dir>/predictions/, and returns the examples' cache indices
 * in *sel (malloc'd; NULL with *n = 0 when the language has none). */
int mm_eval_select(const mm_cache *test, int lang, const char *name, long eval_per_lang, const char *cache_dir,
                   const char *out_dir, size_t **sel, size_t *n);
/* appends "id<TAB>text" to the lines of predictions/<lang>.txt; txt is cleaned in place (whitespace runs
 * become one space, trimmed) */
void mm_prediction_add(mm_sbuf *b, size_t id, char *txt);
/* git commit (and "-dirty") of the working directory, or "unknown" */
void mm_git_describe(char *buf, size_t n);
/* score predictions/<lang>.txt against gold/<lang>.txt for each language present; writes
 * scores/<lang>.csv and scores.json; prints a table */
int mm_run_score(const char *out_dir, const char *const *langs, int n_langs);
#endif
