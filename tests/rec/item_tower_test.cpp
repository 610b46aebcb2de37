// The trainable top of the item tower (encoder.train_layers): the frozen bottom's cached hidden
// states + the top layers reproduce the whole encoder's pooled output (tiny checkpoint, and
// all-MiniLM-L6-v2 against TextEncoder when models/ has it); the top layers' gradients through
// the recommender's loss against central finite differences; the cache file round trip.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "engine/encoder.h"
#include "engine/rec/config.h"
#include "engine/rec/model.h"
#include "tests/rec/rec_test_util.h"
#include "engine/io/hf_bert.h"

using namespace mr;

namespace {

const char* kTiny = "tests/data/tiny_bert";

struct Tiny {
  BertConfig cfg = BertConfig::from_json_file(std::string(kTiny) + "/config.json");
  ParamStore ps;
  std::unique_ptr<BertModel> bert;
  std::vector<tok::Encoding> items;
  Tiny() {
    SafeTensors st(std::string(kTiny) + "/model.safetensors");
    bert = std::make_unique<BertModel>(cfg, ps, "", hf_has_pooler(st));
    ps.finalize();
    load_hf_bert(st, *bert, ps);
    std::mt19937_64 r(2);
    for (int len : {5, 3, 9, 12, 7, 4}) {  // 12 > max_len 10: truncated
      tok::Encoding e;
      for (int k = 0; k < len; ++k) {
        e.ids.push_back(k == 0 ? 2 : int32_t(5 + r() % 500));
        e.type_ids.push_back(0);
        e.attention_mask.push_back(1);
      }
      items.push_back(e);
    }
  }
  // the whole model over every item (padded batch), pooled, L2-normalised x sqrt(H)
  std::vector<float> reference(const std::string& pool, int max_len) {
    const int B = int(items.size()), H = cfg.hidden_size;
    int T = 1;
    for (auto& e : items) T = std::max(T, std::min(int(e.size()), max_len));
    HostTensor ids(Shape{B, T}, DType::I32), types(Shape{B, T}, DType::I32), mask(Shape{B, T}, DType::I32);
    for (int i = 0; i < B; ++i)
      for (int k = 0; k < T; ++k) {
        const bool real = k < std::min(int(items[size_t(i)].size()), max_len);
        ids->i32()[i * T + k] = real ? items[size_t(i)].ids[size_t(k)] : 0;
        types->i32()[i * T + k] = 0;
        mask->i32()[i * T + k] = real;
      }
    Arena a;
    Tape t(a);
    t.set_training(false);
    NoGrad ng(t);
    Var* h = bert->forward(t, *ids, *types, *mask).hidden;
    std::vector<float> out(size_t(B * H));
    for (int i = 0; i < B; ++i) {
      std::vector<double> v(size_t(H), 0.0);
      int n = 0;
      for (int k = 0; k < T; ++k) {
        if (!mask->i32()[i * T + k] || (pool == "cls" && k > 0)) continue;
        n++;
        for (int c = 0; c < H; ++c) v[size_t(c)] += h->v.f32()[(size_t(i) * T + k) * H + c];
      }
      double s = 0;
      for (auto& x : v) s += (x / n) * (x / n);
      for (int c = 0; c < H; ++c) out[size_t(i * H + c)] = float(v[size_t(c)] / n / std::sqrt(s) * std::sqrt(double(H)));
    }
    return out;
  }
  rec::ItemBertSpec spec(int L, const std::string& pool, int max_len) {
    rec::ItemBertSpec s;
    s.bert = cfg;
    s.train_layers = L;
    s.pool = rec::parse_enum<rec::ItemPool>(pool, "encoder.pool");
    s.weights = std::string(kTiny) + "/model.safetensors";
    s.cache = std::make_shared<rec::HiddenCache>(rec::bottom_hidden(*bert, items, max_len, cfg.num_hidden_layers - L, 4));
    return s;
  }
};

double max_abs(const float* a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

}  // namespace

TEST_CASE("item tower: cached bottom + top layers = the whole encoder (tiny checkpoint, L = 1 and 2, mean and cls)") {
  Tiny tiny;
  for (int L : {1, 2})
    for (std::string pool : {"mean", "cls"}) {
      CAPTURE(L); CAPTURE(pool);
      auto ref = tiny.reference(pool, 10);
      const auto spec = tiny.spec(L, pool, 10);
      std::vector<int32_t> rows = {0, 1, 2, 3, 4, 5, 6};  // 6 = START: a zero row
      auto f = rec_test::item_features(spec, rows);
      const int64_t H = tiny.cfg.hidden_size;
      REQUIRE(f.size() == size_t(7 * H));
      CHECK(max_abs(f.data(), ref) < 1e-4);
      for (int64_t c = 0; c < H; ++c) CHECK(f[size_t(6 * H + c)] == 0.0f);
      // a subset in another order: the same rows
      auto g = rec_test::item_features(spec, {3, 1});
      CHECK(max_abs(g.data(), std::vector<float>(ref.begin() + 3 * H, ref.begin() + 4 * H)) < 1e-4);
      CHECK(max_abs(g.data() + H, std::vector<float>(ref.begin() + 1 * H, ref.begin() + 2 * H)) < 1e-4);
      // without the checkpoint's weights (zero-initialised store) the features differ: the test can fail
      auto s0 = spec;
      s0.weights.clear();
      CHECK(max_abs(rec_test::item_features(s0, rows).data(), ref) > 1e-2);
    }
}

// ItemBert over a model folder with its top layer trainable (the bottom's hidden states cached)
// gives TextEncoder's pooled output (mean, normalised, scaled by sqrt(H) as the tower does).
void check_top_layer_tower(const std::string& dir, const std::vector<std::string>& texts, int max_len) {
  TextEncoder enc(dir);
  EmbedOptions eo;
  eo.pool = "mean";
  eo.normalize = 1;
  eo.max_len = max_len;
  eo.batch = 2;
  auto ref = enc.embed(texts, eo);
  const int H = enc.config().hidden_size;
  for (auto& x : ref) x *= float(std::sqrt(double(H)));
  enc.tokenizer().truncation.max_length = size_t(max_len);
  std::vector<tok::Encoding> items;
  for (auto& s : texts) items.push_back(enc.tokenizer().encode(s));
  rec::ItemBertSpec s;
  s.bert = enc.config();
  s.train_layers = 1;
  s.pool = rec::ItemPool::Mean;
  s.weights = hf_weights_file(dir);
  s.cache = std::make_shared<rec::HiddenCache>(rec::bottom_hidden(enc.model(), items, max_len, s.bert.num_hidden_layers - 1, 3));
  std::vector<int32_t> rows(texts.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = int32_t(i);
  CHECK(max_abs(rec_test::item_features(s, rows).data(), ref) < 1e-4);  // elements are O(1): |row| = sqrt(H)
}

TEST_CASE("item tower: all-MiniLM-L6-v2 with the top layer trainable = TextEncoder's pooled output") {
  const std::string dir = "models/all-MiniLM-L6-v2";
  if (!std::filesystem::exists(dir + "/model.safetensors")) {
    MESSAGE("models/all-MiniLM-L6-v2 absent: skipped");
    return;
  }
  check_top_layer_tower(dir, {"Toy Story (1995) | Animation, Children's, Comedy", "Fargo (1996) | Crime, Drama, Thriller",
                              "Star Wars (1977)", "a", "Twelve Monkeys (1995) | Drama, Sci-Fi with a longer title that gets truncated at thirty-two tokens for sure"},
                        32);
}

TEST_CASE("item tower: every BERT family (tests/data/families) with the top layer trainable = TextEncoder's output" *
          doctest::skip(!std::filesystem::exists("tests/data/families/mpnet/model.safetensors"))) {
  // the top layer loads under the family's names (distilbert: distilbert.transformer.layer.1.*),
  // the cached bottom ran the family's embeddings (positions, token types, ELECTRA's projection)
  for (const std::string fam : {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"}) {
    CAPTURE(fam);
    check_top_layer_tower("tests/data/families/" + fam,
                          {"Lab gloves, nitrile, size M", "a microscope slide box", "x",
                           "stainless steel beaker set with handles and a longer title truncated at sixteen tokens"},
                          16);
  }
}

TEST_CASE("item tower: top-layer gradients through the recommender's sampled loss against finite differences") {
  Tiny tiny;
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 3; c.tau = 0.25f; c.dropout = 0.0f;
  c.negatives = 3;
  rec::RecModel m(c, tiny.spec(1, "mean", 10));
  CHECK(m.params().find("item.bert.encoder.layer.1.attention.self.query.weight"));
  CHECK_FALSE(m.params().find("item.bert.encoder.layer.0.attention.self.query.weight"));
  CHECK(rec::RecModel::in_scope(rec::Scope::All, "item.bert.encoder.layer.1.output.dense.weight"));
  CHECK_FALSE(rec::RecModel::in_scope(rec::Scope::User, "item.bert.encoder.layer.1.output.dense.weight"));
  CHECK_FALSE(rec::RecModel::in_scope(rec::Scope::Head, "item.bert.encoder.layer.1.output.dense.weight"));
  rec::Batch b;
  b.add({1, 4}, 2);
  b.add({0}, 5);
  b.add({3, 1, 0, 4}, 2);
  auto loss = [&](std::vector<float>* grad) { return rec_test::loss_at(m, b, grad, 3, 0); };
  std::vector<float> g;
  loss(&g);
  int checked = 0;
  double biggest = 0;
  const std::string p = "item.bert.encoder.layer.1.";
  for (std::string name : {p + "attention.self.query.weight", p + "attention.self.value.bias", p + "attention.output.dense.weight",
                           p + "intermediate.dense.weight", p + "output.dense.bias", p + "output.LayerNorm.weight",
                           std::string("item.proj.weight")}) {
    Param& q = m.params().at(name);
    for (int64_t i : {int64_t(3), q.w.numel() / 2 + 1, q.w.numel() - 4}) {
      const double fd = rec_test::central_diff(q.w.f32()[i], [&] { return loss(nullptr); });
      const double got = g[size_t(q.offset + i)];
      CAPTURE(name); CAPTURE(i); CAPTURE(fd); CAPTURE(got);
      CHECK(std::abs(got - fd) < 1e-3 + 2e-2 * std::abs(fd));
      biggest = std::max(biggest, std::abs(fd));
      checked++;
    }
  }
  CHECK(checked == 21);
  CHECK(biggest > 1e-2);  // the checked gradients are not all negligible
}

TEST_CASE("item tower: the item table cached in chunks = computed at once; hidden cache file round trip") {
  Tiny tiny;
  rec::ModelConfig c;
  c.dim = 8; c.heads = 2; c.layers = 1; c.ffn = 16; c.max_history = 3; c.dropout = 0.0f;
  rec::RecModel m(c, tiny.spec(1, "cls", 10));
  Arena a;
  Tape t(a);
  auto s0 = m.score(t, {1, 3});
  m.cache_item_table();
  t.reset();
  auto s1 = m.score(t, {1, 3});
  m.clear_item_table();
  REQUIRE(s0.size() == s1.size());
  for (size_t i = 0; i < s0.size(); ++i) CHECK(s1[i] == doctest::Approx(s0[i]).epsilon(1e-5));
  auto sp = tiny.spec(1, "mean", 10);
  const std::string f = "build/tests/item_hidden_test.npy";
  std::filesystem::create_directories("build/tests");
  rec::save_hidden(f, *sp.cache);
  auto back = rec::load_hidden(f, 10, tiny.cfg.hidden_size);
  CHECK(back.len == sp.cache->len);
  CHECK(back.h == sp.cache->h);
  CHECK_THROWS_WITH_AS(rec::load_hidden(f, 11, tiny.cfg.hidden_size), doctest::Contains("item_hidden_test.npy"), Error);
  std::filesystem::remove(f);
}
