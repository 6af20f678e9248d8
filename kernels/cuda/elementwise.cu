/* Elementwise ops: tanh-GELU, SwiGLU, RoPE, dropout, AdamW, embedding lookup and its gradient.
 * Same formulas, in the same order of operations, as kernels/cpu/ (no fast-math: IEEE division/sqrt). */
#include <math.h>
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"
#include "cuda/philox.cuh"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define EW_THREADS 256
#define GRID_STRIDE(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void gelu_fwd_kernel(float *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(GELU_K * (v + 0.044715f * v * v * v)));
    }
}

__global__ void gelu_bwd_kernel(float *dx, const float *dy, const float *x, size_t n) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        float u = GELU_K * (v + 0.044715f * v * v * v);
        float t = tanhf(u);
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
    }
}

/* silu(g) = g·σ(g);  silu'(g) = σ(g) + g·σ(g)·(1 − σ(g)) */
__global__ void swiglu_fwd_kernel(float *act, const float *gate, const float *up, size_t n) {
    GRID_STRIDE(i, n) {
        float g = gate[i];
        float s = 1.0f / (1.0f + expf(-g));
        act[i] = g * s * up[i];
    }
}

__global__ void swiglu_bwd_kernel(float *dgate, float *dup, const float *dact, const float *gate, const float *up,
                                  size_t n) {
    GRID_STRIDE(i, n) {
        float g = gate[i], a = dact[i];
        float s = 1.0f / (1.0f + expf(-g));
        dgate[i] = a * up[i] * (s + g * s * (1.0f - s)); /* the CPU's forms, term for term */
        dup[i] = a * g * s;
    }
}

/* rotate-half: for i < D/2, (x1, x2) = (x[i], x[i + D/2]) -> (x1·cos − x2·sin, x2·cos + x1·sin) */
__global__ void rope_kernel(float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N,
                            const float *cos_t, const float *sin_t, int inverse) {
    const int half = D / 2;
    const size_t total = (size_t)N * n_heads * half;
    GRID_STRIDE(k, total) {
        const int i = (int)(k % half);
        const size_t nh = k / half;
        const int h = (int)(nh % n_heads);
        const size_t n = nh / n_heads;
        const size_t t = (size_t)pos[n] * half + i;
        const float c = cos_t[t], s = inverse ? -sin_t[t] : sin_t[t];
        float *xr = x + n * ldx + col0 + (size_t)h * D;
        const float x1 = xr[i], x2 = xr[i + half];
        xr[i] = x1 * c - x2 * s;
        xr[i + half] = x2 * c + x1 * s;
    }
}

__global__ void dropout_kernel(float *y, const float *x, size_t n, uint64_t seed, uint32_t step, uint32_t stream,
                               uint64_t first, uint32_t thr, float scale) {
    GRID_STRIDE(i, n) {
        bool keep = mm_dev_keep(seed, step, stream, first + i, thr);
        y[i] = keep ? x[i] * scale : 0.0f;
    }
}

__global__ void copy_kernel(float *y, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] = x[i];
}

__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
                             float beta2, float eps, float wd, float step, float bc2_sqrt) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float pi = p[i] * (1.0f - lr * wd);
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

__global__ void embedding_fwd_kernel(float *y, const int32_t *ids, const int32_t *pos, const float *wte,
                                     const float *wpe, int N, int C) {
    const size_t total = (size_t)N * C;
    GRID_STRIDE(k, total) {
        const size_t n = k / C, c = k % C;
        float e = wte[(size_t)ids[n] * C + c];
        y[k] = wpe ? e + wpe[(size_t)pos[n] * C + c] : e;
    }
}

/* one thread per channel, rows in order: no float atomics, and each element receives its additions in the
 * same order as on the CPU backend (bit-identical).  Parallel only over C: fine for a frozen-embedding
 * fine-tune (it runs only when wte/wpe are trainable). */
__global__ void embedding_bwd_kernel(float *dwte, float *dwpe, const float *dy, const int32_t *ids,
                                     const int32_t *pos, int N, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    for (int n = 0; n < N; n++) {
        float g = dy[(size_t)n * C + c];
        if (dwte) dwte[(size_t)ids[n] * C + c] += g;
        if (dwpe) dwpe[(size_t)pos[n] * C + c] += g;
    }
}

extern "C" void cuda_gelu_tanh_fwd(float *y, const float *x, size_t n) {
    if (!n) return;
    gelu_fwd_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(y, x, n);
    CU_LAUNCHED("gelu_fwd_kernel");
}

extern "C" void cuda_gelu_tanh_bwd(float *dx, const float *dy, const float *x, size_t n) {
    if (!n) return;
    gelu_bwd_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(dx, dy, x, n);
    CU_LAUNCHED("gelu_bwd_kernel");
}

