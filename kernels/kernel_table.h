// The op table: every op's forward and backward as plain functions over raw pointers
// (llm.c style: outputs first, gradients prefixed d, saved tensors passed explicitly).
// One table per backend: kernels/ref (naive, double accumulation), kernels/cpu (OpenMP +
// OpenBLAS), kernels/cuda. engine/ops.cpp dispatches through the table of a tensor's device.
//
// Gradient convention (the same in every backend):
//   * parameter gradients (dw, db, dgamma, dwte, ...) ACCUMULATE (+=);
//   * activation gradients (dinp, dx, da, ...) are WRITTEN (=) when the matching `acc_*`
//     flag is false and ACCUMULATED when it is true (the tape sets it when a tensor feeds
//     several ops);
//   * any gradient pointer may be null: that input needs no gradient.
// Shapes are row-major and contiguous; N is a row count.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mr {

enum class Act : int { None = 0, Gelu = 1, Tanh = 2 };  // Gelu: erf form, HF "gelu"

// A bf16 value as its raw bits (round to nearest even from fp32; DType::BF16 tensors).
using bf16_t = uint16_t;
struct KernelTableBf16;

struct KernelTable {
  const char* name;

  // out(B*T, C) = wte[ids] + wpe[t] + wtt[types]; types may be null (all type 0)
  void (*embedding_fwd)(float* out, const int32_t* ids, const int32_t* types, const float* wte,
                        const float* wpe, const float* wtt, int B, int T, int C);
  void (*embedding_bwd)(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                        const int32_t* types, int B, int T, int C);

  // out(N, OUT) = inp(N, IN) @ w(OUT, IN)^T + b(OUT); b may be null
  void (*linear_fwd)(float* out, const float* inp, const float* w, const float* b, int N, int IN, int OUT);
  void (*linear_bwd)(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                     int N, int IN, int OUT, bool acc_dinp);

  // out(N, C) = act(x + b); b may be null
  void (*bias_act_fwd)(float* out, const float* x, const float* b, int N, int C, Act act);
  void (*bias_act_bwd)(float* dx, float* db, const float* dout, const float* x, const float* b, int N, int C,
                       Act act, bool acc_dx);

  // s = a + r (r may be null, then s is not written and a is saved instead);
  // y = (s - mean) * rstd * gamma + beta; mean, rstd (N) saved
  void (*layernorm_fwd)(float* y, float* s, float* mean, float* rstd, const float* a, const float* r,
                        const float* gamma, const float* beta, int N, int C, float eps);
  // s: the saved sum (or a); da and dr both receive ds
  void (*layernorm_bwd)(float* da, float* dr, float* dgamma, float* dbeta, const float* dy, const float* s,
                        const float* mean, const float* rstd, const float* gamma, int N, int C, bool acc_da,
                        bool acc_dr);

  // Multi-head self-attention over a fused projection qkv(B, T, 3C) = [Q | K | V], heads of
  // size D = C/H inside each. mask(B, T): 1 = real token, 0 = padding key (may be null).
  // S = Q K^T / sqrt(D) per head; a key is masked iff its mask is 0 and its sequence has at
  // least one real token (a sequence with none attends uniformly over all its keys).
  // P = softmax(S) over the unmasked keys (masked keys get exactly 0);
  // out(B, T, C) = dropout(P) @ V, heads concatenated; dropout keeps element (b, h, i, j) iff
  // dropout_keep(seed, offset + ((b*H + h)*T + i)*T + j) (kernels/philox.h).
  // Saved for backward: lse(B, H, T) = log(sum_j exp(S_ij)) over the unmasked keys of row i,
  // so P_ij = exp(S_ij - lse_i); the (T, T) probabilities are never stored.
  void (*attention_fwd)(float* out, float* lse, const float* qkv, const int32_t* mask, int B, int T, int C,
                        int H, float p_drop, uint64_t seed, uint64_t offset);
  // Backward recomputes P from Q, K and lse (and the mask). out is the forward's output: a
  // backend may use rowsum(dout * out) = sum_j P_ij dP_ij (dP the gradient of P before
  // dropout) instead of summing over the keys.
  void (*attention_bwd)(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        const int32_t* mask, int B, int T, int C, int H, float p_drop, uint64_t seed,
                        uint64_t offset, bool acc_dqkv);

  // out = in * keep / (1 - p), keep from Philox (kernels/philox.h)
  void (*dropout_fwd)(float* out, const float* in, int64_t n, float p, uint64_t seed, uint64_t offset);
  void (*dropout_bwd)(float* din, const float* dout, int64_t n, float p, uint64_t seed, uint64_t offset,
                      bool acc_din);

  // loss = mean over rows whose target != -100 of logsumexp(logits) - logits[target];
  // lse(N) saved. dloss points at the scalar upstream gradient.
  void (*xent_fwd)(float* loss, float* lse, const float* logits, const int32_t* targets, int N, int V);
  void (*xent_bwd)(float* dlogits, const float* dloss, const float* logits, const float* lse,
                   const int32_t* targets, int N, int V, bool acc);
  // loss = mean(max(x,0) - x*y + log1p(exp(-|x|)))   (torch BCEWithLogitsLoss)
  void (*bce_fwd)(float* loss, const float* x, const float* y, int64_t n);
  void (*bce_bwd)(float* dx, const float* dloss, const float* x, const float* y, int64_t n, bool acc);
  // loss = mean((x - y)^2)
  void (*mse_fwd)(float* loss, const float* x, const float* y, int64_t n);
  void (*mse_bwd)(float* dx, const float* dloss, const float* x, const float* y, int64_t n, bool acc);

