// The CUDA kernel tables: fp32 storage in each math mode (fp32, tf32, bf16), and bf16 storage.
// Every entry is a host launcher in kernels/cuda/<family>.cu taking device pointers
// (kernels/cuda/cuda_ops.h); the engine reaches them through its Backend (engine/backend.h).
#include "base/device.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr {
namespace cuda {
bool install_allocator();  // kernels/cuda/device.cu

namespace {
void* g_scratch[kScratchSlots] = {};
size_t g_scratch_bytes[kScratchSlots] = {};
}  // namespace

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

namespace cuda {
namespace {
// The entries of the ops that follow the math mode, with mode M bound.
template <Math M>
struct AtMath {
  static void linear_fwd(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT) {
    cuda::linear_fwd(out, inp, w, b, N, IN, OUT, M);
  }
  static void linear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, int N,
                         int IN, int OUT, GradMode acc_dinp) {
    cuda::linear_bwd(dinp, dw, db, dout, inp, w, N, IN, OUT, acc_dinp, M);
  }
  static void attention_fwd(float* out, float* lse, const float* qkv, const int32_t* mask, const float* bias, int B,
                            int T, int C, int H, float p_drop, uint64_t seed, uint64_t offset) {
    cuda::attention_fwd(out, lse, qkv, mask, bias, B, T, C, H, p_drop, seed, offset, M);
  }
  static void attention_bwd(float* dqkv, float* dbias, const float* dout, const float* qkv, const float* out,
                            const float* lse, const int32_t* mask, const float* bias, int B, int T, int C, int H,
                            float p_drop, uint64_t seed, uint64_t offset, GradMode acc_dqkv) {
    cuda::attention_bwd(dqkv, dbias, dout, qkv, out, lse, mask, bias, B, T, C, H, p_drop, seed, offset, acc_dqkv, M);
  }
  static KernelTable table(const char* name) {
    KernelTable t = kCudaKernels;
    t.name = name;
    t.linear_fwd = linear_fwd;
    t.linear_bwd = linear_bwd;
    t.attention_fwd = attention_fwd;
    t.attention_bwd = attention_bwd;
    return t;
  }
};
const KernelTable kTf32 = AtMath<Math::tf32>::table("cuda/tf32");
const KernelTable kBf16Math = AtMath<Math::bf16>::table("cuda/bf16");
}  // namespace

const KernelTable& kernels(Math m) { return m == Math::bf16 ? kBf16Math : m == Math::tf32 ? kTf32 : kCudaKernels; }
}  // namespace cuda

const KernelTableBf16 kCudaKernelsBf16 = {
#define MR_OP(op, ret, params, b16) MR_IF_##b16(.op = cuda::bf16::op, )
#define MR_OP_CAST(op, ret, params) .op = cuda::bf16::op,
#include "kernels/ops.def"
};

}  // namespace mr
