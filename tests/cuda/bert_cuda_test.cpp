// A whole tiny-BERT training step on the CUDA backend (kCudaKernels through the tape; the
// SIMT emulator here, a GPU natively) against the PyTorch/HF fixtures of tests/data/tiny_bert
// (tools/golden/tiny_bert.py: 2 layers, hidden 64, 4 heads, batch 3 x 17 with padding, a
// classification head on the pooler and a regression head on the masked mean, dropout off)
// and against the CPU backend on the same inputs.
// Thresholds (fp32 everywhere, different summation orders), as tests/core/bert_test.cpp:
//   hidden state, pooled output, loss, every gradient: relative L2 <= 1e-5 against PyTorch
//     and against the CPU backend (the key-bias gradients, exactly 0 in exact arithmetic, are
//     checked to be noise-sized next to the query-bias gradients instead);
//   5 AdamW steps with global-norm clipping, all on the device: each loss within 1e-5
//     relative, the gradient norms within 1e-4, parameters after 5 steps within 1e-5 relative
//     L2 (key biases: within the bound of 5 steps of size lr).
// Dropout: a separate case runs the step with dropout 0.1 on both backends with the same
// tape seed; the Philox masks are identical, so loss and gradients must agree to 1e-5.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "engine/bert.h"
#include "engine/optim.h"
#include "kernels/cuda/cuda_ops.h"
#include "tests/cuda/cuda_harness.h"
#include "tests/core/op_harness.h"
#include "tests/core/tiny_bert.h"
#include "weights/safetensors.h"

using namespace mr;

namespace {

using test::TinyBert;
bool have_fixture() { return test::have_tiny_bert(); }

double rel(const Tensor& a, const Tensor& b) {
  REQUIRE(a.numel() == b.numel());
  HostTensor ha = host_copy(a), hb = host_copy(b);
  return test::rel_l2(ha->f32(), hb->f32(), size_t(a.numel()));
}

bool is_key_bias(const std::string& n) { return n.find("attention.self.key.bias") != std::string::npos; }

double norm_of(const Tensor& t) {
  HostTensor h = host_copy(t);
  return std::sqrt(kCpuKernels.sumsq(h->f32(), h->numel()));
}

// The CUDA backend in fp32 (tools/backend/cuda.cpp, linked into this suite, provides it).
Backend gpu() { return make_backend("cuda", "fp32", "cuda bert test"); }

}  // namespace

TEST_CASE("cuda bert: forward and every gradient match PyTorch/HF and the CPU backend" *
          doctest::skip(!have_fixture())) {
  const Backend be = gpu();
  TinyBert g(Device::CUDA), c(Device::CPU);
  Arena ga(Device::CUDA), ca;
  Tape gt(ga, be), ct(ca);
  CHECK(std::string(gt.k().name) == "cuda");
  auto go = g.forward(gt);
  auto co = c.forward(ct);
  const double eh = rel(go.hidden->v, *g.golden.read_f32("last_hidden_state"));
  const double ep = rel(go.pooled->v, *g.golden.read_f32("pooler_output"));
  const double el = rel(go.loss->v, *g.golden.read_f32("loss"));
  MESSAGE("cuda vs PyTorch rel L2: hidden ", eh, ", pooled ", ep, ", loss ", el);
  CHECK(eh <= 1e-5);
  CHECK(ep <= 1e-5);
  CHECK(el <= 1e-5);
  CHECK(rel(go.hidden->v, co.hidden->v) <= 1e-5);
  CHECK(rel(go.loss->v, co.loss->v) <= 1e-5);
  gt.backward(go.loss);
  ct.backward(co.loss);
  double worst = 0;
  for (Param& p : g.ps.all()) {
    CAPTURE(p.name);
    if (is_key_bias(p.name)) {
      const std::string q = p.name.substr(0, p.name.find("key.bias")) + "query.bias";
      CHECK(norm_of(p.g) <= 1e-5 * norm_of(g.ps.at(q).g));
      continue;
    }
    const double e = rel(p.g, *g.golden.read_f32("grad." + p.name));
    const double ec = rel(p.g, c.ps.at(p.name).g);
    INFO("gradient rel L2 error vs PyTorch ", e, ", vs cpu ", ec);
    CHECK(e <= 1e-5);
    CHECK(ec <= 1e-5);
    worst = std::max(worst, e);
  }
  MESSAGE("cuda: worst gradient rel L2 error vs PyTorch: ", worst, " over ", g.ps.all().size(), " tensors");
}

