// Inference without the tape (issue 27 item 5): under NoGrad, BertModel::forward_layers keeps only
// the layer being computed (engine/bert.h). Checked on the CPU backend:
//   * its outputs equal the tape forward's bit for bit (the same kernels on the same inputs;
//     only where the temporaries live changes), on the tiny-BERT fixture (which also still
//     matches PyTorch's last hidden state, relative L2 <= 1e-5 as tests/core/bert_test.cpp) and
//     on random 2- and 12-layer BERTs, also when the layers run as two calls (frozen bottom + top);
//   * its activation high water (the arena's) is the same for 2 and 12 layers of one width
//     (within one layer's worth), while the tape forward's grows by at least the layers'
//     (B*T, 3C) QKV and (B*T, F) FFN activations per layer.
// The same equality on the CUDA backend: tests/cuda/bert_infer_cuda_test.cpp.
#include <doctest/doctest.h>

#include "tests/core/infer_forward.h"
#include "tests/core/op_harness.h"

using namespace mr;
using namespace mr::test;

TEST_CASE("bert inference: the NoGrad forward equals the tape forward bit for bit (tiny BERT fixture)" *
          doctest::skip(!have_tiny_bert())) {
  TinyBert m;
  const Backend be;
  const Forward tape = run_forward(*m.bert, be, true, m.ids->t, m.types->t, m.mask->t);
  const Forward inf = run_forward(*m.bert, be, false, m.ids->t, m.types->t, m.mask->t);
  CHECK(tape.records > 0);  // the tape forward did record (it keeps every layer for a backward)
  CHECK(inf.records == 0);
  CHECK(same_bits(inf.hidden, tape.hidden, "last hidden state"));
  CHECK(same_bits(inf.pooled, tape.pooled, "pooled output"));
  HostTensor ref = m.golden.read_f32("last_hidden_state");
  REQUIRE(size_t(ref->numel()) == inf.hidden.size());
  CHECK(rel_l2(inf.hidden.data(), ref->f32(), inf.hidden.size()) <= 1e-5);
  MESSAGE("tiny BERT activation high water: tape ", tape.high_water, " bytes, NoGrad ", inf.high_water, " bytes");
  CHECK(inf.high_water < tape.high_water);
}

TEST_CASE("bert inference: the activation high water does not grow with depth, the tape's does") {
  const Backend be;
  const std::vector<int> lens = {32, 20, 7, 1};
  const int T = 32, B = int(lens.size());
  const BertConfig c2 = small_config(2), c12 = small_config(12);
  RandomBert m2(c2, Device::CPU, 7), m12(c12, Device::CPU, 7);
  Inputs in(lens, T, c2.vocab_size, Device::CPU, 3);
  const Forward tape2 = run_forward(*m2.bert, be, true, in.ids->t, in.types->t, in.mask->t);
  const Forward inf2 = run_forward(*m2.bert, be, false, in.ids->t, in.types->t, in.mask->t);
  const Forward tape12 = run_forward(*m12.bert, be, true, in.ids->t, in.types->t, in.mask->t);
  const Forward inf12 = run_forward(*m12.bert, be, false, in.ids->t, in.types->t, in.mask->t);
  CHECK(same_bits(inf2.hidden, tape2.hidden, "2 layers: last hidden state"));
  CHECK(same_bits(inf2.pooled, tape2.pooled, "2 layers: pooled output"));
  CHECK(same_bits(inf12.hidden, tape12.hidden, "12 layers: last hidden state"));
  CHECK(same_bits(inf12.pooled, tape12.pooled, "12 layers: pooled output"));

  // what any forward that keeps a layer's activations holds for it, at least: QKV and the FFN hidden
  const size_t N = size_t(B) * T, C = size_t(c2.hidden_size), F = size_t(c2.intermediate_size);
  const size_t floor_per_layer = N * (3 * C + F) * sizeof(float);
  const size_t layer = (tape12.high_water - tape2.high_water) / 10;  // the tape's growth per layer
  MESSAGE("activation high water, bytes: tape 2 layers ", tape2.high_water, ", 12 layers ", tape12.high_water,
          "; NoGrad 2 layers ", inf2.high_water, ", 12 layers ", inf12.high_water, "; one layer's worth ", layer);
  CHECK(tape12.high_water > tape2.high_water);
  CHECK(layer >= floor_per_layer);
  const size_t diff = inf12.high_water > inf2.high_water ? inf12.high_water - inf2.high_water
                                                         : inf2.high_water - inf12.high_water;
  CHECK(diff <= layer);
  // one layer's temporaries plus the hidden states, never two layers' worth: below the 2-layer tape's
  CHECK(inf12.high_water < tape2.high_water);
  CHECK(inf12.high_water * 3 <= tape12.high_water);

  // the frozen bottom and the trainable top as two calls (bottom_hidden, the item tower): the same bits
  const Forward split = run_forward(*m12.bert, be, false, in.ids->t, in.types->t, in.mask->t, DType::F32, 5);
  CHECK(same_bits(split.hidden, tape12.hidden, "12 layers as 5 + 7: last hidden state"));
}
