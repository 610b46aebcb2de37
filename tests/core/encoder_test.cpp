// TextEncoder's default max length follows the model (issue 27 item 1): min(kDefaultMaxLen = 256,
// max_position_embeddings), so a model of 64 positions embeds without --max-len (it stopped on
// a check before) and gives the bits of an explicit max length 64; an explicit max length past
// the positions is still refused. `metarec embed` end to end: tests/cli/embed_test.cpp.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/encoder.h"
#include "tests/core/infer_forward.h"
#include "tests/core/tiny_model_dir.h"

using namespace mr;
using namespace mr::test;
namespace fs = std::filesystem;

TEST_CASE("encoder: the default max length follows the model's max_position_embeddings" *
          doctest::skip(!have_tiny_bert())) {
  TinyModelDir d("infer");
  TextEncoder enc(d.dir.string());
  REQUIRE(enc.config().max_position_embeddings == 64);
  CHECK(enc.max_len_for(0) == 64);
  CHECK(enc.max_len_for(20) == 20);
  std::string longer;  // 100 words: 102 tokens with [CLS] and [SEP], past the 64 positions
  for (int i = 0; i < 100; ++i) longer += "w" + std::to_string(i * 5 % 507) + " ";
  const std::vector<std::string> texts = {longer, "w1 w2 w3", longer.substr(0, 300)};
  const std::vector<float> def = enc.embed(texts, EmbedOptions{});  // threw before: max_len 256 > 64
  EmbedOptions at64, at32, at65;
  at64.max_len = 64;
  at32.max_len = 32;
  at65.max_len = 65;
  CHECK(same_bits(def, enc.embed(texts, at64), "default vs --max-len 64"));
  const std::vector<float> e32 = enc.embed(texts, at32);
  CHECK(!same_bits(def, e32, "default vs --max-len 32 (expected to differ)"));  // truncation does matter here
  CHECK_THROWS_WITH(enc.embed(texts, at65), doctest::Contains("max_position_embeddings = 64"));
}

TEST_CASE("encoder: the default max length of all-MiniLM-L6-v2 (512 positions) is 256" *
          doctest::skip(!fs::exists("models/all-MiniLM-L6-v2/model.safetensors"))) {
  TextEncoder enc("models/all-MiniLM-L6-v2");
  CHECK(enc.config().max_position_embeddings == 512);
  CHECK(enc.max_len_for(0) == kDefaultMaxLen);
}
