// The tiny-BERT fixture of tools/golden/tiny_bert.py (tests/data/tiny_bert: 2 layers, hidden 64,
// 4 heads, a batch of 3 x 17 with padding) with the two heads the fixture trains: a
// classification head on the pooler (cross-entropy) and a regression head on the masked mean
// (MSE), summed. On the CPU (tests/core/bert_test.cpp) or on the CUDA backend
// (tests/cuda/bert_cuda_test.cpp): parameters and inputs live on `dev`.
#pragma once
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "engine/bert.h"
#include "engine/ops.h"
#include "weights/safetensors.h"

namespace mr::test {

inline const std::string kTinyBertDir = "tests/data/tiny_bert/";
inline bool have_tiny_bert() { return std::filesystem::exists(kTinyBertDir + "golden.safetensors"); }

struct TinyBert {
  // A tensor on a device, copied from a host tensor.
  struct OnDevice {
    Buffer buf;
    Tensor t;
    OnDevice(const Tensor& host, Device dev) : buf(host.nbytes(), dev), t(buf.as(host.shape, host.dtype)) {
      copy(t, host);
    }
  };

  Device dev;
  BertConfig cfg;
  ParamStore ps;
  std::unique_ptr<BertModel> bert;
  Param *cls_w, *cls_b, *reg_w, *reg_b;
  SafeTensors golden{kTinyBertDir + "golden.safetensors"};
  std::unique_ptr<OnDevice> ids, types, mask, labels, targets;
  int B, T;

  explicit TinyBert(Device d = Device::CPU, float dropout = 0.0f) : dev(d) {
    cfg = BertConfig::from_json_file(kTinyBertDir + "config.json");
    cfg.hidden_dropout_prob = dropout;
    cfg.attention_probs_dropout_prob = dropout;
    bert = std::make_unique<BertModel>(cfg, ps, "", true);
    cls_w = &ps.add("head.cls.weight", Shape{3, cfg.hidden_size});
    cls_b = &ps.add("head.cls.bias", Shape{3}, false);
    reg_w = &ps.add("head.reg.weight", Shape{1, cfg.hidden_size});
    reg_b = &ps.add("head.reg.bias", Shape{1}, false);
    ps.finalize(dev);
    SafeTensors w(kTinyBertDir + "model.safetensors");
    for (Param& p : ps.all()) {
      HostTensor h(p.w.shape);
      w.read_into(p.name, *h);
      copy(p.w, *h);
    }
    CHECK(w.names().size() == ps.all().size());
    auto up = [&](const HostTensor& h) { return std::make_unique<OnDevice>(h.t, dev); };
    ids = up(golden.read_i32("input_ids"));
    types = up(golden.read_i32("token_type_ids"));
    mask = up(golden.read_i32("attention_mask"));
    labels = up(golden.read_i32("labels"));
    targets = up(golden.read_f32("targets"));
    B = int(ids->t.size(0));
    T = int(ids->t.size(1));
  }

  struct Out {
    Var *hidden, *pooled, *loss;
  };
  Out forward(Tape& t) {
    auto o = bert->forward(t, ids->t, types->t, mask->t);
    Var* logits = ops::linear(t, o.pooled, t.param(*cls_w), t.param(*cls_b));
    Var* l1 = ops::cross_entropy(t, logits, labels->t);
    Var* r = ops::linear(t, ops::mean_pool(t, o.hidden, mask->t, B, T), t.param(*reg_w), t.param(*reg_b));
    Var* l2 = ops::mse(t, r, targets->t);
    return {o.hidden, o.pooled, ops::weighted_sum(t, {{l1, 1.0f}, {l2, 1.0f}})};
  }
};

}  // namespace mr::test
