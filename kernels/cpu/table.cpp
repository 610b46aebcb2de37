#include "kernels/cpu/cpu.h"

namespace mr {

const KernelTable kCpuKernels = {
    "cpu",
    cpu::embedding_fwd, cpu::embedding_bwd,
    cpu::linear_fwd, cpu::linear_bwd,
    cpu::bias_act_fwd, cpu::bias_act_bwd,
    cpu::layernorm_fwd, cpu::layernorm_bwd,
    cpu::attention_fwd, cpu::attention_bwd,
    cpu::dropout_fwd, cpu::dropout_bwd,
    cpu::xent_fwd, cpu::xent_bwd,
    cpu::bce_fwd, cpu::bce_bwd,
    cpu::mse_fwd, cpu::mse_bwd,
    cpu::mean_pool_fwd, cpu::mean_pool_bwd,
    cpu::cls_pool_fwd, cpu::cls_pool_bwd,
    cpu::adamw, cpu::sgd, cpu::sumsq, cpu::axpy, cpu::scale,
    nullptr,  // no bf16 storage on the CPU backend
};

}  // namespace mr
