// Naive reference ops: obviously correct, slow. Templated on the storage type T (float for
// comparing with the fast backends, double for finite-difference gradient checks); every
// sum is accumulated in double whatever T is. Same signatures and gradient convention as
// kernels/kernel_table.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace mr::ref {
using std::size_t;

template <class T> void embedding_fwd(T* out, const int32_t* ids, const int32_t* types, const T* wte, const T* wpe, const T* wtt, int B, int T_, int C);
template <class T> void embedding_bwd(T* dwte, T* dwpe, T* dwtt, const T* dout, const int32_t* ids, const int32_t* types, int B, int T_, int C);

template <class T> void linear_fwd(T* out, const T* inp, const T* w, const T* b, int N, int IN, int OUT);
template <class T> void linear_bwd(T* dinp, T* dw, T* db, const T* dout, const T* inp, const T* w, int N, int IN, int OUT, bool acc_dinp);

template <class T> void bias_act_fwd(T* out, const T* x, const T* b, int N, int C, Act act);
template <class T> void bias_act_bwd(T* dx, T* db, const T* dout, const T* x, const T* b, int N, int C, Act act, bool acc_dx);

template <class T> void layernorm_fwd(T* y, T* s, T* mean, T* rstd, const T* a, const T* r, const T* gamma, const T* beta, int N, int C, float eps);
template <class T> void layernorm_bwd(T* da, T* dr, T* dgamma, T* dbeta, const T* dy, const T* s, const T* mean, const T* rstd, const T* gamma, int N, int C, bool acc_da, bool acc_dr);

template <class T> void attention_fwd(T* out, T* lse, const T* qkv, const int32_t* mask, int B, int T_, int C, int H, float p_drop, uint64_t seed, uint64_t offset);
template <class T> void attention_bwd(T* dqkv, const T* dout, const T* qkv, const T* out, const T* lse, const int32_t* mask, int B, int T_, int C, int H, float p_drop, uint64_t seed, uint64_t offset, bool acc);

template <class T> void dropout_fwd(T* out, const T* in, int64_t n, float p, uint64_t seed, uint64_t offset);
template <class T> void dropout_bwd(T* din, const T* dout, int64_t n, float p, uint64_t seed, uint64_t offset, bool acc);

template <class T> void xent_fwd(T* loss, T* lse, const T* logits, const int32_t* targets, int N, int V);
template <class T> void xent_bwd(T* dlogits, const T* dloss, const T* logits, const T* lse, const int32_t* targets, int N, int V, bool acc);
template <class T> void bce_fwd(T* loss, const T* x, const T* y, int64_t n);
template <class T> void bce_bwd(T* dx, const T* dloss, const T* x, const T* y, int64_t n, bool acc);
template <class T> void mse_fwd(T* loss, const T* x, const T* y, int64_t n);
template <class T> void mse_bwd(T* dx, const T* dloss, const T* x, const T* y, int64_t n, bool acc);

template <class T> void mean_pool_fwd(T* out, const T* h, const int32_t* mask, int B, int T_, int C);
template <class T> void mean_pool_bwd(T* dh, const T* dout, const int32_t* mask, int B, int T_, int C, bool acc);
template <class T> void cls_pool_fwd(T* out, const T* h, int B, int T_, int C);
template <class T> void cls_pool_bwd(T* dh, const T* dout, int B, int T_, int C, bool acc);

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int t);
void sgd(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay, bool first_step);
double sumsq(const float* x, int64_t n);
void axpy(float* y, const float* x, float a, int64_t n, bool acc);
void scale(float* x, int64_t n, float s);

// Writes v into *dst, or adds it when acc (the activation-gradient convention).
template <class T> inline void put(T* dst, double v, bool acc) { *dst = acc ? T(double(*dst) + v) : T(v); }

}  // namespace mr::ref

#define MR_REF_INSTANTIATE(fn) template decltype(fn<float>) fn<float>; template decltype(fn<double>) fn<double>;
