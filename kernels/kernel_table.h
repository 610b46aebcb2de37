// The op table: every op's forward and backward as plain functions over raw pointers
// (llm.c style: outputs first, gradients prefixed d, saved tensors passed explicitly).
// One table per backend: kernels/ref (naive, double accumulation), kernels/cpu (OpenMP +
// OpenBLAS), kernels/cuda. engine/ops.cpp dispatches through the table of a tensor's device.
//
// The ops, their shapes and the gradient convention (the same in every backend) are written
// once, in the op list kernels/ops.def.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mr {

enum class Act : int { None = 0, Gelu = 1, Tanh = 2 };  // Gelu: erf form, HF "gelu"

// How a backward writes an activation gradient: kOverwrite (=, into a fresh buffer) or
// kAccumulate (+=, a buffer another op already wrote). Every call site names one; kernels read
// it as a bool (unscoped on purpose: `acc ? d + v : v`), but a bool never converts to it.
enum GradMode : bool { kOverwrite = false, kAccumulate = true };

// A bf16 value as its raw bits (round to nearest even from fp32; DType::BF16 tensors).
using bf16_t = uint16_t;
struct KernelTableBf16;

// One table per backend, its fields generated from the op list (kernels/ops.def, where every
// op's semantics are written). A backend fills its table with designated initializers
// generated from the same list, so the order and the set of entries cannot drift.
struct KernelTable {
  const char* name;
#define A float
#define W float
#define S float
#define MR_OP(op, ret, params, b16) ret(*op) params;
#define MR_OP_F32(op, ret, params) ret(*op) params;
#include "kernels/ops.def"
  // bf16 storage (null: the backend has none; only kernels/cuda has it).
  const KernelTableBf16* bf16;
};

// bf16 storage: the ops of a BERT encoder over bf16 activations and bf16 activation
// gradients, the residual stream and LayerNorm outputs included (torch.autocast keeps those
// two in fp32; docs/cuda.md). Semantics, shapes and the gradient convention are those of the
// fp32 entries (kernels/ops.def, the lines marked bf16 = 1), except for the types:
//   * activations and activation gradients (out, inp, x, a, r, s, y, qkv, dinp, dx, ...) bf16;
//   * parameter gradients (dw, db, dgamma, dbeta, dwte, ...) fp32, accumulated (+=): they go
//     straight into the fp32 gradient buffer of the master weights;
//   * linear reads bf16 copies of its weight and bias (the caller rounds the fp32 masters,
//     as autocast casts them); embedding tables and LayerNorm gamma/beta are read in fp32;
//   * saved statistics (LayerNorm mean/rstd, attention lse) fp32;
//   * every value is computed in fp32 and rounded to bf16 once, when it is stored; an
//     accumulating write (acc) adds in fp32 to the stored bf16 value, then rounds.
// The fp32 reference (kernels/ref) is what the tests compare against.
#define MR_IF_1(...) __VA_ARGS__
#define MR_IF_0(...)
struct KernelTableBf16 {
#define A bf16_t
#define W float
#define S float
#define MR_OP(op, ret, params, b16) MR_IF_##b16(ret(*op) params;)
#define MR_OP_CAST(op, ret, params) ret(*op) params;
#include "kernels/ops.def"
};

extern const KernelTable kRefKernels;  // kernels/ref
extern const KernelTable kCpuKernels;  // kernels/cpu

}  // namespace mr
