// Reference uncertainty weighting of up to 3 scalar losses (kernels/ops.def, Kendall et al.
// 2018), in double: out = sum_k exp(-lv[slot_k]) l_k + lv[slot_k] over the present (non-null) l_k.
#include <cmath>

#include "kernels/ref/ref.h"

namespace mr::ref {

template <class T>
void uncertainty_fwd(T* out, const T* l0, const T* l1, const T* l2, const T* lv, int slot0, int slot1, int slot2) {
  const T* l[3] = {l0, l1, l2};
  const int slot[3] = {slot0, slot1, slot2};
  double v = 0;
  for (int k = 0; k < 3; ++k)
    if (l[k]) {
      const double sk = double(lv[slot[k]]);
      v += std::exp(-sk) * double(l[k][0]) + sk;
    }
  out[0] = T(v);
}

template <class T>
void uncertainty_bwd(T* dl0, T* dl1, T* dl2, T* dlv, const T* dout, const T* l0, const T* l1, const T* l2, const T* lv,
                     int slot0, int slot1, int slot2, GradMode acc0, GradMode acc1, GradMode acc2) {
  T* dl[3] = {dl0, dl1, dl2};
  const T* l[3] = {l0, l1, l2};
  const int slot[3] = {slot0, slot1, slot2};
  const GradMode acc[3] = {acc0, acc1, acc2};
  const double g = double(dout[0]);
  for (int k = 0; k < 3; ++k) {
    if (!l[k]) continue;
    const double w = std::exp(-double(lv[slot[k]]));
    if (dl[k]) put(dl[k], g * w, acc[k]);
    if (dlv) put(dlv + slot[k], g * (1.0 - w * double(l[k][0])), kAccumulate);
  }
}

MR_REF_INSTANTIATE(uncertainty_fwd)
MR_REF_INSTANTIATE(uncertainty_bwd)

}  // namespace mr::ref
