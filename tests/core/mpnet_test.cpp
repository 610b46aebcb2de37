// MPNet in BertModel (relative position bias, offset positions, no token types) against
// PyTorch + HuggingFace transformers (tests/data/tiny_mpnet, made by tools/golden/mpnet_golden.py:
// MPNetModel, 2 layers, hidden 64, 4 heads, 32 buckets, batch 3 x 33 with padding, dropout off).
// Thresholds (fp32 on both sides, different summation orders):
//   last hidden state (the real tokens' rows) and the loss: relative L2 error <= 1e-5;
//   every gradient tensor: relative L2 error <= 1e-4 (the bound), the relative
//     attention bias table's included; the key biases, whose exact gradient is 0 (a constant
//     added to every key shifts a score row by a constant), are checked to be noise-sized
//     next to the query biases' instead (as tests/core/bert_test.cpp);
//   relative_position_bucket: equal to transformers' on relative positions -300..300.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "engine/bert.h"
#include "engine/family.h"
#include "tests/core/op_harness.h"
#include "tests/core/tiny_mpnet.h"

using namespace mr;

namespace {

bool have_fixture() { return test::have_tiny_mpnet(); }

void check_against_fixture(bool reference_kernels) {
  test::TinyMpnet m;
  Arena arena;
  Tape t(arena);
  t.use_reference(reference_kernels);
  auto o = m.bert->forward(t, m.ids, Tensor{}, m.mask);
  HostTensor ref_h = m.golden.read_f32("last_hidden_state");
  const auto got = m.real_rows(o.hidden->v.f32()), want = m.real_rows(ref_h->f32());
  const double eh = test::rel_l2(got.data(), want.data(), want.size());
  const double loss = m.loss_of(o.hidden->v.f32()), ref_loss = m.golden.read_f32("loss")->f32()[0];
  const double el = std::fabs(loss - ref_loss) / std::fabs(ref_loss);
  MESSAGE("mpnet rel errors (", reference_kernels ? "ref" : "cpu", "): hidden ", eh, ", loss ", el);
  CHECK(eh <= 1e-5);
  CHECK(el <= 1e-5);
  t.backward(o.hidden, m.seed);
  double worst = 0, rel_bias = -1;
  for (Param& p : m.ps.all()) {
    const std::string hf = find_family("mpnet")->hf_name(p.name);
    HostTensor ref = m.golden.read_f32("grad." + hf);
    REQUIRE(ref->numel() == p.g.numel());
    if (hf.find("attention.attn.k.bias") != std::string::npos) {
      const Param& q = m.ps.at(p.name.substr(0, p.name.find("key.bias")) + "query.bias");
      const double qn = std::sqrt(kCpuKernels.sumsq(q.g.f32(), q.g.numel()));
      CHECK(std::sqrt(kCpuKernels.sumsq(p.g.f32(), p.g.numel())) <= 1e-5 * qn);
      CHECK(std::sqrt(kCpuKernels.sumsq(ref->f32(), ref->numel())) <= 1e-5 * qn);
      continue;
    }
    const double e = test::rel_l2(p.g.f32(), ref->f32(), size_t(ref->numel()));
    INFO("gradient of ", p.name, " (HF ", hf, ") rel L2 error ", e);
    CHECK(e <= 1e-4);
    worst = std::max(worst, e);
    if (hf == "encoder.relative_attention_bias.weight") rel_bias = e;
  }
  MESSAGE("mpnet worst gradient rel L2 error: ", worst, " over ", m.ps.all().size(),
          " tensors; relative_attention_bias: ", rel_bias);
  CHECK(rel_bias >= 0);  // the table has a gradient and was compared
}

}  // namespace

