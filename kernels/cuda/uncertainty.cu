// Uncertainty weighting of up to 3 scalar losses (kernels/ops.def): three scalars, so one
// thread does the CPU's arithmetic (kernels/cpu/uncertainty.cpp): sums in double, results
// rounded to float.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace mr::cuda {

namespace {

struct Three {
  const float* l[3];
  int slot[3];
};

__global__ void uncertainty_fwd_k(float* out, Three t, const float* lv) {
  if (threadIdx.x != 0) return;  // one warp launched, one thread works
  double v = 0;
  for (int k = 0; k < 3; ++k)
    if (t.l[k]) {
      const double sk = double(lv[t.slot[k]]);
      v += exp(-sk) * double(t.l[k][0]) + sk;
    }
  out[0] = float(v);
}

__global__ void uncertainty_bwd_k(float* dl0, float* dl1, float* dl2, float* dlv, const float* dout, Three t,
                                  const float* lv, bool acc0, bool acc1, bool acc2) {
  if (threadIdx.x != 0) return;
  float* dl[3] = {dl0, dl1, dl2};
  const bool acc[3] = {acc0, acc1, acc2};
  const float g = dout[0];
  for (int k = 0; k < 3; ++k) {
    if (!t.l[k]) continue;
    const double w = exp(-double(lv[t.slot[k]]));
    if (dl[k]) dl[k][0] = float((acc[k] ? double(dl[k][0]) : 0.0) + double(g) * w);
    if (dlv) dlv[t.slot[k]] += float(double(g) * (1.0 - w * double(t.l[k][0])));
  }
}

}  // namespace

void uncertainty_fwd(float* out, const float* l0, const float* l1, const float* l2, const float* lv, int slot0,
                     int slot1, int slot2) {
  LAUNCH(uncertainty_fwd_k, 1, 32, 0, 0)(out, Three{{l0, l1, l2}, {slot0, slot1, slot2}}, lv);
  check_launch("uncertainty_fwd_k");
}

void uncertainty_bwd(float* dl0, float* dl1, float* dl2, float* dlv, const float* dout, const float* l0,
                     const float* l1, const float* l2, const float* lv, int slot0, int slot1, int slot2,
                     GradMode acc0, GradMode acc1, GradMode acc2) {
  LAUNCH(uncertainty_bwd_k, 1, 32, 0, 0)(dl0, dl1, dl2, dlv, dout, Three{{l0, l1, l2}, {slot0, slot1, slot2}}, lv, acc0,
                                         acc1, acc2);
  check_launch("uncertainty_bwd_k");
}

}  // namespace mr::cuda
