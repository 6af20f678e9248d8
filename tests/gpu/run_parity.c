/* A real `mmlora run --device cuda` against `--device cpu` (GPU host; tests/gpu/run.sh).  In a temporary
 * synthetic world (tests/unit/run_fixture.h: a random GPTBigCode, six languages of CodeSearchNet-format
 * data) build/mmlora runs each method at smoke scale on both devices; every tensor of the trained adapter
 * (the model for full fine-tuning) must agree, relative to the tensor's largest magnitude, within --tol-rms
 * (default 1e-3) in root mean square and within --tol (default 1e-2) at its worst element, and run.json must say
 * which device ran.  Why two measures: AdamW turns a gradient that is zero up to rounding into a full ±lr step
 * whose sign is the rounding's (the key bias of the fused QKV projection has an exactly-zero gradient: softmax
 * ignores a shift shared by a row's scores), and a router's top-k near-tie may pick another expert, so a few
 * elements legitimately differ by ~1e-4..1e-3 of the tensor's scale after a smoke run on another summation
 * order (measured: the CPU's own fused vs unfused expert paths, MMLoRA: worst 1.25e-3, rms 9.3e-5; the CPU
 * vs the CUDA emulator: worst 1.8e-4, rms <= 4.9e-5), while a wrong op moves every element (rms >> 1e-3).
 * --tol 0 asks for bit-identical tensors (the stand-in).  Prints one line per method, exit 0 when all agree,
 * 1 on any mismatch or failed run (loudly), 2 when there is no device to compare.
 *
 * Resume on the device (`--resume METHOD`): `build/mmlora train --device cuda` is killed with SIGKILL right after
 * its step-K checkpoint (--kill-at K, default 5; the test hook MMLORA_KILL_AT_STEP through tests/unit/run_fixture.h
 * rf_train_killed_at, as tests/unit/test_run_device.c does on the stand-in), then the same `build/mmlora run
 * --device cuda` again must log that it resumed at step K and finish with the adapter file and every language's
 * predictions byte-identical to an uninterrupted `--device cuda` run (the pair's run when METHOD is also listed,
 * else one more run).  With --resume and no method listed only the resume check runs.  One line, exit 1 if not.
 *
 * Determinism (`--same-under VAR=VALUE METHOD`): one more `--device cuda` run of METHOD with VAR=VALUE in its
 * environment must give the uninterrupted run's adapter and predictions byte for byte (on the CUDA emulator:
 * MMLORA_EMU_ORDER=reverse, every block and thread in the opposite order: a kernel whose result depends on the
 * order has a race; tests/cuda_emu).
 *
 *   build/gpu/run_parity [--tol T] [--tol-rms R] [--keep] [--resume METHOD [--kill-at K]]
 *                        [--same-under VAR=VALUE METHOD] [method ...]
 *                                                          (methods: lora-mix mmlora mola fpft-mix)
 *
 * With MMLORA_DEVICE_STANDIN=1 the "cuda" runs use the CPU stand-in for a device table: the program then
 * checks itself anywhere (`make gpu-run-parity-selftest`: every tensor bit-identical, and the resume check). */
#include <math.h>
#include "io/safetensors.h"
#include "util/device.h"
#include "run_fixture.h"

/* `build/mmlora run` of method on device into <root>/<method>-<out>, its output in <root>/<method>-<out>.log
 * (appended); extra: more options */
static int run_into(const char *root, const char *method, const char *device, const char *out, const char *extra) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "build/mmlora run --method %s --model %s/model --dataset csn --raw %s/raw --cache %s/cache --out "
             "%s/%s-%s --device %s --set scale=smoke%s%s >>%s/%s-%s.log 2>&1",
             method, root, root, root, root, method, out, device,
             !strcmp(method, "mola") ? " --set mola_experts=2,4" : "", extra, root, method, out);
    int rc = system(cmd);
    if (rc) {
        fprintf(stderr, "FAIL %s --device %s: exit status %d; last lines of %s/%s-%s.log:\n", method, device, rc, root,
                method, out);
        snprintf(cmd, sizeof cmd, "tail -15 %s/%s-%s.log >&2", root, method, out);
        if (system(cmd)) {}
    }
    return rc;
}
static int run_one(const char *root, const char *method, const char *device) {
    return run_into(root, method, device, device, "");
}

