/* The op-table entries that replaced the engine's and the adapters' host loops (memory, add, row
 * gather/scatter, positions, per-row gates, gate gradients, token-router softmax/top-k): exact checks
 * against the loops they replaced, and finite differences for the ones that are a forward/backward pair
 * (row_scale -> row_dot + group_sum_rows, softmax_topk_rows -> softmax_topk_bwd_rows,
 * gather_rows -> scatter_rows). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "util/philox.h"
#include "test_util.h"

static const mm_kernels *K = &mm_kernels_cpu;

static void fill(float *x, size_t n, uint32_t stream, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * mm_u32_to_unit(mm_rng_u32(7, 0, stream, i)) - 1.0f);
}
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

Test(kernels_new_ops, memory_ops_are_host_malloc_and_copies) {
    cr_assert_eq(K->device_memory, 0);
    float *p = K->alloc(1000 * sizeof(float));
    cr_assert_eq((uintptr_t)p % 64, 0, "alloc is 64-byte aligned");
    float src[1000];
    fill(src, 1000, 1, 1.0f);
    K->upload(p, src, sizeof src);
    cr_expect_eq(memcmp(p, src, sizeof src), 0);
    float back[1000];
    K->download(back, p, sizeof back);
    cr_expect_eq(memcmp(back, src, sizeof src), 0);
    K->upload(p, p, sizeof src); /* same pointer: nothing happens (the engine's zero-copy path) */
    cr_expect_eq(memcmp(p, src, sizeof src), 0);
    K->zero(p + 10, 20 * sizeof(float));
    for (int i = 0; i < 1000; i++) cr_expect_eq(p[i], (i >= 10 && i < 30) ? 0.0f : src[i], "zero at %d", i);
    K->free(p);
    K->free(NULL);
}

Test(kernels_new_ops, add_is_the_residual_loop) {
    enum { N = 40000 }; /* above the OpenMP threshold */
    float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    fill(a, N, 2, 3.0f);
    fill(b, N, 3, 1e-3f);
    K->add(y, a, b, N);
    for (int i = 0; i < N; i++) cr_assert_eq(y[i], a[i] + b[i], "add at %d", i);
    K->add(a, a, b, N); /* in place, as dx += dh */
    cr_expect_eq(memcmp(a, y, N * sizeof(float)), 0);
    free(a); free(b); free(y);
}

Test(kernels_new_ops, gather_and_scatter_rows_are_adjoint) {
    enum { NR = 50, C = 12, R = 20 };
    float src[NR * C], g[R * C], r[R * C], back[NR * C];
    int32_t rows[R];
    fill(src, NR * C, 4, 1.0f);
    fill(r, R * C, 5, 1.0f);
    for (int i = 0; i < R; i++) rows[i] = (i * 7 + 3) % NR; /* distinct */
    K->gather_rows(g, src, rows, R, C);
    for (int i = 0; i < R; i++) cr_expect_eq(memcmp(g + i * C, src + rows[i] * C, C * sizeof(float)), 0);
    memset(back, 0, sizeof back);
    K->scatter_rows(back, r, rows, R, C);
    for (int i = 0; i < R; i++) cr_expect_eq(memcmp(back + rows[i] * C, r + i * C, C * sizeof(float)), 0);
    /* <gather(x), r> = <x, scatter(r)>: scatter is the backward of gather */
    cr_expect(fabs(dotd(g, r, R * C) - dotd(src, back, NR * C)) < 1e-9);
}

Test(kernels_new_ops, positions) {
    int32_t pos[3 * 7];
    K->positions(pos, 3, 7);
    for (int i = 0; i < 21; i++) cr_expect_eq(pos[i], i % 7);
}

/* the former host loops of mm_adapted_fwd/bwd, kept here as the reference */
static float ref_gate(const float *g, int stride, int group, int n) { return g ? g[(n / group) * stride] : 1.0f; }

