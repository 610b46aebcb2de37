#include "kernels/ref/ref.h"

namespace mr {

const KernelTable kRefKernels = {
    "ref",
    ref::embedding_fwd<float>, ref::embedding_bwd<float>,
    ref::linear_fwd<float>, ref::linear_bwd<float>,
    ref::bias_act_fwd<float>, ref::bias_act_bwd<float>,
    ref::layernorm_fwd<float>, ref::layernorm_bwd<float>,
    ref::attention_fwd<float>, ref::attention_bwd<float>,
    ref::dropout_fwd<float>, ref::dropout_bwd<float>,
    ref::xent_fwd<float>, ref::xent_bwd<float>,
    ref::bce_fwd<float>, ref::bce_bwd<float>,
    ref::mse_fwd<float>, ref::mse_bwd<float>,
    ref::mean_pool_fwd<float>, ref::mean_pool_bwd<float>,
    ref::cls_pool_fwd<float>, ref::cls_pool_bwd<float>,
    ref::adamw, ref::sgd, ref::sumsq, ref::axpy, ref::scale,
    nullptr,  // no bf16 storage: the reference is fp32
};

}  // namespace mr
