#include "engine/optim.h"

#include <cmath>

#include "engine/profile.h"
#include "engine/tape.h"

namespace mr {

// The backend's table, checked against the parameters' device.
static const KernelTable* table_for(const ParamStore& ps, const Backend& be) {
  MR_CHECK(be.ready() && be.dev == ps.device(), "parameters on {} need a ready backend of their device, got {}",
           device_name(ps.device()), be.str());
  return be.kernels;
}

AdamW::AdamW(ParamStore& ps, AdamWConfig cfg, const Backend& be)
    : ps_(ps),
      k_(table_for(ps, be)),
      cfg_(cfg),
      m_(size_t(ps.numel()) * 4, ps.device()),
      v_(size_t(ps.numel()) * 4, ps.device()) {
  MR_CHECK(ps.finalized(), "AdamW needs a finalized ParamStore");
  fill_zero(m());
  fill_zero(v());
}

void AdamW::step(float lr) {
  MR_PROFILE("adamw", prof::kOther);
  ++t_;
  const KernelTable& k = *k_;
  float* m = static_cast<float*>(m_.data());
  float* v = static_cast<float*>(v_.data());
  float* w = ps_.flat_params().f32();
  const float* g = ps_.flat_grads().f32();
  for (const ParamStore::Run& r : ps_.runs())
    k.adamw(w + r.offset, g + r.offset, m + r.offset, v + r.offset, r.n, lr, cfg_.beta1, cfg_.beta2, cfg_.eps,
            r.decay ? cfg_.weight_decay : 0.0f, t_);
}

SGD::SGD(ParamStore& ps, float lr, float momentum, float weight_decay, const Backend& be)
    : ps_(ps), k_(table_for(ps, be)), lr_(lr), momentum_(momentum), wd_(weight_decay) {
  if (momentum != 0.0f) buf_ = Buffer(size_t(ps.numel()) * 4, ps.device());
}

void SGD::step() {
  const KernelTable& k = *k_;
  float* buf = static_cast<float*>(buf_.data());
  float* w = ps_.flat_params().f32();
  const float* g = ps_.flat_grads().f32();
  for (const ParamStore::Run& r : ps_.runs())
    k.sgd(w + r.offset, g + r.offset, buf ? buf + r.offset : nullptr, r.n, lr_, momentum_, r.decay ? wd_ : 0.0f,
          first_);
  first_ = false;
}

double grad_norm(ParamStore& ps, const Backend& be) {
  const KernelTable& k = *table_for(ps, be);
  const float* g = ps.flat_grads().f32();
  double ss = 0;
  for (const ParamStore::Run& r : ps.runs()) ss += k.sumsq(g + r.offset, r.n);
  return std::sqrt(ss);
}

double clip_grad_norm(ParamStore& ps, double max_norm, const Backend& be) {
  MR_PROFILE("clip_grad_norm", prof::kOther);
  const KernelTable& k = *table_for(ps, be);
  float* g = ps.flat_grads().f32();
  const double norm = grad_norm(ps, be);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (const ParamStore::Run& r : ps.runs()) k.scale(g + r.offset, r.n, float(coef));
  return norm;
}

std::string first_nonfinite(ParamStore& ps, bool grads) {
  for (Param& p : ps.all()) {
    if (grads && p.frozen) continue;
    const HostTensor h = host_copy(grads ? p.g : p.w);
    const float* x = h->f32();
    for (int64_t i = 0, n = h->numel(); i < n; ++i)
      if (!std::isfinite(x[i])) return p.name;
  }
  return "";
}

}  // namespace mr
