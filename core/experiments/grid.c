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

/* ---- "resources" (experiment.h): validated here like every other key */
static const char *const RES_SCALES[3] = {"smoke", "default", "full"};
#define RES_KEYS "gpus, cpus, mem, time, partition, account, nproc, and smoke/default/full objects"

static int res_scale_level(const char *scale) {
    for (int s = 0; s < 3; s++)
        if (scale && !strcmp(scale, RES_SCALES[s])) return s + 1;
    return 2;
}

static int res_int(const char *path, const char *where, const cJSON *v, int lo, int hi, int *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char got[64];
        if (cJSON_IsNumber(v)) snprintf(got, sizeof got, "%g", v->valuedouble);
        else snprintf(got, sizeof got, "a non-number");
        return mm_fail("%s: %s: resources: \"%s\" must be an integer from %d to %d (got %s)", path, where, v->string, lo,
                       hi, got);
    }
    *out = (int)v->valuedouble;
    return 0;
}

/* n digits (n = 0: one or more), returns the value or -1 */
static long digits(const char **p, int n) {
    long v = 0;
    int k = 0;
    while (isdigit((unsigned char)**p) && (n == 0 || k < n) && k < 6) v = v * 10 + (*(*p)++ - '0'), k++;
    return k && (n == 0 || k == n) ? v : -1;
}

/* Slurm --time as HH:MM:SS or D-HH:MM:SS (minutes and seconds < 60, hours < 24 after a day count), > 0 */
static int valid_time(const char *t) {
    const char *p = t;
    long d = -1, h, m, s;
    if (strchr(t, '-')) {
        if ((d = digits(&p, 0)) < 0 || *p++ != '-') return 0;
    }
    if ((h = digits(&p, d >= 0 ? 2 : 0)) < 0 || *p++ != ':' || (m = digits(&p, 2)) < 0 || *p++ != ':' ||
        (s = digits(&p, 2)) < 0 || *p)
        return 0;
    if (m >= 60 || s >= 60 || (d >= 0 && h >= 24)) return 0;
    return (d > 0 ? d : 0) + h + m + s > 0;
}

static int valid_mem(const char *m) {
    const char *p = m;
    if (digits(&p, 0) <= 0) return 0;
    if (*p && strchr("KMGT", *p)) p++;
    return !*p;
}

static int valid_name(const char *n) {
    if (!*n) return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && !strchr("_-.,", *n)) return 0;
    return 1;
}

static int parse_res_level(const char *path, const char *where, const cJSON *j, mm_grid_res *res, int level) {
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        const char *k = it->string;
        mm_grid_res *r = &res[level];
        int sl = 0;
        for (int s = 0; s < 3; s++)
            if (!strcmp(k, RES_SCALES[s])) sl = s + 1;
        if (sl && level == 0) {
            if (!cJSON_IsObject(it))
                return mm_fail("%s: %s: resources: \"%s\" must be an object of resource keys for that scale", path, where, k);
            if (parse_res_level(path, where, it, res, sl)) return -1;
            continue;
        }
        if (!strcmp(k, "gpus")) {
            if (res_int(path, where, it, 0, 1024, &r->gpus)) return -1;
            r->set |= MM_RES_GPUS;
        } else if (!strcmp(k, "cpus")) {
            if (res_int(path, where, it, 1, 4096, &r->cpus)) return -1;
            r->set |= MM_RES_CPUS;
        } else if (!strcmp(k, "nproc")) {
            if (res_int(path, where, it, 1, 4096, &r->nproc)) return -1;
            r->set |= MM_RES_NPROC;
        } else if (!strcmp(k, "mem")) {
            if (cJSON_IsString(it) && valid_mem(it->valuestring) && strlen(it->valuestring) < sizeof r->mem)
                snprintf(r->mem, sizeof r->mem, "%s", it->valuestring);
            else if (cJSON_IsNumber(it) && it->valuedouble >= 1 && it->valuedouble < 1e12 &&
                     it->valuedouble == (double)(long long)it->valuedouble)
                snprintf(r->mem, sizeof r->mem, "%lldM", (long long)it->valuedouble);
            else
                return mm_fail("%s: %s: resources: \"mem\" must be a size such as \"16G\" (digits, then K, M, G or T) "
                               "or a number of megabytes", path, where);
            r->set |= MM_RES_MEM;
        } else if (!strcmp(k, "time")) {
            if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof r->time || !valid_time(it->valuestring))
                return mm_fail("%s: %s: resources: \"time\" must be \"HH:MM:SS\" or \"D-HH:MM:SS\" (e.g. \"02:00:00\"), "
                               "got %s", path, where, cJSON_IsString(it) ? it->valuestring : "a non-string");
            snprintf(r->time, sizeof r->time, "%s", it->valuestring);
            r->set |= MM_RES_TIME;
        } else if (!strcmp(k, "partition") || !strcmp(k, "account")) {
            int part = k[0] == 'p';
            char *dst = part ? r->partition : r->account;
            if (!cJSON_IsString(it) || !valid_name(it->valuestring) || strlen(it->valuestring) >= sizeof r->partition)
                return mm_fail("%s: %s: resources: \"%s\" must be a non-empty name of letters, digits and _-.,", path,
                               where, k);
            snprintf(dst, sizeof r->partition, "%s", it->valuestring);
            r->set |= part ? MM_RES_PARTITION : MM_RES_ACCOUNT;
        } else {
            return mm_fail("%s: %s: resources: unknown key '%s' (%s)", path, where, k,
                           level ? "gpus, cpus, mem, time, partition, account, nproc" : RES_KEYS);
        }
    }
    return 0;
}

