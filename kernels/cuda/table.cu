/* The CUDA backend's op table.  This strong definition of mm_kernels_cuda() overrides the weak one in
 * kernels/cpu/table.c; link build/libmmlora_cuda.a BEFORE build/libmmlora.a (or with --whole-archive) so
 * the linker takes this object for the undefined symbol instead of the weak fallback. */
#include "cuda/cuda_bf16.h"
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.h"

/* positional (C++17 has no designated initializers): the count check catches a table that grew */
/* name + device_memory (an int, padded to a pointer's size) + 47 function pointers */
static_assert(sizeof(mm_kernels) == 49 * sizeof(void *), "kernels.h changed: update the CUDA table");

static const mm_kernels table = {
    /* .name = */ "cuda",
    /* .device_memory = */ 1,
    /* .gemm = */ cuda_gemm,
    /* .linear_fwd = */ cuda_linear_fwd,
    /* .linear_bwd = */ cuda_linear_bwd,
    /* .layernorm_fwd = */ cuda_layernorm_fwd,
    /* .layernorm_bwd = */ cuda_layernorm_bwd,
    /* .rmsnorm_fwd = */ cuda_rmsnorm_fwd,
    /* .rmsnorm_bwd = */ cuda_rmsnorm_bwd,
    /* .rope = */ cuda_rope,
    /* .swiglu_fwd = */ cuda_swiglu_fwd,
    /* .swiglu_bwd = */ cuda_swiglu_bwd,
    /* .gelu_tanh_fwd = */ cuda_gelu_tanh_fwd,
    /* .gelu_tanh_bwd = */ cuda_gelu_tanh_bwd,
    /* .embedding_fwd = */ cuda_embedding_fwd,
    /* .embedding_bwd = */ cuda_embedding_bwd,
    /* .dropout_fwd = */ cuda_dropout_fwd,
    /* .attention_fwd = */ cuda_attention_fwd,
    /* .attention_bwd = */ cuda_attention_bwd,
    /* .attention_rows = */ cuda_attention_rows,
    /* .xent_fwd_bwd = */ cuda_xent_fwd_bwd,
    /* .adamw = */ cuda_adamw,
    /* .dropout_bits = */ cuda_dropout_bits,
    /* .dropout_apply_bits = */ cuda_dropout_apply_bits,
    /* .alloc = */ cuda_alloc,
    /* .free = */ cuda_free,
    /* .upload = */ cuda_upload,
    /* .download = */ cuda_download,
    /* .zero = */ cuda_zero,
    /* .add = */ cuda_add,
    /* .gather_rows = */ cuda_gather_rows,
    /* .scatter_rows = */ cuda_scatter_rows,
    /* .positions = */ cuda_positions,
    /* .row_scale = */ cuda_row_scale,
    /* .row_dot = */ cuda_row_dot,
    /* .group_sum_rows = */ cuda_group_sum_rows,
    /* .softmax_topk_rows = */ cuda_softmax_topk_rows,
    /* .softmax_topk_bwd_rows = */ cuda_softmax_topk_bwd_rows,
    /* .scale = */ cuda_scale,
    /* .sumsq = */ cuda_sumsq,
    /* .copy_rows = */ cuda_copy_rows,
    /* .argmax_rows = */ cuda_argmax_rows,
    /* .linear_fwd_w16 = */ mm_cuda_linear_fwd_wbf16,
    /* .linear_bwd_dx_w16 = */ mm_cuda_linear_bwd_dx_wbf16,
    /* .expert_down = */ cuda_expert_down,
    /* .expert_down_bwd_a = */ cuda_expert_down_bwd_a,
    /* .expert_down_bwd_x = */ cuda_expert_down_bwd_x,
    /* .to_bf16 = */ mm_cuda_f32_to_bf16,
    /* .from_bf16 = */ mm_cuda_bf16_to_f32,
};

extern "C" const mm_kernels *mm_kernels_cuda(void) {
    static int present = -1;
    if (present < 0) present = mm_cuda_select_device() >= 0; /* one GPU per local rank (comm.cu) */
    return present ? &table : NULL;
}
