// CPU uncertainty weighting of up to 3 scalar losses (kernels/ops.def): the arithmetic of the
// host op it replaces (engine/rec/multitask.cpp), sums in double, results rounded to float.
#include <cmath>

#include "kernels/cpu/cpu.h"

namespace mr::cpu {

void uncertainty_fwd(float* out, const float* l0, const float* l1, const float* l2, const float* lv, int slot0,
                     int slot1, int slot2) {
  const float* l[3] = {l0, l1, l2};
  const int slot[3] = {slot0, slot1, slot2};
  double v = 0;
  for (int k = 0; k < 3; ++k)
    if (l[k]) {
      const double sk = lv[slot[k]];
      v += std::exp(-sk) * l[k][0] + sk;
    }
  out[0] = float(v);
}

void uncertainty_bwd(float* dl0, float* dl1, float* dl2, float* dlv, const float* dout, const float* l0,
                     const float* l1, const float* l2, const float* lv, int slot0, int slot1, int slot2,
                     GradMode acc0, GradMode acc1, GradMode acc2) {
  float* dl[3] = {dl0, dl1, dl2};
  const float* l[3] = {l0, l1, l2};
  const int slot[3] = {slot0, slot1, slot2};
  const GradMode acc[3] = {acc0, acc1, acc2};
  const float g = dout[0];
  for (int k = 0; k < 3; ++k) {
    if (!l[k]) continue;
    const double w = std::exp(-double(lv[slot[k]]));
    if (dl[k]) dl[k][0] = float((acc[k] ? dl[k][0] : 0.0) + g * w);
    if (dlv) dlv[slot[k]] += float(g * (1.0 - w * l[k][0]));
  }
}

}  // namespace mr::cpu
