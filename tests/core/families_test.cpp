// The BERT family in and out (issue 27): for bert, roberta, xlm-roberta, distilbert, electra and
// mpnet, the tiny random checkpoints of tools/golden/families_golden.py (tests/data/families/<type>:
// hidden 64, 2 layers, 4 heads, F16 weights; electra with embedding_size 32; distilbert stored
// with its "distilbert." prefix and a head tensor; mpnet with its relative position bias) are converted, and metarec must reproduce
// transformers' outputs (fp32, eager attention):
//   * last hidden state of a 3 x 12 batch with padding, on the real tokens (padded rows are
//     masked out of everything; RoBERTa gives them position pad_token_id, we a later row):
//     relative L2 error <= 1e-5 and max abs error <= 1e-5, as the tiny BERT test;
//   * the masked mean and loss = mse(mean, target): relative L2 <= 1e-5;
//   * the gradients the fixture keeps (position table, embedding LayerNorm, ELECTRA's
//     projection, a query weight, an FFN output weight and LayerNorm bias; MPNet's relative
//     bias table and attention names): relative L2 <= 1e-4;
//   * texts through the converted folder's own tokenizer (tokenizer.json; WordPiece, byte-level
//     BPE, Unigram, MPNet's WordPiece with <s> </s>) and `embed`'s mean pooling: max abs error
//     <= 1e-5, the ids equal to the tokenizers library's (MPNet also with <mask> in the text:
//     ids and offsets);
//   * export-hf writes the family's layout back: model_type, architectures, the source's config
//     keys, the source's tensor names (prefix and dropped heads aside) and values, bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

#include "engine/bert.h"
#include "engine/encoder.h"
#include "engine/io/hf_bert.h"
#include "engine/io/model_dir.h"
#include "tests/core/families.h"
#include "weights/safetensors.h"

using namespace mr;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string& kDir = test::kFamiliesDir;
using test::kFamilies;
bool have() { return test::have_families(); }

struct TmpDir {
  fs::path p;
  explicit TmpDir(const std::string& tag)
      : p(fs::temp_directory_path() / ("mr_families_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(p);
  }
  ~TmpDir() { fs::remove_all(p); }
  std::string operator/(const std::string& s) const { return (p / s).string(); }
};

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

std::vector<std::string> texts() {
  std::ifstream f(kDir + "texts.txt");
  std::vector<std::string> v;
  for (std::string l; std::getline(f, l);) v.push_back(l);
  return v;
}

// Forward, mean pool, mse loss and backward on the CPU backend over the fixture's id batch.
void check_forward_backward(const std::string& family, const std::string& model_dir) {
  const test::FamilyErrors e = test::family_forward_backward(family, model_dir, Backend{});
  MESSAGE(family, ": hidden rel L2 ", e.hidden_rel, " max abs ", e.hidden_max, ", mean rel L2 ", e.mean_rel, ", loss ",
          e.loss_rel, "; worst of ", e.grads, " gradients rel L2 ", e.worst_grad);
  CHECK(e.grads == e.grad_keys);
  CHECK(e.grads >= 5);
  CHECK(e.hidden_rel <= 1e-5);
  CHECK(e.hidden_max <= 1e-5);
  CHECK(e.mean_rel <= 1e-5);
  CHECK(e.loss_rel <= 1e-5);
}

// TextEncoder on the converted folder (its tokenizer, mean pooling, no normalisation) against
// transformers on the same tokenizer.json's ids.
void check_texts(const std::string& family, const std::string& model_dir) {
  SafeTensors g(kDir + family + "/golden.safetensors");
  HostTensor ref = g.read_f32("text_mean"), tids = g.read_i32("text_ids");
  TextEncoder enc(model_dir);
  const auto tx = texts();
  const int Tmax = int(tids->size(1));
  for (size_t i = 0; i < tx.size(); ++i) {
    auto e = enc.tokenizer().encode(tx[i]);
    REQUIRE(int(e.ids.size()) <= Tmax);
    for (size_t k = 0; k < e.ids.size(); ++k) CHECK(e.ids[k] == tids->i32()[i * size_t(Tmax) + k]);
  }
  EmbedOptions o;
  o.pool = "mean";
  o.normalize = 0;
  auto v = enc.embed(tx, o);
  REQUIRE(v.size() == size_t(ref->numel()));
  const double m = test::max_abs_err(v.data(), ref->f32(), v.size());
  MESSAGE(family, ": embed of ", tx.size(), " texts vs transformers, max abs error ", m);
  CHECK(m <= 1e-5);
}

}  // namespace

