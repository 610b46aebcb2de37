#include "engine/tape.h"

#include "engine/profile.h"

namespace mr {

static const KernelTable* checked_table(const Arena& arena, const Backend& be) {
  MR_CHECK(be.ready(), "a tape on {} needs a ready backend (init_backend)", be.str());
  MR_CHECK(arena.device() == be.dev, "a tape on the {} backend over an arena on {}", be.str(), device_name(arena.device()));
  return be.kernels;
}

Tape::Tape(Arena& arena, uint64_t seed) : Tape(arena, Backend{}, seed) {}

Tape::Tape(Arena& arena, const Backend& be, uint64_t seed)
    : arena_(arena), be_kt_(checked_table(arena, be)), kt_(be_kt_), seed_(seed) {}

uint64_t Tape::take_counters(uint64_t n) {
  const uint64_t off = rng_offset_;
  rng_offset_ += (n + 3) / 4 * 4;  // keep every call on its own Philox blocks
  return off;
}

void Tape::check_device(const Tensor& x, const char* what) const {
  // Under the SIMT emulator device memory is host memory, so a tensor left on the wrong device
  // would run there and fail only on a GPU: refuse it on every backend.
  if (x.defined() && x.device != arena_.device())
    throw Error(fmt::format("{} {} is on {}, but this tape computes on {}", what, x.str(), device_name(x.device),
                            device_name(arena_.device())));
}

Var* Tape::input(Tensor t, bool requires_grad) {
  check_device(t, "input");
  vars_.push_back(Var{t, Tensor{}, requires_grad && grad_enabled_, false});
  return &vars_.back();
}

Var* Tape::alloc(Shape s, bool requires_grad, DType dt) {
  return input(arena_.alloc(s, dt), requires_grad);
}

Var* Tape::param(Param& p) {
  auto it = param_vars_.find(&p);
  if (it != param_vars_.end()) return it->second;
  Var* v = param_view(p.w, p.g, p.frozen);
  param_vars_[&p] = v;
  return v;
}

Var* Tape::param_view(Tensor w, Tensor g, bool frozen) {
  check_device(w, "parameter");
  vars_.push_back(Var{w, g, !frozen, true});
  return &vars_.back();
}

bool Tape::any_requires_grad(std::initializer_list<const Var*> vs) const {
  if (!grad_enabled_) return false;
  for (const Var* v : vs)
    if (v && v->requires_grad) return true;
  return false;
}

void Tape::set_act_dtype(DType dt) {
  MR_CHECK(dt == DType::F32 || dt == DType::BF16, "activations are stored as f32 or bf16, not {}", dtype_name(dt));
  MR_CHECK(dt == DType::F32 || kt_->bf16, "bf16 activations need bf16 kernels, and the {} backend has none",
           kt_->name);
  act_dtype_ = dt;
}

const KernelTableBf16& Tape::k16() const {
  MR_CHECK(kt_->bf16, "a bf16 tensor reached an op, but the {} backend has no bf16 kernels", kt_->name);
  return *kt_->bf16;
}

Tensor& Tape::grad_tensor(Var* v, GradMode* mode) {
  *mode = kAccumulate;
  if (!v->is_param && !v->g.defined()) {
    v->g = arena_.alloc(v->v.shape, v->v.dtype);
    *mode = kOverwrite;
  }
  return v->g;
}

float* Tape::grad_for(Var* v, GradMode* mode) {
  *mode = kAccumulate;
  if (!v || !v->requires_grad) return nullptr;
  return grad_tensor(v, mode).f32();
}

bf16_t* Tape::grad_for_bf16(Var* v, GradMode* mode) {
  *mode = kAccumulate;
  if (!v || !v->requires_grad) return nullptr;
  Tensor& g = grad_tensor(v, mode);
  MR_CHECK(g.dtype == DType::BF16, "a bf16 gradient was asked of {}", g.str());
  return g.u16();
}

float* Tape::grad_zeroed_for(Var* v) {
  GradMode mode;
  float* g = grad_for(v, &mode);
  if (g && mode == kOverwrite) fill_zero(v->g);
  return g;
}

void Tape::backward(Var* loss) {
  MR_CHECK(loss->v.numel() == 1, "backward() needs a scalar loss, got {}", loss->v.str());
  MR_CHECK(loss->requires_grad, "the loss does not depend on anything that requires a gradient");
  if (!loss->g.defined()) loss->g = arena_.alloc(loss->v.shape);
  const float one = 1.0f;
  copy(loss->g, Tensor{const_cast<float*>(&one), Shape{1}, DType::F32, Device::CPU}.view(loss->v.shape));
  walk_back();
}

void Tape::backward(Var* out, const Tensor& seed) {
  MR_CHECK(out->requires_grad, "backward: the output does not depend on anything that requires a gradient");
  MR_CHECK(seed.shape == out->v.shape, "backward: seed {} for an output {}", seed.str(), out->v.str());
  if (!out->g.defined()) out->g = arena_.alloc(out->v.shape, out->v.dtype);
  copy(out->g, seed);
  walk_back();
}

void Tape::walk_back() {
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (!it->out->g.defined()) continue;  // nothing downstream used this output
    MR_PROFILE(it->name, prof::kBackward);
    it->backward(*this, *it);
  }
}

void Tape::reset() {
  records_.clear();
  vars_.clear();
  param_vars_.clear();
  arena_.reset();
}

Tensor Bf16WeightCache::get(Tape& t, const Tensor& w) {
  MR_CHECK(w.dtype == DType::F32, "bf16 weight cache: {} is not f32", w.str());
  Entry& e = map_[w.data][w.numel()];
  if (!e.t.defined()) {
    e.buf = Buffer(size_t(w.numel()) * 2, w.device);
    e.t = e.buf.as(w.shape, DType::BF16);
    t.k16().to_bf16(e.t.u16(), w.f32(), w.numel(), kOverwrite);
    bytes_ += e.buf.size();
  }
  return e.t;
}

}  // namespace mr
