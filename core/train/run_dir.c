#include "train/run_dir.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics/metrics.h"
#include "util/fileio.h"
#include "util/log.h"

void mm_run_model_name(const char *model_dir, char *buf, size_t n) {
    const char *b = strrchr(model_dir, '/');
    b = b && b[1] ? b + 1 : model_dir;
    if (!strncmp(b, "starcoder", 9)) snprintf(buf, n, "starcoderbase");
    else if (!strncmp(b, "deepseek", 8)) snprintf(buf, n, "deepseekcoder");
    else snprintf(buf, n, "%s", b);
}

cJSON *mm_run_config_json(const mm_run_opts *o, const char *model_name) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "rq", o->rq[0] ? o->rq : "adhoc");
    cJSON_AddStringToObject(j, "dataset", o->dataset);
    cJSON_AddStringToObject(j, "model", model_name);
    cJSON_AddStringToObject(j, "model_dir", o->model_dir);
    cJSON_AddStringToObject(j, "method", o->method.name);
    char desc[512];
    mm_method_describe(&o->method, desc, sizeof desc);
    cJSON_AddStringToObject(j, "method_config", desc);
    cJSON_AddStringToObject(j, "variant", o->variant[0] ? o->variant : o->method.name);
    cJSON *sets = cJSON_AddObjectToObject(j, "set");
    for (int i = 0; i < o->n_sets; i++) {
        char k[96];
        snprintf(k, sizeof k, "%s", o->sets[i]);
        char *eq = strchr(k, '=');
        if (!eq) continue;
        *eq = 0;
        cJSON_DeleteItemFromObjectCaseSensitive(sets, k);
        cJSON_AddStringToObject(sets, k, eq + 1);
    }
    /* dtype=fp32 and act_dtype=fp32 are the defaults: the same run as no key (run directories made before the keys
     * existed) */
    static const char *const dkeys[] = {"dtype", "act_dtype"};
    for (int i = 0; i < 2; i++) {
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(sets, dkeys[i]);
        if (cJSON_IsString(dt) && !strcmp(dt->valuestring, "fp32")) cJSON_DeleteItemFromObjectCaseSensitive(sets, dkeys[i]);
    }
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddStringToObject(j, "scale", o->scale);
    cJSON *t = cJSON_AddObjectToObject(j, "training");
    cJSON_AddNumberToObject(t, "lr", o->lr);
    cJSON_AddNumberToObject(t, "batch", o->batch);
    cJSON_AddNumberToObject(t, "micro_batch", o->micro);
    cJSON_AddNumberToObject(t, "epochs", o->epochs);
    cJSON_AddNumberToObject(t, "warmup", o->warmup);
    cJSON_AddNumberToObject(t, "max_steps", (double)o->max_steps);
    cJSON_AddNumberToObject(t, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(t, "clip", o->clip);
    cJSON_AddNumberToObject(t, "max_source", o->max_source);
    cJSON_AddNumberToObject(t, "max_target", o->max_target);
    cJSON_AddStringToObject(t, "separator", o->sep);
    cJSON_AddNumberToObject(t, "train_per_lang", (double)o->train_per_lang);
    cJSON_AddNumberToObject(t, "fraction", o->fraction);
    cJSON *g = cJSON_AddObjectToObject(j, "evaluation");
    cJSON_AddNumberToObject(g, "eval_per_lang", (double)o->eval_per_lang);
    cJSON_AddNumberToObject(g, "max_new", o->max_new);
    cJSON_AddStringToObject(g, "decoding", "greedy");
    return j;
}

static char *json_path(const char *out_dir, char *buf, size_t n) {
    snprintf(buf, n, "%s/run.json", out_dir);
    return buf;
}

/* model_dir given relative here and absolute on a cluster job (experiments/slurm.h): the same directory */
static int same_model_dir(const char *key, const cJSON *a, const cJSON *b) {
    if (strcmp(key, "model_dir") || !cJSON_IsString(a) || !cJSON_IsString(b)) return 0;
    char *ra = realpath(a->valuestring, NULL), *rb = realpath(b->valuestring, NULL);
    int same = ra && rb && !strcmp(ra, rb);
    free(ra);
    free(rb);
    return same;
}

