// Inference without the tape on the CUDA backend (the SIMT emulator here, a GPU natively): under
// NoGrad, BertModel::forward_layers releases each layer's temporaries (an arena rewind, then a
// device-to-device copy of the layer's output into one hidden-state buffer; engine/bert.h).
// Its outputs must equal the tape forward's bit for bit, as on the CPU
// (tests/core/bert_infer_test.cpp): the same kernels run on the same inputs in the same order,
// only the temporaries' addresses differ. Cases: the tiny-BERT fixture in fp32 and with bf16
// activations, and a random 4-layer BERT of width 64 (also as 1 + 3 layers, the frozen bottom
// and the top); the NoGrad high water stays below the tape's.
#include <doctest/doctest.h>

#include "engine/backend.h"
#include "tests/core/infer_forward.h"

using namespace mr;
using namespace mr::test;

namespace {
Backend gpu() { return make_backend("cuda", "fp32", "cuda inference test"); }
}  // namespace

TEST_CASE("cuda bert inference: NoGrad forward = tape forward bit for bit (tiny BERT, fp32 and bf16 storage)" *
          doctest::skip(!have_tiny_bert())) {
  const Backend be = gpu();
  TinyBert m(Device::CUDA);
  for (DType act : {DType::F32, DType::BF16}) {
    const std::string dt = dtype_name(act);
    CAPTURE(dt);
    const Forward tape = run_forward(*m.bert, be, true, m.ids->t, m.types->t, m.mask->t, act);
    const Forward inf = run_forward(*m.bert, be, false, m.ids->t, m.types->t, m.mask->t, act);
    CHECK(tape.records > 0);
    CHECK(inf.records == 0);
    CHECK(same_bits(inf.hidden, tape.hidden, "last hidden state"));
    CHECK(same_bits(inf.pooled, tape.pooled, "pooled output"));
    MESSAGE(dt, " activation high water: tape ", tape.high_water, " bytes, NoGrad ", inf.high_water);
    CHECK(inf.high_water < tape.high_water);
  }
}

TEST_CASE("cuda bert inference: a random 4-layer BERT, whole and as 1 + 3 layers, = the tape forward") {
  const Backend be = gpu();
  const BertConfig c = small_config(4);
  RandomBert m(c, Device::CUDA, 11);
  Inputs in({12, 5}, 12, c.vocab_size, Device::CUDA, 5);
  const Forward tape = run_forward(*m.bert, be, true, in.ids->t, in.types->t, in.mask->t);
  const Forward inf = run_forward(*m.bert, be, false, in.ids->t, in.types->t, in.mask->t);
  const Forward split = run_forward(*m.bert, be, false, in.ids->t, in.types->t, in.mask->t, DType::F32, 1);
  CHECK(same_bits(inf.hidden, tape.hidden, "last hidden state"));
  CHECK(same_bits(inf.pooled, tape.pooled, "pooled output"));
  CHECK(same_bits(split.hidden, tape.hidden, "1 + 3 layers: last hidden state"));
  CHECK(inf.high_water < tape.high_water);
}