/* largest |a-b| / max|a| over the tensors of the two files (-1 when they do not pair up); *rms_worst: the largest
 * rms(a-b) / max|a| */
static double compare(const char *a_path, const char *b_path, int *n_tensors, double *rms_worst) {
    mm_safetensors *a = mm_st_open(a_path), *b = mm_st_open(b_path);
    double worst = -1.0;
    *n_tensors = 0;
    *rms_worst = 0.0;
    if (!a || !b || mm_st_count(a) != mm_st_count(b)) goto out;
    worst = 0.0;
    for (int i = 0; i < mm_st_count(a); i++) {
        const mm_st_tensor *t = mm_st_at(a, i), *u = mm_st_find(b, t->name);
        if (!u || u->numel != t->numel) { worst = -1.0; goto out; }
        float *x = malloc((size_t)t->numel * sizeof(float)), *y = malloc((size_t)t->numel * sizeof(float));
        if (mm_st_read_f32(a, t->name, x, t->ndim, t->shape) || mm_st_read_f32(b, t->name, y, t->ndim, t->shape)) {
            free(x), free(y);
            worst = -1.0;
            goto out;
        }
        double mx = 0.0, d = 0.0, ss = 0.0;
        for (int64_t j = 0; j < t->numel; j++) {
            mx = fmax(mx, fabs((double)x[j]));
            double e = fabs((double)x[j] - (double)y[j]);
            d = isnan(e) ? INFINITY : fmax(d, e);
            ss += isnan(e) ? INFINITY : e * e;
        }
        const double scale = mx > 1e-12 ? mx : 1e-12;
        worst = fmax(worst, d / scale);
        *rms_worst = fmax(*rms_worst, sqrt(ss / (double)(t->numel ? t->numel : 1)) / scale);
        free(x), free(y);
        (*n_tensors)++;
    }
out:
    if (a) mm_st_close(a);
    if (b) mm_st_close(b);
    return worst;
}

/* 1 when both files exist and hold the same bytes */
static int same_bytes(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    char *x = mm_read_file(a, &la), *y = mm_read_file(b, &lb);
    const int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

/* the trained file of a method's run directory: the PEFT adapter, or the whole model for full fine-tuning */
static const char *adapter_rel(const char *method) {
    return !strcmp(method, "fpft-mix") ? "adapter/model.safetensors" : "adapter/adapter_model.safetensors";
}

/* <method>-cuda against <method>-<other>: 1 when their trained files hold the same bytes (paths into a, b); *preds:
 * the languages whose predictions are byte-identical */
static int same_outputs(const char *root, const char *method, const char *other, char *a, char *b, size_t n, int *preds) {
    snprintf(a, n, "%s/%s-cuda/%s", root, method, adapter_rel(method));
    snprintf(b, n, "%s/%s-%s/%s", root, method, other, adapter_rel(method));
    *preds = 0;
    for (int l = 0; l < 6; l++) {
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, "%s/%s-cuda/predictions/%s.txt", root, method, RF_LANGS[l]);
        snprintf(pb, sizeof pb, "%s/%s-%s/predictions/%s.txt", root, method, other, RF_LANGS[l]);
        *preds += same_bytes(pa, pb);
    }
    return same_bytes(a, b);
}

/* The resume check (see the header).  straight_done: <method>-cuda already holds an uninterrupted device run.
 * Prints one table line; 0 identical, 1 not (or a run failed). */
