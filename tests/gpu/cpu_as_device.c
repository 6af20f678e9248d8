/* A stand-in for the CUDA table on a machine without a GPU: the library's mm_kernels_cpu_standin()
 * (kernels/cpu/standin.c: the CPU table declaring device memory, NaN-filled allocations, real copies).
 * Linked instead of libmmlora_cuda.a it makes build/gpu/engine_parity_cpu (`make
 * gpu-engine-parity-selftest`), which runs the parity program end to end here: it must pass (the engine's
 * device path is bit-identical to the CPU path), and with MMLORA_SELFTEST_PERTURB=1 (the stand-in's `add`
 * off by 1e-3 relative) it must fail.  MMLORA_SELFTEST_PERTURB=sum jitters the outputs of the bf16 linears
 * (linear_fwd_w16, linear_bwd_dx_w16) by up to 1e-6 relative, pseudo-randomly: an emulation of cuBLAS summing the
 * same exact bf16 products in another order (about 8 fp32 ulps, more than two fp32 sums of at most 176 terms
 * typically differ by); the bf16 rows must still pass, which sizes their tolerances (engine_parity.c).  It jitters
 * the fp32 linear_fwd too (cuBLAS sgemm vs OpenBLAS), which matters for bf16 activations on fp32 weights (the
 * fpft-mix a16 rows: a flipped rounding of an activation) and leaves the fp32 rows within their 1e-4.
 * MMLORA_SELFTEST_PERTURB=noround makes the w16 ops skip the activation's rounding (a diagnostic: how far that
 * lands from the tolerances); =guard takes the guarded stand-in (a host access to device memory faults). */
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "util/philox.h"

static void add_perturbed(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (a[i] + b[i]) * 1.001f;
}

#define SUM_NOISE 1e-6f
static uint32_t n_calls;
static void jitter(float *y, int ld, int N, int C) {
    const uint32_t call = n_calls++;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            const float u = 2.0f * mm_u32_to_unit(mm_rng_u32(4242, call, 0, (uint64_t)n * C + c)) - 1.0f;
            y[(size_t)n * ld + c] *= 1.0f + SUM_NOISE * u;
        }
}
static void fwd_w16_jitter(float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b, int N,
                           int in, int out, int acc) {
    mm_kernels_cpu.linear_fwd_w16(y, ldy, x, ldx, W, b, N, in, out, acc);
    jitter(y, ldy ? ldy : out, N, out);
}
static void fwd_jitter(float *y, int ldy, const float *x, int ldx, const float *W, const float *b, int N, int in,
                       int out, int acc) {
    mm_kernels_cpu.linear_fwd(y, ldy, x, ldx, W, b, N, in, out, acc);
    jitter(y, ldy ? ldy : out, N, out);
}
static void bwd_dx_w16_jitter(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N, int in, int out,
                              int acc_dx) {
    mm_kernels_cpu.linear_bwd_dx_w16(dx, lddx, dy, lddy, W, N, in, out, acc_dx);
    jitter(dx, lddx ? lddx : in, N, in);
}

/* the w16 ops without rounding the activation (the weight widened, then the fp32 linear) */
static float *widened(const uint16_t *W, size_t n) {
    float *w = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)W[i] << 16;
        memcpy(&w[i], &u, 4);
    }
    return w;
}
static void fwd_w16_unrounded(float *y, int ldy, const float *x, int ldx, const uint16_t *W, const float *b, int N,
                              int in, int out, int acc) {
    float *w = widened(W, (size_t)in * out);
    mm_kernels_cpu.linear_fwd(y, ldy, x, ldx, w, b, N, in, out, acc);
    free(w);
}
static void bwd_dx_w16_unrounded(float *dx, int lddx, const float *dy, int lddy, const uint16_t *W, int N, int in,
                                 int out, int acc_dx) {
    float *w = widened(W, (size_t)in * out);
    mm_kernels_cpu.linear_bwd(dx, lddx, NULL, NULL, dy, lddy, NULL, 0, w, N, in, out, acc_dx);
    free(w);
}

const mm_kernels *mm_kernels_cuda(void) {
    static mm_kernels k;
    static int init;
    if (!init) {
        const char *p = getenv("MMLORA_SELFTEST_PERTURB");
        /* guard: the guarded stand-in (device memory the host cannot touch outside the ops) */
        k = p && !strcmp(p, "guard") ? *mm_kernels_cpu_standin_guarded() : *mm_kernels_cpu_standin();
        k.name = "cpu-as-device";
        if (p && !strcmp(p, "1")) k.add = add_perturbed;
        if (p && !strcmp(p, "noround")) {
            k.linear_fwd_w16 = fwd_w16_unrounded;
            k.linear_bwd_dx_w16 = bwd_dx_w16_unrounded;
        }
        if (p && !strcmp(p, "sum")) {
            k.linear_fwd_w16 = fwd_w16_jitter;
            k.linear_bwd_dx_w16 = bwd_dx_w16_jitter;
            k.linear_fwd = fwd_jitter;
        }
        init = 1;
    }
    return &k;
}
