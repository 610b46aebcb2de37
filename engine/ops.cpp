#include "engine/ops.h"

#include "engine/profile.h"

namespace mr::ops {

namespace {

int rows_of(const Tensor& x) { return int(x.numel() / x.size(-1)); }

Var* out_var(Tape& t, Shape s, std::initializer_list<const Var*> ins) {
  return t.alloc(s, t.any_requires_grad(ins));
}

float* G(Tape& t, Var* v, bool* acc) { return t.grad_for(v, acc); }

// For the inputs whose kernels always accumulate (weights, biases, LayerNorm and embedding
// tables): when such an input is an activation rather than a parameter, its gradient buffer
// may be freshly allocated, so it is zeroed before the kernel adds into it.
float* G_acc(Tape& t, Var* v) {
  bool acc;
  float* g = t.grad_for(v, &acc);
  if (g && !acc) fill_zero(v->g);
  return g;
}
const float* P(const Var* v) { return v ? v->v.f32() : nullptr; }

// bf16 storage helpers
bool is_bf16(const Var* v) { return v->v.dtype == DType::BF16; }
bf16_t* G16(Tape& t, Var* v, bool* acc) { return t.grad_for_bf16(v, acc); }
const bf16_t* P16(const Tensor& x) { return x.defined() ? x.u16() : nullptr; }
// A bf16 copy of an f32 tensor (a linear layer's weight or bias), in the arena: made at every
// use, as torch.autocast casts, so it always reflects the current master weights. Weights that
// need no gradient come from the tape's constant-weight cache when it has one.
Tensor bf16_copy(Tape& t, const Var* v) {
  if (!v) return Tensor{};
  if (t.bf16_weights() && v->is_param && (!t.grad_enabled() || !v->requires_grad)) return t.bf16_weights()->get(t, v->v);
  Tensor c = t.arena().alloc(v->v.shape, DType::BF16);
  t.k16().to_bf16(c.u16(), v->v.f32(), c.numel(), false);
  return c;
}
void same_dtype(const char* op, const Var* a, const Var* b) {
  MR_CHECK(!b || a->v.dtype == b->v.dtype, "{}: inputs of different types, {} and {}", op, a->v.str(), b->v.str());
}

}  // namespace

// ---------------------------------------------------------------- embedding
static void embedding_bwd(Tape& t, Record& r) {
  float* dwte = G_acc(t, r.in[0]);
  float* dwpe = G_acc(t, r.in[1]);
  float* dwtt = G_acc(t, r.in[2]);
  const Tensor& ids = r.saved[0];
  const int32_t* types = r.saved[1].defined() ? r.saved[1].i32() : nullptr;
  const int B = int(ids.size(0)), T = int(ids.size(1)), C = int(r.i[0]);
  if (r.out->g.dtype == DType::BF16)
    t.k16().embedding_bwd(dwte, dwpe, dwtt, r.out->g.u16(), ids.i32(), types, B, T, C);
  else
    t.k().embedding_bwd(dwte, dwpe, dwtt, r.out->g.f32(), ids.i32(), types, B, T, C);
}

Var* embedding(Tape& t, const Tensor& ids, const Tensor& types, Var* wte, Var* wpe, Var* wtt) {
  MR_PROFILE("embedding", prof::kForward);
  t.check_device(ids, "embedding: ids");
  t.check_device(types, "embedding: token types");
  MR_CHECK(ids.ndim() == 2, "ids must be (B, T), got {}", ids.str());
  const int B = int(ids.size(0)), T = int(ids.size(1)), C = int(wte->v.size(1));
  MR_CHECK(T <= wpe->v.size(0), "sequence length {} exceeds max_position_embeddings {}", T, wpe->v.size(0));
  Var* out = t.alloc(Shape{int64_t(B) * T, C}, t.any_requires_grad({wte, wpe, wtt}), t.act_dtype());
  const int32_t* ty = types.defined() ? types.i32() : nullptr;
  if (t.act_dtype() == DType::BF16)
    t.k16().embedding_fwd(out->v.u16(), ids.i32(), ty, wte->v.f32(), wpe->v.f32(), wtt->v.f32(), B, T, C);
  else
    t.k().embedding_fwd(out->v.f32(), ids.i32(), ty, wte->v.f32(), wpe->v.f32(), wtt->v.f32(), B, T, C);
  if (out->requires_grad) {
    Record r;
    r.backward = embedding_bwd;
    r.name = "embedding";
    r.in[0] = wte; r.in[1] = wpe; r.in[2] = wtt;
    r.out = out;
    r.saved[0] = ids;
    r.saved[1] = types;
    r.i[0] = C;
    t.record(r);
  }
  return out;
}

// ---------------------------------------------------------------- linear (+ bias + activation)
static void linear_bwd(Tape& t, Record& r) {
  Var *x = r.in[0], *w = r.in[1], *b = r.in[2];
  const int N = rows_of(x->v), IN = int(x->v.size(-1)), OUT = int(w->v.size(0));
  const Act act = Act(r.i[0]);
  bool ax;
  float* dx = G(t, x, &ax);
  float* dw = G_acc(t, w);
  float* db = b ? G_acc(t, b) : nullptr;
  const float* dout = r.out->g.f32();
  if (act != Act::None) {
    // out = act(h + b) with h = x w^T saved: first back through the activation into dh.
    Tensor dh = t.arena().alloc(r.saved[0].shape);
    t.k().bias_act_bwd(dh.f32(), db, dout, r.saved[0].f32(), P(b), N, OUT, act, false);
    dout = dh.f32();
    db = nullptr;
  }
  t.k().linear_bwd(dx, dw, db, dout, x->v.f32(), w->v.f32(), N, IN, OUT, ax);
}

// bf16 storage: saved[0] = h (bf16, with the bias) when act, saved[1] = the bf16 weight copy.
static void linear_bf16_bwd(Tape& t, Record& r) {
  Var *x = r.in[0], *w = r.in[1], *b = r.in[2];
  const int N = rows_of(x->v), IN = int(x->v.size(-1)), OUT = int(w->v.size(0));
  const Act act = Act(r.i[0]);
  bool ax;
  bf16_t* dx = G16(t, x, &ax);
  float* dw = G_acc(t, w);
  float* db = b ? G_acc(t, b) : nullptr;
  const bf16_t* dout = r.out->g.u16();
  Tensor dh;
  if (act != Act::None) {
    // out = act(h), h = x w^T + b saved: back through the activation into dh; db then comes
    // from linear_bwd's column sum of dh.
    dh = t.arena().alloc(r.saved[0].shape, DType::BF16);
    t.k16().bias_act_bwd(dh.u16(), nullptr, dout, r.saved[0].u16(), nullptr, N, OUT, act, false);
    dout = dh.u16();
  }
  t.k16().linear_bwd(dx, dw, db, dout, x->v.u16(), r.saved[1].u16(), N, IN, OUT, ax);
}

// bf16 storage: as torch.autocast, the weight and the bias are rounded to bf16 copies and the
// bias is added in the GEMM's epilogue, before the activation (so h includes it).
static Var* linear_bf16(Tape& t, Var* x, Var* w, Var* b, Act act, int N, int IN, int OUT) {
  const auto& k = t.k16();
  Tensor w16 = bf16_copy(t, w), b16 = bf16_copy(t, b);
  Var* out = t.alloc(Shape{N, OUT}, t.any_requires_grad({x, w, b}), DType::BF16);
  Tensor h;
  if (act == Act::None) {
    k.linear_fwd(out->v.u16(), x->v.u16(), w16.u16(), P16(b16), N, IN, OUT);
  } else {
    h = t.arena().alloc(Shape{N, OUT}, DType::BF16);
    k.linear_fwd(h.u16(), x->v.u16(), w16.u16(), P16(b16), N, IN, OUT);
    k.bias_act_fwd(out->v.u16(), h.u16(), nullptr, N, OUT, act);
  }
  if (out->requires_grad) {
    Record r;
    r.backward = linear_bf16_bwd;
    r.name = "linear";
    r.in[0] = x; r.in[1] = w; r.in[2] = b;
    r.out = out;
    r.saved[0] = h;
    r.saved[1] = w16;
    r.i[0] = int64_t(act);
    t.record(r);
  }
  return out;
}

Var* linear(Tape& t, Var* x, Var* w, Var* b, Act act) {
  MR_PROFILE("linear", prof::kForward);
  const int IN = int(x->v.size(-1)), OUT = int(w->v.size(0)), N = rows_of(x->v);
  MR_CHECK(w->v.ndim() == 2 && w->v.size(1) == IN, "linear: input {} does not match weight {}", x->v.str(), w->v.str());
  MR_CHECK(!b || b->v.numel() == OUT, "linear: bias {} for {} outputs", b ? b->v.str() : "", OUT);
  if (is_bf16(x)) return linear_bf16(t, x, w, b, act, N, IN, OUT);
  Var* out = out_var(t, Shape{N, OUT}, {x, w, b});
  Tensor h;
  if (act == Act::None) {
    t.k().linear_fwd(out->v.f32(), x->v.f32(), w->v.f32(), P(b), N, IN, OUT);
  } else {
    h = t.arena().alloc(Shape{N, OUT});
    t.k().linear_fwd(h.f32(), x->v.f32(), w->v.f32(), nullptr, N, IN, OUT);
    t.k().bias_act_fwd(out->v.f32(), h.f32(), P(b), N, OUT, act);
  }
  if (out->requires_grad) {
    Record r;
    r.backward = linear_bwd;
    r.name = "linear";
    r.in[0] = x; r.in[1] = w; r.in[2] = b;
    r.out = out;
    r.saved[0] = h;
    r.i[0] = int64_t(act);
    t.record(r);
  }
  return out;
}

// ---------------------------------------------------------------- layernorm (+ residual)
static void layernorm_bwd(Tape& t, Record& r) {
  Var *a = r.in[0], *res = r.in[1], *gamma = r.in[2], *beta = r.in[3];
  const int C = int(a->v.size(-1)), N = rows_of(a->v);
  bool aa, ar = false;
  float* dg = G_acc(t, gamma);
  float* dbt = G_acc(t, beta);
  if (is_bf16(a)) {
    bf16_t* da = G16(t, a, &aa);
    bf16_t* dr = res ? G16(t, res, &ar) : nullptr;
    t.k16().layernorm_bwd(da, dr, dg, dbt, r.out->g.u16(), r.saved[0].u16(), r.saved[1].f32(), r.saved[2].f32(),
                          gamma->v.f32(), N, C, aa, ar);
    return;
  }
  float* da = G(t, a, &aa);
  float* dr = res ? G(t, res, &ar) : nullptr;
  t.k().layernorm_bwd(da, dr, dg, dbt, r.out->g.f32(), r.saved[0].f32(), r.saved[1].f32(), r.saved[2].f32(),
                      gamma->v.f32(), N, C, aa, ar);
}

Var* layernorm(Tape& t, Var* a, Var* res, Var* gamma, Var* beta, float eps) {
  MR_PROFILE("layernorm", prof::kForward);
  const int C = int(a->v.size(-1)), N = rows_of(a->v);
  MR_CHECK(!res || res->v.shape == a->v.shape, "layernorm residual {} vs {}", res ? res->v.str() : "", a->v.str());
  MR_CHECK(gamma->v.numel() == C && beta->v.numel() == C, "layernorm over {} channels with gamma {}", C, gamma->v.str());
  same_dtype("layernorm", a, res);
  const DType dt = a->v.dtype;
  Var* out = t.alloc(a->v.shape, t.any_requires_grad({a, res, gamma, beta}), dt);
  Tensor s = res ? t.arena().alloc(a->v.shape, dt) : a->v;
  Tensor mean = t.arena().alloc(Shape{N}), rstd = t.arena().alloc(Shape{N});
  if (dt == DType::BF16)
    t.k16().layernorm_fwd(out->v.u16(), res ? s.u16() : nullptr, mean.f32(), rstd.f32(), a->v.u16(),
                          res ? res->v.u16() : nullptr, gamma->v.f32(), beta->v.f32(), N, C, eps);
  else
    t.k().layernorm_fwd(out->v.f32(), res ? s.f32() : nullptr, mean.f32(), rstd.f32(), a->v.f32(), P(res),
                      gamma->v.f32(), beta->v.f32(), N, C, eps);
  if (out->requires_grad) {
    Record r;
    r.backward = layernorm_bwd;
    r.name = "layernorm";
    r.in[0] = a; r.in[1] = res; r.in[2] = gamma; r.in[3] = beta;
    r.out = out;
    r.saved[0] = s; r.saved[1] = mean; r.saved[2] = rstd;
    t.record(r);
  }
  return out;
}

// ---------------------------------------------------------------- attention
// Saved: lse (B, heads, T) and the mask; backward recomputes the probabilities from Q, K and
// lse, and also reads the op's own output (r.out->v, which no op writes after the forward).
static void attention_bwd(Tape& t, Record& r) {
  bool acc;
  const Tensor& mask = r.saved[1];
  if (is_bf16(r.in[0])) {
    bf16_t* dqkv = G16(t, r.in[0], &acc);
    t.k16().attention_bwd(dqkv, r.out->g.u16(), r.in[0]->v.u16(), r.out->v.u16(), r.saved[0].f32(),
                          mask.defined() ? mask.i32() : nullptr, int(r.i[0]), int(r.i[1]), int(r.i[2]), int(r.i[3]),
                          r.f[0], uint64_t(r.i[4]), uint64_t(r.i[5]), acc);
    return;
  }
  float* dqkv = G(t, r.in[0], &acc);
  t.k().attention_bwd(dqkv, r.out->g.f32(), r.in[0]->v.f32(), r.out->v.f32(), r.saved[0].f32(),
                      mask.defined() ? mask.i32() : nullptr, int(r.i[0]), int(r.i[1]), int(r.i[2]), int(r.i[3]), r.f[0],
                      uint64_t(r.i[4]), uint64_t(r.i[5]), acc);
}

Var* attention(Tape& t, Var* qkv, const Tensor& mask, int B, int T, int heads, float p_drop) {
  MR_PROFILE("attention", prof::kForward);
  t.check_device(mask, "attention: mask");
  const int C3 = int(qkv->v.size(-1)), C = C3 / 3;
  MR_CHECK(C3 % 3 == 0 && C % heads == 0, "attention: {} columns for {} heads", C3, heads);
  MR_CHECK(rows_of(qkv->v) == B * T, "attention: {} rows for B={} T={}", rows_of(qkv->v), B, T);
  MR_CHECK(!mask.defined() || mask.numel() == int64_t(B) * T, "attention mask {} for B={} T={}", mask.str(), B, T);
  if (!t.training()) p_drop = 0.0f;
  const uint64_t seed = t.seed(), off = p_drop > 0 ? t.take_counters(uint64_t(B) * heads * T * T) : 0;
  Var* out = t.alloc(Shape{int64_t(B) * T, C}, t.any_requires_grad({qkv}), qkv->v.dtype);
  Tensor lse = t.arena().alloc(Shape{B, heads, T});
  if (is_bf16(qkv))
    t.k16().attention_fwd(out->v.u16(), lse.f32(), qkv->v.u16(), mask.defined() ? mask.i32() : nullptr, B, T, C,
                          heads, p_drop, seed, off);
  else
    t.k().attention_fwd(out->v.f32(), lse.f32(), qkv->v.f32(), mask.defined() ? mask.i32() : nullptr, B, T, C, heads,
                      p_drop, seed, off);
  if (out->requires_grad) {
    Record r;
    r.backward = attention_bwd;
    r.name = "attention";
    r.in[0] = qkv;
    r.out = out;
    r.saved[0] = lse;
    r.saved[1] = mask;
    r.i[0] = B; r.i[1] = T; r.i[2] = C; r.i[3] = heads; r.i[4] = int64_t(seed); r.i[5] = int64_t(off);
    r.f[0] = p_drop;
    t.record(r);
  }
  return out;
}

// ---------------------------------------------------------------- dropout
static void dropout_bwd(Tape& t, Record& r) {
  bool acc;
  if (is_bf16(r.in[0])) {
    bf16_t* dx = G16(t, r.in[0], &acc);
    t.k16().dropout_bwd(dx, r.out->g.u16(), r.out->v.numel(), r.f[0], uint64_t(r.i[0]), uint64_t(r.i[1]), acc);
    return;
  }
  float* dx = G(t, r.in[0], &acc);
  t.k().dropout_bwd(dx, r.out->g.f32(), r.out->v.numel(), r.f[0], uint64_t(r.i[0]), uint64_t(r.i[1]), acc);
}

Var* dropout(Tape& t, Var* x, float p) {
  MR_CHECK(p >= 0.0f && p < 1.0f, "dropout probability {} outside [0, 1)", p);
  if (p == 0.0f || !t.training()) return x;
  MR_PROFILE("dropout", prof::kForward);
  const uint64_t seed = t.seed(), off = t.take_counters(uint64_t(x->v.numel()));
  Var* out = t.alloc(x->v.shape, t.any_requires_grad({x}), x->v.dtype);
  if (is_bf16(x))
    t.k16().dropout_fwd(out->v.u16(), x->v.u16(), x->v.numel(), p, seed, off);
  else
    t.k().dropout_fwd(out->v.f32(), x->v.f32(), x->v.numel(), p, seed, off);
  if (out->requires_grad) {
    Record r;
    r.backward = dropout_bwd;
    r.name = "dropout";
    r.in[0] = x;
    r.out = out;
    r.f[0] = p;
    r.i[0] = int64_t(seed); r.i[1] = int64_t(off);
    t.record(r);
  }
  return out;
}

// ---------------------------------------------------------------- cast (f32 <-> bf16)
static void cast_bwd(Tape& t, Record& r) {
  bool acc;
  if (is_bf16(r.in[0])) {  // x bf16, out f32: the f32 gradient is rounded back
    bf16_t* dx = G16(t, r.in[0], &acc);
    t.k16().to_bf16(dx, r.out->g.f32(), r.out->g.numel(), acc);
  } else {
    float* dx = G(t, r.in[0], &acc);
    t.k16().to_f32(dx, r.out->g.u16(), r.out->g.numel(), acc);
  }
}

Var* cast(Tape& t, Var* x, DType dt) {
  if (x->v.dtype == dt) return x;
  MR_PROFILE("cast", prof::kForward);
  MR_CHECK((x->v.dtype == DType::F32 || x->v.dtype == DType::BF16) && (dt == DType::F32 || dt == DType::BF16),
           "cast: {} to {} is not supported (f32 <-> bf16 only)", x->v.str(), dtype_name(dt));
  const auto& k = t.k16();
  Var* out = t.alloc(x->v.shape, t.any_requires_grad({x}), dt);
  if (dt == DType::BF16) k.to_bf16(out->v.u16(), x->v.f32(), x->v.numel(), false);
  else k.to_f32(out->v.f32(), x->v.u16(), x->v.numel(), false);
  if (out->requires_grad) {
    Record r;
    r.backward = cast_bwd;
    r.name = "cast";
    r.in[0] = x;
    r.out = out;
    t.record(r);
  }
  return out;
}

// ---------------------------------------------------------------- pooling
static void mean_pool_bwd(Tape& t, Record& r) {
  bool acc;
  float* dh = G(t, r.in[0], &acc);
  const Tensor& mask = r.saved[0];
  t.k().mean_pool_bwd(dh, r.out->g.f32(), mask.defined() ? mask.i32() : nullptr, int(r.i[0]), int(r.i[1]),
                      int(r.i[2]), acc);
}

Var* mean_pool(Tape& t, Var* h, const Tensor& mask, int B, int T) {
  MR_PROFILE("mean_pool", prof::kForward);
  t.check_device(mask, "mean_pool: mask");
  const int C = int(h->v.size(-1));
  MR_CHECK(rows_of(h->v) == B * T, "mean_pool: {} rows for B={} T={}", rows_of(h->v), B, T);
  Var* out = out_var(t, Shape{B, C}, {h});
  t.k().mean_pool_fwd(out->v.f32(), h->v.f32(), mask.defined() ? mask.i32() : nullptr, B, T, C);
  if (out->requires_grad) {
    Record r;
    r.backward = mean_pool_bwd;
    r.name = "mean_pool";
    r.in[0] = h;
    r.out = out;
    r.saved[0] = mask;
    r.i[0] = B; r.i[1] = T; r.i[2] = C;
    t.record(r);
  }
  return out;
}

static void cls_pool_bwd(Tape& t, Record& r) {
  bool acc;
  float* dh = G(t, r.in[0], &acc);
  t.k().cls_pool_bwd(dh, r.out->g.f32(), int(r.i[0]), int(r.i[1]), int(r.i[2]), acc);
}

Var* cls_pool(Tape& t, Var* h, int B, int T) {
  MR_PROFILE("cls_pool", prof::kForward);
  const int C = int(h->v.size(-1));
  MR_CHECK(rows_of(h->v) == B * T, "cls_pool: {} rows for B={} T={}", rows_of(h->v), B, T);
  Var* out = out_var(t, Shape{B, C}, {h});
  t.k().cls_pool_fwd(out->v.f32(), h->v.f32(), B, T, C);
  if (out->requires_grad) {
    Record r;
    r.backward = cls_pool_bwd;
    r.name = "cls_pool";
    r.in[0] = h;
    r.out = out;
    r.i[0] = B; r.i[1] = T; r.i[2] = C;
    t.record(r);
  }
  return out;
}

// ---------------------------------------------------------------- losses
static void xent_bwd(Tape& t, Record& r) {
  bool acc;
  float* dx = G(t, r.in[0], &acc);
  const int V = int(r.in[0]->v.size(-1)), N = rows_of(r.in[0]->v);
  t.k().xent_bwd(dx, r.out->g.f32(), r.in[0]->v.f32(), r.saved[0].f32(), r.saved[1].i32(), N, V, acc);
}

Var* cross_entropy(Tape& t, Var* logits, const Tensor& targets) {
  MR_PROFILE("cross_entropy", prof::kForward);
  t.check_device(targets, "cross_entropy: targets");
  const int V = int(logits->v.size(-1)), N = rows_of(logits->v);
  MR_CHECK(targets.numel() == N, "cross_entropy: {} targets for {} rows", targets.numel(), N);
  Var* out = out_var(t, Shape{1}, {logits});
  Tensor lse = t.arena().alloc(Shape{N});
  t.k().xent_fwd(out->v.f32(), lse.f32(), logits->v.f32(), targets.i32(), N, V);
  if (out->requires_grad) {
    Record r;
    r.backward = xent_bwd;
    r.name = "cross_entropy";
    r.in[0] = logits;
    r.out = out;
    r.saved[0] = lse;
    r.saved[1] = targets;
    t.record(r);
  }
  return out;
}

template <bool kBce>
static void pointwise_loss_bwd(Tape& t, Record& r) {
  bool acc;
  float* dx = G(t, r.in[0], &acc);
  const int64_t n = r.in[0]->v.numel();
  if (kBce) t.k().bce_bwd(dx, r.out->g.f32(), r.in[0]->v.f32(), r.saved[0].f32(), n, acc);
  else t.k().mse_bwd(dx, r.out->g.f32(), r.in[0]->v.f32(), r.saved[0].f32(), n, acc);
}

template <bool kBce>
static Var* pointwise_loss(Tape& t, Var* x, const Tensor& y) {
  MR_PROFILE("pointwise_loss", prof::kForward);
  t.check_device(y, kBce ? "bce: targets" : "mse: targets");
  MR_CHECK(x->v.numel() == y.numel(), "{}: prediction {} vs target {}", kBce ? "bce" : "mse", x->v.str(), y.str());
  Var* out = out_var(t, Shape{1}, {x});
  if (kBce) t.k().bce_fwd(out->v.f32(), x->v.f32(), y.f32(), x->v.numel());
  else t.k().mse_fwd(out->v.f32(), x->v.f32(), y.f32(), x->v.numel());
  if (out->requires_grad) {
    Record r;
    r.backward = pointwise_loss_bwd<kBce>;
    r.name = kBce ? "bce_with_logits" : "mse";
    r.in[0] = x;
    r.out = out;
    r.saved[0] = y;
    t.record(r);
  }
  return out;
}

Var* bce_with_logits(Tape& t, Var* x, const Tensor& y) { return pointwise_loss<true>(t, x, y); }
Var* mse(Tape& t, Var* x, const Tensor& y) { return pointwise_loss<false>(t, x, y); }

// ---------------------------------------------------------------- weighted sum
static void weighted_sum_bwd(Tape& t, Record& r) {
  for (int k = 0; k < int(r.i[0]); ++k) {
    bool acc;
    float* dx = G(t, r.in[k], &acc);
    if (dx) t.k().axpy(dx, r.out->g.f32(), r.f[k], r.out->v.numel(), acc);
  }
}

Var* weighted_sum(Tape& t, const std::vector<std::pair<Var*, float>>& terms) {
  MR_PROFILE("weighted_sum", prof::kForward);
  MR_CHECK(!terms.empty() && terms.size() <= 4, "weighted_sum takes 1 to 4 terms, got {}", terms.size());
  const Shape s = terms[0].first->v.shape;
  bool rg = false;
  for (auto& [v, w] : terms) {
    MR_CHECK(v->v.shape == s, "weighted_sum: {} vs {}", v->v.str(), s.str());
    rg = rg || t.any_requires_grad({v});
  }
  Var* out = t.alloc(s, rg);
  for (size_t k = 0; k < terms.size(); ++k)
    t.k().axpy(out->v.f32(), terms[k].first->v.f32(), terms[k].second, s.numel(), k > 0);
  if (out->requires_grad) {
    Record r;
    r.backward = weighted_sum_bwd;
    r.name = "weighted_sum";
    for (size_t k = 0; k < terms.size(); ++k) {
      r.in[k] = terms[k].first;
      r.f[k] = terms[k].second;
    }
    r.out = out;
    r.i[0] = int64_t(terms.size());
    t.record(r);
  }
  return out;
}

}  // namespace mr::ops