static int resume_check(const char *root, const char *method, int kill_at, int straight_done) {
    if (!straight_done && run_one(root, method, "cuda")) return 1;
    char out[64], log[1024], want[96];
    snprintf(out, sizeof out, "%s-resumed", method);
    /* the killed child's output goes to its log, like the other runs' */
    char klog[1024];
    snprintf(klog, sizeof klog, "%s/%s-resumed.log", root, method);
    fflush(stdout);
    fflush(stderr);
    const int so = dup(1), se = dup(2);
    FILE *kf = fopen(klog, "w");
    if (kf) {
        dup2(fileno(kf), 1);
        dup2(fileno(kf), 2);
        fclose(kf);
    }
    const int killed = rf_train_killed_at(root, method, out, kill_at, "cuda");
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    if (!killed) {
        fprintf(stderr, "FAIL resume %s: `build/mmlora train --device cuda` was not killed after its step-%d checkpoint\n",
                method, kill_at);
        printf("| resume    | %-9s | kill -9 at step %d | FAIL (not killed)\n", method, kill_at);
        return 1;
    }
    if (run_into(root, method, "cuda", "resumed", " --set ckpt_every=1")) {
        printf("| resume    | %-9s | kill -9 at step %d | FAIL (the rerun failed)\n", method, kill_at);
        return 1;
    }
    /* the rerun must have resumed (a run from scratch would match too and prove nothing) */
    snprintf(log, sizeof log, "%s/%s-resumed.log", root, method);
    snprintf(want, sizeof want, "at step %d of", kill_at);
    size_t n;
    char *txt = mm_read_file(log, &n);
    const int resumed = txt && strstr(txt, "resuming from") && strstr(txt, want);
    free(txt);
    char a[1024], b[1024];
    int pred_same;
    const int adapter_same = same_outputs(root, method, "resumed", a, b, sizeof a, &pred_same);
    int nt = 0;
    double rms = 0.0;
    const double err = adapter_same ? 0.0 : compare(a, b, &nt, &rms);
    const int ok = resumed && adapter_same && pred_same == 6;
    printf("| resume    | %-9s | kill -9 after the step-%d checkpoint, rerun %s | adapter %s | predictions %d/6 "
           "identical | %s\n", method, kill_at, resumed ? "resumed" : "did NOT resume", adapter_same ? "identical" : "differs",
           pred_same, ok ? "ok" : "FAIL");
    if (!ok)
        fprintf(stderr, "FAIL resume %s:%s%s%s (adapter max rel err %.3g; runs in %s/%s-cuda and %s/%s-resumed)\n", method,
                resumed ? "" : " the rerun did not log that it resumed at that step;",
                adapter_same ? "" : " the adapters differ;", pred_same == 6 ? "" : " predictions differ;", err, root,
                method, root, method);
    return !ok;
}

/* one more --device cuda run of method with var=value set; adapter and predictions byte-identical to <method>-cuda
 * (run first unless done) */
static int same_under_check(const char *root, const char *method, const char *assign, int straight_done) {
    if (!straight_done && run_one(root, method, "cuda")) return 1;
    char var[128];
    const char *eq = strchr(assign, '=');
    snprintf(var, sizeof var, "%.*s", eq ? (int)(eq - assign) : 0, assign);
    if (!eq || !var[0]) {
        fprintf(stderr, "FAIL --same-under %s: expected VAR=VALUE\n", assign);
        return 1;
    }
    const char *old = getenv(var);
    char *saved = old ? strdup(old) : NULL;
    setenv(var, eq + 1, 1);
    const int rc = run_into(root, method, "cuda", "under", "");
    if (saved) setenv(var, saved, 1), free(saved);
    else unsetenv(var);
    if (rc) return 1;
    char a[1024], b[1024];
    int pred_same;
    const int adapter_same = same_outputs(root, method, "under", a, b, sizeof a, &pred_same);
    const int ok = adapter_same && pred_same == 6;
    printf("| same      | %-9s | %s | adapter %s | predictions %d/6 identical | %s\n", method, assign,
           adapter_same ? "identical" : "differs", pred_same, ok ? "ok" : "FAIL");
    if (!ok)
        fprintf(stderr, "FAIL %s under %s: the run is not byte-identical to the same run without it (%s/%s-cuda vs "
                        "%s/%s-under)\n", method, assign, root, method, root, method);
    return !ok;
}

