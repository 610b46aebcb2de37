// Naive reference ops: obviously correct, slow. Templated on the storage type T (float for
// comparing with the fast backends, double for finite-difference gradient checks); every
// sum is accumulated in double whatever T is. Signatures (generated) and gradient convention
// from the op list kernels/ops.def.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace mr::ref {
using std::size_t;

// Every op of the op list (kernels/ops.def): the storage-generic ones as templates over the
// storage type Real (A, W and S are all Real), the fp32 ones as they are.
#define A Real
#define W Real
#define S Real
#define MR_OP(op, ret, params, b16) template <class Real> ret op params;
#define MR_OP_F32(op, ret, params) ret op params;
#include "kernels/ops.def"

// Writes v into *dst, or adds it when acc (the activation-gradient convention).
template <class T> inline void put(T* dst, double v, bool acc) { *dst = acc ? T(double(*dst) + v) : T(v); }

}  // namespace mr::ref

#define MR_REF_INSTANTIATE(fn) template decltype(fn<float>) fn<float>; template decltype(fn<double>) fn<double>;
