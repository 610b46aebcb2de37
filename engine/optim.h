// Optimizers over a ParamStore's flat buffers. Frozen parameters are skipped. Each runs on
// the kernels of a Backend on the parameters' device (the CPU's by default).
#pragma once
#include "engine/backend.h"
#include "engine/params.h"

namespace mr {

struct AdamWConfig {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.01f;
};

// torch.optim.AdamW; Param::decay = false (biases, LayerNorm) gets no weight decay, as the
// HuggingFace Trainer groups them. State (m, v) shares the parameters' flat layout.
class AdamW {
 public:
  AdamW(ParamStore& ps, AdamWConfig cfg = {}, const Backend& be = {});
  void step(float lr);  // one update with this learning rate (schedules live outside)
  void step() { step(cfg_.lr); }
  int t() const { return t_; }
  void set_t(int t) { t_ = t; }
  Tensor m() const { return m_.as(Shape{ps_.numel()}, DType::F32); }
  Tensor v() const { return v_.as(Shape{ps_.numel()}, DType::F32); }
  AdamWConfig& config() { return cfg_; }

 private:
  ParamStore& ps_;
  const KernelTable* k_;
  AdamWConfig cfg_;
  Buffer m_, v_;
  int t_ = 0;
};

// torch.optim.SGD (momentum optional, dampening 0).
class SGD {
 public:
  SGD(ParamStore& ps, float lr, float momentum = 0.0f, float weight_decay = 0.0f, const Backend& be = {});
  void step();

 private:
  ParamStore& ps_;
  const KernelTable* k_;
  float lr_, momentum_, wd_;
  Buffer buf_;
  bool first_ = true;
};

// torch.nn.utils.clip_grad_norm_: the L2 norm over every trainable gradient; when it exceeds
// max_norm, all gradients are scaled by max_norm / (norm + 1e-6). Returns the norm before.
double clip_grad_norm(ParamStore& ps, double max_norm, const Backend& be = {});
// The same L2 norm, nothing scaled.
double grad_norm(ParamStore& ps, const Backend& be = {});
// The first parameter (in declaration order) with a non-finite value (NaN or +-inf) in its values
// or, with grads, in its gradient (trainable parameters only); "" when there is none. Reads
// device tensors through host copies.
std::string first_nonfinite(ParamStore& ps, bool grads);

}  // namespace mr