  // out(B, C) = sum_t mask*h(B, T, C) / max(sum_t mask, 1e-9) (sentence-transformers);
  // mask may be null (all ones)
  void (*mean_pool_fwd)(float* out, const float* h, const int32_t* mask, int B, int T, int C);
  void (*mean_pool_bwd)(float* dh, const float* dout, const int32_t* mask, int B, int T, int C, bool acc);
  // out(B, C) = h(B, T, C)[:, 0, :]
  void (*cls_pool_fwd)(float* out, const float* h, int B, int T, int C);
  void (*cls_pool_bwd)(float* dh, const float* dout, int B, int T, int C, bool acc);

  // torch.optim.AdamW (non-foreach, non-amsgrad), step t >= 1, over n contiguous elements.
  void (*adamw)(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                float eps, float weight_decay, int t);
  // torch.optim.SGD (dampening 0, no nesterov); buf may be null when momentum == 0.
  void (*sgd)(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
              bool first_step);
  double (*sumsq)(const float* x, int64_t n);
  // y = a * x (acc = false) or y += a * x (acc = true)
  void (*axpy)(float* y, const float* x, float a, int64_t n, bool acc);
  void (*scale)(float* x, int64_t n, float s);

  // bf16 storage (null: the backend has none; only kernels/cuda has it).
  const KernelTableBf16* bf16;
};

// bf16 storage: the ops of a BERT encoder over bf16 activations and bf16 activation
// gradients, the residual stream and LayerNorm outputs included (torch.autocast keeps those
// two in fp32; docs/cuda.md). Semantics, shapes and the gradient
// convention are those of the fp32 entries above, except for the types:
//   * activations and activation gradients (out, inp, x, a, r, s, y, qkv, dinp, dx, ...) bf16;
//   * parameter gradients (dw, db, dgamma, dbeta, dwte, ...) fp32, accumulated (+=): they go
//     straight into the fp32 gradient buffer of the master weights;
//   * linear reads bf16 copies of its weight and bias (the caller rounds the fp32 masters,
//     as autocast casts them); embedding tables and LayerNorm gamma/beta are read in fp32;
//   * saved statistics (LayerNorm mean/rstd, attention lse) fp32;
//   * every value is computed in fp32 and rounded to bf16 once, when it is stored; an
//     accumulating write (acc) adds in fp32 to the stored bf16 value, then rounds.
// The fp32 reference (kernels/ref) is what the tests compare against.
struct KernelTableBf16 {
  void (*embedding_fwd)(bf16_t* out, const int32_t* ids, const int32_t* types, const float* wte, const float* wpe,
                        const float* wtt, int B, int T, int C);
  void (*embedding_bwd)(float* dwte, float* dwpe, float* dwtt, const bf16_t* dout, const int32_t* ids,
                        const int32_t* types, int B, int T, int C);
  void (*linear_fwd)(bf16_t* out, const bf16_t* inp, const bf16_t* w, const bf16_t* b, int N, int IN, int OUT);
  void (*linear_bwd)(bf16_t* dinp, float* dw, float* db, const bf16_t* dout, const bf16_t* inp, const bf16_t* w,
                     int N, int IN, int OUT, bool acc_dinp);
  void (*bias_act_fwd)(bf16_t* out, const bf16_t* x, const bf16_t* b, int N, int C, Act act);
  void (*bias_act_bwd)(bf16_t* dx, float* db, const bf16_t* dout, const bf16_t* x, const bf16_t* b, int N, int C,
                       Act act, bool acc_dx);
  void (*layernorm_fwd)(bf16_t* y, bf16_t* s, float* mean, float* rstd, const bf16_t* a, const bf16_t* r,
                        const float* gamma, const float* beta, int N, int C, float eps);
  void (*layernorm_bwd)(bf16_t* da, bf16_t* dr, float* dgamma, float* dbeta, const bf16_t* dy, const bf16_t* s,
                        const float* mean, const float* rstd, const float* gamma, int N, int C, bool acc_da,
                        bool acc_dr);
  void (*attention_fwd)(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* mask, int B, int T, int C, int H,
                        float p_drop, uint64_t seed, uint64_t offset);
  void (*attention_bwd)(bf16_t* dqkv, const bf16_t* dout, const bf16_t* qkv, const bf16_t* out, const float* lse,
                        const int32_t* mask, int B, int T, int C, int H, float p_drop, uint64_t seed,
                        uint64_t offset, bool acc_dqkv);
  void (*dropout_fwd)(bf16_t* out, const bf16_t* in, int64_t n, float p, uint64_t seed, uint64_t offset);
  void (*dropout_bwd)(bf16_t* din, const bf16_t* dout, int64_t n, float p, uint64_t seed, uint64_t offset,
                      bool acc_din);
  // dst = or += src, rounded to bf16 (to_bf16) or widened (to_f32)
  void (*to_bf16)(bf16_t* dst, const float* src, int64_t n, bool acc);
  void (*to_f32)(float* dst, const bf16_t* src, int64_t n, bool acc);
};

extern const KernelTable kRefKernels;  // kernels/ref
extern const KernelTable kCpuKernels;  // kernels/cpu

}  // namespace mr