TEST_CASE("families: convert, forward, gradients and embed match transformers for every family" *
          doctest::skip(!have())) {
  for (const std::string fam : kFamilies) {
    CAPTURE(fam);
    TmpDir d("conv_" + fam);
    ConvertReport r = convert_from_hf(kDir + fam, d / "m");
    CHECK(r.family == fam);
    CHECK(read_json(d / "m/metarec.json")["family"] == fam);
    CHECK(read_json(d / "m/config.json")["model_type"] == fam);
    CHECK(r.pooler == (fam == "bert" || fam == "roberta" || fam == "mpnet"));
    if (fam == "distilbert") {  // a DistilBertForMaskedLM layout: prefix, a head to drop
      REQUIRE(r.unexpected.size() == 1);
      CHECK(r.unexpected[0] == "vocab_layer_norm.weight");
    } else {
      CHECK(r.unexpected.empty());
    }
    check_forward_backward(fam, d / "m");
    check_texts(fam, d / "m");
  }
}

TEST_CASE("families: the fixture folders themselves load (a plain HF folder is a model folder)" * doctest::skip(!have())) {
  for (const std::string fam : kFamilies) {
    CAPTURE(fam);
    check_texts(fam, kDir + fam);
  }
}

TEST_CASE("families: export-hf writes each family in its own layout, tensors bit for bit" * doctest::skip(!have())) {
  for (const std::string fam : kFamilies) {
    CAPTURE(fam);
    TmpDir d("exp_" + fam);
    convert_from_hf(kDir + fam, d / "m");
    export_hf(d / "m", d / "hf");
    const json src = read_json(kDir + fam + "/config.json"), out = read_json(d / "hf/config.json");
    CHECK(out["model_type"] == fam);
    CHECK(out["architectures"] == src["architectures"]);  // the fixtures are *Model checkpoints
    if (fam == "mpnet") {  // what MPNetConfig reads
      CHECK(out["architectures"] == json::array({"MPNetModel"}));
      CHECK(out["relative_attention_num_buckets"] == 32);
      CHECK(out["pad_token_id"] == 1);
      CHECK(!out.contains("type_vocab_size"));
    }
    for (auto& [k, v] : src.items()) {
      INFO("config key ", k);
      CHECK(out.contains(k));
      if (out.contains(k)) CHECK(out[k] == v);
    }
    SafeTensors a(kDir + fam + "/model.safetensors"), b(d / "hf/model.safetensors");
    const std::string prefix = fam == "distilbert" ? "distilbert." : "";
    std::set<std::string> want, got;
    for (auto& n : a.names())
      if (n.rfind(prefix, 0) == 0) want.insert(n.substr(prefix.size()));
    for (auto& n : b.names()) got.insert(n);
    CHECK(want == got);
    for (auto& n : want) {
      if (!b.has(n)) continue;
      CHECK(b.get(n).dtype == StDType::F32);
      HostTensor x = a.read_f32(prefix + n), y = b.read_f32(n);
      REQUIRE(x->numel() == y->numel());
      INFO("tensor ", n);
      CHECK(std::memcmp(x->f32(), y->f32(), size_t(x->numel()) * 4) == 0);
    }
    CHECK(fs::exists(d / "hf/tokenizer.json"));
    CHECK(fs::exists(d / "hf/vocab.txt") == fs::exists(kDir + fam + "/vocab.txt"));
    // and back in: the export converts to the same model
    check_texts(fam, d / "hf");
  }
}

TEST_CASE("families: roberta ignores a stray vocab.txt (tokenizer.json only), positions start at pad + 1" *
          doctest::skip(!have())) {
  TmpDir d("stray");
  fs::create_directories(d.p / "src");
  for (auto& e : fs::directory_iterator(kDir + "roberta")) fs::copy_file(e.path(), d.p / "src" / e.path().filename());
  fs::copy_file(kDir + "bert/vocab.txt", d / "src/vocab.txt");  // a WordPiece vocabulary that is not its tokenizer
  convert_from_hf(d / "src", d / "m");
  CHECK(!fs::exists(d / "m/vocab.txt"));
  check_texts("roberta", d / "m");
  TextEncoder enc(d / "m");
  CHECK(enc.config().position_offset() == 2);
  CHECK(enc.max_len_for(0) == 40);  // 42 positions from 2 on
  // a text longer than the positions: truncated to 40 tokens, and embedded
  std::string longtext;
  for (int i = 0; i < 60; ++i) longtext += "lab gloves ";
  EmbedOptions o;
  CHECK_NOTHROW(enc.embed({longtext}, o));
  o.max_len = 41;
  CHECK_THROWS_AS(enc.embed({longtext}, o), Error);
}

