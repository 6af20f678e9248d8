/* Finite-difference checks of every backward op of the CPU backend.
 * Each op is wrapped as a scalar loss L(x) = Σ r ⊙ f(x) with fixed random r; the analytic gradient
 * from the backward op is compared with central differences (double-checked in float: h = 1e-2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "cpu/cpu_ops.h"
#include "util/philox.h"
#include "test_util.h"

static const mm_kernels *K = &mm_kernels_cpu;

static void fill(float *x, size_t n, uint32_t stream, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0f * mm_u32_to_unit(mm_rng_u32(99, 0, stream, i)) - 1.0f);
}

typedef double (*loss_fn)(void *ctx, float *x); /* evaluates L at the current x */

/* compares grad (analytic, wrt x[0..n)) with central differences at a subset of coordinates */
static void fd_check(const char *name, loss_fn f, void *ctx, float *x, const float *grad, size_t n, double tol) {
    const float h = 1e-2f;
    size_t stride = n > 64 ? n / 64 : 1;
    double max_err = 0, max_g = 0;
    for (size_t i = 0; i < n; i += stride) {
        float old = x[i];
        x[i] = old + h;
        double lp = f(ctx, x);
        x[i] = old - h;
        double lm = f(ctx, x);
        x[i] = old;
        double num = (lp - lm) / (2.0 * h);
        double err = fabs(num - grad[i]);
        if (err > max_err) max_err = err;
        if (fabs(grad[i]) > max_g) max_g = fabs(grad[i]);
    }
    cr_expect(max_err <= tol * (max_g > 1e-3 ? max_g : 1e-3), "%s: max |fd - analytic| %.3g (max |g| %.3g)", name,
              max_err, max_g);
}

static double dotr(const float *a, const float *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * r[i];
    return s;
}

/* ---------------------------------------------------------------- layernorm */
typedef struct { int N, C; float *w, *b, *r, *y, *mean, *rstd; } ln_ctx;
static double ln_loss(void *p, float *x) {
    ln_ctx *c = p;
    K->layernorm_fwd(c->y, c->mean, c->rstd, x, c->w, c->b, c->N, c->C, 1e-5f);
    return dotr(c->y, c->r, (size_t)c->N * c->C);
}
Test(kernels_fd, layernorm) {
    enum { N = 5, C = 24 };
    float x[N * C], w[C], b[C], r[N * C], y[N * C], mean[N], rstd[N], dx[N * C] = {0}, dw[C] = {0}, db[C] = {0};
    fill(x, N * C, 1, 2.0f); fill(w, C, 2, 1.5f); fill(b, C, 3, 1.0f); fill(r, N * C, 4, 1.0f);
    ln_ctx c = {N, C, w, b, r, y, mean, rstd};
    ln_loss(&c, x);
    K->layernorm_bwd(dx, dw, db, r, x, w, mean, rstd, N, C);
    fd_check("layernorm dx", ln_loss, &c, x, dx, N * C, 2e-2);
    /* weight and bias: perturb w, b through a wrapper */
    ln_ctx cw = c;
    float xs[N * C];
    memcpy(xs, x, sizeof xs);
    double (*lw)(void *, float *) = NULL;
    (void)lw;
    /* dw: L as a function of w */
    for (int i = 0; i < C; i += 5) {
        float old = w[i];
        w[i] = old + 1e-2f; double lp = ln_loss(&cw, xs);
        w[i] = old - 1e-2f; double lm = ln_loss(&cw, xs);
        w[i] = old;
        cr_expect(fabs((lp - lm) / 2e-2 - dw[i]) < 2e-2 * (1 + fabs(dw[i])), "layernorm dw[%d]", i);
        old = b[i];
        b[i] = old + 1e-2f; lp = ln_loss(&cw, xs);
        b[i] = old - 1e-2f; lm = ln_loss(&cw, xs);
        b[i] = old;
        cr_expect(fabs((lp - lm) / 2e-2 - db[i]) < 2e-2 * (1 + fabs(db[i])), "layernorm db[%d]", i);
    }
}

/* ---------------------------------------------------------------- gelu */
typedef struct { size_t n; float *r, *y; } gelu_ctx;
static double gelu_loss(void *p, float *x) {
    gelu_ctx *c = p;
    K->gelu_tanh_fwd(c->y, x, c->n);
    return dotr(c->y, c->r, c->n);
}
Test(kernels_fd, gelu_tanh) {
    enum { n = 200 };
    float x[n], r[n], y[n], dx[n];
    fill(x, n, 5, 4.0f); fill(r, n, 6, 1.0f);
    gelu_ctx c = {n, r, y};
    K->gelu_tanh_bwd(dx, r, x, n);
    fd_check("gelu", gelu_loss, &c, x, dx, n, 1e-2);
    /* value check against the formula at a known point */
    float v = 1.0f, out;
    K->gelu_tanh_fwd(&out, &v, 1);
    cr_expect(fabsf(out - 0.8411920f) < 1e-6f, "gelu(1) = %.7f", out);
}

