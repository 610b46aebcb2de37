// The differentiable ops: each forward runs through the tape's kernel table and records,
// when its output needs a gradient, a named struct of what its backward needs
// (Tape::record<backward>). Gradient convention (kernels/ops.def): parameter gradients
// accumulate (+=); activation gradients are written or accumulated as the tape's GradMode says.
#include "engine/ops.h"

#include "engine/profile.h"

namespace mr::ops {

namespace {

int rows_of(const Tensor& x) { return int(x.numel() / x.size(-1)); }

Var* out_var(Tape& t, Shape s, std::initializer_list<const Var*> ins) {
  return t.alloc(s, t.any_requires_grad(ins));
}

const float* P(const Var* v) { return v ? v->v.f32() : nullptr; }
const int32_t* I(const Tensor& x) { return x.defined() ? x.i32() : nullptr; }

// bf16 storage helpers
bool is_bf16(const Var* v) { return v->v.dtype == DType::BF16; }
const bf16_t* P16(const Tensor& x) { return x.defined() ? x.u16() : nullptr; }
// A bf16 copy of an f32 tensor (a linear layer's weight or bias), in the arena: made at every
// use, as torch.autocast casts, so it always reflects the current master weights. Weights that
// need no gradient come from the tape's constant-weight cache when it has one.
Tensor bf16_copy(Tape& t, const Var* v) {
  if (!v) return Tensor{};
  if (t.bf16_weights() && v->is_param && (!t.grad_enabled() || !v->requires_grad)) return t.bf16_weights()->get(t, v->v);
  Tensor c = t.arena().alloc(v->v.shape, DType::BF16);
  t.k16().to_bf16(c.u16(), v->v.f32(), c.numel(), kOverwrite);
  return c;
}
void same_dtype(const char* op, const Var* a, const Var* b) {
  MR_CHECK(!b || a->v.dtype == b->v.dtype, "{}: inputs of different types, {} and {}", op, a->v.str(), b->v.str());
}

}  // namespace

// ---------------------------------------------------------------- embedding
struct EmbeddingSaved {
  Var *wte, *wpe, *wtt;
  Tensor ids, types;  // (B, T) i32; types may be undefined
  int C;
};
static void embedding_bwd(Tape& t, Var* out, const EmbeddingSaved& s) {
  float* dwte = t.grad_zeroed_for(s.wte);
  float* dwpe = t.grad_zeroed_for(s.wpe);
  float* dwtt = t.grad_zeroed_for(s.wtt);
  const int B = int(s.ids.size(0)), T = int(s.ids.size(1));
  if (out->g.dtype == DType::BF16)
    t.k16().embedding_bwd(dwte, dwpe, dwtt, out->g.u16(), s.ids.i32(), I(s.types), B, T, s.C);
  else
    t.k().embedding_bwd(dwte, dwpe, dwtt, out->g.f32(), s.ids.i32(), I(s.types), B, T, s.C);
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
  t.record<embedding_bwd>("embedding", out, EmbeddingSaved{wte, wpe, wtt, ids, types, C});
  return out;
}

// ---------------------------------------------------------------- linear (+ bias + activation)
struct LinearSaved {
  Var *x, *w, *b;  // b may be null
  Tensor h;        // the product before the activation (fp32: without the bias; bf16: with it); undefined without act
  Tensor w16;      // bf16 storage: the bf16 weight copy the forward used
  Act act;
};
static void linear_bwd(Tape& t, Var* out, const LinearSaved& s) {
  const int N = rows_of(s.x->v), IN = int(s.x->v.size(-1)), OUT = int(s.w->v.size(0));
  GradMode mode;
  float* dx = t.grad_for(s.x, &mode);
  float* dw = t.grad_zeroed_for(s.w);
  float* db = s.b ? t.grad_zeroed_for(s.b) : nullptr;
  const float* dout = out->g.f32();
  if (s.act != Act::None) {
    // out = act(h + b) with h = x w^T saved: first back through the activation into dh.
    Tensor dh = t.arena().alloc(s.h.shape);
    t.k().bias_act_bwd(dh.f32(), db, dout, s.h.f32(), P(s.b), N, OUT, s.act, kOverwrite);
    dout = dh.f32();
    db = nullptr;
  }
  t.k().linear_bwd(dx, dw, db, dout, s.x->v.f32(), s.w->v.f32(), N, IN, OUT, mode);
}

static void linear_bf16_bwd(Tape& t, Var* out, const LinearSaved& s) {
  const int N = rows_of(s.x->v), IN = int(s.x->v.size(-1)), OUT = int(s.w->v.size(0));
  GradMode mode;
  bf16_t* dx = t.grad_for_bf16(s.x, &mode);
  float* dw = t.grad_zeroed_for(s.w);
  float* db = s.b ? t.grad_zeroed_for(s.b) : nullptr;
  const bf16_t* dout = out->g.u16();
  Tensor dh;
  if (s.act != Act::None) {
    // out = act(h), h = x w^T + b saved: back through the activation into dh; db then comes
    // from linear_bwd's column sum of dh.
    dh = t.arena().alloc(s.h.shape, DType::BF16);
    t.k16().bias_act_bwd(dh.u16(), nullptr, dout, s.h.u16(), nullptr, N, OUT, s.act, kOverwrite);
    dout = dh.u16();
  }
  t.k16().linear_bwd(dx, dw, db, dout, s.x->v.u16(), s.w16.u16(), N, IN, OUT, mode);
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
  t.record<linear_bf16_bwd>("linear", out, LinearSaved{x, w, b, h, w16, act});
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
  t.record<linear_bwd>("linear", out, LinearSaved{x, w, b, h, Tensor{}, act});
  return out;
}

// ---------------------------------------------------------------- grouped linear
struct GroupedLinearSaved {
  Var *x, *w, *b;  // b may be null
  Tensor offsets;  // (G+1) i32
};
static void grouped_linear_bwd(Tape& t, Var* out, const GroupedLinearSaved& s) {
  const int N = rows_of(s.x->v), IN = int(s.x->v.size(-1)), G = int(s.w->v.size(0)), OUT = int(s.w->v.size(1));
  GradMode mode;
  float* dx = t.grad_for(s.x, &mode);
  float* dw = t.grad_zeroed_for(s.w);
  float* db = s.b ? t.grad_zeroed_for(s.b) : nullptr;
  t.k().glinear_bwd(dx, dw, db, out->g.f32(), s.x->v.f32(), s.w->v.f32(), s.offsets.i32(), N, G, IN, OUT, mode);
}

Var* grouped_linear(Tape& t, Var* x, Var* w, Var* b, const Tensor& offsets) {
  MR_PROFILE("grouped_linear", prof::kForward);
  t.check_device(offsets, "grouped_linear: offsets");
  MR_CHECK(w->v.ndim() == 3 && !is_bf16(x), "grouped_linear: f32 input and a (G, OUT, IN) weight, got {} and {}",
           x->v.str(), w->v.str());
  const int N = rows_of(x->v), IN = int(x->v.size(-1)), G = int(w->v.size(0)), OUT = int(w->v.size(1));
  MR_CHECK(w->v.size(2) == IN, "grouped_linear: input {} does not match weight {}", x->v.str(), w->v.str());
  MR_CHECK(!b || b->v.numel() == int64_t(G) * OUT, "grouped_linear: bias {} for {} groups of {}", b ? b->v.str() : "", G, OUT);
  MR_CHECK(offsets.numel() == G + 1 && offsets.dtype == DType::I32, "grouped_linear: {} offsets for {} groups",
           offsets.numel(), G);
  Var* out = out_var(t, Shape{N, OUT}, {x, w, b});
  t.k().glinear_fwd(out->v.f32(), x->v.f32(), w->v.f32(), P(b), offsets.i32(), N, G, IN, OUT);
  t.record<grouped_linear_bwd>("grouped_linear", out, GroupedLinearSaved{x, w, b, offsets});
  return out;
}

// ---------------------------------------------------------------- layernorm (+ residual)
struct LayerNormSaved {
  Var *a, *res, *gamma, *beta;  // res may be null
  Tensor s;                     // a + res (or a itself without res)
  Tensor mean, rstd;            // (N) fp32
};
static void layernorm_bwd(Tape& t, Var* out, const LayerNormSaved& sv) {
  const int C = int(sv.a->v.size(-1)), N = rows_of(sv.a->v);
  GradMode ma, mr = kOverwrite;
  float* dg = t.grad_zeroed_for(sv.gamma);
  float* dbt = t.grad_zeroed_for(sv.beta);
  if (is_bf16(sv.a)) {
    bf16_t* da = t.grad_for_bf16(sv.a, &ma);
    bf16_t* dr = sv.res ? t.grad_for_bf16(sv.res, &mr) : nullptr;
    t.k16().layernorm_bwd(da, dr, dg, dbt, out->g.u16(), sv.s.u16(), sv.mean.f32(), sv.rstd.f32(),
                          sv.gamma->v.f32(), N, C, ma, mr);
    return;
  }
  float* da = t.grad_for(sv.a, &ma);
  float* dr = sv.res ? t.grad_for(sv.res, &mr) : nullptr;
  t.k().layernorm_bwd(da, dr, dg, dbt, out->g.f32(), sv.s.f32(), sv.mean.f32(), sv.rstd.f32(), sv.gamma->v.f32(),
                      N, C, ma, mr);
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
  t.record<layernorm_bwd>("layernorm", out, LayerNormSaved{a, res, gamma, beta, s, mean, rstd});
  return out;
}

// ---------------------------------------------------------------- attention
// Saved: lse (B, heads, T) and the mask; backward recomputes the probabilities from Q, K, the
// bias and lse, and also reads the op's own output (out->v, which no op writes after the
// forward). The bias (an f32 Var, null: none) gets its gradient accumulated (the kernel adds
// the batch's sum; a bias shared by several layers gets the sum over them).
struct AttentionSaved {
  Var* qkv;
  Var* bias;
  Tensor lse, mask;  // mask may be undefined
  int B, T, C, heads;
  float p_drop;
  uint64_t seed, offset;  // the dropout stream's counters
};
static void attention_bwd(Tape& t, Var* out, const AttentionSaved& s) {
  GradMode mode = kOverwrite;
  float* dbias = s.bias && s.bias->requires_grad ? t.grad_zeroed_for(s.bias) : nullptr;
  if (is_bf16(s.qkv)) {
    bf16_t* dqkv = t.grad_for_bf16(s.qkv, &mode);
    t.k16().attention_bwd(dqkv, dbias, out->g.u16(), s.qkv->v.u16(), out->v.u16(), s.lse.f32(), I(s.mask), P(s.bias),
                          s.B, s.T, s.C, s.heads, s.p_drop, s.seed, s.offset, mode);
    return;
  }
  float* dqkv = t.grad_for(s.qkv, &mode);
  t.k().attention_bwd(dqkv, dbias, out->g.f32(), s.qkv->v.f32(), out->v.f32(), s.lse.f32(), I(s.mask), P(s.bias), s.B,
                      s.T, s.C, s.heads, s.p_drop, s.seed, s.offset, mode);
}

Var* attention(Tape& t, Var* qkv, const Tensor& mask, int B, int T, int heads, float p_drop, Var* bias) {
  MR_PROFILE("attention", prof::kForward);
  t.check_device(mask, "attention: mask");
  const int C3 = int(qkv->v.size(-1)), C = C3 / 3;
  MR_CHECK(C3 % 3 == 0 && C % heads == 0, "attention: {} columns for {} heads", C3, heads);
  MR_CHECK(rows_of(qkv->v) == B * T, "attention: {} rows for B={} T={}", rows_of(qkv->v), B, T);
  MR_CHECK(!mask.defined() || mask.numel() == int64_t(B) * T, "attention mask {} for B={} T={}", mask.str(), B, T);
  if (bias) {
    MR_CHECK(bias->v.dtype == DType::F32 && bias->v.numel() == int64_t(heads) * T * T,
             "attention bias {} for heads={} T={} (f32 (heads, T, T))", bias->v.str(), heads, T);
    t.check_device(bias->v, "attention: bias");
  }
  if (!t.training()) p_drop = 0.0f;
  const uint64_t seed = t.seed(), off = p_drop > 0 ? t.take_counters(uint64_t(B) * heads * T * T) : 0;
  Var* out = t.alloc(Shape{int64_t(B) * T, C}, t.any_requires_grad({qkv, bias}), qkv->v.dtype);
  Tensor lse = t.arena().alloc(Shape{B, heads, T});
  if (is_bf16(qkv))
    t.k16().attention_fwd(out->v.u16(), lse.f32(), qkv->v.u16(), I(mask), P(bias), B, T, C, heads, p_drop, seed, off);
  else
    t.k().attention_fwd(out->v.f32(), lse.f32(), qkv->v.f32(), I(mask), P(bias), B, T, C, heads, p_drop, seed, off);
  t.record<attention_bwd>("attention", out,
                          AttentionSaved{qkv, bias, lse, mask, B, T, C, heads, p_drop, seed, off});
  return out;
}

// ---------------------------------------------------------------- dropout
struct DropoutSaved {
  Var* x;
  float p;
  uint64_t seed, offset;
};
static void dropout_bwd(Tape& t, Var* out, const DropoutSaved& s) {
  GradMode mode;
  if (is_bf16(s.x)) {
    bf16_t* dx = t.grad_for_bf16(s.x, &mode);
    t.k16().dropout_bwd(dx, out->g.u16(), out->v.numel(), s.p, s.seed, s.offset, mode);
    return;
  }
  float* dx = t.grad_for(s.x, &mode);
  t.k().dropout_bwd(dx, out->g.f32(), out->v.numel(), s.p, s.seed, s.offset, mode);
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
  t.record<dropout_bwd>("dropout", out, DropoutSaved{x, p, seed, off});
  return out;
}

// ---------------------------------------------------------------- cast (f32 <-> bf16)
struct CastSaved {
  Var* x;
};
static void cast_bwd(Tape& t, Var* out, const CastSaved& s) {
  GradMode mode;
  if (is_bf16(s.x)) {  // x bf16, out f32: the f32 gradient is rounded back
    bf16_t* dx = t.grad_for_bf16(s.x, &mode);
    t.k16().to_bf16(dx, out->g.f32(), out->g.numel(), mode);
  } else {
    float* dx = t.grad_for(s.x, &mode);
    t.k16().to_f32(dx, out->g.u16(), out->g.numel(), mode);
  }
}

Var* cast(Tape& t, Var* x, DType dt) {
  if (x->v.dtype == dt) return x;
  MR_PROFILE("cast", prof::kForward);
  MR_CHECK((x->v.dtype == DType::F32 || x->v.dtype == DType::BF16) && (dt == DType::F32 || dt == DType::BF16),
           "cast: {} to {} is not supported (f32 <-> bf16 only)", x->v.str(), dtype_name(dt));
  const auto& k = t.k16();
  Var* out = t.alloc(x->v.shape, t.any_requires_grad({x}), dt);
  if (dt == DType::BF16) k.to_bf16(out->v.u16(), x->v.f32(), x->v.numel(), kOverwrite);
  else k.to_f32(out->v.f32(), x->v.u16(), x->v.numel(), kOverwrite);
  t.record<cast_bwd>("cast", out, CastSaved{x});
  return out;
}

// ---------------------------------------------------------------- pooling
struct PoolSaved {
  Var* h;
  Tensor mask;  // mean_pool only; may be undefined
  int B, T, C;
};
static void mean_pool_bwd(Tape& t, Var* out, const PoolSaved& s) {
  GradMode mode;
  float* dh = t.grad_for(s.h, &mode);
  t.k().mean_pool_bwd(dh, out->g.f32(), I(s.mask), s.B, s.T, s.C, mode);
}

Var* mean_pool(Tape& t, Var* h, const Tensor& mask, int B, int T) {
  MR_PROFILE("mean_pool", prof::kForward);
  t.check_device(mask, "mean_pool: mask");
  const int C = int(h->v.size(-1));
  MR_CHECK(rows_of(h->v) == B * T, "mean_pool: {} rows for B={} T={}", rows_of(h->v), B, T);
  Var* out = out_var(t, Shape{B, C}, {h});
  t.k().mean_pool_fwd(out->v.f32(), h->v.f32(), I(mask), B, T, C);
  t.record<mean_pool_bwd>("mean_pool", out, PoolSaved{h, mask, B, T, C});
  return out;
}

static void cls_pool_bwd(Tape& t, Var* out, const PoolSaved& s) {
  GradMode mode;
  float* dh = t.grad_for(s.h, &mode);
  t.k().cls_pool_bwd(dh, out->g.f32(), s.B, s.T, s.C, mode);
}

Var* cls_pool(Tape& t, Var* h, int B, int T) {
  MR_PROFILE("cls_pool", prof::kForward);
  const int C = int(h->v.size(-1));
  MR_CHECK(rows_of(h->v) == B * T, "cls_pool: {} rows for B={} T={}", rows_of(h->v), B, T);
  Var* out = out_var(t, Shape{B, C}, {h});
  t.k().cls_pool_fwd(out->v.f32(), h->v.f32(), B, T, C);
  t.record<cls_pool_bwd>("cls_pool", out, PoolSaved{h, Tensor{}, B, T, C});
  return out;
}

// ---------------------------------------------------------------- losses
struct CrossEntropySaved {
  Var* logits;
  Tensor lse;      // (N)
  Tensor targets;  // (N) i32
};
static void xent_bwd(Tape& t, Var* out, const CrossEntropySaved& s) {
  GradMode mode;
  float* dx = t.grad_for(s.logits, &mode);
  const int V = int(s.logits->v.size(-1)), N = rows_of(s.logits->v);
  t.k().xent_bwd(dx, out->g.f32(), s.logits->v.f32(), s.lse.f32(), s.targets.i32(), N, V, mode);
}

Var* cross_entropy(Tape& t, Var* logits, const Tensor& targets) {
  MR_PROFILE("cross_entropy", prof::kForward);
  t.check_device(targets, "cross_entropy: targets");
  const int V = int(logits->v.size(-1)), N = rows_of(logits->v);
  MR_CHECK(targets.numel() == N, "cross_entropy: {} targets for {} rows", targets.numel(), N);
  Var* out = out_var(t, Shape{1}, {logits});
  Tensor lse = t.arena().alloc(Shape{N});
  t.k().xent_fwd(out->v.f32(), lse.f32(), logits->v.f32(), targets.i32(), N, V);
  t.record<xent_bwd>("cross_entropy", out, CrossEntropySaved{logits, lse, targets});
  return out;
}

struct WeightedXentSaved {
  Var* logits;
  Tensor lse, targets, w;  // (N) each
};
static void xent_w_bwd(Tape& t, Var* out, const WeightedXentSaved& s) {
  GradMode mode;
  float* dx = t.grad_for(s.logits, &mode);
  const int V = int(s.logits->v.size(-1)), N = rows_of(s.logits->v);
  t.k().xent_w_bwd(dx, out->g.f32(), s.logits->v.f32(), s.lse.f32(), s.targets.i32(), s.w.f32(), N, V, mode);
}

Var* cross_entropy_weighted(Tape& t, Var* logits, const Tensor& targets, const Tensor& w) {
  MR_PROFILE("cross_entropy_weighted", prof::kForward);
  t.check_device(targets, "cross_entropy_weighted: targets");
  t.check_device(w, "cross_entropy_weighted: weights");
  const int V = int(logits->v.size(-1)), N = rows_of(logits->v);
  MR_CHECK(targets.numel() == N && w.numel() == N && w.dtype == DType::F32,
           "cross_entropy_weighted: {} targets and {} weights for {} rows", targets.numel(), w.numel(), N);
  Var* out = out_var(t, Shape{1}, {logits});
  Tensor lse = t.arena().alloc(Shape{N});
  t.k().xent_w_fwd(out->v.f32(), lse.f32(), logits->v.f32(), targets.i32(), w.f32(), N, V);
  t.record<xent_w_bwd>("cross_entropy_weighted", out, WeightedXentSaved{logits, lse, targets, w});
  return out;
}

struct PointwiseLossSaved {
  Var* x;
  Tensor y;  // the targets
};
template <bool kBce>
static void pointwise_loss_bwd(Tape& t, Var* out, const PointwiseLossSaved& s) {
  GradMode mode;
  float* dx = t.grad_for(s.x, &mode);
  const int64_t n = s.x->v.numel();
  if (kBce) t.k().bce_bwd(dx, out->g.f32(), s.x->v.f32(), s.y.f32(), n, mode);
  else t.k().mse_bwd(dx, out->g.f32(), s.x->v.f32(), s.y.f32(), n, mode);
}

template <bool kBce>
static Var* pointwise_loss(Tape& t, Var* x, const Tensor& y) {
  MR_PROFILE("pointwise_loss", prof::kForward);
  t.check_device(y, kBce ? "bce: targets" : "mse: targets");
  MR_CHECK(x->v.numel() == y.numel(), "{}: prediction {} vs target {}", kBce ? "bce" : "mse", x->v.str(), y.str());
  Var* out = out_var(t, Shape{1}, {x});
  if (kBce) t.k().bce_fwd(out->v.f32(), x->v.f32(), y.f32(), x->v.numel());
  else t.k().mse_fwd(out->v.f32(), x->v.f32(), y.f32(), x->v.numel());
  t.record<pointwise_loss_bwd<kBce>>(kBce ? "bce_with_logits" : "mse", out, PointwiseLossSaved{x, y});
  return out;
}

Var* bce_with_logits(Tape& t, Var* x, const Tensor& y) { return pointwise_loss<true>(t, x, y); }
Var* mse(Tape& t, Var* x, const Tensor& y) { return pointwise_loss<false>(t, x, y); }

// ---------------------------------------------------------------- weighted sum
struct WeightedSumSaved {
  int n;
  Var* x[4];
  float w[4];
};
static void weighted_sum_bwd(Tape& t, Var* out, const WeightedSumSaved& s) {
  for (int k = 0; k < s.n; ++k) {
    GradMode mode;
    float* dx = t.grad_for(s.x[k], &mode);
    if (dx) t.k().axpy(dx, out->g.f32(), s.w[k], out->v.numel(), mode);
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
  WeightedSumSaved saved{int(terms.size()), {}, {}};
  for (size_t k = 0; k < terms.size(); ++k) {
    t.k().axpy(out->v.f32(), terms[k].first->v.f32(), terms[k].second, s.numel(), k > 0 ? kAccumulate : kOverwrite);
    saved.x[k] = terms[k].first;
    saved.w[k] = terms[k].second;
  }
  t.record<weighted_sum_bwd>("weighted_sum", out, saved);
  return out;
}

}  // namespace mr::ops
