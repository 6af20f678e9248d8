/* grid.json: parsing, validation and expansion into mm_run_opts (experiments/experiment.h). */
#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "experiments/experiment.h"
#include "train/run_dir.h"
#include "util/fileio.h"
#include "util/log.h"

/* "set": {"k": v} or ["k=v", ...] -> sets[] */
static int parse_sets(const char *path, const char *where, const cJSON *j, char sets[][96], int *n) {
    *n = 0;
    if (!j) return 0;
    if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
        return mm_fail("%s: %s: \"set\" must be an object {\"key\": value} or a list of \"key=value\"", path, where);
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (*n == MM_GRID_MAX_SETS) return mm_fail("%s: %s: more than %d settings", path, where, MM_GRID_MAX_SETS);
        char *s = sets[*n];
        int w;
        if (cJSON_IsArray(j)) {
            if (!cJSON_IsString(it) || !strchr(it->valuestring, '='))
                return mm_fail("%s: %s: \"set\" entries must be \"key=value\" strings", path, where);
            w = snprintf(s, 96, "%s", it->valuestring);
        } else if (cJSON_IsString(it)) {
            w = snprintf(s, 96, "%s=%s", it->string, it->valuestring);
        } else if (cJSON_IsNumber(it)) {
            w = snprintf(s, 96, "%s=%.17g", it->string, it->valuedouble);
            if (it->valuedouble == (double)(long long)it->valuedouble) w = snprintf(s, 96, "%s=%lld", it->string, (long long)it->valuedouble);
        } else if (cJSON_IsBool(it)) {
            w = snprintf(s, 96, "%s=%s", it->string, cJSON_IsTrue(it) ? "on" : "off");
        } else {
            return mm_fail("%s: %s: \"set\" value of '%s' must be a string, number or boolean", path, where, it->string);
        }
        if (w >= 96) return mm_fail("%s: %s: setting '%.40s...' too long", path, where, s);
        (*n)++;
    }
    return 0;
}

static void default_name(mm_grid_run *r) {
    char buf[256];
    if (r->variant[0]) snprintf(buf, sizeof buf, "%s_%s", r->method, r->variant);
    else snprintf(buf, sizeof buf, "%s", r->method);
    size_t w = 0;
    for (size_t i = 0; buf[i] && w + 1 < sizeof r->name; i++) {
        unsigned char c = (unsigned char)buf[i];
        char o = isalnum(c) || c == '.' || c == '-' || c == '_' ? (char)c : c == '=' ? '-' : '_';
        if (o == '_' && w && r->name[w - 1] == '_') continue;
        r->name[w++] = o;
    }
    r->name[w] = 0;
}

static int known_field(const char *k, const char *const *ok) {
    for (; *ok; ok++)
        if (!strcmp(k, *ok)) return 1;
    return 0;
}

