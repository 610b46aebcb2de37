// Fast CPU ops: OpenMP across rows/heads, OpenBLAS (OpenMP build) for every matrix product.
// Signatures (generated) and gradient convention from the op list kernels/ops.def; each is
// tested against its kernels/ref twin by the op test table (tests/ops/).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace mr::cpu {
using std::size_t;

#include "kernels/ops_decl.inc"

}  // namespace mr::cpu
