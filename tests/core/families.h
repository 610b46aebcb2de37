// The BERT-family fixtures of tools/golden/families_golden.py (tests/data/families/<type>) and
// the forward/backward check shared by the CPU test (tests/core/families_test.cpp) and the CUDA
// one (tests/cuda/families_cuda_test.cpp): a model folder's BertModel on `be`, forward over the
// fixture's padded 3 x 12 id batch, masked mean, loss = mse(mean, target), backward; errors
// against transformers' values.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/bert.h"
#include "engine/io/hf_bert.h"
#include "engine/ops.h"
#include "tests/core/op_harness.h"
#include "weights/safetensors.h"

namespace mr::test {

inline const std::string kFamiliesDir = "tests/data/families/";
inline const char* const kFamilies[] = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"};
inline bool have_families() { return std::filesystem::exists(kFamiliesDir + "mpnet/golden.safetensors"); }

inline double max_abs_err(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::isnan(a[i]) ? INFINITY : std::fabs(double(a[i]) - b[i]));
  return m;
}

struct FamilyErrors {
  double hidden_rel = 0, hidden_max = 0, mean_rel = 0, loss_rel = 0, worst_grad = 0;
  int grads = 0, grad_keys = 0;
};

// Gradients of every parameter the fixture keeps ("grad.<HF name>") are compared (CHECKed
// <= 1e-4 relative L2 here, each by name); the caller checks the rest of the returned errors.
inline FamilyErrors family_forward_backward(const std::string& family, const std::string& model_dir, const Backend& be) {
  const BertConfig cfg = BertConfig::from_json_file(model_dir + "/config.json");
  CHECK(cfg.model_type == family);
  SafeTensors st(hf_weights_file(model_dir));
  ParamStore ps;
  BertModel model(cfg, ps, "", hf_has_pooler(st, cfg.family()));
  ps.finalize(be.dev);
  load_hf_bert(st, model, ps);
  SafeTensors g(kFamiliesDir + family + "/golden.safetensors");
  HostTensor ids = g.read_i32("input_ids"), mask = g.read_i32("attention_mask"), types = g.read_i32("token_type_ids");
  HostTensor target = g.read_f32("target");
  const int B = int(ids->size(0)), T = int(ids->size(1)), C = cfg.hidden_size;
  Arena arena(be.dev);
  Tape t(arena, be);
  const Tensor dmask = arena.copy_of(*mask);
  auto o = model.forward(t, arena.copy_of(*ids), arena.copy_of(*types), dmask);
  FamilyErrors r;
  // the real tokens' rows (padded rows are masked out of everything downstream)
  const HostTensor hid = host_copy(o.hidden->v), ref = g.read_f32("last_hidden_state");
  std::vector<float> ours, theirs;
  for (int row = 0; row < B * T; ++row)
    if (mask->i32()[row]) {
      ours.insert(ours.end(), hid->f32() + size_t(row) * C, hid->f32() + size_t(row + 1) * C);
      theirs.insert(theirs.end(), ref->f32() + size_t(row) * C, ref->f32() + size_t(row + 1) * C);
    }
  r.hidden_rel = rel_l2(ours.data(), theirs.data(), ours.size());
  r.hidden_max = max_abs_err(ours.data(), theirs.data(), ours.size());
  Var* mean = ops::mean_pool(t, o.hidden, dmask, B, T);
  const HostTensor m = host_copy(mean->v), ref_mean = g.read_f32("mean");
  r.mean_rel = rel_l2(m->f32(), ref_mean->f32(), size_t(ref_mean->numel()));
  Var* loss = ops::mse(t, mean, arena.copy_of(*target));
  r.loss_rel = rel_l2(host_copy(loss->v)->f32(), g.read_f32("loss")->f32(), 1);
  t.backward(loss);
  for (Param& p : ps.all()) {
    const std::string key = "grad." + cfg.family().hf_name(p.name);
    if (!g.has(key)) continue;
    const HostTensor want = g.read_f32(key), got = host_copy(p.g);
    REQUIRE(want->numel() == got->numel());
    const double e = rel_l2(got->f32(), want->f32(), size_t(want->numel()));
    INFO(family, ": gradient of ", p.name, " (", key, ") rel L2 error ", e);
    CHECK(e <= 1e-4);
    r.worst_grad = std::max(r.worst_grad, e);
    ++r.grads;
  }
  for (auto& n : g.names()) r.grad_keys += n.rfind("grad.", 0) == 0;
  return r;
}

}  // namespace mr::test
