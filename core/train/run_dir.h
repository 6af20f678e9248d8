/* Files of a run directory that are not training state: run.json, train.jsonl lines, predictions,
 * gold subsets, scores, experts.json.  Used by run.c. */
#ifndef MMLORA_RUN_DIR_H
#define MMLORA_RUN_DIR_H
#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>
#include "train/run.h"

/* The configuration part of run.json (what must match on resume). */
cJSON *mm_run_config_json(const mm_run_opts *o, const char *model_name);
/* "tiny", "starcoderbase", "deepseekcoder" or the directory's base name */
/* a prediction as one line of predictions/<lang>.txt: whitespace runs become one space, trimmed */
void mm_prediction_clean(char *s);
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
/* git commit (and "-dirty") of the working directory, or "unknown" */
void mm_git_describe(char *buf, size_t n);
/* score predictions/<lang>.txt against gold/<lang>.txt for each language present; writes
 * scores/<lang>.csv and scores.json; prints a table */
int mm_run_score(const char *out_dir, const char *const *langs, int n_langs);
#endif