Test(kernels_new_ops, row_scale_and_row_dot_match_the_former_loops_bitwise) {
    enum { N = 300, R = 7, LD = 11, E = 3, GROUP = 50 };
    float u[N * LD], gates[(N / GROUP) * E], gu[N * R], v[N * R], v2[N * R], dg[N * E], dg_ref[N * E];
    fill(u, N * LD, 6, 1.0f);
    fill(gates, (N / GROUP) * E, 7, 1.0f);
    fill(v, N * R, 8, 1.0f);
    memcpy(v2, v, sizeof v);
    const float s = 0.37f;
    for (int e = 0; e < E; e++) {
        const float *g = gates + e;
        K->row_scale(gu, R, u, LD, g, E, GROUP, 1.0f, N, R); /* forward: gu = g ⊙ u */
        for (int n = 0; n < N; n++)
            for (int c = 0; c < R; c++) cr_assert_eq(gu[n * R + c], ref_gate(g, E, GROUP, n) * u[n * LD + c]);
        K->row_dot(dg + e, E, v, R, u, LD, s, N, R); /* dgate = s · v·u */
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int c = 0; c < R; c++) acc += v[n * R + c] * u[n * LD + c];
            dg_ref[n * E + e] = s * acc;
        }
        K->row_scale(v, R, v, R, g, E, GROUP, s, N, R); /* in place: v *= s·g */
        for (int n = 0; n < N; n++) {
            float gsn = s * ref_gate(g, E, GROUP, n);
            for (int c = 0; c < R; c++) v2[n * R + c] *= gsn;
        }
        cr_assert_eq(memcmp(v, v2, sizeof v), 0, "in-place row_scale, expert %d", e);
    }
    cr_expect_eq(memcmp(dg, dg_ref, sizeof dg), 0, "row_dot");
    /* no gates: the uniform scale v *= gs */
    K->row_scale(v, R, v, R, NULL, 0, 1, 1.5f, N, R);
    for (int i = 0; i < N * R; i++) v2[i] *= 1.5f;
    cr_expect_eq(memcmp(v, v2, sizeof v), 0, "row_scale without gates");
}

/* L(g) = Σ r ⊙ row_scale(x; g) over every expert column e of grouped gates g[groups, E]; the analytic
 * dL/dg is row_dot per row then group_sum_rows per group (how the adapters get dgates) */
typedef struct { int N, C, E, group; const float *x, *r; float *y; } rs_ctx;
static double rs_loss(const rs_ctx *c, const float *g) {
    double L = 0;
    for (int e = 0; e < c->E; e++) {
        K->row_scale(c->y, c->C, c->x + (size_t)e * c->N * c->C, c->C, g + e, c->E, c->group, 0.5f, c->N, c->C);
        L += dotd(c->y, c->r + (size_t)e * c->N * c->C, (size_t)c->N * c->C);
    }
    return L;
}
Test(kernels_new_ops, row_dot_and_group_sum_are_the_gradient_of_row_scale) {
    enum { N = 24, C = 5, E = 3, GROUP = 8, NG = N / GROUP };
    float x[E * N * C], r[E * N * C], y[N * C], g[NG * E], per_row[N * E], dg[NG * E];
    fill(x, E * N * C, 9, 1.0f);
    fill(r, E * N * C, 10, 1.0f);
    fill(g, NG * E, 11, 1.0f);
    rs_ctx c = {N, C, E, GROUP, x, r, y};
    for (int e = 0; e < E; e++) K->row_dot(per_row + e, E, r + (size_t)e * N * C, C, x + (size_t)e * N * C, C, 0.5f, N, C);
    memset(dg, 0, sizeof dg);
    K->group_sum_rows(dg, E, per_row, E, N, E, GROUP);
    const float h = 1e-2f;
    for (int i = 0; i < NG * E; i++) {
        float old = g[i];
        g[i] = old + h;
        double lp = rs_loss(&c, g);
        g[i] = old - h;
        double lm = rs_loss(&c, g);
        g[i] = old;
        double fd = (lp - lm) / (2.0 * h);
        cr_expect(fabs(fd - dg[i]) <= 1e-3 * (fabs(fd) + 1e-2), "dgate %d: fd %.6g analytic %.6g", i, fd, dg[i]);
    }
    /* group 0: every row into one group, rows in order */
    float one[E] = {0}, ref[E] = {0};
    K->group_sum_rows(one, E, per_row, E, N, E, 0);
    for (int n = 0; n < N; n++)
        for (int e = 0; e < E; e++) ref[e] += per_row[n * E + e];
    cr_expect_eq(memcmp(one, ref, sizeof one), 0);
}

