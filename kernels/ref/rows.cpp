// Reference row ops (kernels/ops.def): gather and its scatter-add backward. The scatter sums
// each destination in double before adding it to dx once.
#include <algorithm>
#include <vector>

#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void gather_rows_fwd(T* out, const T* x, const int32_t* idx, int64_t M, int64_t C) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) out[m * C + c] = idx[m] < 0 ? T(0) : x[int64_t(idx[m]) * C + c];
}

template <class T>
void gather_rows_bwd(T* dx, const T* dout, const int32_t* idx, int64_t M, int64_t C) {
  int64_t rows = 0;
  for (int64_t m = 0; m < M; ++m) rows = std::max<int64_t>(rows, int64_t(idx[m]) + 1);
  std::vector<double> sum(size_t(rows * C), 0.0);
  std::vector<bool> hit(size_t(rows), false);
  for (int64_t m = 0; m < M; ++m) {
    if (idx[m] < 0) continue;
    hit[size_t(idx[m])] = true;
    for (int64_t c = 0; c < C; ++c) sum[size_t(int64_t(idx[m]) * C + c)] += double(dout[m * C + c]);
  }
  for (int64_t r = 0; r < rows; ++r)
    if (hit[size_t(r)])
      for (int64_t c = 0; c < C; ++c) dx[r * C + c] = T(double(dx[r * C + c]) + sum[size_t(r * C + c)]);
}

MR_REF_INSTANTIATE(gather_rows_fwd)
MR_REF_INSTANTIATE(gather_rows_bwd)

}  // namespace mr::ref
