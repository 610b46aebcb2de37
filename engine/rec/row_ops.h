// Row operations the item tower and the sampled softmax need, with their backward:
//   gather_rows  Y (M, C) = X[idx]; idx < 0 gives a zero row.   dX[idx[m]] += dY[m]
//                (the kernel op gather_rows_fwd/bwd of kernels/ops.def: any backend)
//                X may be an activation or a parameter; a 1-D X (n) gives a 1-D Y (M).
//   l2_rows      y = s x / ||x|| per row (zero rows stay zero and pass no gradient).
//                dx = (s / ||x||) (dy - x_hat <x_hat, dy>), x_hat = x / ||x||
//                (the kernel op l2_rows_fwd/bwd)
//   upload       a host vector into the tape's arena on its device (a batch's ids, masks, targets)
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tape.h"

namespace mr::rec {

Var* gather_rows(Tape& t, Var* x, const std::vector<int32_t>& idx);
Var* l2_rows(Tape& t, Var* x, float scale);
Tensor upload(Tape& t, const std::vector<int32_t>& v, Shape s);
Tensor upload(Tape& t, const std::vector<float>& v, Shape s);

}  // namespace mr::rec