TEST_CASE("families: mpnet reads its tokenizer.json as transformers (<mask> with lstrip), positions from pad + 1, "
          "no token types" * doctest::skip(!have())) {
  TmpDir d("mpnet");
  convert_from_hf(kDir + "mpnet", d / "m");
  for (const std::string dir : {kDir + "mpnet", d / "m"}) {
    CAPTURE(dir);
    TextEncoder enc(dir);
    CHECK(enc.config().position_offset() == 2);
    CHECK(enc.max_len_for(0) == 40);  // 42 positions from 2 on
    CHECK(!enc.config().token_types());
    CHECK(enc.config().relative_attention_num_buckets == 32);
    const std::vector<std::string> tx = {"a box of <mask> gloves", "<s>lab  <mask>   tubes</s>", "<mask>x \t <mask>",
                                         "  <mask> "};  // families_golden.py's SPECIAL_TEXTS
    SafeTensors g(kDir + "mpnet/golden.safetensors");
    HostTensor ids = g.read_i32("special_text_ids"), offs = g.read_i32("special_text_offsets");
    REQUIRE(ids->size(0) == int64_t(tx.size()));
    const int64_t T = ids->size(1);
    for (size_t i = 0; i < tx.size(); ++i) {
      CAPTURE(tx[i]);
      const auto e = enc.tokenizer().encode(tx[i]);
      std::vector<int32_t> want;
      for (int64_t k = 0; k < T && ids->i32()[i * T + k] >= 0; ++k) want.push_back(ids->i32()[i * T + k]);
      CHECK(e.ids == want);
      REQUIRE(e.offsets.size() == want.size());
      for (size_t k = 0; k < want.size(); ++k) {
        CAPTURE(k);
        CHECK(int64_t(e.offsets[k].start) == offs->i32()[(i * T + k) * 2]);
        CHECK(int64_t(e.offsets[k].end) == offs->i32()[(i * T + k) * 2 + 1]);
      }
    }
  }
  // a config that leaves MPNetConfig's defaults out (and carries a stray type_vocab_size):
  // export-hf writes the buckets and the pad it ran with, and drops the key MPNet lacks
  fs::create_directories(d.p / "src");
  for (auto& e : fs::directory_iterator(kDir + "mpnet")) fs::copy_file(e.path(), d.p / "src" / e.path().filename());
  json cj = read_json(kDir + "mpnet/config.json");
  cj.erase("relative_attention_num_buckets");
  cj.erase("pad_token_id");
  cj["type_vocab_size"] = 2;
  std::ofstream(d / "src/config.json") << cj.dump(2);
  convert_from_hf(d / "src", d / "m2");
  export_hf(d / "m2", d / "hf2");
  const json out = read_json(d / "hf2/config.json");
  CHECK(out["relative_attention_num_buckets"] == 32);
  CHECK(out["pad_token_id"] == 1);
  CHECK(!out.contains("type_vocab_size"));
  CHECK(out["model_type"] == "mpnet");
  // a source without tokenizer_config.json: export-hf writes one with MPNetTokenizer and the
  // unk token of the tokenizer.json (MPNetTokenizer's default "[UNK]" is not in this vocabulary;
  // transformers then fails on any unknown character)
  fs::remove(d / "src/tokenizer_config.json");
  convert_from_hf(d / "src", d / "m3");
  export_hf(d / "m3", d / "hf3");
  const json tc = read_json(d / "hf3/tokenizer_config.json");
  CHECK(tc["tokenizer_class"] == "MPNetTokenizer");
  CHECK(tc["unk_token"] == "<unk>");
  CHECK(tc["model_max_length"] == 40);
}

TEST_CASE("families: a roberta folder without tokenizer.json is refused (convert: before anything is written)" *
          doctest::skip(!have())) {
  TmpDir d("notok");
  fs::create_directories(d.p / "src");
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(kDir + "roberta/" + f, d.p / "src" / f);
  fs::copy_file(kDir + "bert/vocab.txt", d / "src/vocab.txt");
  try {
    convert_from_hf(d / "src", d / "m");
    FAIL("converted without tokenizer.json");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("tokenizer.json") != std::string::npos);
  }
  CHECK(!fs::exists(d / "m"));
  // nor does TextEncoder read such a folder directly with the stray vocab.txt
  try {
    TextEncoder enc(d / "src");
    FAIL("loaded without tokenizer.json");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("tokenizer.json") != std::string::npos);
  }
}

