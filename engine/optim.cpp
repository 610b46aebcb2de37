#include "engine/optim.h"

#include <cmath>

#include "engine/tape.h"

namespace mr {

AdamW::AdamW(ParamStore& ps, AdamWConfig cfg)
    : ps_(ps), cfg_(cfg), m_(size_t(ps.numel()) * 4, ps.device()), v_(size_t(ps.numel()) * 4, ps.device()) {
  MR_CHECK(ps.finalized(), "AdamW needs a finalized ParamStore");
  fill_zero(m());
  fill_zero(v());
}

void AdamW::step(float lr) {
  ++t_;
  const KernelTable& k = kernels_for(ps_.device());
  float* m = static_cast<float*>(m_.data());
  float* v = static_cast<float*>(v_.data());
  for (Param& p : ps_.all()) {
    if (p.frozen) continue;
    k.adamw(p.w.f32(), p.g.f32(), m + p.offset, v + p.offset, p.w.numel(), lr, cfg_.beta1, cfg_.beta2, cfg_.eps,
            p.decay ? cfg_.weight_decay : 0.0f, t_);
  }
}

SGD::SGD(ParamStore& ps, float lr, float momentum, float weight_decay)
    : ps_(ps), lr_(lr), momentum_(momentum), wd_(weight_decay) {
  if (momentum != 0.0f) buf_ = Buffer(size_t(ps.numel()) * 4, ps.device());
}

void SGD::step() {
  const KernelTable& k = kernels_for(ps_.device());
  float* buf = static_cast<float*>(buf_.data());
  for (Param& p : ps_.all()) {
    if (p.frozen) continue;
    k.sgd(p.w.f32(), p.g.f32(), buf ? buf + p.offset : nullptr, p.w.numel(), lr_, momentum_, p.decay ? wd_ : 0.0f,
          first_);
  }
  first_ = false;
}

double clip_grad_norm(ParamStore& ps, double max_norm) {
  const KernelTable& k = kernels_for(ps.device());
  double ss = 0;
  for (Param& p : ps.all())
    if (!p.frozen) ss += k.sumsq(p.g.f32(), p.g.numel());
  const double norm = std::sqrt(ss);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (Param& p : ps.all())
      if (!p.frozen) k.scale(p.g.f32(), p.g.numel(), float(coef));
  return norm;
}

}  // namespace mr