extern "C" void cuda_swiglu_fwd(float *act, const float *gate, const float *up, size_t n) {
    if (!n) return;
    swiglu_fwd_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(act, gate, up, n);
    CU_LAUNCHED("swiglu_fwd_kernel");
}

extern "C" void cuda_swiglu_bwd(float *dgate, float *dup, const float *dact, const float *gate, const float *up,
                                size_t n) {
    if (!n) return;
    swiglu_bwd_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(dgate, dup, dact, gate, up, n);
    CU_LAUNCHED("swiglu_bwd_kernel");
}

extern "C" void cuda_rope(float *x, int ldx, int col0, int n_heads, int D, const int32_t *pos, int N,
                          const float *cos_t, const float *sin_t, int inverse) {
    if (N <= 0 || n_heads <= 0 || D < 2) return;
    rope_kernel<<<mm_grid((size_t)N * n_heads * (D / 2), EW_THREADS), EW_THREADS>>>(x, ldx, col0, n_heads, D, pos,
                                                                                     N, cos_t, sin_t, inverse);
    CU_LAUNCHED("rope_kernel");
}

extern "C" void cuda_dropout_fwd(float *y, const float *x, size_t n, mm_dropout d, uint64_t first) {
    if (!n) return;
    if (d.p <= 0.0f) {
        if (y != x) {
            copy_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(y, x, n);
            CU_LAUNCHED("copy_kernel");
        }
        return;
    }
    const float scale = 1.0f / (1.0f - d.p);
    dropout_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(y, x, n, d.seed, d.step, d.stream, first,
                                                           mm_dropout_threshold(d.p), scale);
    CU_LAUNCHED("dropout_kernel");
}

/* one thread per 64-bit word: 16 Philox blocks (or fewer at the end) */
__global__ void dropout_bits_kernel(uint64_t *bits, size_t n, uint64_t seed, uint32_t step, uint32_t stream,
                                    uint64_t first, uint32_t thr) {
    size_t w = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t words = (n + 63) / 64;
    if (w >= words) return;
    uint64_t v = 0;
    for (int i = 0; i < 64; i++) {
        size_t e = w * 64 + (size_t)i;
        if (e >= n) break;
        if (mm_dev_keep(seed, step, stream, first + e, thr)) v |= (uint64_t)1 << i;
    }
    bits[w] = v;
}

/* grid-stride: mm_grid caps the grid at 2^20 blocks, so one element per thread would leave every element past
 * 2^28 unwritten */
__global__ void dropout_apply_bits_kernel(float *y, const float *x, size_t n, const uint64_t *bits, float scale) {
    GRID_STRIDE(i, n) y[i] = ((bits[i >> 6] >> (i & 63)) & 1) ? x[i] * scale : 0.0f;
}

extern "C" void cuda_dropout_bits(uint64_t *bits, size_t n, mm_dropout d, uint64_t first) {
    if (!n) return;
    size_t words = (n + 63) / 64;
    dropout_bits_kernel<<<mm_grid(words, EW_THREADS), EW_THREADS>>>(bits, n, d.seed, d.step, d.stream, first,
                                                                    mm_dropout_threshold(d.p));
    CU_LAUNCHED("dropout_bits_kernel");
}

extern "C" void cuda_dropout_apply_bits(float *y, const float *x, size_t n, const uint64_t *bits, float p) {
    if (!n) return;
    dropout_apply_bits_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(y, x, n, bits, 1.0f / (1.0f - p));
    CU_LAUNCHED("dropout_apply_bits_kernel");
}

extern "C" void cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                           float eps, float wd, int t) {
    if (!n) return;
    /* host scalars computed exactly as cpu_adamw does */
    const float bc1 = 1.0f - powf(beta1, (float)t);
    const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    const float step = lr / bc1;
    adamw_kernel<<<mm_grid(n, EW_THREADS), EW_THREADS>>>(p, g, m, v, n, lr, beta1, beta2, eps, wd, step, bc2_sqrt);
    CU_LAUNCHED("adamw_kernel");
}

extern "C" void cuda_embedding_fwd(float *y, const int32_t *ids, const int32_t *pos, const float *wte,
                                   const float *wpe, int N, int C) {
    if (N <= 0 || C <= 0) return;
    embedding_fwd_kernel<<<mm_grid((size_t)N * C, EW_THREADS), EW_THREADS>>>(y, ids, pos, wte, wpe, N, C);
    CU_LAUNCHED("embedding_fwd_kernel");
}

extern "C" void cuda_embedding_bwd(float *dwte, float *dwpe, const float *dy, const int32_t *ids, const int32_t *pos,
                                   int N, int C) {
    if (N <= 0 || C <= 0 || (!dwte && !dwpe)) return;
    embedding_bwd_kernel<<<(unsigned)((C + 127) / 128), 128>>>(dwte, dwpe, dy, ids, pos, N, C);
    CU_LAUNCHED("embedding_bwd_kernel");
}
