#include "report/results.h"
#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "util/fileio.h"
#include "util/log.h"

const char *const MM_REP_METHODS[] = {"fpft-mix", "lora-each", "lora-mix", "mola", "mmlora", "one-shot", "few-shot",
                                      NULL};
const char *const MM_REP_DATASETS[] = {"csn", "xlcost", "local", NULL};

static int in_list(const char *const *l, const char *s) {
    for (; *l; l++)
        if (!strcmp(*l, s)) return 1;
    return 0;
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = mm_xmalloc(n);
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted subdirectory names (skipping dot entries); NULL-terminated, caller frees */
static char **subdirs(const char *dir, int *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = join(dir, e->d_name);
        int ok = is_dir(p);
        free(p);
        if (!ok) continue;
        v = mm_xrealloc(v, sizeof(char *) * (size_t)(*n + 1));
        v[(*n)++] = mm_xstrdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof(char *), cmp_str);
    return v;
}

static void free_names(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static cJSON *read_json(const char *path) {
    char *txt = mm_read_file(path, NULL);
    if (!txt) return NULL;
    cJSON *j = cJSON_Parse(txt);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        long off = at ? (long)(at - txt) : -1;
        mm_fail("%s: malformed JSON (near byte %ld)", path, off);
    } else if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = NULL;
        mm_fail("%s: expected a JSON object", path);
    }
    free(txt);
    return j;
}

static int get_str(const cJSON *o, const char *key, const char *path, int required, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return mm_fail("%s: missing \"%s\"", path, key);
        *out = mm_xstrdup("");
        return 0;
    }
    if (cJSON_IsString(v)) { *out = mm_xstrdup(v->valuestring); return 0; }
    if (cJSON_IsNumber(v) && !required) { /* trainable_percent may be written as a number */
        char b[64];
        snprintf(b, sizeof b, "%g", v->valuedouble);
        *out = mm_xstrdup(b);
        return 0;
    }
    return mm_fail("%s: \"%s\" must be a string", path, key);
}

static int get_num(const cJSON *o, const char *key, const char *path, const char *where, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || !cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return mm_fail("%s: %s: \"%s\" must be a finite number", path, where, key);
    *out = v->valuedouble;
    return 0;
}

static int load_run_json(const char *dir, mm_rep_run *r) {
    char *path = join(dir, "run.json");
    cJSON *j = read_json(path);
    int rc = j ? 0 : -1;
    if (!rc) rc = get_str(j, "rq", path, 1, &r->rq);
    if (!rc) rc = get_str(j, "dataset", path, 1, &r->dataset);
    if (!rc) rc = get_str(j, "model", path, 1, &r->model);
    if (!rc) rc = get_str(j, "method", path, 1, &r->method);
    if (!rc) rc = get_str(j, "variant", path, 0, &r->variant);
    if (!rc) rc = get_str(j, "trainable_percent", path, 0, &r->trainable_percent);
    if (!rc && !in_list(MM_REP_DATASETS, r->dataset))
        rc = mm_fail("%s: unknown dataset \"%s\" (csn, xlcost or local)", path, r->dataset);
    if (!rc && !in_list(MM_REP_METHODS, r->method))
        rc = mm_fail("%s: unknown method \"%s\" (fpft-mix, lora-each, lora-mix, mola, mmlora, one-shot, few-shot)",
                     path, r->method);
    if (!rc && !r->model[0]) rc = mm_fail("%s: empty \"model\"", path);
    if (!rc) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seed");
        r->seed = cJSON_IsNumber(s) ? (long)s->valuedouble : 0;
    }
    cJSON_Delete(j);
    free(path);
    return rc;
}

static int load_scores(const char *dir, mm_rep_run *r) {
    char *path = join(dir, "scores.json");
    cJSON *j = read_json(path);
    int rc = j ? 0 : -1;
    const cJSON *langs = j ? cJSON_GetObjectItemCaseSensitive(j, "languages") : NULL;
    const cJSON *ov = j ? cJSON_GetObjectItemCaseSensitive(j, "overall") : NULL;
    if (!rc && !cJSON_IsObject(langs)) rc = mm_fail("%s: missing object \"languages\"", path);
    if (!rc && !cJSON_IsObject(ov)) rc = mm_fail("%s: missing object \"overall\"", path);
    if (!rc) rc = get_num(ov, "bleu", path, "overall", &r->overall_bleu);
    if (!rc) rc = get_num(ov, "meteor", path, "overall", &r->overall_meteor);
    const cJSON *l;
    if (!rc) {
        int n = cJSON_GetArraySize(langs);
        r->lang = mm_xcalloc((size_t)(n ? n : 1), sizeof *r->lang);
        cJSON_ArrayForEach(l, langs) {
            mm_rep_lang *x = &r->lang[r->nlang];
            char where[96];
            snprintf(where, sizeof where, "languages.%s", l->string);
            if (!cJSON_IsObject(l)) { rc = mm_fail("%s: \"%s\" must be an object", path, where); break; }
            if (strlen(l->string) >= sizeof x->name) { rc = mm_fail("%s: language name too long", path); break; }
            snprintf(x->name, sizeof x->name, "%s", l->string);
            if ((rc = get_num(l, "bleu", path, where, &x->bleu))) break;
            if ((rc = get_num(l, "meteor", path, where, &x->meteor))) break;
            const cJSON *nn = cJSON_GetObjectItemCaseSensitive(l, "n");
            x->n = cJSON_IsNumber(nn) ? (long)nn->valuedouble : -1;
            r->nlang++;
        }
    }
    cJSON_Delete(j);
    free(path);
    return rc;
}