/* ---------------------------------------------------------------- linear */
typedef struct { int N, in, out; float *W, *b, *r, *y; } lin_ctx;
static double lin_loss(void *p, float *x) {
    lin_ctx *c = p;
    K->linear_fwd(c->y, 0, x, 0, c->W, c->b, c->N, c->in, c->out, 0);
    return dotr(c->y, c->r, (size_t)c->N * c->out);
}
static double lin_loss_W(void *p, float *W) {
    lin_ctx *c = p;
    float *x = c->y + c->N * c->out; /* x stored after y */
    K->linear_fwd(c->y, 0, x, 0, W, c->b, c->N, c->in, c->out, 0);
    return dotr(c->y, c->r, (size_t)c->N * c->out);
}
Test(kernels_fd, linear) {
    enum { N = 6, I = 10, O = 7 };
    float W[O * I], b[O], r[N * O], y[N * O + N * I], dx[N * I], dW[O * I] = {0}, db[O] = {0};
    float *x = y + N * O;
    fill(x, N * I, 7, 1.0f); fill(W, O * I, 8, 1.0f); fill(b, O, 9, 1.0f); fill(r, N * O, 10, 1.0f);
    lin_ctx c = {N, I, O, W, b, r, y};
    K->linear_bwd(dx, 0, dW, db, r, 0, x, 0, W, N, I, O, 0);
    fd_check("linear dx", lin_loss, &c, x, dx, N * I, 1e-2);
    fd_check("linear dW", lin_loss_W, &c, W, dW, O * I, 1e-2);
    float dbx[O] = {0};
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) dbx[o] += r[n * O + o];
    EXPECT_CLOSE("linear db", db, dbx, O, 1e-6);
}

/* ---------------------------------------------------------------- attention */
typedef struct { int B, T, H, Hkv, D; float *probs, *out, *r; mm_dropout d; } att_ctx;
static double att_loss(void *p, float *qkv) {
    att_ctx *c = p;
    int ld = (c->H + 2 * c->Hkv) * c->D;
    K->attention_fwd(c->out, c->H * c->D, c->probs, qkv, ld, c->B, c->T, c->H, c->Hkv, c->D, c->d);
    return dotr(c->out, c->r, (size_t)c->B * c->T * c->H * c->D);
}
static void attention_case(int Hkv, float p) {
    enum { B = 2, T = 7, H = 4, D = 8 };
    const int ld = (H + 2 * Hkv) * D;
    float *qkv = malloc(sizeof(float) * B * T * ld), *dqkv = malloc(sizeof(float) * B * T * ld);
    float probs[B * H * T * T], out[B * T * H * D], r[B * T * H * D];
    fill(qkv, (size_t)B * T * ld, 11, 1.5f); fill(r, B * T * H * D, 12, 1.0f);
    att_ctx c = {B, T, H, Hkv, D, probs, out, r, {5, 1, 77, p}};
    att_loss(&c, qkv);
    K->attention_bwd(dqkv, r, H * D, qkv, ld, probs, B, T, H, Hkv, D, c.d);
    char name[64];
    snprintf(name, sizeof name, "attention Hkv=%d p=%.1f", Hkv, p);
    fd_check(name, att_loss, &c, qkv, dqkv, (size_t)B * T * ld, 2e-2);
    /* causal: probabilities above the diagonal are exactly zero and rows sum to one */
    for (int i = 0; i < T; i++) {
        double s = 0;
        for (int j = 0; j < T; j++) {
            if (j > i) cr_expect_eq(probs[i * T + j], 0.0f);
            s += fabsf(probs[i * T + j]);
        }
        cr_expect(fabs(s - 1.0) < 1e-5);
    }
    free(qkv);
    free(dqkv);
}
Test(kernels_fd, attention_multi_query) { attention_case(1, 0.0f); }
Test(kernels_fd, attention_grouped) { attention_case(2, 0.0f); }
Test(kernels_fd, attention_multi_head_dropout) { attention_case(4, 0.3f); }

/* ---------------------------------------------------------------- cross-entropy */
typedef struct { int N, V; int32_t *t; float *w, *buf; } xent_ctx;
static double xent_loss(void *p, float *logits) {
    xent_ctx *c = p;
    memcpy(c->buf, logits, sizeof(float) * c->N * c->V);
    return K->xent_fwd_bwd(c->buf, c->t, c->w, c->N, c->V, 1.0f);
}
Test(kernels_fd, cross_entropy) {
    enum { N = 4, V = 9 };
    float logits[N * V], g[N * V], buf[N * V], w[N] = {1.0f, 0.0f, 0.5f, 2.0f};
    int32_t t[N] = {3, 1, 8, 0};
    fill(logits, N * V, 13, 3.0f);
    memcpy(g, logits, sizeof g);
    double loss = K->xent_fwd_bwd(g, t, w, N, V, 1.0f);
    xent_ctx c = {N, V, t, w, buf};
    cr_expect(fabs(loss - xent_loss(&c, logits)) < 1e-9);
    fd_check("xent", xent_loss, &c, logits, g, N * V, 1e-2);
}

