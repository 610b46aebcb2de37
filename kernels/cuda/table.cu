// The CUDA kernel tables (fp32, and bf16 storage) and the backend's registration. Every entry is a host launcher
// in kernels/cuda/<family>.cu taking device pointers (kernels/cuda/cuda_ops.h).
#include "base/device.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr {
namespace cuda {
bool install_allocator();  // kernels/cuda/device.cu

namespace {
void* g_scratch[kScratchSlots] = {};
size_t g_scratch_bytes[kScratchSlots] = {};
Math g_math = Math::fp32;
}  // namespace

void set_math(Math m) { g_math = m; }
Math math() { return g_math; }
bool parse_math(const std::string& s, Math& m) {
  if (s == "fp32") return m = Math::fp32, true;
  if (s == "bf16") return m = Math::bf16, true;
  if (s == "tf32") return m = Math::tf32, true;
  return false;
}
const char* math_name(Math m) { return m == Math::bf16 ? "bf16" : m == Math::tf32 ? "tf32" : "fp32"; }

void* scratch(size_t bytes, int slot) {
  if (slot < 0 || slot >= kScratchSlots)
    ::mr::throw_error(__FILE__, __LINE__, "scratch", "slot " + std::to_string(slot) + " does not exist");
  void*& p = g_scratch[slot];
  size_t& have = g_scratch_bytes[slot];
  if (bytes > have) {
    if (p) CUDA_CHECK(cudaFree(p));
    p = nullptr;
    have = 0;
    const size_t want = bytes < 4096 ? 4096 : bytes;
    CUDA_CHECK(cudaMalloc(&p, want));
    have = want;
  }
  return p;
}

bool init() { return install_allocator(); }

}  // namespace cuda

const KernelTable kCudaKernels = {
    .name = "cuda",
#define MR_KERNEL_NS cuda
#include "kernels/ops_entries.inc"
    .bf16 = &kCudaKernelsBf16,
};

const KernelTableBf16 kCudaKernelsBf16 = {
#define MR_OP(op, ret, params, b16) MR_IF_##b16(.op = cuda::bf16::op, )
#define MR_OP_CAST(op, ret, params) .op = cuda::bf16::op,
#include "kernels/ops.def"
};

}  // namespace mr
