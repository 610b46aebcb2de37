// Host launchers of the CUDA ops: the exact KernelTable signatures (generated from kernels/ops.def),
// every pointer a device pointer (scalars such as `loss` and `dloss` included). Each launches
// on the default stream and returns without synchronizing, except sumsq, which returns a host
// double. Plain C++: test and engine code includes this without the CUDA headers.
// Gradient convention: as kernels/kernel_table.h (parameter gradients +=, activation
// gradients = or += by their acc flag).
#pragma once
#include <cstdint>
#include <string>

#include "kernels/kernel_table.h"

namespace mr::cuda {

// The backend's arithmetic. fp32 (the default): every op in fp32 on CUDA cores, equal to the
// reference to 1e-5. bf16: the ops that have a tensor-core path (attention, the GEMMs) round
// their matrix-product operands to bf16 and accumulate in fp32. tf32: the GEMMs round their
// operands to tf32 (10 mantissa bits), everything else as fp32. Storage stays fp32 in every
// mode, so nothing else changes. Tolerances per mode: docs/cuda.md.
// Each mode has its own fp32 table (kernels(m)); the table-signature launchers below compute
// in fp32, and the math-taking overloads serve the tables of the other modes.
enum class Math { fp32, bf16, tf32 };
// "fp32", "bf16" or "tf32"; false (m untouched) for anything else.
bool parse_math(const std::string& s, Math& m);
const char* math_name(Math m);
// The fp32-storage table whose GEMMs and attention compute in mode m (kCudaKernels for fp32);
// every table's bf16 member is kCudaKernelsBf16 (bf16 storage does not depend on the mode).
const KernelTable& kernels(Math m);

#include "kernels/ops_decl.inc"

// The ops whose arithmetic follows the math mode, with the mode explicit.
void linear_fwd(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT, Math m);
void linear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, int N, int IN,
                int OUT, GradMode acc_dinp, Math m);
void attention_fwd(float* out, float* lse, const float* qkv, const int32_t* mask, const float* bias, int B, int T,
                   int C, int H, float p_drop, uint64_t seed, uint64_t offset, Math m);
void attention_bwd(float* dqkv, float* dbias, const float* dout, const float* qkv, const float* out, const float* lse,
                   const int32_t* mask, const float* bias, int B, int T, int C, int H, float p_drop, uint64_t seed,
                   uint64_t offset, GradMode acc_dqkv, Math m);

// bf16 storage (KernelTableBf16 in kernels/kernel_table.h): the ops of the list marked bf16,
// over bf16 activations, and the casts.
namespace bf16 {
#define A bf16_t
#define W float
#define S float
#define MR_OP(op, ret, params, b16) MR_IF_##b16(ret op params;)
#define MR_OP_CAST(op, ret, params) ret op params;
#include "kernels/ops.def"
}  // namespace bf16

// Installs the device allocator (base/device.h); false when no CUDA device is usable. The
// engine reaches kCudaKernels through its Backend (engine/backend.h), never through kernels/. Under the SIMT emulator the "device" is the CPU.
bool init();
// Why the last init() returned false (the CUDA runtime's words); empty after a success.
const std::string& init_error();
// The number of visible devices (0 when the runtime finds none; init_error() says why), and
// the device this process's later CUDA calls use (throws, with the runtime's words, on failure).
int device_count();
void select_device(int gpu);

}  // namespace mr::cuda

namespace mr {
extern const KernelTable kCudaKernels;  // kernels/cuda/table.cu
extern const KernelTableBf16 kCudaKernelsBf16;
}