TEST_CASE("families: config keys per family, and unsupported model types name the supported list") {
  TmpDir d("cfg");
  fs::create_directories(d.p);
  auto cfg_of = [&](const json& j) {
    std::ofstream(d / "config.json") << j.dump();
    return BertConfig::from_json_file(d / "config.json");
  };
  BertConfig c = cfg_of({{"model_type", "distilbert"}, {"dim", 32}, {"n_layers", 3}, {"n_heads", 2}, {"hidden_dim", 48},
                         {"activation", "gelu"}, {"dropout", 0.2}, {"attention_dropout", 0.3}, {"vocab_size", 99},
                         {"hidden_size", 1000}});  // hidden_size is not a DistilBERT key
  CHECK(c.hidden_size == 32);
  CHECK(c.num_hidden_layers == 3);
  CHECK(c.num_attention_heads == 2);
  CHECK(c.intermediate_size == 48);
  CHECK(c.hidden_dropout_prob == doctest::Approx(0.2));
  CHECK(c.attention_probs_dropout_prob == doctest::Approx(0.3));
  CHECK(c.layer_norm_eps == doctest::Approx(1e-12));
  CHECK(!c.token_types());
  CHECK(c.family().hf_name("encoder.layer.2.attention.output.LayerNorm.weight") == "transformer.layer.2.sa_layer_norm.weight");
  CHECK(c.family().hf_name("encoder.layer.2.output.dense.bias") == "transformer.layer.2.ffn.lin2.bias");
  CHECK(c.family().hf_name("embeddings.word_embeddings.weight") == "embeddings.word_embeddings.weight");
  CHECK_THROWS_AS(cfg_of({{"model_type", "distilbert"}, {"sinusoidal_pos_embds", true}}), Error);
  // the family from architectures when model_type is missing
  c = cfg_of({{"architectures", {"XLMRobertaForMaskedLM"}}, {"pad_token_id", 1}, {"max_position_embeddings", 514}});
  CHECK(c.model_type == "xlm-roberta");
  CHECK(c.position_offset() == 2);
  CHECK(c.max_positions() == 512);
  c = cfg_of({{"model_type", "electra"}, {"embedding_size", 128}, {"hidden_size", 256}, {"num_attention_heads", 4}});
  CHECK(c.embed_width() == 128);
  CHECK(cfg_of(json::object()).model_type == "bert");  // old BERT configs name no type
  for (const char* bad : {"gpt2", "deberta-v2", "t5"}) {
    CAPTURE(bad);
    try {
      cfg_of({{"model_type", bad}});
      FAIL("accepted");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK(m.find(std::string("\"") + bad + "\"") != std::string::npos);
      CHECK(m.find("bert, roberta, xlm-roberta, distilbert, electra, mpnet") != std::string::npos);
      CHECK(m.find("model_type") != std::string::npos);
    }
  }
  for (const char* arch : {"GPT2LMHeadModel", "RobertaPreLayerNormModel", "DebertaV2ForMaskedLM"}) {
    CAPTURE(arch);
    try {
      cfg_of({{"architectures", {arch}}});
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find(std::string("\"") + arch + "\"") !=
            std::string::npos);
      CHECK(std::string(e.what()).find("bert, roberta, xlm-roberta, distilbert, electra, mpnet") != std::string::npos);
    }
  }
  CHECK(cfg_of({{"architectures", {"DistilBertForMaskedLM"}}}).model_type == "distilbert");
  CHECK(cfg_of({{"architectures", {"ElectraForPreTraining"}}}).model_type == "electra");
  CHECK(cfg_of({{"architectures", {"MPNetForMaskedLM"}}}).model_type == "mpnet");
  // without pad_token_id: transformers' RobertaConfig, XLMRobertaConfig and MPNetConfig all say 1
  for (const char* type : {"roberta", "xlm-roberta", "mpnet"}) {
    CAPTURE(type);
    c = cfg_of({{"model_type", type}});
    CHECK(c.pad_token_id == 1);
    CHECK(c.position_offset() == 2);
  }
  c = cfg_of({{"model_type", "mpnet"}, {"type_vocab_size", 2}});
  CHECK(c.relative_attention_num_buckets == 32);
  CHECK(!c.token_types());
}
