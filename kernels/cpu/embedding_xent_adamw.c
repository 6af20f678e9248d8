/* Embedding lookup, softmax cross-entropy, AdamW. */
#include <math.h>
#include <string.h>
#include "cpu/cpu_ops.h"

void cpu_embedding_fwd(float *y, const int32_t *ids, const int32_t *pos, const float *wte, const float *wpe,
                       int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *yr = y + (size_t)n * C;
        const float *e = wte + (size_t)ids[n] * C;
        if (wpe) {
            const float *p = wpe + (size_t)pos[n] * C;
            for (int c = 0; c < C; c++) yr[c] = e[c] + p[c];
        } else {
            memcpy(yr, e, (size_t)C * sizeof(float));
        }
    }
}

void cpu_embedding_bwd(float *dwte, float *dwpe, const float *dy, const int32_t *ids, const int32_t *pos,
                       int N, int C) {
    /* parallel over channels, serial over rows: deterministic and race-free */
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        for (int n = 0; n < N; n++) {
            float g = dy[(size_t)n * C + c];
            if (dwte) dwte[(size_t)ids[n] * C + c] += g;
            if (dwpe) dwpe[(size_t)pos[n] * C + c] += g;
        }
    }
}

double cpu_xent_fwd_bwd(float *logits, const int32_t *targets, const float *weights, int N, int V, float scale) {
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int n = 0; n < N; n++) {
        float *l = logits + (size_t)n * V;
        float w = weights ? weights[n] : 1.0f;
        if (w == 0.0f) { memset(l, 0, (size_t)V * sizeof(float)); continue; }
        float mx = -INFINITY;
        for (int v = 0; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        double s = 0.0;
        for (int v = 0; v < V; v++) s += exp((double)(l[v] - mx));
        double lse = (double)mx + log(s);
        total += (double)w * (lse - (double)l[targets[n]]);
        float inv = (float)(1.0 / s), ws = w * scale;
        for (int v = 0; v < V; v++) l[v] = expf(l[v] - mx) * inv * ws;
        l[targets[n]] -= ws;
    }
    return total;
}

void cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
               float eps, float wd, int t) {
    /* torch.optim.AdamW (non-amsgrad, foreach=False math):
     *   p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
     *   p -= lr/(1-b1^t) · m / (sqrt(v)/sqrt(1-b2^t) + eps) */
    const float bc1 = 1.0f - powf(beta1, (float)t);
    const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    const float step = lr / bc1;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        p[i] *= 1.0f - lr * wd;
        m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
        v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}
