/* The bf16 linears' GEMM through cuBLASLt (cublasLtMatmul), the alternative to cublasGemmEx that bf16.cu uses by
 * default: MMLORA_CUDA_LT=1 selects it (read at every call, so one process can compare both; tests/gpu/parity.c
 * checks both against the CPU, tests/gpu/ops_bench.c times both at the 1B shapes).  bf16 A and B, fp32 C, fp32
 * compute; the heuristic's first algorithm for the shape, the operands' actual alignment and a 32 MiB workspace
 * of its own (never the op scratch, which holds the rounded activation during the call).  Descriptors and the
 * chosen algorithm are cached per shape (a linear layer repeats a handful of shapes), so a call costs one
 * cublasLtMatmul.  A shape Lt has no algorithm for is said once and goes through cublasGemmEx. */
#include <cublasLt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda/cuda_bf16.h"
#include "cuda/cuda_util.h"

static cublasLtHandle_t lt_handle(void) {
    static cublasLtHandle_t h = NULL;
    if (!h) CUBLAS_CHECK(cublasLtCreate(&h));
    return h;
}

enum { WS_BYTES = 32 << 20, CACHE = 64 };
static void *workspace(void) {
    static void *w = NULL;
    if (!w) CU_CHECK(cudaMalloc(&w, WS_BYTES));
    return w;
}

/* the largest power of two <= 256 dividing the address (the alignment Lt's algorithms may assume) */
static uint32_t align_of(const void *p) {
    uint32_t a = 256;
    while (a > 1 && ((uintptr_t)p & (a - 1))) a >>= 1;
    return a;
}

typedef struct {
    int key[9]; /* tA tB M N K lda ldb ldc, 0 */
    uint32_t align[3]; /* the operands' alignments, compared with the key */
    int none;          /* 1: Lt has no algorithm for this plan: cublasGemmEx is used for it */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    int used;
} plan;

static plan *find_or_make(int tA, int tB, int M, int N, int K, int lda, int ldb, int ldc, uint32_t al_a, uint32_t al_b,
                          uint32_t al_c) {
    static plan cache[CACHE];
    static int next;
    const int key[9] = {tA, tB, M, N, K, lda, ldb, ldc, 0};
    for (int i = 0; i < CACHE; i++)
        if (cache[i].used && !memcmp(cache[i].key, key, sizeof key) && cache[i].align[0] == al_a &&
            cache[i].align[1] == al_b && cache[i].align[2] == al_c)
            return &cache[i];
    plan *p = &cache[next];
    next = (next + 1) % CACHE;
    if (p->used) { /* evict the oldest */
        cublasLtMatrixLayoutDestroy(p->la), cublasLtMatrixLayoutDestroy(p->lb), cublasLtMatrixLayoutDestroy(p->lc);
        cublasLtMatmulDescDestroy(p->desc);
        p->used = 0;
    }
    /* row-major C[M,N] = op(A)·op(B) is column-major Cᵀ[N,M] = op(B)ᵀ·op(A)ᵀ: Lt's first operand is B, its second A
     * (as bf16.cu's cublasGemmEx call) */
    const cublasOperation_t opa = tB ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tA ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    /* stored column-major shapes: B's is N x K (no transpose) or K x N, A's K x M or M x K, C's N x M */
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_16BF, opa == CUBLAS_OP_N ? N : K, opa == CUBLAS_OP_N ? K : N,
                                            ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_16BF, opb == CUBLAS_OP_N ? K : M, opb == CUBLAS_OP_N ? M : K,
                                            lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_32F, N, M, ldc));
    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    const size_t ws = WS_BYTES;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    /* Lt's A is our B (al_b), its B our A (al_a) */
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_b,
                                                      sizeof al_b));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_a,
                                                      sizeof al_a));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c,
                                                      sizeof al_c));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c,
                                                      sizeof al_c));
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(lt_handle(), p->desc, p->la, p->lb, p->lc, p->lc, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    p->none = st != CUBLAS_STATUS_SUCCESS || found < 1;
    if (p->none) { /* said once per plan; the caller falls back to cublasGemmEx */
        fprintf(stderr, "mmlora cuda: cuBLASLt has no algorithm for a %d x %d x %d bf16 GEMM (lda %d ldb %d ldc %d, "
                        "alignments %u/%u/%u: %s); cublasGemmEx is used for it\n", M, N, K, lda, ldb, ldc, al_a, al_b,
                al_c, cublasGetStatusString(st));
    } else {
        p->algo = res.algo;
    }
    memcpy(p->key, key, sizeof key);
    p->align[0] = al_a, p->align[1] = al_b, p->align[2] = al_c;
    p->used = 1;
    return p;
}

extern "C" int mm_cuda_lt_enabled(void) {
    const char *e = getenv("MMLORA_CUDA_LT");
    return e && *e && strcmp(e, "0") != 0;
}

extern "C" int mm_cuda_gemm_bf16_lt(int tA, int tB, int M, int N, int K, const void *A, int lda, const void *B,
                                    int ldb, float beta, float *C, int ldc) {
    const float alpha = 1.0f;
    plan *p = find_or_make(tA, tB, M, N, K, lda, ldb, ldc, align_of(A), align_of(B), align_of(C));
    if (p->none) return -1;
    CUBLAS_CHECK(cublasLtMatmul(lt_handle(), p->desc, &alpha, B, p->la, A, p->lb, &beta, C, p->lc, C, p->lc, &p->algo,
                                workspace(), WS_BYTES, 0));
    return 0;
}