int main(int argc, char **argv) {
    double tol = 1e-2, tol_rms = 1e-3;
    int keep = 0, nm = 0, kill_at = 5;
    const char *methods[8], *resume = NULL, *under = NULL, *under_method = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tol") && i + 1 < argc) {
            tol = atof(argv[++i]);
            if (tol == 0.0) tol_rms = 0.0;
        } else if (!strcmp(argv[i], "--tol-rms") && i + 1 < argc) tol_rms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--keep")) keep = 1;
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc) resume = argv[++i];
        else if (!strcmp(argv[i], "--kill-at") && i + 1 < argc) kill_at = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--same-under") && i + 2 < argc) under = argv[++i], under_method = argv[++i];
        else if (nm < 8) methods[nm++] = argv[i];
    }
    if (!nm && !resume && !under) { methods[0] = "lora-mix"; methods[1] = "mmlora"; methods[2] = "mola"; methods[3] = "fpft-mix"; nm = 4; }
    /* this program lives in build/gpu/, the library beside build/mmlora: point both at it */
    char lib[1024], cwd[900];
    if (!getenv("MMLORA_CUDA_LIB") && getcwd(cwd, sizeof cwd)) {
        snprintf(lib, sizeof lib, "%s/build/libmmlora_cuda.so", cwd);
        setenv("MMLORA_CUDA_LIB", lib, 1);
    }
    char device[192], note[1200];
    const mm_kernels *k = NULL;
    if (mm_device_resolve("cuda", device, sizeof device, note, sizeof note, &k)) {
        fprintf(stderr, "run_parity: no device to compare: %s\n", mm_last_error());
        return 2;
    }
    char root[256];
    if (rf_world_create(root, sizeof root, "mmlora-run-parity")) {
        fprintf(stderr, "run_parity: %s\n", mm_last_error());
        return 1;
    }
    if (nm)
        printf("run parity: build/mmlora run --device cpu vs --device cuda (%s), smoke scale, world %s, tol %g worst, %g "
               "rms\n", device, root, tol, tol_rms);
    if (resume)
        printf("resume: build/mmlora train --device cuda (%s) killed after its step-%d checkpoint, then run again, vs an "
               "uninterrupted --device cuda run of %s (smoke scale, world %s)\n", device, kill_at, resume, root);
    int bad = 0, straight_done = 0, under_done = 0;
    for (int m = 0; m < nm; m++) {
        if (run_one(root, methods[m], "cpu") || run_one(root, methods[m], "cuda")) { bad++; continue; }
        if (resume && !strcmp(resume, methods[m])) straight_done = 1;
        if (under && !strcmp(under_method, methods[m])) under_done = 1;
        char a[1024], b[1024], rj[1024];
        snprintf(a, sizeof a, "%s/%s-cpu/%s", root, methods[m], adapter_rel(methods[m]));
        snprintf(b, sizeof b, "%s/%s-cuda/%s", root, methods[m], adapter_rel(methods[m]));
        int nt = 0;
        double rms = 0.0, err = compare(a, b, &nt, &rms);
        snprintf(rj, sizeof rj, "%s/%s-cuda/run.json", root, methods[m]);
        size_t len;
        char *js = mm_read_file(rj, &len);
        const char *d = js ? strstr(js, "\"device\":") : NULL;
        if (d) for (d += 9; *d == ' ' || *d == '\t'; d++) {}
        const int dev_ok = d && *d == '"' && !strncmp(d + 1, device, strlen(device)) && d[1 + strlen(device)] == '"';
        free(js);
        const int close = err >= 0.0 && err <= tol && rms <= tol_rms;
        const int ok = close && dev_ok;
        printf("| %-9s | %3d tensors | max rel err %.3g | rms rel err %.3g | %s%s\n", methods[m], nt, err, rms,
               ok ? "ok" : "FAIL", dev_ok ? "" : " (run.json does not name the device)");
        if (!ok) {
            fprintf(stderr, "FAIL %s: %s vs %s: %s\n", methods[m], a, b,
                    err < 0 ? "the files do not pair up" : !close ? "adapters differ beyond the tolerance" : "run.json");
            bad++;
        }
    }
    const int resume_bad = resume ? resume_check(root, resume, kill_at, straight_done) : 0;
    if (resume && under && !strcmp(resume, under_method)) under_done = 1; /* resume_check made <method>-cuda */
    const int under_bad = under ? same_under_check(root, under_method, under, under_done) : 0;
    if (!keep) rf_world_remove(root);
    char rs[400] = "";
    if (resume)
        snprintf(rs, sizeof rs, "%sresume of %s after kill -9 at step %d %s", nm ? "; " : "", resume, kill_at,
                 resume_bad ? "FAILED" : "identical");
    if (under)
        snprintf(rs + strlen(rs), sizeof rs - strlen(rs), "%s%s byte-identical under %s: %s", nm || resume ? "; " : "",
                 under_method, under, under_bad ? "NO" : "yes");
    const int failed = bad || resume_bad || under_bad;
    if (nm) printf("%s: %d of %d methods agree%s\n", failed ? "RUN PARITY FAILED" : "run parity passed", nm - bad, nm, rs);
    else printf("%s: %s\n", failed ? "RUN CHECKS FAILED" : "run checks passed", rs);
    return failed ? 1 : 0;
}