int mm_run_json_check_or_write(const char *out_dir, const cJSON *cfg) {
    char path[2048];
    json_path(out_dir, path, sizeof path);
    if (mm_file_exists(path)) {
        char *txt = mm_read_file(path, NULL);
        if (!txt) return -1;
        cJSON *j = cJSON_Parse(txt);
        free(txt);
        const cJSON *old = j ? cJSON_GetObjectItemCaseSensitive(j, "config") : NULL;
        if (!old) { cJSON_Delete(j); return mm_fail("%s: not a run.json of this version (no 'config'); remove the directory or use another --out", path); }
        const cJSON *it;
        cJSON_ArrayForEach(it, cfg) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(old, it->string);
            if (!o || (!cJSON_Compare(o, it, 1) && !same_model_dir(it->string, o, it))) {
                char key[64];
                snprintf(key, sizeof key, "%s", it->string);
                cJSON_Delete(j);
                return mm_fail("%s: this run directory holds a different configuration (key '%s'); use another --out "
                               "or remove the directory", path, key);
            }
        }
        cJSON_Delete(j);
        return 0;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "config", cJSON_Duplicate(cfg, 1));
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = mm_write_file_atomic(path, txt, strlen(txt));
    free(txt);
    return rc;
}

int mm_run_json_finish(const char *out_dir, const cJSON *cfg, cJSON *extra) {
    char path[2048];
    json_path(out_dir, path, sizeof path);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "config", cJSON_Duplicate(cfg, 1));
    /* the report reads these at the top level too */
    const char *keys[] = {"rq", "dataset", "model", "method", "variant", "set", "seed"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, keys[i]);
        if (v) cJSON_AddItemToObject(j, keys[i], cJSON_Duplicate(v, 1));
    }
    cJSON *it = extra ? extra->child : NULL;
    while (it) {
        cJSON *next = it->next;
        cJSON_DetachItemViaPointer(extra, it);
        cJSON_AddItemToObject(j, it->string, it);
        it = next;
    }
    cJSON_Delete(extra);
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = mm_write_file_atomic(path, txt, strlen(txt));
    free(txt);
    return rc;
}

int mm_train_log_truncate(const char *path, int step) {
    if (!mm_file_exists(path)) return 0;
    size_t len;
    char *txt = mm_read_file(path, &len);
    if (!txt) return -1;
    size_t keep = 0;
    for (char *line = txt; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break; /* a half-written last line is dropped */
        int s = -1;
        if (sscanf(line, "{\"step\": %d", &s) != 1 || s > step) break;
        keep = (size_t)(nl + 1 - txt);
        line = nl + 1;
    }
    int rc = mm_write_file_atomic(path, txt, keep);
    free(txt);
    return rc;
}

int mm_train_log_append(const char *path, int step, double loss, double aux, double lr, double tokens_per_s,
                        double grad_norm) {
    FILE *f = fopen(path, "a");
    if (!f) return mm_fail("%s: cannot append: %s", path, strerror(errno));
    fprintf(f, "{\"step\": %d, \"loss\": %.6f, \"aux_loss\": %.6f, \"lr\": %.6g, \"tokens_per_s\": %.1f, \"grad_norm\": %.5f}\n",
            step, loss, aux, lr, tokens_per_s, grad_norm);
    return fclose(f) ? mm_fail("%s: write failed", path) : 0;
}

int mm_gold_subset(const char *gold_path, const uint8_t *keep, size_t n_keep, const char *out_path) {
    size_t len;
    char *txt = mm_read_file(gold_path, &len);
    if (!txt) return -1;
    char *out = mm_xmalloc(len + 1);
    size_t o = 0;
    for (char *line = txt; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) + 1 : strlen(line);
        char *end;
        unsigned long idx = strtoul(line, &end, 10);
        if (end != line && *end == '\t' && idx < n_keep && keep[idx]) {
            memcpy(out + o, line, ll);
            o += ll;
            if (!nl) out[o++] = '\n';
        }
        line += ll;
    }
    int rc = mm_write_file_atomic(out_path, out, o);
    free(out);
    free(txt);
    return rc;
}

void mm_git_describe(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *p = popen("git rev-parse HEAD 2>/dev/null", "r");
    if (!p) return;
    char c[64] = "";
    if (fgets(c, sizeof c, p)) c[strcspn(c, "\n")] = 0;
    pclose(p);
    if (!c[0]) return;
    int dirty = 0;
    p = popen("git status --porcelain --untracked-files=no 2>/dev/null", "r");
    if (p) {
        char l[8];
        dirty = fgets(l, sizeof l, p) != NULL;
        pclose(p);
    }
    snprintf(buf, n, "%s%s", c, dirty ? "-dirty" : "");
}

