// MPNet (relative position bias through the fused attention, forward and backward) on the
// CUDA backend (the SIMT emulator here, a GPU natively) against the PyTorch/HF fixture of
// tests/data/tiny_mpnet (tools/golden/mpnet_golden.py; see tests/core/tiny_mpnet.h) and against
// the CPU backend on the same inputs. Thresholds as tests/core/mpnet_test.cpp: the real tokens'
// hidden states and the loss within 1e-5 relative L2, every gradient within 1e-4 (the key
// biases, exactly 0 in exact arithmetic, noise-sized next to the query biases instead).
#include <doctest/doctest.h>

#include <cmath>

#include "engine/backend.h"
#include "engine/bert.h"
#include "engine/family.h"
#include "tests/core/op_harness.h"
#include "tests/core/tiny_mpnet.h"

using namespace mr;

namespace {

double rel(const Tensor& a, const Tensor& b) {
  REQUIRE(a.numel() == b.numel());
  HostTensor ha = host_copy(a), hb = host_copy(b);
  return test::rel_l2(ha->f32(), hb->f32(), size_t(a.numel()));
}
double norm_of(const Tensor& t) {
  HostTensor h = host_copy(t);
  return std::sqrt(kCpuKernels.sumsq(h->f32(), h->numel()));
}

}  // namespace

TEST_CASE("cuda mpnet: forward and every gradient match PyTorch/HF and the CPU backend" *
          doctest::skip(!test::have_tiny_mpnet())) {
  const Backend be = make_backend("cuda", "fp32", "cuda mpnet test");
  test::TinyMpnet g(Device::CUDA), c(Device::CPU);
  Arena ga(Device::CUDA), ca;
  Tape gt(ga, be), ct(ca);
  auto go = g.bert->forward(gt, g.ids, Tensor{}, g.mask);
  auto co = c.bert->forward(ct, c.ids, Tensor{}, c.mask);
  HostTensor h = host_copy(go.hidden->v), ref = g.golden.read_f32("last_hidden_state");
  const auto got = g.real_rows(h->f32()), want = g.real_rows(ref->f32());
  const double eh = test::rel_l2(got.data(), want.data(), want.size());
  const double ref_loss = g.golden.read_f32("loss")->f32()[0];
  const double el = std::fabs(g.loss_of(h->f32()) - ref_loss) / std::fabs(ref_loss);
  MESSAGE("cuda mpnet vs PyTorch: hidden rel L2 ", eh, ", loss rel ", el);
  CHECK(eh <= 1e-5);
  CHECK(el <= 1e-5);
  CHECK(rel(go.hidden->v, co.hidden->v) <= 1e-5);  // every row, padded ones too (same positions)
  gt.backward(go.hidden, g.seed);
  ct.backward(co.hidden, c.seed);
  double worst = 0;
  for (Param& p : g.ps.all()) {
    const std::string hf = find_family("mpnet")->hf_name(p.name);
    CAPTURE(hf);
    if (hf.find("attention.attn.k.bias") != std::string::npos) {
      const std::string q = p.name.substr(0, p.name.find("key.bias")) + "query.bias";
      CHECK(norm_of(p.g) <= 1e-5 * norm_of(g.ps.at(q).g));
      continue;
    }
    const double e = rel(p.g, *g.golden.read_f32("grad." + hf));
    const double ec = rel(p.g, c.ps.at(p.name).g);
    INFO("gradient rel L2 error vs PyTorch ", e, ", vs cpu ", ec);
    CHECK(e <= 1e-4);
    CHECK(ec <= 1e-4);
    worst = std::max(worst, e);
    if (hf == "encoder.relative_attention_bias.weight") MESSAGE("cuda mpnet: relative_attention_bias gradient rel L2 ", e);
  }
  MESSAGE("cuda mpnet: worst gradient rel L2 error vs PyTorch: ", worst, " over ", g.ps.all().size(), " tensors");
}
