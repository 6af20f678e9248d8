/* The op profiler of tests/gpu/train_bench.c --profile (op_profile.h), on the hooked op table
 * (kernels/cpu/op_hooks.h): before an op, wait for the device and start the clock; after it, wait again and add
 * the time, less one measured wait, to the op's total. */
#include "op_profile.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cpu/op_hooks.h"

static const mm_kernels *g_in;
static float *g_probe; /* one float of the inner table's memory: downloading it waits for the queued work */
static double g_sync_cost, g_t0, g_sum[MM_OP_N];
static long g_calls[MM_OP_N];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static void wait_device(void) {
    float h;
    g_in->download(&h, g_probe, sizeof h);
}
static void begin(void) {
    wait_device();
    g_t0 = now();
}
static void end(int op) {
    wait_device();
    const double dt = now() - g_t0 - g_sync_cost;
    g_sum[op] += dt > 0 ? dt : 0;
    g_calls[op]++;
}

const mm_kernels *op_profile_table(const mm_kernels *inner) {
    static mm_kernels t;
    g_in = inner;
    g_probe = inner->alloc(sizeof(float));
    inner->zero(g_probe, sizeof(float));
    /* the cost of a wait with nothing queued, subtracted from every op's time */
    wait_device();
    const double t0 = now();
    for (int i = 0; i < 50; i++) wait_device();
    g_sync_cost = (now() - t0) / 50;
    const mm_op_hooks hooks = {begin, end};
    mm_op_hooks_table(&t, inner, &hooks);
    op_profile_reset();
    return &t;
}

void op_profile_reset(void) {
    memset(g_sum, 0, sizeof g_sum);
    memset(g_calls, 0, sizeof g_calls);
}

void op_profile_print(FILE *f, int steps, double step_s) {
    int order[MM_OP_N], n = 0;
    double total = 0;
    for (int i = 0; i < MM_OP_N; i++)
        if (g_calls[i]) order[n++] = i, total += g_sum[i];
    for (int i = 1; i < n; i++) /* largest first (insertion sort: a few dozen ops) */
        for (int j = i; j > 0 && g_sum[order[j]] > g_sum[order[j - 1]]; j--) {
            const int s = order[j];
            order[j] = order[j - 1], order[j - 1] = s;
        }
    const double per = steps > 0 ? 1.0 / steps : 0.0;
    fprintf(f, "| op | name | calls/step | ms/step | share of ops |\n|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const int o = order[i];
        fprintf(f, "| op | %-21s | %8.1f | %9.3f | %5.1f%% |\n", mm_op_name(o), g_calls[o] * per, g_sum[o] * per * 1e3,
                total > 0 ? 100.0 * g_sum[o] / total : 0.0);
    }
    fprintf(f, "| op | %-21s |          | %9.3f | of a %.3f ms profiled step (%.0f%%; the rest: host work and the "
               "waits, %.1f us each subtracted) |\n",
            "sum", total * per * 1e3, step_s * 1e3, step_s > 0 ? 100.0 * total * per / step_s : 0.0,
            g_sync_cost * 1e6);
}
