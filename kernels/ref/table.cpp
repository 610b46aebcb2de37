#include "kernels/ref/ref.h"

namespace mr {

const KernelTable kRefKernels = {
    .name = "ref",
#define MR_KERNEL_NS ref
#define MR_KERNEL_TARGS <float>
#include "kernels/ops_entries.inc"
    .bf16 = nullptr,  // no bf16 storage: the reference is fp32
};

}  // namespace mr
