// Host launchers of the CUDA ops: the exact KernelTable signatures (kernels/kernel_table.h),
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
enum class Math { fp32, bf16, tf32 };
void set_math(Math m);
Math math();
// "fp32", "bf16" or "tf32"; false (m untouched) for anything else.
bool parse_math(const std::string& s, Math& m);
const char* math_name(Math m);

void embedding_fwd(float* out, const int32_t* ids, const int32_t* types, const float* wte, const float* wpe,
                   const float* wtt, int B, int T, int C);
void embedding_bwd(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                   const int32_t* types, int B, int T, int C);
void linear_fwd(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT);
void linear_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w, int N, int IN,
                int OUT, bool acc_dinp);
void bias_act_fwd(float* out, const float* x, const float* b, int N, int C, Act act);
void bias_act_bwd(float* dx, float* db, const float* dout, const float* x, const float* b, int N, int C, Act act,
                  bool acc_dx);
void layernorm_fwd(float* y, float* s, float* mean, float* rstd, const float* a, const float* r, const float* gamma,
                   const float* beta, int N, int C, float eps);
void layernorm_bwd(float* da, float* dr, float* dgamma, float* dbeta, const float* dy, const float* s,
                   const float* mean, const float* rstd, const float* gamma, int N, int C, bool acc_da, bool acc_dr);
void attention_fwd(float* out, float* lse, const float* qkv, const int32_t* mask, int B, int T, int C, int H,
                   float p_drop, uint64_t seed, uint64_t offset);
void attention_bwd(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                   const int32_t* mask, int B, int T, int C, int H, float p_drop, uint64_t seed, uint64_t offset,
                   bool acc_dqkv);
void dropout_fwd(float* out, const float* in, int64_t n, float p, uint64_t seed, uint64_t offset);
void dropout_bwd(float* din, const float* dout, int64_t n, float p, uint64_t seed, uint64_t offset, bool acc_din);
void xent_fwd(float* loss, float* lse, const float* logits, const int32_t* targets, int N, int V);
void xent_bwd(float* dlogits, const float* dloss, const float* logits, const float* lse, const int32_t* targets,
              int N, int V, bool acc);
void bce_fwd(float* loss, const float* x, const float* y, int64_t n);
void bce_bwd(float* dx, const float* dloss, const float* x, const float* y, int64_t n, bool acc);
void mse_fwd(float* loss, const float* x, const float* y, int64_t n);
void mse_bwd(float* dx, const float* dloss, const float* x, const float* y, int64_t n, bool acc);
void mean_pool_fwd(float* out, const float* h, const int32_t* mask, int B, int T, int C);
void mean_pool_bwd(float* dh, const float* dout, const int32_t* mask, int B, int T, int C, bool acc);
void cls_pool_fwd(float* out, const float* h, int B, int T, int C);
void cls_pool_bwd(float* dh, const float* dout, int B, int T, int C, bool acc);
void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int t);
void sgd(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
         bool first_step);
double sumsq(const float* x, int64_t n);
void axpy(float* y, const float* x, float a, int64_t n, bool acc);
void scale(float* x, int64_t n, float s);

// bf16 storage (KernelTableBf16 in kernels/kernel_table.h): the same ops over bf16 activations.
void embedding_fwd_bf16(bf16_t* out, const int32_t* ids, const int32_t* types, const float* wte, const float* wpe,
                        const float* wtt, int B, int T, int C);
void embedding_bwd_bf16(float* dwte, float* dwpe, float* dwtt, const bf16_t* dout, const int32_t* ids,
                        const int32_t* types, int B, int T, int C);
void linear_fwd_bf16(bf16_t* out, const bf16_t* inp, const bf16_t* w, const bf16_t* b, int N, int IN, int OUT);
void linear_bwd_bf16(bf16_t* dinp, float* dw, float* db, const bf16_t* dout, const bf16_t* inp, const bf16_t* w,
                     int N, int IN, int OUT, bool acc_dinp);
void bias_act_fwd_bf16(bf16_t* out, const bf16_t* x, const bf16_t* b, int N, int C, Act act);
void bias_act_bwd_bf16(bf16_t* dx, float* db, const bf16_t* dout, const bf16_t* x, const bf16_t* b, int N, int C,
                       Act act, bool acc_dx);
void layernorm_fwd_bf16(bf16_t* y, bf16_t* s, float* mean, float* rstd, const bf16_t* a, const bf16_t* r,
                        const float* gamma, const float* beta, int N, int C, float eps);
void layernorm_bwd_bf16(bf16_t* da, bf16_t* dr, float* dgamma, float* dbeta, const bf16_t* dy, const bf16_t* s,
                        const float* mean, const float* rstd, const float* gamma, int N, int C, bool acc_da,
                        bool acc_dr);
void attention_fwd_bf16(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* mask, int B, int T, int C, int H,
                        float p_drop, uint64_t seed, uint64_t offset);
void attention_bwd_bf16(bf16_t* dqkv, const bf16_t* dout, const bf16_t* qkv, const bf16_t* out, const float* lse,
                        const int32_t* mask, int B, int T, int C, int H, float p_drop, uint64_t seed,
                        uint64_t offset, bool acc_dqkv);
void dropout_fwd_bf16(bf16_t* out, const bf16_t* in, int64_t n, float p, uint64_t seed, uint64_t offset);
void dropout_bwd_bf16(bf16_t* din, const bf16_t* dout, int64_t n, float p, uint64_t seed, uint64_t offset,
                      bool acc_din);
void to_bf16(bf16_t* dst, const float* src, int64_t n, bool acc);
void to_f32(float* dst, const bf16_t* src, int64_t n, bool acc);

// Installs the device allocator (base/device.h); false when no CUDA device is usable. The
// engine reaches kCudaKernels through its Backend (engine/backend.h), never through kernels/. Under the SIMT emulator the "device" is the CPU.
bool init();
// Why the last init() returned false (the CUDA runtime's words); empty after a success.
const std::string& init_error();

}  // namespace mr::cuda

namespace mr {
extern const KernelTable kCudaKernels;  // kernels/cuda/table.cu
extern const KernelTableBf16 kCudaKernelsBf16;
}
