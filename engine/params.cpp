#include "engine/params.h"

namespace mr {

Param& ParamStore::add(const std::string& name, Shape s, bool decay) {
  MR_CHECK(!finalized_, "parameter {} added after finalize()", name);
  MR_CHECK(find(name) == nullptr, "parameter {} declared twice", name);
  Param p;
  p.name = name;
  p.w.shape = s;
  p.g.shape = s;
  p.offset = numel_;
  p.decay = decay;
  numel_ += s.numel();
  params_.push_back(std::move(p));
  return params_.back();
}

void ParamStore::finalize(Device dev, bool grads) {
  MR_CHECK(!finalized_, "finalize() called twice");
  dev_ = dev;
  pbuf_ = Buffer(size_t(numel_) * 4, dev);
  if (grads) gbuf_ = Buffer(size_t(numel_) * 4, dev);
  fill_zero(flat_params());
  if (grads) fill_zero(flat_grads());
  for (Param& p : params_) {
    Shape s = p.w.shape;
    p.w = pbuf_.as(Shape{numel_}, DType::F32).rows(p.offset, p.offset + s.numel()).view(s);
    if (grads) p.g = gbuf_.as(Shape{numel_}, DType::F32).rows(p.offset, p.offset + s.numel()).view(s);
    else p.frozen = true;
  }
  finalized_ = true;
}

void ParamStore::to(Device dev) {
  MR_CHECK(finalized_, "ParamStore::to before finalize()");
  if (dev == dev_) return;
  const bool grads = gbuf_.size() > 0;
  Buffer p(size_t(numel_) * 4, dev), g;
  copy(p.as(Shape{numel_}, DType::F32), flat_params());
  if (grads) {
    g = Buffer(size_t(numel_) * 4, dev);
    copy(g.as(Shape{numel_}, DType::F32), flat_grads());
  }
  pbuf_ = std::move(p);
  gbuf_ = std::move(g);
  dev_ = dev;
  for (Param& q : params_) {
    const Shape s = q.w.shape;
    q.w = pbuf_.as(Shape{numel_}, DType::F32).rows(q.offset, q.offset + s.numel()).view(s);
    if (grads) q.g = gbuf_.as(Shape{numel_}, DType::F32).rows(q.offset, q.offset + s.numel()).view(s);
  }
}

Tensor ParamStore::flat_grads() const {
  MR_CHECK(has_grads(), "these parameters have no gradients (an inference-only store, finalize(dev, false))");
  return gbuf_.as(Shape{numel_}, DType::F32);
}

Param* ParamStore::find(const std::string& name) {
  for (Param& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

Param& ParamStore::at(const std::string& name) {
  Param* p = find(name);
  MR_CHECK(p, "no parameter named {}", name);
  return *p;
}

int64_t ParamStore::trainable_numel() const {
  int64_t n = 0;
  for (const Param& p : params_)
    if (!p.frozen) n += p.w.numel();
  return n;
}

void ParamStore::zero_grad() {
  if (finalized_ && has_grads()) fill_zero(flat_grads());
}

const std::vector<ParamStore::Run>& ParamStore::runs() {
  std::vector<bool> key;
  for (const Param& p : params_) {
    key.push_back(p.frozen);
    key.push_back(p.decay);
  }
  if (key != runs_key_ || runs_.empty()) {
    runs_.clear();
    for (const Param& p : params_) {
      if (p.frozen) continue;
      if (!runs_.empty() && runs_.back().decay == p.decay && runs_.back().offset + runs_.back().n == p.offset)
        runs_.back().n += p.w.numel();
      else
        runs_.push_back(Run{p.offset, p.w.numel(), p.decay});
    }
    runs_key_ = key;
  }
  return runs_;
}

void ParamStore::set_frozen(const std::string& prefix, bool frozen) {
  MR_CHECK(frozen || !finalized_ || has_grads(), "cannot unfreeze '{}': these parameters have no gradients "
           "(an inference-only store)", prefix);
  for (Param& p : params_)
    if (p.name.rfind(prefix, 0) == 0) p.frozen = frozen;
}

}  // namespace mr
