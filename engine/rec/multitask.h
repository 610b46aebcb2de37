// Ops for the task families' heads and their loss weighting (any backend, with backward):
//   pick             (R, 1) = x[rows[k], cols[k]] of a (B, M) x     dx[rows[k], cols[k]] += dy[k]
//   uncertainty_sum  sum_k exp(-s[k]) L_k + s[k] over scalar losses L_k and a learned
//                    log-variance vector s (Kendall et al. 2018: the weight of a loss falls as
//                    its learned noise grows; + s keeps s from running off)
//                    dL_k += exp(-s[k]);  ds[k] += 1 - exp(-s[k]) L_k
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tape.h"

namespace mr::rec {

Var* pick(Tape& t, Var* x, const std::vector<int32_t>& rows, const std::vector<int32_t>& cols);
// losses[k] pairs with s[slot[k]]; at most 3 losses.
Var* uncertainty_sum(Tape& t, const std::vector<Var*>& losses, Var* s, const std::vector<int>& slot);

}  // namespace mr::rec