/* token router: softmax + top-k renormalized; L = Σ r ⊙ gates(logits) */
typedef struct { int N, E, k; const float *r; float *p, *w; } tk_ctx;
static double tk_loss(const tk_ctx *c, const float *logits) {
    memcpy(c->p, logits, (size_t)c->N * c->E * sizeof(float));
    K->softmax_topk_rows(c->p, c->w, c->N, c->E, c->k);
    return dotd(c->w, c->r, (size_t)c->N * c->E);
}
Test(kernels_new_ops, softmax_topk_rows_and_its_backward) {
    enum { N = 300, E = 6, TOPK = 2, LDD = 9 };
    float logits[N * E], p[N * E], w[N * E], r[N * E], dgates[N * LDD], dlog[N * E];
    fill(r, N * E, 12, 1.0f);
    for (int n = 0; n < N; n++) /* well separated logits: a step of h never changes the selection */
        for (int e = 0; e < E; e++) logits[n * E + e] = 0.6f * (float)((e * 5 + n) % E) + 0.05f * (float)(n % 3);
    tk_ctx c = {N, E, TOPK, r, p, w};
    tk_loss(&c, logits);
    for (int n = 0; n < N; n++) {
        /* the former loop of token_router_fwd */
        float q[E], mx = logits[n * E], s = 0.0f, wq[E];
        for (int e = 1; e < E; e++) mx = logits[n * E + e] > mx ? logits[n * E + e] : mx;
        for (int e = 0; e < E; e++) { q[e] = expf(logits[n * E + e] - mx); s += q[e]; }
        for (int e = 0; e < E; e++) q[e] /= s;
        mm_topk_renorm(q, E, TOPK, wq);
        cr_assert_eq(memcmp(q, p + n * E, sizeof q), 0, "softmax row %d", n);
        cr_assert_eq(memcmp(wq, w + n * E, sizeof wq), 0, "top-k row %d", n);
        int nz = 0;
        for (int e = 0; e < E; e++) nz += w[n * E + e] != 0.0f;
        cr_assert_eq(nz, TOPK);
        for (int e = 0; e < E; e++) dgates[n * LDD + e] = r[n * E + e];
    }
    K->softmax_topk_bwd_rows(dlog, p, w, dgates, LDD, N, E);
    const float h = 1e-3f;
    double max_err = 0, max_g = 0;
    for (int i = 0; i < N * E; i += 7) {
        float old = logits[i];
        logits[i] = old + h;
        double lp = tk_loss(&c, logits);
        logits[i] = old - h;
        double lm = tk_loss(&c, logits);
        logits[i] = old;
        double fd = (lp - lm) / (2.0 * h);
        if (fabs(fd - dlog[i]) > max_err) max_err = fabs(fd - dlog[i]);
        if (fabs(dlog[i]) > max_g) max_g = fabs(dlog[i]);
    }
    cr_expect(max_err <= 2e-3 * max_g, "softmax_topk: max |fd - analytic| %.3g (max |g| %.3g)", max_err, max_g);
}

/* decoding ops: copy_rows writes KV-cache slots from strided qkv rows and gathers selected rows back */
Test(kernels_new_ops, copy_rows_to_slots_and_back) {
    enum { R = 9, Q = 20, C = 6, SLOTS = 40, COL = 8 };
    float qkv[R * Q], cache[SLOTS * C], back[R * C];
    int32_t slot[R];
    fill(qkv, R * Q, 6, 1.0f);
    for (int i = 0; i < SLOTS * C; i++) cache[i] = -7.0f;
    for (int i = 0; i < R; i++) slot[i] = (i * 13 + 5) % SLOTS;
    K->copy_rows(cache, C, slot, qkv + COL, Q, NULL, R, C);
    for (int s = 0; s < SLOTS; s++) {
        int from = -1;
        for (int i = 0; i < R; i++) if (slot[i] == s) from = i;
        for (int c = 0; c < C; c++)
            cr_expect_eq(cache[s * C + c], from < 0 ? -7.0f : qkv[from * Q + COL + c], "slot %d col %d", s, c);
    }
    K->copy_rows(back, C, NULL, cache, C, slot, R, C);
    for (int i = 0; i < R; i++) cr_expect_eq(memcmp(back + i * C, qkv + i * Q + COL, C * sizeof(float)), 0);
}

Test(kernels_new_ops, argmax_rows_first_maximum_skipping_nan) {
    enum { R = 5, V = 7, LD = 9 };
    float x[R * LD];
    const float rows[R][V] = {
        {0, 1, 3, 2, 3, -1, 0},                        /* tie: the lower index */
        {-5, -4, -3, -2, -1, -0.5f, -0.25f},           /* the last */
        {NAN, 1, 2, NAN, 0, 0, 0},                     /* NaN never chosen, even first */
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY}, /* all equal: 0 */
        {NAN, NAN, NAN, NAN, NAN, NAN, NAN},           /* all NaN: 0 */
    };
    for (int r = 0; r < R; r++) {
        memcpy(x + r * LD, rows[r], sizeof rows[r]);
        x[r * LD + V] = x[r * LD + V + 1] = 100.0f; /* past V: never read */
    }
    int32_t out[R];
    K->argmax_rows(out, x, LD, R, V);
    const int32_t want[R] = {2, 6, 2, 0, 0};
    for (int r = 0; r < R; r++) cr_expect_eq(out[r], want[r], "row %d: %d, want %d", r, out[r], want[r]);
}