TEST_CASE("mpnet: relative_position_bucket equals transformers' (-300..300)" * doctest::skip(!have_fixture())) {
  SafeTensors g(test::kTinyMpnetDir + "golden.safetensors");
  HostTensor rel = g.read_i32("bucket.rel"), val = g.read_i32("bucket.value");
  REQUIRE(rel->numel() == val->numel());
  int bad = 0;
  for (int64_t k = 0; k < rel->numel(); ++k) {
    const int r = rel->i32()[k], want = val->i32()[k], got = mpnet_relative_position_bucket(r);
    if (got != want) {
      ++bad;
      MESSAGE("relative position ", r, ": bucket ", got, ", transformers ", want);
    }
  }
  CHECK(bad == 0);
  // a few by hand: keys before the query 0..15, after it 16..31; exact below 8; the log
  // boundaries 16, 32, 64 land on 10, 12, 14; 128 and beyond saturate at 15
  CHECK(mpnet_relative_position_bucket(0) == 0);
  CHECK(mpnet_relative_position_bucket(-7) == 7);
  CHECK(mpnet_relative_position_bucket(7) == 23);
  CHECK(mpnet_relative_position_bucket(-16) == 10);
  CHECK(mpnet_relative_position_bucket(32) == 28);
  CHECK(mpnet_relative_position_bucket(-64) == 14);
  CHECK(mpnet_relative_position_bucket(-1000) == 15);
  CHECK(mpnet_relative_position_bucket(1000) == 31);
}

TEST_CASE("mpnet: HF names map onto BertModel's and back") {
  CHECK(find_family("mpnet")->hf_name("encoder.layer.3.attention.self.query.weight") == "encoder.layer.3.attention.attn.q.weight");
  CHECK(find_family("mpnet")->hf_name("encoder.layer.0.attention.self.value.bias") == "encoder.layer.0.attention.attn.v.bias");
  CHECK(find_family("mpnet")->hf_name("encoder.layer.11.attention.output.dense.weight") == "encoder.layer.11.attention.attn.o.weight");
  CHECK(find_family("mpnet")->hf_name("encoder.layer.1.attention.output.LayerNorm.bias") == "encoder.layer.1.attention.LayerNorm.bias");
  CHECK(find_family("mpnet")->hf_name("encoder.layer.1.output.LayerNorm.bias") == "encoder.layer.1.output.LayerNorm.bias");
  CHECK(find_family("mpnet")->hf_name("encoder.relative_attention_bias.weight") == "encoder.relative_attention_bias.weight");
  CHECK(find_family("mpnet")->hf_name("embeddings.position_embeddings.weight") == "embeddings.position_embeddings.weight");
}

TEST_CASE("mpnet: config: buckets, position offset, no token types" * doctest::skip(!have_fixture())) {
  const BertConfig c = BertConfig::from_json_file(test::kTinyMpnetDir + "config.json");
  CHECK(c.model_type == "mpnet");
  CHECK(c.relative_attention_num_buckets == 32);
  CHECK(c.position_offset() == 2);
  CHECK(!c.token_types());
  CHECK(BertConfig::from_json_file("tests/data/tiny_bert/config.json").relative_attention_num_buckets == 0);
  BertConfig bad = c;
  bad.relative_attention_num_buckets = 16;
  CHECK_THROWS_WITH(bad.validate("x"), doctest::Contains("at least 32"));
}

TEST_CASE("mpnet: forward and every gradient match PyTorch/HF (cpu kernels)" * doctest::skip(!have_fixture())) {
  check_against_fixture(false);
}

TEST_CASE("mpnet: forward and every gradient match PyTorch/HF (reference kernels)" * doctest::skip(!have_fixture())) {
  check_against_fixture(true);
}

TEST_CASE("mpnet: inference (NoGrad, one layer at a time) gives the recording forward's bits" *
          doctest::skip(!have_fixture())) {
  test::TinyMpnet m;
  Arena a1, a2;
  Tape t1(a1), t2(a2);
  auto o1 = m.bert->forward(t1, m.ids, Tensor{}, m.mask);
  Var* h2;
  {
    NoGrad ng(t2);
    h2 = m.bert->forward(t2, m.ids, Tensor{}, m.mask).hidden;
  }
  const size_t n = size_t(o1.hidden->v.numel());
  CHECK(std::memcmp(o1.hidden->v.f32(), h2->v.f32(), n * 4) == 0);
}
