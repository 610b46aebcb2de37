// The tiny-MPNet fixture of tools/golden/mpnet_golden.py (tests/data/tiny_mpnet: HF MPNetModel,
// 2 layers, hidden 64, 4 heads, 32 relative-attention buckets, a batch of 3 x 33 with padding,
// dropout off) loaded into a BertModel through the MPNet config and names
// (engine/family.h's mpnet row). Loss = sum over real tokens of last_hidden_state * r: the backward is
// seeded with r * mask. On the CPU (tests/core/mpnet_test.cpp) or the CUDA backend
// (tests/cuda/mpnet_cuda_test.cpp): parameters and inputs live on `dev`.
#pragma once
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "engine/bert.h"
#include "engine/io/hf_bert.h"
#include "weights/safetensors.h"

namespace mr::test {

inline const std::string kTinyMpnetDir = "tests/data/tiny_mpnet/";
inline bool have_tiny_mpnet() { return std::filesystem::exists(kTinyMpnetDir + "golden.safetensors"); }

struct TinyMpnet {
  Device dev;
  BertConfig cfg;
  ParamStore ps;
  std::unique_ptr<BertModel> bert;
  SafeTensors golden{kTinyMpnetDir + "golden.safetensors"};
  HostTensor ids_h, mask_h, seed_h;  // seed: r * mask, (B*T, C)
  Buffer ids_b, mask_b, seed_b;
  Tensor ids, mask, seed;
  int B, T, C;

  explicit TinyMpnet(Device d = Device::CPU) : dev(d) {
    cfg = BertConfig::from_json_file(kTinyMpnetDir + "config.json");
    REQUIRE(cfg.model_type == "mpnet");
    bert = std::make_unique<BertModel>(cfg, ps, "", false);
    ps.finalize(dev);
    SafeTensors w(kTinyMpnetDir + "model.safetensors");
    const HfLoadReport rep = load_hf_bert(w, *bert, ps);
    CHECK(rep.missing.empty());
    CHECK(rep.unexpected.empty());
    ids_h = golden.read_i32("input_ids");
    mask_h = golden.read_i32("attention_mask");
    B = int(ids_h->size(0)), T = int(ids_h->size(1)), C = cfg.hidden_size;
    HostTensor r = golden.read_f32("r");
    seed_h = HostTensor(Shape{int64_t(B) * T, C});
    for (int64_t bt = 0; bt < int64_t(B) * T; ++bt)
      for (int c = 0; c < C; ++c) seed_h->f32()[bt * C + c] = mask_h->i32()[bt] ? r->f32()[bt * C + c] : 0.0f;
    auto up = [&](Buffer& b, const HostTensor& h) {
      b = Buffer(h->nbytes(), dev);
      Tensor t = b.as(h->shape, h->dtype);
      copy(t, h.t);
      return t;
    };
    ids = up(ids_b, ids_h);
    mask = up(mask_b, mask_h);
    seed = up(seed_b, seed_h);
  }

  // The rows of the real tokens of a (B*T, C) host tensor.
  std::vector<float> real_rows(const float* x) const {
    std::vector<float> out;
    for (int64_t bt = 0; bt < int64_t(B) * T; ++bt)
      if (mask_h->i32()[bt]) out.insert(out.end(), x + bt * C, x + (bt + 1) * C);
    return out;
  }
  // sum over real tokens of h * r
  double loss_of(const float* h) const {
    double l = 0;
    for (int64_t e = 0; e < int64_t(B) * T * C; ++e) l += double(h[e]) * double(seed_h->f32()[e]);
    return l;
  }
};

}  // namespace mr::test
