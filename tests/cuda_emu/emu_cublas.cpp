/* cuBLAS and cuBLASLt for the CPU emulator of the CUDA backend (include/cublas_v2.h, include/cublasLt.h):
 * column-major GEMMs as cuBLAS defines them, with its argument checks (sizes, leading dimensions, operand
 * types) and each operand's extent checked to lie inside one device allocation.  Every product is summed in
 * double (OpenBLAS dgemm) and rounded once (a reference, not cuBLAS's order); beta == 0 never reads C (NaN
 * there stays unread, as cuBLAS).  bf16 operands are widened exactly; CUBLAS_COMPUTE_32F_FAST_TF32 rounds fp32 operands to TF32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "cublasLt.h"
#include "emu_internal.h"

struct mm_emu_cublas_context {
    cublasMath_t math;
};
struct mm_emu_lt_context {
    int unused;
};
struct mm_emu_lt_desc {
    cublasComputeType_t compute;
    cudaDataType_t scale;
    cublasOperation_t ta, tb;
};
struct mm_emu_lt_layout {
    cudaDataType_t type;
    uint64_t rows, cols;
    int64_t ld;
};
struct mm_emu_lt_pref {
    size_t workspace;
};

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = (cublasHandle_t)calloc(1, sizeof **h);
    return *h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t) { return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED; }
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->math = m;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *, size_t) { return h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED; }

static size_t type_bytes(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }
static float tf32(float x) { /* round to nearest (ties away) on the 13 bits TF32 drops */
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & ~0x1fffu;
    memcpy(&x, &u, 4);
    return x;
}
static double load(const void *p, cudaDataType_t t, size_t i, int round_tf32) {
    if (t == CUDA_R_32F) {
        float v = ((const float *)p)[i];
        return round_tf32 ? tf32(v) : v;
    }
    uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16; /* bf16 */
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* the extent a column-major rows x cols matrix with leading dimension ld spans, in elements */
static size_t extent(int rows, int cols, long long ld) {
    return rows && cols ? (size_t)(cols - 1) * (size_t)ld + (size_t)rows : 0;
}

/* C[m,n] = alpha·op(A)·op(B) + beta·C, column-major; the checks cuBLAS makes, then the operands' ranges */
static cublasStatus_t gemm(const char *call, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           float alpha, const void *A, cudaDataType_t at, long long lda, const void *B,
                           cudaDataType_t bt, long long ldb, float beta, void *C, cudaDataType_t ct, long long ldc,
                           int round_tf32) {
    if ((ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T) || m < 0 || n < 0 ||
        k < 0) {
        fprintf(stderr, "mmlora cuda-emu: %s: op %d/%d, m %d n %d k %d\n", call, ta, tb, m, n, k);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    const int ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m; /* A as stored */
    const int br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1)) {
        fprintf(stderr, "mmlora cuda-emu: %s: leading dimensions lda %lld (A stored %d x %d), ldb %lld (B %d x %d), "
                        "ldc %lld (C %d x %d) are too small\n", call, lda, ar, ac, ldb, br, bc, ldc, m, n);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!m || !n) return CUBLAS_STATUS_SUCCESS;
    if ((k && (mm_emu_device_range(A, extent(ar, ac, lda) * type_bytes(at), "A", call) ||
               mm_emu_device_range(B, extent(br, bc, ldb) * type_bytes(bt), "B", call))) ||
        mm_emu_device_range(C, extent(m, n, ldc) * type_bytes(ct), "C", call))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    mm_emu_current_call = call;
    if (ct != CUDA_R_32F) mm_emu_fatal("%s: a bf16 output (not used by the backend)", call);
    /* op(A) as rows of k, op(B) as columns of k, widened to double once: contiguous dot products */
    double *a = (double *)malloc(((size_t)m + (size_t)n) * (size_t)(k ? k : 1) * sizeof(double)), *b;
    if (!a) mm_emu_fatal("%s: out of host memory", call);
    b = a + (size_t)m * k;
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
            a[(size_t)i * k + p] = load(A, at, ta == CUBLAS_OP_N ? (size_t)p * lda + i : (size_t)i * lda + p, round_tf32);
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++)
            b[(size_t)j * k + p] = load(B, bt, tb == CUBLAS_OP_N ? (size_t)j * ldb + p : (size_t)p * ldb + j, round_tf32);
    /* s[i][j] = Σ_p a[i][p]·b[j][p] in double (OpenBLAS dgemm: the emulator's GEMMs at host speed) */
    double *s = (double *)malloc((size_t)m * n * sizeof(double));
    if (!s) mm_emu_fatal("%s: out of host memory", call);
    if (k) cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0, a, k, b, k, 0.0, s, n);
    else memset(s, 0, (size_t)m * n * sizeof(double));
    float *c = (float *)C;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            const size_t ci = (size_t)j * ldc + i;
            double v = (double)alpha * s[(size_t)i * n + j];
            if (beta != 0.0f) v += (double)beta * c[ci];
            c[ci] = (float)v;
        }
    free(s);
    free(a);
    mm_emu_current_call = NULL;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    return gemm("cublasSgemm", ta, tb, m, n, k, *alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, *beta, C, CUDA_R_32F,
                ldc, h->math == CUBLAS_TF32_TENSOR_OP_MATH);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, long long sA,
                                         const float *B, int ldb, long long sB, const float *beta, float *C, int ldc,
                                         long long sC, int batch) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < batch; i++) {
        cublasStatus_t s = gemm("cublasSgemmStridedBatched", ta, tb, m, n, k, *alpha, A + i * sA, CUDA_R_32F, lda,
                                B + i * sB, CUDA_R_32F, ldb, *beta, C + i * sC, CUDA_R_32F, ldc,
                                h->math == CUBLAS_TF32_TENSOR_OP_MATH);
        if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const float *alpha, const float *const A[], int lda, const float *const B[], int ldb,
                                  const float *beta, float *const C[], int ldc, int batch) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    /* the pointer arrays live in device memory */
    const size_t pb = (size_t)batch * sizeof(void *);
    if (batch && (mm_emu_device_range(A, pb, "the A pointer array", "cublasSgemmBatched") ||
                  mm_emu_device_range(B, pb, "the B pointer array", "cublasSgemmBatched") ||
                  mm_emu_device_range(C, pb, "the C pointer array", "cublasSgemmBatched")))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    for (int i = 0; i < batch; i++) {
        cublasStatus_t s = gemm("cublasSgemmBatched", ta, tb, m, n, k, *alpha, A[i], CUDA_R_32F, lda, B[i], CUDA_R_32F,
                                ldb, *beta, C[i], CUDA_R_32F, ldc, h->math == CUBLAS_TF32_TENSOR_OP_MATH);
        if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType_t Atype, int lda, const void *B,
                            cudaDataType_t Btype, int ldb, const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    const int ok_types = (Atype == CUDA_R_32F || Atype == CUDA_R_16BF) && Btype == Atype && Ctype == CUDA_R_32F;
    const int ok_compute = compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
                           compute == CUBLAS_COMPUTE_32F_FAST_16BF;
    if (!ok_types || !ok_compute) {
        fprintf(stderr, "mmlora cuda-emu: cublasGemmEx: types A %d B %d C %d, compute %d: not a combination the "
                        "backend uses\n", Atype, Btype, Ctype, compute);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return gemm("cublasGemmEx", ta, tb, m, n, k, *(const float *)alpha, A, Atype, lda, B, Btype, ldb,
                *(const float *)beta, C, Ctype, ldc, compute == CUBLAS_COMPUTE_32F_FAST_TF32);
}

/* ------------------------------------------------------------------------------------------------ cuBLASLt */
cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
    *h = (cublasLtHandle_t)calloc(1, sizeof **h);
    return *h ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute, cudaDataType_t scale) {
    *d = (cublasLtMatmulDesc_t)calloc(1, sizeof **d);
    if (!*d) return CUBLAS_STATUS_ALLOC_FAILED;
    (*d)->compute = compute, (*d)->scale = scale, (*d)->ta = (*d)->tb = CUBLAS_OP_N;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
    free(d);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                              const void *buf, size_t bytes) {
    if (!d || !buf) return CUBLAS_STATUS_INVALID_VALUE;
    if (a == CUBLASLT_MATMUL_DESC_TRANSA || a == CUBLASLT_MATMUL_DESC_TRANSB) {
        if (bytes != sizeof(cublasOperation_t)) return CUBLAS_STATUS_INVALID_VALUE;
        cublasOperation_t op;
        memcpy(&op, buf, sizeof op);
        (a == CUBLASLT_MATMUL_DESC_TRANSA ? d->ta : d->tb) = op;
        return CUBLAS_STATUS_SUCCESS;
    }
    return CUBLAS_STATUS_NOT_SUPPORTED;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType_t type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    if (ld < (int64_t)(rows > 1 ? rows : 1)) {
        fprintf(stderr, "mmlora cuda-emu: cublasLtMatrixLayoutCreate: ld %lld < rows %llu\n", (long long)ld,
                (unsigned long long)rows);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    *l = (cublasLtMatrixLayout_t)calloc(1, sizeof **l);
    if (!*l) return CUBLAS_STATUS_ALLOC_FAILED;
    (*l)->type = type, (*l)->rows = rows, (*l)->cols = cols, (*l)->ld = ld;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
    free(l);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    *p = (cublasLtMatmulPreference_t)calloc(1, sizeof **p);
    return *p ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
    free(p);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t a, const void *buf,
                                                    size_t bytes) {
    if (!p || !buf) return CUBLAS_STATUS_INVALID_VALUE;
    if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
        if (bytes != sizeof(uint64_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&p->workspace, buf, sizeof p->workspace);
        return CUBLAS_STATUS_SUCCESS;
    }
    if (a >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && a <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES)
        return bytes == sizeof(uint32_t) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

/* op(A) is m x k, op(B) k x n, C and D m x n: the layouts must agree */
static int lt_shapes(cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                     cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dl, uint64_t *m, uint64_t *n, uint64_t *k) {
    *m = d->ta == CUBLAS_OP_N ? a->rows : a->cols;
    *k = d->ta == CUBLAS_OP_N ? a->cols : a->rows;
    const uint64_t kb = d->tb == CUBLAS_OP_N ? b->rows : b->cols;
    *n = d->tb == CUBLAS_OP_N ? b->cols : b->rows;
    if (kb != *k || c->rows != *m || c->cols != *n || dl->rows != *m || dl->cols != *n || a->type != b->type ||
        c->type != CUDA_R_32F || dl->type != CUDA_R_32F) {
        fprintf(stderr, "mmlora cuda-emu: cublasLt: the layouts disagree: op(A) %llu x %llu, op(B) %llu x %llu, C %llu "
                        "x %llu, D %llu x %llu (types %d %d %d %d)\n", (unsigned long long)*m, (unsigned long long)*k,
                (unsigned long long)kb, (unsigned long long)*n, (unsigned long long)c->rows,
                (unsigned long long)c->cols, (unsigned long long)dl->rows, (unsigned long long)dl->cols, a->type,
                b->type, c->type, dl->type);
        return -1;
    }
    return 0;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t dl, cublasLtMatmulPreference_t p, int want,
                                              cublasLtMatmulHeuristicResult_t *res, int *found) {
    uint64_t m, n, k;
    if (!h || !d || !p || want < 1 || !res || !found) return CUBLAS_STATUS_INVALID_VALUE;
    *found = 0;
    if (lt_shapes(d, a, b, c, dl, &m, &n, &k)) return CUBLAS_STATUS_INVALID_VALUE;
    memset(res, 0, sizeof *res);
    res->algo.data[0] = 0x6d6d656d75ull; /* "mmemu": cublasLtMatmul checks it came from here */
    res->state = CUBLAS_STATUS_SUCCESS;
    res->wavesCount = 1.0f;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t la, const void *B, cublasLtMatrixLayout_t lb, const void *beta,
                              const void *C, cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ld,
                              const cublasLtMatmulAlgo_t *algo, void *ws, size_t ws_bytes, cudaStream_t) {
    uint64_t m, n, k;
    if (!h || !d || !la || !lb || !lc || !ld) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (lt_shapes(d, la, lb, lc, ld, &m, &n, &k)) return CUBLAS_STATUS_INVALID_VALUE;
    if (!algo || algo->data[0] != 0x6d6d656d75ull) {
        fprintf(stderr, "mmlora cuda-emu: cublasLtMatmul: an algorithm the heuristic did not return\n");
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (ws_bytes && mm_emu_device_range(ws, ws_bytes, "the workspace", "cublasLtMatmul"))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    if (C != D || lc->ld != ld->ld) {
        fprintf(stderr, "mmlora cuda-emu: cublasLtMatmul: C != D (the emulator supports the in-place form only)\n");
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return gemm("cublasLtMatmul", d->ta, d->tb, (int)m, (int)n, (int)k, *(const float *)alpha, A, la->type, la->ld, B,
                lb->type, lb->ld, *(const float *)beta, D, CUDA_R_32F, ld->ld,
                d->compute == CUBLAS_COMPUTE_32F_FAST_TF32);
}
