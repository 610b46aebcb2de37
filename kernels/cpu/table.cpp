#include "kernels/cpu/cpu.h"

namespace mr {

const KernelTable kCpuKernels = {
    .name = "cpu",
#define MR_KERNEL_NS cpu
#include "kernels/ops_entries.inc"
    .bf16 = nullptr,  // no bf16 storage on the CPU backend
};

}  // namespace mr