static void free_run(mm_rep_run *r) {
    free(r->dir); free(r->rq); free(r->dataset); free(r->model); free(r->method); free(r->variant);
    free(r->trainable_percent); free(r->lang);
    memset(r, 0, sizeof *r);
}

static int load_one(mm_rep_results *out, char *dir) {
    char *done = join(dir, "DONE");
    int complete = mm_file_exists(done);
    free(done);
    if (!complete) {
        out->incomplete = mm_xrealloc(out->incomplete, sizeof(char *) * (size_t)(out->n_incomplete + 1));
        out->incomplete[out->n_incomplete++] = dir;
        return 0;
    }
    mm_rep_run r = {.dir = dir};
    if (load_run_json(dir, &r) || load_scores(dir, &r)) { free_run(&r); return -1; }
    out->run = mm_xrealloc(out->run, sizeof(mm_rep_run) * (size_t)(out->n + 1));
    out->run[out->n++] = r;
    return 0;
}

int mm_rep_load(const char *root, mm_rep_results *out) {
    memset(out, 0, sizeof *out);
    if (!is_dir(root)) { mm_info("report: no results directory %s: every table shows the paper only", root); return 0; }
    int rc = 0, n1;
    char **l1 = subdirs(root, &n1);
    for (int a = 0; a < n1 && !rc; a++) {
        char *p1 = join(root, l1[a]);
        int n2;
        char **l2 = subdirs(p1, &n2);
        for (int b = 0; b < n2 && !rc; b++) {
            char *p2 = join(p1, l2[b]);
            int n3;
            char **l3 = subdirs(p2, &n3);
            for (int c = 0; c < n3 && !rc; c++) {
                char *p3 = join(p2, l3[c]);
                int n4;
                char **l4 = subdirs(p3, &n4);
                for (int d = 0; d < n4 && !rc; d++)
                    if (strcmp(l4[d], "slurm")) /* the cluster scripts of that grid (experiments/slurm.h), not a run */
                        rc = load_one(out, join(p3, l4[d]));
                free_names(l4, n4);
                free(p3);
            }
            free_names(l3, n3);
            free(p2);
        }
        free_names(l2, n2);
        free(p1);
    }
    free_names(l1, n1);
    if (rc) mm_rep_free(out);
    return rc;
}

void mm_rep_free(mm_rep_results *r) {
    for (int i = 0; i < r->n; i++) free_run(&r->run[i]);
    free(r->run);
    for (int i = 0; i < r->n_incomplete; i++) free(r->incomplete[i]);
    free(r->incomplete);
    memset(r, 0, sizeof *r);
}

void mm_rep_norm(const char *s, char *out, int cap) {
    int k = 0;
    for (; *s && k < cap - 1; s++)
        if (!isspace((unsigned char)*s)) out[k++] = (char)tolower((unsigned char)*s);
    out[k] = 0;
}

static int by_seed(const void *a, const void *b) {
    const mm_rep_run *x = *(const mm_rep_run *const *)a, *y = *(const mm_rep_run *const *)b;
    return x->seed < y->seed ? -1 : x->seed > y->seed;
}

int mm_rep_find(const mm_rep_results *r, const char *rq, const char *dataset, const char *model, const char *method,
                const char *variant, const mm_rep_run **out, int max) {
    char want[256], have[256];
    if (variant) mm_rep_norm(variant, want, sizeof want);
    int k = 0;
    for (int i = 0; i < r->n && k < max; i++) {
        const mm_rep_run *x = &r->run[i];
        if (rq && strcmp(x->rq, rq)) continue;
        if (dataset && strcmp(x->dataset, dataset)) continue;
        if (model && strcmp(x->model, model)) continue;
        if (method && strcmp(x->method, method)) continue;
        if (variant) {
            mm_rep_norm(x->variant, have, sizeof have);
            if (strcmp(want, have)) continue;
        }
        out[k++] = x;
    }
    qsort(out, (size_t)k, sizeof *out, by_seed);
    return k;
}

int mm_rep_mean(const mm_rep_run *const *runs, int n, const char *lang, int metric, double *v) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        const mm_rep_run *r = runs[i];
        if (!lang) { s += metric ? r->overall_meteor : r->overall_bleu; k++; continue; }
        for (int j = 0; j < r->nlang; j++)
            if (!strcasecmp(r->lang[j].name, lang)) { s += metric ? r->lang[j].meteor : r->lang[j].bleu; k++; break; }
    }
    if (k) *v = s / k;
    return k;
}
