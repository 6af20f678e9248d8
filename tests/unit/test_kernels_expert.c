/* The experts' fused input-dropout ops (kernels.h: expert_down, expert_down_bwd_a, expert_down_bwd_x) against the
 * unfused path they replace (dropout_apply_bits, then sgemm): the same values to fp32 summation order, for
 * widths with and without a 16-float tail, ranks that split into blocks of 8 (1, 4, 8, 9, 32, 33), no mask (h = x),
 * several drop rates; and independent of the OpenMP thread count. */
#ifdef MMLORA_OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "util/philox.h"
#include "test_util.h"

static const mm_kernels *K = &mm_kernels_cpu;

static void fill(float *x, size_t n, uint32_t stream) {
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * mm_u32_to_unit(mm_rng_u32(9, 1, stream, i)) - 1.0f;
}
/* worst |a − b| / (|b| + rms(b)) */
static double rel(const float *a, const float *b, size_t n) {
    double ss = 0, w = 0;
    for (size_t i = 0; i < n; i++) ss += (double)b[i] * b[i];
    const double rms = sqrt(ss / (double)n) + 1e-30;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)a[i] - b[i]) / (fabs(b[i]) + rms);
        if (!(e <= w)) w = e;
    }
    return w;
}

static void check_shape(int N, int in, int r, float p, int masked) {
    const size_t nx = (size_t)N * in;
    float *x = malloc(nx * sizeof(float)), *A = malloc((size_t)r * in * sizeof(float));
    float *h = malloc(nx * sizeof(float)), *du = malloc((size_t)N * (r + 3) * sizeof(float));
    const int ldu = r + 3; /* a row stride wider than r, as the adapters' u rows */
    float *u = malloc((size_t)N * ldu * sizeof(float)), *u_ref = malloc((size_t)N * ldu * sizeof(float));
    float *dA = malloc((size_t)r * in * sizeof(float)), *dA_ref = malloc((size_t)r * in * sizeof(float));
    float *dx = malloc(nx * sizeof(float)), *dx_ref = malloc(nx * sizeof(float)), *dh = malloc(nx * sizeof(float));
    uint64_t *bits = malloc((nx + 63) / 64 * sizeof(uint64_t));
    fill(x, nx, 1); fill(A, (size_t)r * in, 2); fill(du, (size_t)N * ldu, 3); fill(dA, (size_t)r * in, 4);
    fill(dx, nx, 5);
    memcpy(dA_ref, dA, (size_t)r * in * sizeof(float));
    memcpy(dx_ref, dx, nx * sizeof(float));
    for (size_t i = 0; i < (size_t)N * ldu; i++) u[i] = u_ref[i] = -3.0f; /* columns past r stay untouched */
    mm_dropout d = {5, 2, 77, p};
    const uint64_t *b = masked ? bits : NULL;
    if (masked) {
        K->dropout_bits(bits, nx, d, 0);
        K->dropout_apply_bits(h, x, nx, bits, p);
    } else {
        memcpy(h, x, nx * sizeof(float));
    }
    /* the unfused references */
    K->gemm(0, 1, N, r, in, 1.0f, h, in, A, in, 0.0f, u_ref, ldu);
    K->gemm(1, 0, r, in, N, 1.0f, du, ldu, h, in, 1.0f, dA_ref, in);
    K->gemm(0, 0, N, in, r, 1.0f, du, ldu, A, in, 0.0f, dh, in);
    if (masked) K->dropout_apply_bits(dh, dh, nx, bits, p);
    K->add(dx_ref, dx_ref, dh, nx);
    /* the fused ops */
    K->expert_down(u, ldu, x, b, p, A, N, in, r);
    K->expert_down_bwd_a(dA, du, ldu, x, b, p, N, in, r);
    K->expert_down_bwd_x(dx, du, ldu, b, p, A, N, in, r);
    cr_expect(rel(u, u_ref, (size_t)N * ldu) < 1e-5, "expert_down N %d in %d r %d p %g: %g", N, in, r, p,
              rel(u, u_ref, (size_t)N * ldu));
    for (int n = 0; n < N; n++)
        for (int j = r; j < ldu; j++) cr_assert_eq(u[(size_t)n * ldu + j], -3.0f, "expert_down wrote past column r");
    cr_expect(rel(dA, dA_ref, (size_t)r * in) < 1e-5, "expert_down_bwd_a N %d in %d r %d p %g: %g", N, in, r, p,
              rel(dA, dA_ref, (size_t)r * in));
    cr_expect(rel(dx, dx_ref, nx) < 1e-5, "expert_down_bwd_x N %d in %d r %d p %g: %g", N, in, r, p,
              rel(dx, dx_ref, nx));
    free(x), free(A), free(h), free(du), free(u), free(u_ref), free(dA), free(dA_ref), free(dx), free(dx_ref);
    free(dh), free(bits);
}

Test(kernels_expert, fused_dropout_ops_equal_the_unfused_path) {
    const int shapes[][3] = {{37, 64, 4}, {50, 40, 1}, {23, 100, 8}, {64, 256, 9}, {7, 33, 32}, {300, 128, 33}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        check_shape(shapes[i][0], shapes[i][1], shapes[i][2], 0.1f, 1);
        check_shape(shapes[i][0], shapes[i][1], shapes[i][2], 0.5f, 1);
        check_shape(shapes[i][0], shapes[i][1], shapes[i][2], 0.0f, 0);
    }
}

/* large enough for the OpenMP paths: one thread and two threads give the same bits */
Test(kernels_expert, independent_of_the_thread_count) {
#ifndef MMLORA_OPENMP
    cr_skip_test("built without OpenMP");
#else
    const int N = 512, in = 272, r = 12;
    const size_t nx = (size_t)N * in;
    float *x = malloc(nx * sizeof(float)), *A = malloc((size_t)r * in * sizeof(float)), *du = malloc((size_t)N * r * sizeof(float));
    float *out[2][3];
    uint64_t *bits = malloc((nx + 63) / 64 * sizeof(uint64_t));
    fill(x, nx, 11); fill(A, (size_t)r * in, 12); fill(du, (size_t)N * r, 13);
    K->dropout_bits(bits, nx, (mm_dropout){3, 1, 5, 0.1f}, 0);
    const int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        out[t][0] = calloc((size_t)N * r, sizeof(float));
        out[t][1] = calloc((size_t)r * in, sizeof(float));
        out[t][2] = calloc(nx, sizeof(float));
        K->expert_down(out[t][0], r, x, bits, 0.1f, A, N, in, r);
        K->expert_down_bwd_a(out[t][1], du, r, x, bits, 0.1f, N, in, r);
        K->expert_down_bwd_x(out[t][2], du, r, bits, 0.1f, A, N, in, r);
    }
    omp_set_num_threads(saved);
    cr_expect_eq(memcmp(out[0][0], out[1][0], (size_t)N * r * sizeof(float)), 0);
    cr_expect_eq(memcmp(out[0][1], out[1][1], (size_t)r * in * sizeof(float)), 0);
    cr_expect_eq(memcmp(out[0][2], out[1][2], nx * sizeof(float)), 0);
    for (int t = 0; t < 2; t++) free(out[t][0]), free(out[t][1]), free(out[t][2]);
    free(x), free(A), free(du), free(bits);
#endif
}