TEST_CASE("cuda bert: 5 AdamW steps with clipping on the device match torch.optim.AdamW" *
          doctest::skip(!have_fixture())) {
  const Backend be = gpu();
  TinyBert m(Device::CUDA);
  Arena arena(Device::CUDA);
  AdamW opt(m.ps, AdamWConfig{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f}, be);
  HostTensor losses = m.golden.read_f32("adamw.losses"), norms = m.golden.read_f32("adamw.grad_norms");
  for (int step = 0; step < 5; ++step) {
    Tape t(arena, be);
    m.ps.zero_grad();
    auto o = m.forward(t);
    t.backward(o.loss);
    const double norm = clip_grad_norm(m.ps, 1.0, be);
    opt.step();
    CAPTURE(step);
    HostTensor l = host_copy(o.loss->v);
    CHECK(l->f32()[0] == doctest::Approx(losses->f32()[step]).epsilon(1e-5));
    CHECK(norm == doctest::Approx(norms->f32()[step]).epsilon(1e-4));
    t.reset();
  }
  double worst = 0;
  for (Param& p : m.ps.all()) {
    CAPTURE(p.name);
    HostTensor ref = m.golden.read_f32("after5." + p.name);
    if (is_key_bias(p.name)) {
      HostTensor w = host_copy(p.w);
      for (int64_t i = 0; i < p.w.numel(); ++i) CHECK(std::fabs(w->f32()[i] - ref->f32()[i]) <= 2 * 5 * 1e-3 * 1.01);
      continue;
    }
    const double e = rel(p.w, *ref);
    CHECK(e <= 1e-5);
    worst = std::max(worst, e);
  }
  MESSAGE("cuda: worst parameter rel L2 error after 5 AdamW steps: ", worst);
}

TEST_CASE("cuda bert: with dropout, the same masks as the CPU backend" * doctest::skip(!have_fixture())) {
  const Backend be = gpu();
  TinyBert g(Device::CUDA, 0.1f), c(Device::CPU, 0.1f);
  Arena ga(Device::CUDA), ca;
  Tape gt(ga, be, 42), ct(ca, 42);
  auto go = g.forward(gt);
  auto co = c.forward(ct);
  const double el = rel(go.loss->v, co.loss->v);
  MESSAGE("cuda vs cpu with dropout 0.1: loss rel error ", el);
  CHECK(el <= 1e-5);
  // with dropout the loss differs from the dropout-free fixture: the masks did something
  CHECK(rel(go.loss->v, *g.golden.read_f32("loss")) > 1e-4);
  gt.backward(go.loss);
  ct.backward(co.loss);
  for (Param& p : g.ps.all()) {
    if (is_key_bias(p.name)) continue;
    CAPTURE(p.name);
    CHECK(rel(p.g, c.ps.at(p.name).g) <= 1e-5);
  }
}

namespace {

// A step in reduced precision (g, on tape gt) against PyTorch's fp32 fixtures: hidden, pooled
// and loss within 5u = 1e-2, every gradient within 10u = 2e-2 (key biases, 0 in exact
// arithmetic: noise-sized next to the query biases), and the hidden state different from the
// fp32 step's (fo), so the reduced-precision path did run.
void check_reduced_step(TinyBert& g, Tape& gt, const TinyBert::Out& fo, const char* what) {
  auto go = g.forward(gt);
  CHECK(go.hidden->v.dtype == DType::F32);
  const double eh = rel(go.hidden->v, *g.golden.read_f32("last_hidden_state"));
  const double ep = rel(go.pooled->v, *g.golden.read_f32("pooler_output"));
  const double el = rel(go.loss->v, *g.golden.read_f32("loss"));
  MESSAGE("cuda ", std::string(what), " vs PyTorch fp32 rel L2: hidden ", eh, ", pooled ", ep, ", loss ", el);
  CHECK(eh <= 1e-2);
  CHECK(ep <= 1e-2);
  CHECK(el <= 1e-2);
  CHECK(rel(go.hidden->v, fo.hidden->v) > 1e-6);  // not the fp32 kernels
  gt.backward(go.loss);
  double worst = 0;
  std::string worst_name;
  for (Param& p : g.ps.all()) {
    CAPTURE(p.name);
    CHECK(p.g.dtype == DType::F32);
    if (is_key_bias(p.name)) {
      const std::string q = p.name.substr(0, p.name.find("key.bias")) + "query.bias";
      CHECK(norm_of(p.g) <= 2e-2 * norm_of(g.ps.at(q).g));
      continue;
    }
    const double e = rel(p.g, *g.golden.read_f32("grad." + p.name));
    CHECK(e <= 2e-2);
    if (e > worst) worst = e, worst_name = p.name;
  }
  MESSAGE("cuda ", std::string(what), ": worst gradient rel L2 error vs PyTorch fp32: ", worst, " (", worst_name, ")");
}

}  // namespace