/* ---------------------------------------------------------------- embedding and dropout */
Test(kernels_fd, embedding_backward_is_scatter_add) {
    enum { N = 5, C = 3, V = 4, P = 6 };
    int32_t ids[N] = {1, 3, 1, 0, 1}, pos[N] = {0, 1, 2, 3, 0};
    float dy[N * C], dwte[V * C] = {0}, dwpe[P * C] = {0};
    fill(dy, N * C, 14, 1.0f);
    K->embedding_bwd(dwte, dwpe, dy, ids, pos, N, C);
    for (int c = 0; c < C; c++) {
        cr_expect(fabsf(dwte[1 * C + c] - (dy[0 * C + c] + dy[2 * C + c] + dy[4 * C + c])) < 1e-6f);
        cr_expect(fabsf(dwpe[0 * C + c] - (dy[0 * C + c] + dy[4 * C + c])) < 1e-6f);
        cr_expect_eq(dwte[2 * C + c], 0.0f);
    }
}

Test(kernels_fd, dropout_is_its_own_backward) {
    enum { n = 1000 };
    float x[n], y[n], g[n];
    fill(x, n, 15, 1.0f);
    mm_dropout d = {3, 2, 9, 0.25f};
    K->dropout_fwd(y, x, n, d, 10);
    for (int i = 0; i < n; i++) g[i] = 1.0f;
    K->dropout_fwd(g, g, n, d, 10);
    for (int i = 0; i < n; i++) {
        cr_assert(g[i] == 0.0f || fabsf(g[i] - 1.0f / 0.75f) < 1e-6f);
        cr_assert(fabsf(y[i] - x[i] * g[i]) < 1e-6f);
    }
}

Test(kernels_fd, adamw_matches_torch_formula) {
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.25f}, m[2] = {0}, v[2] = {0};
    K->adamw(p, g, m, v, 2, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
    /* step 1: m̂ = g, v̂ = g², update = lr·g/(|g|+eps) -> p·(1−lr·wd) − lr·sign(g) */
    cr_expect(fabsf(p[0] - (1.0f * (1 - 1e-5f) - 1e-3f)) < 1e-6f, "%.8f", p[0]);
    cr_expect(fabsf(p[1] - (-2.0f * (1 - 1e-5f) + 1e-3f)) < 1e-6f, "%.8f", p[1]);
}

Test(kernels_fd, fast_tanh_is_within_a_few_ulp_of_tanh) {
    double worst = 0;
    for (int i = -200000; i <= 200000; i++) {
        float x = (float)i * 5e-5f; /* [-10, 10] */
        double ref = tanh((double)x), got = mm_fast_tanhf(x);
        double err = fabs(got - ref) / (fabs(ref) > 1e-30 ? fabs(ref) : 1e-30);
        if (err > worst) worst = err;
    }
    cr_expect(worst < 1e-6, "worst relative error %.3g", worst);
}

Test(kernels_fd, bit_packed_dropout_equals_dropout_fwd) {
    enum { n = 1000 };
    float x[n], a[n], b[n];
    uint64_t bits[(n + 63) / 64];
    fill(x, n, 16, 1.0f);
    mm_dropout d = {11, 4, 1234, 0.3f};
    K->dropout_fwd(a, x, n, d, 77);
    K->dropout_bits(bits, n, d, 77);
    K->dropout_apply_bits(b, x, n, bits, d.p);
    cr_assert_arr_eq(a, b, sizeof a);
}

/* the same at an aligned offset (the vector paths: 64-element keep words, 16-wide masked multiplies), a size
 * above the OpenMP thresholds with a tail, and in place */
Test(kernels_fd, bit_packed_dropout_equals_dropout_fwd_aligned_large_in_place) {
    enum { n = 40000 + 37 };
    float *x = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float));
    uint64_t *bits = malloc((n + 63) / 64 * sizeof(uint64_t));
    fill(x, n, 17, 1.0f);
    mm_dropout d = {11, 4, 1234, 0.1f};
    K->dropout_fwd(a, x, n, d, 256);
    K->dropout_bits(bits, n, d, 256);
    K->dropout_apply_bits(x, x, n, bits, d.p);
    cr_assert_eq(memcmp(a, x, n * sizeof(float)), 0);
    free(x), free(a), free(bits);
}