int mm_run_score(const char *out_dir, const char *const *langs, int n_langs) {
    mm_meteor *met = mm_meteor_new(NULL, false);
    if (!met) return -1;
    char path[2048], gold[2048];
    snprintf(path, sizeof path, "%s/scores", out_dir);
    if (mm_mkdirs(path)) { mm_meteor_free(met); return -1; }
    cJSON *root = cJSON_CreateObject(), *L = cJSON_AddObjectToObject(root, "languages");
    double sb = 0, sm = 0;
    int counted = 0, rc = 0;
    printf("| language | n | BLEU | METEOR |\n|---|---|---|---|\n");
    for (int i = 0; i < n_langs && !rc; i++) {
        snprintf(path, sizeof path, "%s/predictions/%s.txt", out_dir, langs[i]);
        snprintf(gold, sizeof gold, "%s/gold/%s.txt", out_dir, langs[i]);
        if (!mm_file_exists(path) || !mm_file_exists(gold)) continue;
        mm_score_set set;
        if (mm_score_read(gold, path, &set)) { rc = -1; break; }
        double *bl = mm_xcalloc(set.n ? set.n : 1, sizeof(double)), *me = mm_xcalloc(set.n ? set.n : 1, sizeof(double));
        const char **ids = mm_xcalloc(set.n ? set.n : 1, sizeof(char *));
        size_t *idl = mm_xcalloc(set.n ? set.n : 1, sizeof(size_t));
        rc = mm_score_items(set.items, set.n, met, bl, me, 0);
        if (!rc) {
            for (size_t k = 0; k < set.n; k++) { ids[k] = set.items[k].id; idl[k] = set.items[k].id_len; }
            snprintf(path, sizeof path, "%s/scores/%s.csv", out_dir, langs[i]);
            rc = mm_samples_write(path, ids, idl, set.n, bl, me);
            double b = mm_corpus_mean100(bl, set.n), m = mm_corpus_mean100(me, set.n);
            cJSON *o = cJSON_AddObjectToObject(L, langs[i]);
            cJSON_AddNumberToObject(o, "bleu", b);
            cJSON_AddNumberToObject(o, "meteor", m);
            cJSON_AddNumberToObject(o, "n", (double)set.n);
            printf("| %s | %zu | %.2f | %.2f |\n", langs[i], set.n, b, m);
            sb += b; sm += m; counted++;
        }
        free(bl); free(me); free(ids); free(idl);
        mm_score_set_free(&set);
    }
    mm_meteor_free(met);
    if (!rc && counted) {
        cJSON *o = cJSON_AddObjectToObject(root, "overall");
        cJSON_AddNumberToObject(o, "bleu", sb / counted);
        cJSON_AddNumberToObject(o, "meteor", sm / counted);
        cJSON_AddStringToObject(o, "definition", "mean of the per-language corpus scores");
        printf("| overall | | %.2f | %.2f |\n", sb / counted, sm / counted);
        char *txt = cJSON_Print(root);
        snprintf(path, sizeof path, "%s/scores.json", out_dir);
        rc = mm_write_file_atomic(path, txt, strlen(txt));
        free(txt);
    } else if (!rc) {
        rc = mm_fail("%s: no predictions to score", out_dir);
    }
    cJSON_Delete(root);
    return rc;
}

static void prediction_clean(char *s) {
    size_t w = 0;
    int space = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') { space = w > 0; continue; }
        if (space) { s[w++] = ' '; space = 0; }
        s[w++] = c;
    }
    s[w] = 0;
}

void mm_prediction_add(mm_sbuf *b, size_t id, char *txt) {
    prediction_clean(txt);
    mm_sb_printf(b, "%zu\t%s\n", id, txt);
}

int mm_eval_select(const mm_cache *test, int lang, const char *name, long eval_per_lang, const char *cache_dir,
                   const char *out_dir, size_t **sel, size_t *n) {
    const size_t n_all = mm_cache_count(test);
    size_t *s = mm_xmalloc(sizeof(size_t) * (n_all ? n_all : 1));
    uint8_t *keep = mm_xcalloc(n_all ? n_all : 1, 1);
    size_t k = 0;
    for (size_t i = 0; i < n_all; i++) {
        mm_cache_example ex;
        if (mm_cache_get(test, i, &ex) || ex.lang != lang) continue;
        if (eval_per_lang > 0 && (long)k >= eval_per_lang) break;
        s[k++] = i;
        keep[i] = 1;
    }
    int rc = 0;
    if (k) {
        char path[2048], gold[2048];
        snprintf(path, sizeof path, "%s/gold", out_dir);
        mm_mkdirs(path);
        snprintf(path, sizeof path, "%s/predictions", out_dir);
        mm_mkdirs(path);
        snprintf(gold, sizeof gold, "%s/gold/test.%s.txt", cache_dir, name);
        snprintf(path, sizeof path, "%s/gold/%s.txt", out_dir, name);
        rc = mm_gold_subset(gold, keep, n_all, path);
    }
    free(keep);
    if (rc || !k) { free(s); s = NULL; k = 0; }
    *sel = s;
    *n = k;
    return rc;
}