int mm_grid_parse(const char *path, const char *text, mm_grid *g) {
    memset(g, 0, sizeof *g);
    snprintf(g->path, sizeof g->path, "%s", path);
    cJSON *j = cJSON_Parse(text);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mm_fail("%s: not a JSON object (see experiments/README.md for the grid format)", path);
    }
    static const char *const TOP[] = {"rq", "description", "set", "runs", "expected_minutes", "comment", NULL};
    static const char *const RUN[] = {"name", "method", "variant", "set", "comment", NULL};
    int rc = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) if (!known_field(it->string, TOP)) {
        mm_fail("%s: unknown field '%s' (rq, description, set, runs, expected_minutes, comment)", path, it->string);
        goto out;
    }
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(j, "rq"), *runs = cJSON_GetObjectItemCaseSensitive(j, "runs");
    if (!cJSON_IsString(rq) || !rq->valuestring[0] || strlen(rq->valuestring) >= sizeof g->rq) {
        mm_fail("%s: missing field \"rq\" (a string such as \"rq1\")", path);
        goto out;
    }
    snprintf(g->rq, sizeof g->rq, "%s", rq->valuestring);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "description");
    if (cJSON_IsString(d)) snprintf(g->description, sizeof g->description, "%s", d->valuestring);
    if (parse_sets(path, "shared settings", cJSON_GetObjectItemCaseSensitive(j, "set"), g->shared, &g->n_shared)) goto out;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(j, "expected_minutes");
    cJSON_ArrayForEach(it, ex) if (cJSON_IsNumber(it) && g->n_expect < 16) {
        snprintf(g->expect_key[g->n_expect], sizeof g->expect_key[0], "%s", it->string);
        g->expect_min[g->n_expect++] = it->valuedouble;
    }
    if (!cJSON_IsArray(runs) || !cJSON_GetArraySize(runs)) {
        mm_fail("%s: missing field \"runs\" (a non-empty list of {\"method\": ..., \"variant\": ..., \"set\": {...}})", path);
        goto out;
    }
    g->runs = mm_xcalloc((size_t)cJSON_GetArraySize(runs), sizeof *g->runs);
    cJSON_ArrayForEach(it, runs) {
        int k = g->n_runs + 1;
        mm_grid_run *r = &g->runs[g->n_runs];
        char where[64];
        snprintf(where, sizeof where, "run %d", k);
        if (!cJSON_IsObject(it)) { mm_fail("%s: %s is not an object", path, where); goto out; }
        const cJSON *f;
        cJSON_ArrayForEach(f, it) if (!known_field(f->string, RUN)) {
            mm_fail("%s: %s: unknown field '%s' (name, method, variant, set, comment)", path, where, f->string);
            goto out;
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(it, "method");
        if (!cJSON_IsString(m) || !m->valuestring[0]) { mm_fail("%s: %s: missing field \"method\"", path, where); goto out; }
        snprintf(r->method, sizeof r->method, "%s", m->valuestring);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "variant"), *n = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (v && !cJSON_IsString(v)) { mm_fail("%s: %s: \"variant\" must be a string", path, where); goto out; }
        if (n && (!cJSON_IsString(n) || !n->valuestring[0] || strchr(n->valuestring, '/'))) {
            mm_fail("%s: %s: \"name\" must be a non-empty string without '/'", path, where);
            goto out;
        }
        if (v) snprintf(r->variant, sizeof r->variant, "%s", v->valuestring);
        if (parse_sets(path, where, cJSON_GetObjectItemCaseSensitive(it, "set"), r->sets, &r->n_sets)) goto out;
        if (n) snprintf(r->name, sizeof r->name, "%s", n->valuestring);
        else default_name(r);
        for (int p = 0; p < g->n_runs; p++)
            if (!strcmp(g->runs[p].name, r->name)) {
                mm_fail("%s: runs %d and %d have the same name '%s' (give one a \"name\")", path, p + 1, k, r->name);
                goto out;
            }
        g->n_runs++;
    }
    /* every method and key, checked now (before any work) at each scale */
    static const char *const SCALES[] = {"smoke", "default", "full"};
    for (int s = 0; s < 3; s++) {
        mm_exp_opts x = {.model_dir = "models/check", .dataset = "local", .scale = SCALES[s], .results = "results"};
        for (int i = 0; i < g->n_runs; i++) {
            mm_run_opts o;
            if (mm_grid_expand(g, i, &x, &o)) goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(j);
    if (rc) mm_grid_free(g);
    return rc;
}

int mm_grid_load(const char *path, mm_grid *g) {
    size_t len;
    char *txt = mm_read_file(path, &len);
    if (!txt) {
        memset(g, 0, sizeof *g);
        return mm_fail("%s: cannot read the grid file", path);
    }
    int rc = mm_grid_parse(path, txt, g);
    free(txt);
    return rc;
}

void mm_grid_free(mm_grid *g) {
    free(g->runs);
    g->runs = NULL;
    g->n_runs = 0;
}

static int apply(const mm_grid *g, const char *where, mm_run_opts *o, const char *set) {
    if (!mm_run_set(o, set)) return 0;
    char m[1024];
    snprintf(m, sizeof m, "%s", mm_last_error());
    return mm_fail("%s: %s: %s", g->path, where, m);
}

int mm_grid_expand(const mm_grid *g, int i, const mm_exp_opts *x, mm_run_opts *o) {
    const mm_grid_run *r = &g->runs[i];
    char where[160];
    snprintf(where, sizeof where, "run %d ('%s')", i + 1, r->name);
    mm_run_defaults(o);
    if (mm_method_from_name(r->method, &o->method)) {
        char m[512];
        snprintf(m, sizeof m, "%s", mm_last_error());
        return mm_fail("%s: %s: %s", g->path, where, m);
    }
    char model[64];
    mm_run_model_name(x->model_dir, model, sizeof model);
    snprintf(o->model_dir, sizeof o->model_dir, "%s", x->model_dir);
    snprintf(o->dataset, sizeof o->dataset, "%s", x->dataset);
    if (x->raw) snprintf(o->raw_dir, sizeof o->raw_dir, "%s", x->raw);
    if (x->cache) snprintf(o->cache_root, sizeof o->cache_root, "%s", x->cache);
    snprintf(o->rq, sizeof o->rq, "%s", g->rq);
    snprintf(o->variant, sizeof o->variant, "%s", r->variant);
    int w = snprintf(o->out_dir, sizeof o->out_dir, "%s/%s/%s/%s/%s", x->results ? x->results : "results", g->rq,
                     x->dataset, model, r->name);
    if (w >= (int)sizeof o->out_dir) return mm_fail("%s: %s: run directory path too long", g->path, where);
    char sc[64];
    snprintf(sc, sizeof sc, "scale=%s", x->scale ? x->scale : "default");
    if (apply(g, "--scale", o, sc)) return -1;
    for (int k = 0; k < g->n_shared; k++)
        if (apply(g, "shared settings", o, g->shared[k])) return -1;
    for (int k = 0; k < r->n_sets; k++)
        if (apply(g, where, o, r->sets[k])) return -1;
    if (mm_run_validate(o)) {
        char m[512];
        snprintf(m, sizeof m, "%s", mm_last_error());
        return mm_fail("%s: %s: %s", g->path, where, m);
    }
    return 0;
}
