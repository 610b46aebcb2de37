// BertModel's forward with the tape (recording, as training runs it) and without (NoGrad, the
// inference path of `metarec embed` and the frozen encoder, engine/bert.h), on any backend: the
// outputs, the arena's high water and the number of records. For tests/core/bert_infer_test.cpp
// (CPU) and tests/cuda/bert_infer_cuda_test.cpp (the CUDA backend, under the SIMT emulator here).
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/bert.h"
#include "tests/core/tiny_bert.h"

namespace mr::test {

// A BERT with HF-style random weights (BertModel::init_random on the host, copied to `dev`).
struct RandomBert {
  BertConfig cfg;
  ParamStore ps;
  std::unique_ptr<BertModel> bert;
  RandomBert(const BertConfig& c, Device dev, uint64_t seed) : cfg(c) {
    bert = std::make_unique<BertModel>(cfg, ps, "", true);
    ps.finalize(dev);
    ParamStore host;
    BertModel hb(cfg, host, "", true);
    host.finalize();
    hb.init_random(seed);
    REQUIRE(host.all().size() == ps.all().size());
    for (size_t i = 0; i < ps.all().size(); ++i) copy(ps.all()[i].w, host.all()[i].w);
  }
};

// A width-64 config of `layers` layers (4 heads, FFN 256, 64 positions).
inline BertConfig small_config(int layers) {
  BertConfig c;
  c.vocab_size = 300;
  c.hidden_size = 64;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.intermediate_size = 256;
  c.max_position_embeddings = 64;
  c.hidden_dropout_prob = 0.1f;  // off at inference (set_training(false)) on both paths
  c.attention_probs_dropout_prob = 0.1f;
  return c;
}

// (B, T) ids, token types and a padding mask (row i has lens[i] tokens), on `dev`.
struct Inputs {
  std::unique_ptr<TinyBert::OnDevice> ids, types, mask;
  int B = 0, T = 0;
  Inputs(const std::vector<int>& lens, int T_, int vocab, Device dev, uint64_t seed) : B(int(lens.size())), T(T_) {
    HostTensor hi(Shape{B, T}, DType::I32), ht(Shape{B, T}, DType::I32), hm(Shape{B, T}, DType::I32);
    std::mt19937_64 r(seed);
    for (int i = 0; i < B; ++i)
      for (int k = 0; k < T; ++k) {
        const bool real = k < lens[size_t(i)];
        hi->i32()[i * T + k] = real ? int32_t(r() % uint64_t(vocab)) : 0;
        ht->i32()[i * T + k] = real && k > T / 2 ? 1 : 0;
        hm->i32()[i * T + k] = real ? 1 : 0;
      }
    ids = std::make_unique<TinyBert::OnDevice>(hi.t, dev);
    types = std::make_unique<TinyBert::OnDevice>(ht.t, dev);
    mask = std::make_unique<TinyBert::OnDevice>(hm.t, dev);
  }
};

struct Forward {
  std::vector<float> hidden, pooled;  // (B*T, C), (B, C) on the host
  size_t high_water = 0;              // the arena's, bytes
  size_t records = 0;                 // tape records the forward made
};

inline std::vector<float> to_host(const Tensor& x) {
  const HostTensor h = host_copy(x);
  return std::vector<float>(h->f32(), h->f32() + h->numel());
}

// recording: the tape forward (gradients enabled, every op recorded for a backward);
// otherwise NoGrad. Dropout is off either way. act: the activation storage type (bf16: CUDA).
// split > 0: embed + layers [0, split) and then [split, L) as two forward_layers calls (the
// frozen bottom and the top of the item tower), no pooler.
inline Forward run_forward(BertModel& m, const Backend& be, bool recording, const Tensor& ids, const Tensor& types,
                           const Tensor& mask, DType act = DType::F32, int split = 0) {
  Arena arena(be.dev);
  Tape t(arena, be);
  t.set_training(false);
  t.set_act_dtype(act);
  std::optional<NoGrad> ng;
  if (!recording) ng.emplace(t);
  Forward f;
  if (split > 0) {
    const int B = int(ids.size(0)), T = int(ids.size(1)), L = m.config().num_hidden_layers;
    Var* x = m.forward_layers(t, m.embed(t, ids, types), mask, B, T, 0, split);
    x = m.forward_layers(t, x, mask, B, T, split, L - split);
    f.hidden = to_host(x->v);
  } else {
    auto o = m.forward(t, ids, types, mask);
    f.hidden = to_host(o.hidden->v);
    f.pooled = to_host(o.pooled->v);
  }
  f.high_water = arena.high_water();
  f.records = t.num_records();
  return f;
}

// Bit-for-bit equality of two float vectors (NaN never equals); says where they first differ.
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  if (a.size() != b.size()) {
    MESSAGE(std::string(what), ": sizes ", a.size(), " and ", b.size());
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 || std::isnan(a[i])) {
      MESSAGE(std::string(what), ": element ", i, " differs: ", a[i], " vs ", b[i]);
      return false;
    }
  return !a.empty();
}

}  // namespace mr::test
