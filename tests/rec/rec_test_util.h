// Helpers shared by the recommender's tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine/rec/config.h"
#include "engine/rec/model.h"

namespace mr::rec_test {

// The loss of m on b with the tape's random stream at (seed, offset), which fixes dropout and
// the sampled negatives; with grad, also every parameter's gradient (flat layout).
inline double loss_at(rec::RecModel& m, const rec::Batch& b, std::vector<float>* grad, uint64_t seed, uint64_t off) {
  Arena a;
  Tape t(a, seed);
  t.set_rng(seed, off);
  m.params().zero_grad();
  Var* l = m.loss(t, b);
  const double v = l->v.f32()[0];
  if (grad) {
    t.backward(l);
    auto g = m.params().flat_grads();
    grad->assign(g.f32(), g.f32() + g.numel());
    m.params().zero_grad();
  }
  return v;
}

// (f(x + h) - f(x - h)) / 2h, x restored.
template <class F>
double central_diff(float& x, F&& f, float h = 1e-2f) {
  const float x0 = x;
  x = x0 + h;
  const double lp = f();
  x = x0 - h;
  const double lm = f();
  x = x0;
  return (lp - lm) / (2 * double(h));
}

// The gradient of m's loss on b (tape stream at seed, offset) against central finite differences
// at the entries `at(p)` of each named parameter: |got - fd| < 2e-3 + 2e-2 |fd| (float32 forward,
// h = 1e-2). Returns how many entries were checked.
template <class At>
int check_param_grads(rec::RecModel& m, const rec::Batch& b, std::initializer_list<const char*> names, At&& at,
                      uint64_t seed, uint64_t off) {
  std::vector<float> g;
  loss_at(m, b, &g, seed, off);
  int checked = 0;
  for (const char* name : names) {
    Param& p = m.params().at(name);
    for (int64_t i : at(p)) {
      const double fd = central_diff(p.w.f32()[i], [&] { return loss_at(m, b, nullptr, seed, off); });
      const double got = g[size_t(p.offset + i)];
      CAPTURE(name); CAPTURE(i); CAPTURE(fd); CAPTURE(got);
      CHECK(std::abs(got - fd) < 2e-3 + 2e-2 * std::abs(fd));
      checked++;
    }
  }
  return checked;
}

// entries 1, n/2 and n-2 of a parameter
inline std::vector<int64_t> three_entries(const Param& p) { return {1, p.w.numel() / 2, p.w.numel() - 2}; }

// (rows, H) features of an ItemBert built from s (checkpoint loaded), dropout off.
inline std::vector<float> item_features(const rec::ItemBertSpec& s, const std::vector<int32_t>& rows) {
  ParamStore ps;
  rec::ItemBert ib(s, ps);
  ps.finalize();
  ib.load(ps);
  Arena a;
  Tape t(a);
  t.set_training(false);
  NoGrad ng(t);
  Var* f = ib.features(t, rows);
  return {f->v.f32(), f->v.f32() + f->v.numel()};
}

// The run tests' data set, written under DIR (emptied first): 40 users x 15 interactions over
// 45 items in 3 groups, RecBole atomic files in DIR/syn (returned).
inline std::string synthetic(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/syn");
  std::ofstream in(dir + "/syn/syn.inter"), it(dir + "/syn/syn.item");
  in << "user_id:token\titem_id:token\ttimestamp:float\n";
  it << "item_id:token\ttitle:token_seq\n";
  std::mt19937_64 r(4);
  for (int u = 0; u < 40; ++u) {
    const int g = u % 3;
    std::vector<int> perm(15);
    for (int j = 0; j < 15; ++j) perm[j] = g * 15 + j;
    std::shuffle(perm.begin(), perm.end(), r);
    for (int j = 0; j < 15; ++j) in << "u" << u << "\ti" << perm[j] << "\t" << (u * 100 + j) << "\n";
  }
  for (int i = 0; i < 45; ++i) it << "i" << i << "\tItem " << i << "\n";
  in.close();
  it.close();
  return dir + "/syn";
}

// A tiny model and meta-batch on DATA (synthetic()) with item embeddings from the .npy EMB.
inline rec::Config small_config(const std::string& data, const std::string& emb) {
  rec::Config c;
  c.set_json("data.path", data, "test");
  c.set_json("encoder.embeddings", emb, "test");
  for (const char* kv : {"model.dim=8", "model.heads=2", "model.ffn=16", "model.max_history=4", "model.tau=1.0",
                         "train.meta_batch=3", "train.warmup=0", "train.decay=none", "train.ckpt_every=3",
                         "train.log_every=1", "eval.k_shots=3", "eval.baselines=pop", "task.k_shots=1,3",
                         "task.query_size=4"})
    c.set(kv);
  return c;
}

}  // namespace mr::rec_test
