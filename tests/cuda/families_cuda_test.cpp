// The BERT family on the CUDA backend (the SIMT emulator here, a GPU natively): each fixture of
// tools/golden/families_golden.py (tests/data/families: bert, roberta, xlm-roberta, distilbert,
// electra, mpnet) embedded by TextEncoder on the device in fp32, against transformers' masked means
// of the same texts, within 1e-5 max abs as on the CPU (tests/core/families_test.cpp). It runs
// what the families add on the device: the position table seen from pad_token_id + 1
// (RoBERTa, XLM-R, MPNet), the zero token-type row (DistilBERT, MPNet), ELECTRA's
// embeddings_project, MPNet's relative position bias.
// A second case runs forward and backward on the device over the fixture's padded id batch
// (tests/core/families.h): hidden states on the real tokens, the masked mean and the MSE loss
// within 1e-5 relative L2 (hidden states also 1e-5 max abs), the kept gradients within 1e-4.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "engine/encoder.h"
#include "tests/core/families.h"
#include "weights/safetensors.h"

using namespace mr;
namespace fs = std::filesystem;

TEST_CASE("cuda families: embed on the device matches transformers for every family" *
          doctest::skip(!test::have_families())) {
  const Backend be = make_backend("cuda", "fp32", "families test");
  std::vector<std::string> texts;
  {
    std::ifstream f("tests/data/families/texts.txt");
    for (std::string l; std::getline(f, l);) texts.push_back(l);
  }
  for (const std::string fam : test::kFamilies) {
    CAPTURE(fam);
    const std::string dir = "tests/data/families/" + fam;
    SafeTensors g(dir + "/golden.safetensors");
    HostTensor ref = g.read_f32("text_mean");
    TextEncoder enc(dir, be);
    EmbedOptions o;
    o.pool = "mean";
    o.normalize = 0;
    const std::vector<float> v = enc.embed(texts, o);
    REQUIRE(v.size() == size_t(ref->numel()));
    const double m = test::max_abs_err(v.data(), ref->f32(), v.size());
    MESSAGE(fam, " on ", be.str(), ": max abs error ", m);
    CHECK(m <= 1e-5);
  }
}

TEST_CASE("cuda families: forward and the kept gradients on the device match transformers for every family" *
          doctest::skip(!test::have_families())) {
  const Backend be = make_backend("cuda", "fp32", "families test");
  for (const std::string fam : test::kFamilies) {
    CAPTURE(fam);
    const test::FamilyErrors e = test::family_forward_backward(fam, test::kFamiliesDir + fam, be);
    MESSAGE(fam, " on ", be.str(), ": hidden rel L2 ", e.hidden_rel, " max abs ", e.hidden_max, ", mean ", e.mean_rel,
            ", loss ", e.loss_rel, "; worst of ", e.grads, " gradients ", e.worst_grad);
    CHECK(e.grads == e.grad_keys);
    CHECK(e.hidden_rel <= 1e-5);
    CHECK(e.hidden_max <= 1e-5);
    CHECK(e.mean_rel <= 1e-5);
    CHECK(e.loss_rel <= 1e-5);
  }
}
