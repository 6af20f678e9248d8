/* The CPU backend's op table. */
#include "cpu/cpu_ops.h"

const mm_kernels mm_kernels_cpu = {
    .name = "cpu",
    .gemm = cpu_gemm,
    .linear_fwd = cpu_linear_fwd,
    .linear_bwd = cpu_linear_bwd,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .rmsnorm_fwd = cpu_rmsnorm_fwd,
    .rmsnorm_bwd = cpu_rmsnorm_bwd,
    .rope = cpu_rope,
    .swiglu_fwd = cpu_swiglu_fwd,
    .swiglu_bwd = cpu_swiglu_bwd,
    .gelu_tanh_fwd = cpu_gelu_tanh_fwd,
    .gelu_tanh_bwd = cpu_gelu_tanh_bwd,
    .embedding_fwd = cpu_embedding_fwd,
    .embedding_bwd = cpu_embedding_bwd,
    .dropout_fwd = cpu_dropout_fwd,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    .attention_rows = cpu_attention_rows,
    .xent_fwd_bwd = cpu_xent_fwd_bwd,
    .adamw = cpu_adamw,
    .dropout_bits = cpu_dropout_bits,
    .dropout_apply_bits = cpu_dropout_apply_bits,
};

/* Overridden by the CUDA backend when it is linked in. */
__attribute__((weak)) const mm_kernels *mm_kernels_cuda(void) { return 0; }