// Math::bf16: attention runs on the tensor-core kernels (head dim 16 here), with Q, K, V, P' and
// dS rounded to bf16, and every linear layer on cuBLASLt FAST_16BF (inputs rounded to bf16);
// unit roundoff u = 2^-9 = 2e-3. Every other op is fp32. The step must stay within a few u of
// PyTorch's fp32 (check_reduced_step: the backward adds the dS rounding and amplifies through
// two layers, hence 10u for gradients). A wrong index or fragment would give O(1) errors.
TEST_CASE("cuda bert: bf16 math (tensor-core attention, bf16 GEMMs) stays within bf16 error of PyTorch" *
          doctest::skip(!have_fixture())) {
  const Backend be = gpu();
  TinyBert g(Device::CUDA), f(Device::CUDA);
  Arena ga(Device::CUDA), fa(Device::CUDA);
  Tape ft(fa, be);
  auto fo = f.forward(ft);  // fp32, for the "did it run" check
  Backend bf16_math = be;   // fp32 storage, the table whose GEMMs and attention compute in bf16
  bf16_math.kernels = &cuda::kernels(cuda::Math::bf16);
  Tape gt(ga, bf16_math);
  check_reduced_step(g, gt, fo, "bf16 math");
}

// bf16 storage (Tape::set_act_dtype(BF16)): every activation of the encoder and its gradient
// is bf16 in the arena, the linear layers read bf16 copies of their weights, parameters,
// their gradients and the optimizer state stay fp32 (kernels/kernel_table.h, KernelTableBf16).
// The bounds are those of the bf16-math case above (check_reduced_step), set before the first
// run. The arena must hold fewer bytes than the fp32 step's (with backward). 5 AdamW steps:
// each loss within 1e-2 relative of torch's fp32 run.
TEST_CASE("cuda bert: bf16 storage (bf16 activations, fp32 master weights) stays within bf16 error of PyTorch" *
          doctest::skip(!have_fixture())) {
  const Backend be = gpu();
  TinyBert g(Device::CUDA), f(Device::CUDA);
  Arena ga(Device::CUDA), fa(Device::CUDA);
  Tape ft(fa, be);
  auto fo = f.forward(ft);
  ft.backward(fo.loss);
  Tape gt(ga, be);
  gt.set_act_dtype(DType::BF16);
  check_reduced_step(g, gt, fo, "bf16 storage");
  MESSAGE("arena high water: fp32 step ", fa.high_water(), " bytes, bf16 storage ", ga.high_water(), " bytes");
  CHECK(ga.high_water() < fa.high_water());

  // 5 AdamW steps with clipping, bf16 storage throughout
  TinyBert m(Device::CUDA);
  Arena arena(Device::CUDA);
  AdamW opt(m.ps, AdamWConfig{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f}, be);
  HostTensor losses = m.golden.read_f32("adamw.losses");
  for (int step = 0; step < 5; ++step) {
    Tape t(arena, be);
    t.set_act_dtype(DType::BF16);
    m.ps.zero_grad();
    auto o = m.forward(t);
    t.backward(o.loss);
    clip_grad_norm(m.ps, 1.0, be);
    opt.step();
    CAPTURE(step);
    HostTensor l = host_copy(o.loss->v);
    CHECK(l->f32()[0] == doctest::Approx(losses->f32()[step]).epsilon(1e-2));
    t.reset();
  }
}

TEST_CASE("cuda bert: bf16 storage is refused on a backend without bf16 kernels") {
  Arena a;
  Tape t(a);
  CHECK_THROWS_WITH(t.set_act_dtype(DType::BF16), doctest::Contains("the cpu backend has none"));
  CHECK_THROWS(t.set_act_dtype(DType::I32));
}
