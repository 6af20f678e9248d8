/* A real `mmlora run --device cuda` against `--device cpu` (GPU host; tests/gpu/run.sh).  In a temporary
 * synthetic world (tests/unit/run_fixture.h: a random GPTBigCode, six languages of CodeSearchNet-format
 * data) build/mmlora runs each method at smoke scale on both devices; every tensor of the trained adapter
 * (the model for full fine-tuning) must agree within --tol (default 1e-4) relative to the tensor's largest
 * magnitude, and run.json must say which device ran.  Prints one line per method, exit 0 when all agree,
 * 1 on any mismatch or failed run (loudly), 2 when there is no device to compare.
 *
 *   build/gpu/run_parity [--tol T] [--keep] [method ...]      (methods: lora-mix mmlora mola fpft-mix)
 *
 * With MMLORA_DEVICE_STANDIN=1 the "cuda" runs use the CPU stand-in for a device table: the program then
 * checks itself anywhere (`make gpu-run-parity-selftest`: every tensor bit-identical). */
#include <math.h>
#include "io/safetensors.h"
#include "util/device.h"
#include "run_fixture.h"

static int run_one(const char *root, const char *method, const char *device) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "build/mmlora run --method %s --model %s/model --dataset csn --raw %s/raw --cache %s/cache --out "
             "%s/%s-%s --device %s --set scale=smoke%s >%s/%s-%s.log 2>&1",
             method, root, root, root, root, method, device, device,
             !strcmp(method, "mola") ? " --set mola_experts=2,4" : "", root, method, device);
    int rc = system(cmd);
    if (rc) {
        fprintf(stderr, "FAIL %s --device %s: exit status %d; last lines of %s/%s-%s.log:\n", method, device, rc, root,
                method, device);
        snprintf(cmd, sizeof cmd, "tail -15 %s/%s-%s.log >&2", root, method, device);
        if (system(cmd)) {}
    }
    return rc;
}

/* largest |a-b| / max|a| over the tensors of the two files; -1 when they do not pair up */
static double compare(const char *a_path, const char *b_path, int *n_tensors) {
    mm_safetensors *a = mm_st_open(a_path), *b = mm_st_open(b_path);
    double worst = -1.0;
    *n_tensors = 0;
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
        double mx = 0.0, d = 0.0;
        for (int64_t j = 0; j < t->numel; j++) {
            mx = fmax(mx, fabs((double)x[j]));
            double e = fabs((double)x[j] - (double)y[j]);
            d = isnan(e) ? INFINITY : fmax(d, e);
        }
        worst = fmax(worst, d / (mx > 1e-12 ? mx : 1e-12));
        free(x), free(y);
        (*n_tensors)++;
    }
out:
    if (a) mm_st_close(a);
    if (b) mm_st_close(b);
    return worst;
}

int main(int argc, char **argv) {
    double tol = 1e-4;
    int keep = 0, nm = 0;
    const char *methods[8];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tol") && i + 1 < argc) tol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--keep")) keep = 1;
        else if (nm < 8) methods[nm++] = argv[i];
    }
    if (!nm) { methods[0] = "lora-mix"; methods[1] = "mmlora"; methods[2] = "mola"; methods[3] = "fpft-mix"; nm = 4; }
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
    printf("run parity: build/mmlora run --device cpu vs --device cuda (%s), smoke scale, world %s, tol %g\n", device,
           root, tol);
    int bad = 0;
    for (int m = 0; m < nm; m++) {
        if (run_one(root, methods[m], "cpu") || run_one(root, methods[m], "cuda")) { bad++; continue; }
        const char *rel = !strcmp(methods[m], "fpft-mix") ? "adapter/model.safetensors" : "adapter/adapter_model.safetensors";
        char a[1024], b[1024], rj[1024];
        snprintf(a, sizeof a, "%s/%s-cpu/%s", root, methods[m], rel);
        snprintf(b, sizeof b, "%s/%s-cuda/%s", root, methods[m], rel);
        int nt = 0;
        double err = compare(a, b, &nt);
        snprintf(rj, sizeof rj, "%s/%s-cuda/run.json", root, methods[m]);
        size_t len;
        char *js = mm_read_file(rj, &len);
        const char *d = js ? strstr(js, "\"device\":") : NULL;
        if (d) for (d += 9; *d == ' ' || *d == '\t'; d++) {}
        const int dev_ok = d && *d == '"' && !strncmp(d + 1, device, strlen(device)) && d[1 + strlen(device)] == '"';
        free(js);
        const int ok = err >= 0.0 && err <= tol && dev_ok;
        printf("| %-9s | %3d tensors | max rel err %.3g | %s%s\n", methods[m], nt, err, ok ? "ok" : "FAIL",
               dev_ok ? "" : " (run.json does not name the device)");
        if (!ok) {
            fprintf(stderr, "FAIL %s: %s vs %s: %s\n", methods[m], a, b,
                    err < 0 ? "the files do not pair up" : err > tol ? "adapters differ beyond the tolerance" : "run.json");
            bad++;
        }
    }
    if (!keep) rf_world_remove(root);
    printf("%s: %d of %d methods agree\n", bad ? "RUN PARITY FAILED" : "run parity passed", nm - bad, nm);
    return bad ? 1 : 0;
}
