// The BERT family on the CUDA backend (the SIMT emulator here, a GPU natively): each fixture of
// tools/golden/families_golden.py (tests/data/families: bert, roberta, xlm-roberta, distilbert,
// electra) embedded by TextEncoder on the device in fp32, against transformers' masked means
// of the same texts, within 1e-5 max abs as on the CPU (tests/core/families_test.cpp). It runs
// what the families add on the device: the position table seen from pad_token_id + 1
// (RoBERTa, XLM-R), the zero token-type row (DistilBERT), ELECTRA's embeddings_project.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "engine/encoder.h"
#include "weights/safetensors.h"

using namespace mr;
namespace fs = std::filesystem;

TEST_CASE("cuda families: embed on the device matches transformers for every family" *
          doctest::skip(!fs::exists("tests/data/families/electra/golden.safetensors"))) {
  const Backend be = make_backend("cuda", "fp32", "families test");
  std::vector<std::string> texts;
  {
    std::ifstream f("tests/data/families/texts.txt");
    for (std::string l; std::getline(f, l);) texts.push_back(l);
  }
  for (const std::string fam : {"bert", "roberta", "xlm-roberta", "distilbert", "electra"}) {
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
    double m = 0;
    for (size_t i = 0; i < v.size(); ++i) m = std::max(m, std::isnan(v[i]) ? INFINITY : std::fabs(double(v[i]) - ref->f32()[i]));
    MESSAGE(fam, " on ", be.str(), ": max abs error ", m);
    CHECK(m <= 1e-5);
  }
}