static int parse_res(const char *path, const char *where, const cJSON *j, mm_grid_res *res) {
    if (!j) return 0;
    if (!cJSON_IsObject(j)) return mm_fail("%s: %s: \"resources\" must be an object (%s)", path, where, RES_KEYS);
    return parse_res_level(path, where, j, res, 0);
}

void mm_grid_res_defaults(const char *scale, mm_grid_res *r) {
    memset(r, 0, sizeof *r);
    r->nproc = 1;
    switch (res_scale_level(scale)) {
    case 1: r->cpus = 2; snprintf(r->mem, sizeof r->mem, "4G"); snprintf(r->time, sizeof r->time, "00:30:00"); break;
    case 3: r->cpus = 16; snprintf(r->mem, sizeof r->mem, "64G"); snprintf(r->time, sizeof r->time, "2-00:00:00"); break;
    default: r->cpus = 4; snprintf(r->mem, sizeof r->mem, "8G"); snprintf(r->time, sizeof r->time, "04:00:00"); break;
    }
}

static void res_overlay(mm_grid_res *r, const mm_grid_res *o) {
    if (o->set & MM_RES_GPUS) r->gpus = o->gpus;
    if (o->set & MM_RES_CPUS) r->cpus = o->cpus;
    if (o->set & MM_RES_NPROC) r->nproc = o->nproc;
    if (o->set & MM_RES_MEM) memcpy(r->mem, o->mem, sizeof r->mem);
    if (o->set & MM_RES_TIME) memcpy(r->time, o->time, sizeof r->time);
    if (o->set & MM_RES_PARTITION) memcpy(r->partition, o->partition, sizeof r->partition);
    if (o->set & MM_RES_ACCOUNT) memcpy(r->account, o->account, sizeof r->account);
    r->set |= o->set;
}

void mm_grid_resources(const mm_grid *g, int i, const char *scale, mm_grid_res *r) {
    int l = res_scale_level(scale);
    mm_grid_res_defaults(scale, r);
    res_overlay(r, &g->res[0]);
    res_overlay(r, &g->res[l]);
    res_overlay(r, &g->runs[i].res[0]);
    res_overlay(r, &g->runs[i].res[l]);
}

int mm_grid_find(const mm_grid *g, const char *name) {
    for (int i = 0; i < g->n_runs; i++)
        if (!strcmp(g->runs[i].name, name)) return i;
    char list[2048] = "";
    size_t w = 0;
    for (int i = 0; i < g->n_runs && w < sizeof list - 1; i++)
        w += (size_t)snprintf(list + w, sizeof list - w, "%s%s", i ? ", " : "", g->runs[i].name);
    return mm_fail("%s: no run named '%s' (the runs: %s)", g->path, name, list);
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
    static const char *const TOP[] = {"rq", "description", "set", "runs", "expected_minutes", "resources", "comment", NULL};
    static const char *const RUN[] = {"name", "method", "variant", "set", "resources", "comment", NULL};
    int rc = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) if (!known_field(it->string, TOP)) {
        mm_fail("%s: unknown field '%s' (rq, description, set, runs, expected_minutes, resources, comment)", path, it->string);
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
    if (parse_res(path, "top level", cJSON_GetObjectItemCaseSensitive(j, "resources"), g->res)) goto out;
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
            mm_fail("%s: %s: unknown field '%s' (name, method, variant, set, resources, comment)", path, where, f->string);
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
        if (!strcmp(r->name, "slurm")) {
            mm_fail("%s: %s: the name 'slurm' is reserved (the directory of the cluster scripts); give the run another \"name\"",
                    path, where);
            goto out;
        }
        char rwhere[160];
        snprintf(rwhere, sizeof rwhere, "run %d ('%s')", k, r->name);
        if (parse_res(path, rwhere, cJSON_GetObjectItemCaseSensitive(it, "resources"), r->res)) goto out;
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
    if (x->device) {
        char d[96];
        snprintf(d, sizeof d, "device=%s", x->device);
        if (apply(g, "--device", o, d)) return -1;
    }
    for (int k = 0; k < x->n_sets; k++)
        if (apply(g, "--set", o, x->sets[k])) return -1;
    if (mm_run_validate(o)) {
        char m[512];
        snprintf(m, sizeof m, "%s", mm_last_error());
        return mm_fail("%s: %s: %s", g->path, where, m);
    }
    return 0;
}
