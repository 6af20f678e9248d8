/* An op table whose every op but alloc and free calls two hooks around the inner table's op: before() and
 * after(op) with the op's MM_OP_* index.  One hooked table at a time per process (the hooks are process-wide).
 * Used by the guarded stand-in for a device table (kernels/cpu/standin.c: device memory unreadable outside the
 * ops) and by the GPU benchmark's op profiler (tests/gpu/op_profile.c). */
#ifndef MMLORA_CPU_OP_HOOKS_H
#define MMLORA_CPU_OP_HOOKS_H
#include "kernels.h"

enum {
    MM_OP_GEMM, MM_OP_LINEAR_FWD, MM_OP_LINEAR_BWD, MM_OP_LINEAR_FWD_W16, MM_OP_LINEAR_BWD_DX_W16,
    MM_OP_LAYERNORM_FWD, MM_OP_LAYERNORM_BWD, MM_OP_RMSNORM_FWD, MM_OP_RMSNORM_BWD, MM_OP_ROPE, MM_OP_SWIGLU_FWD,
    MM_OP_SWIGLU_BWD, MM_OP_GELU_FWD, MM_OP_GELU_BWD, MM_OP_EMBEDDING_FWD, MM_OP_EMBEDDING_BWD, MM_OP_DROPOUT_FWD,
    MM_OP_ATTENTION_FWD, MM_OP_ATTENTION_BWD, MM_OP_ATTENTION_ROWS, MM_OP_XENT, MM_OP_ADAMW, MM_OP_DROPOUT_BITS,
    MM_OP_DROPOUT_APPLY_BITS, MM_OP_UPLOAD, MM_OP_DOWNLOAD, MM_OP_ZERO, MM_OP_ADD, MM_OP_GATHER_ROWS,
    MM_OP_SCATTER_ROWS, MM_OP_POSITIONS, MM_OP_ROW_SCALE, MM_OP_ROW_DOT, MM_OP_GROUP_SUM_ROWS, MM_OP_SOFTMAX_TOPK,
    MM_OP_SOFTMAX_TOPK_BWD, MM_OP_SCALE, MM_OP_SUMSQ, MM_OP_COPY_ROWS, MM_OP_ARGMAX_ROWS, MM_OP_EXPERT_DOWN,
    MM_OP_EXPERT_DOWN_BWD_A, MM_OP_EXPERT_DOWN_BWD_X, MM_OP_TO_BF16, MM_OP_FROM_BF16, MM_OP_N
};

typedef struct {
    void (*before)(void);
    void (*after)(int op);
} mm_op_hooks;

/* *out = inner with every op but alloc and free hooked (memory ops upload, download, zero included) */
void mm_op_hooks_table(mm_kernels *out, const mm_kernels *inner, const mm_op_hooks *hooks);
/* "linear_fwd", ... for an MM_OP_* index */
const char *mm_op_name(int op);
#endif
