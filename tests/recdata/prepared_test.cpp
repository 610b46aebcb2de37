#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "base/check.h"
#include "engine/data/item_text.h"
#include "engine/data/prepared.h"
#include "engine/data/wordpiece.h"
#include "engine/data/readers.h"
#include "tests/recdata/common.h"

using namespace mr::data;

using rt::error_of;

TEST_CASE("text template: fields, optional segments, list filter, escapes") {
  std::map<std::string, std::string> f = {{"title", "Toy Story"}, {"year", "1995"}, {"genres", "Animation  Comedy"}};
  auto get = [&](const std::string& k) { return f.count(k) ? f[k] : std::string(); };
  TextTemplate t("{title}[ ({year})][. Genres: {genres|list}][. Brand: {brand}]");
  CHECK(t.render(get) == "Toy Story (1995). Genres: Animation, Comedy");
  f["year"] = "";
  CHECK(t.render(get) == "Toy Story. Genres: Animation, Comedy");
  CHECK(TextTemplate("\\[{title}\\]  x").render(get) == "[Toy Story] x");
  CHECK(t.fields() == std::vector<std::string>{"title", "year", "genres", "brand"});
  for (const char* bad : {"[{title}", "{title", "title}", "[[x]]", "{title|upper}", "{}", "x]"})
    CHECK_THROWS_AS(TextTemplate{bad}, mr::Error);
}

TEST_CASE("kg facts as text: names, relation phrases (tiny: no tail connects two items, kg_test.cpp has those)") {
  auto ds = load_dataset(rt::fixture("tiny"), LoadOptions{});
  KgTextOptions o;
  o.names = {{"m.dir", "Jane Doe"}, {"m.act", "John Roe"}};  // m.g has no name
  size_t skipped = 0;
  auto f = kg_facts(ds, o, &skipped);
  int64_t i1 = ds.items.find("i1"), i2 = ds.items.find("i2");
  CHECK(f[i1] == "directed by Jane Doe; starring John Roe");
  CHECK(f[i2] == "");
  CHECK(skipped == 1);
  auto text = render_items(ds, TextTemplate(default_template(ds)), f);
  CHECK(text[i1] == "Alpha (1999). Genres: Drama, War. directed by Jane Doe; starring John Roe");
  CHECK(text[i2] == "Beta (2001). Genres: Comedy");
  CHECK(relation_phrase("film.film.directed_by") == "directed by");
  CHECK(relation_phrase("nope") == "");
}

static std::string tmpdir() {
  char buf[] = "/tmp/mr_prep_XXXXXX";
  REQUIRE(mkdtemp(buf));
  return buf;
}

static std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
static void spit(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

TEST_CASE("prepared dataset: round trip through mmap, checksum, version, corruption") {
  auto ds = load_dataset(rt::fixture("tiny"), LoadOptions{});
  PrepareInput in;
  in.ds = &ds;
  in.item_text = render_items(ds, TextTemplate("{title}"), {});
  in.encode = [](const std::string& s) { return std::vector<int32_t>{101, static_cast<int32_t>(s.size()), 102}; };
  std::string dir = tmpdir();
  auto meta = write_prepared(dir, in);
  CHECK(meta["version"] == kPreparedVersion);
  auto p = PreparedDataset::open(dir);
  REQUIRE(p.n_users() == ds.n_users());
  REQUIRE(p.n_items() == ds.n_items());
  REQUIRE(p.n_interactions() == ds.inter.size());
  for (size_t k = 0; k < ds.inter.size(); k++) {
    CHECK(p.inter_user()[k] == ds.inter[k].user);
    CHECK(p.inter_item()[k] == ds.inter[k].item);
    CHECK(p.inter_time()[k] == ds.inter[k].time);
  }
  CHECK(p.item_name(0) == "i1");
  CHECK(p.user_name(2) == "u3");
  CHECK(p.item_text(0) == "Alpha");
  CHECK(p.item_text(3) == "");  // i4 has no title
  REQUIRE(p.has_tokens());
  CHECK(std::vector<int32_t>(p.item_tokens(1).begin(), p.item_tokens(1).end()) == std::vector<int32_t>{101, 4, 102});
  CHECK(p.meta()["name"] == "tiny");
  auto back = p.to_dataset();
  CHECK(back.items.names == ds.items.names);
  CHECK(back.user_offsets == ds.user_offsets);
  CHECK(back.item_field("text", 1) == "Beta");
  // load_dataset detects it
  CHECK(load_dataset(dir, LoadOptions{}).source == "prepared:recbole-atomic");

  std::string file = dir + "/" + kPreparedFile, good = slurp(file);
  auto bad = good;
  bad[bad.size() - 70] ^= 0x5a;  // a payload byte
  spit(file, bad);
  CHECK(error_of([&] { PreparedDataset::open(dir); }).find("checksum mismatch") != std::string::npos);
  bad = good;
  bad[8] = 9;  // version
  spit(file, bad);
  CHECK(error_of([&] { PreparedDataset::open(dir); }).find("format version 9") != std::string::npos);
  spit(file, good.substr(0, good.size() - 64));
  CHECK(error_of([&] { PreparedDataset::open(dir); }).find("truncated") != std::string::npos);
  bad = good;
  bad[0] = 'X';
  spit(file, bad);
  CHECK(error_of([&] { PreparedDataset::open(dir); }).find(file + ": offset 0: not a metarec prepared dataset") == 0);
  // a section offset pointing outside the file, checksum not verified: still a clean error
  bad = good;
  uint64_t huge = 1ull << 40;
  std::memcpy(&bad[32 + 24], &huge, 8);
  spit(file, bad);
  CHECK(error_of([&] { PreparedDataset::open(dir, false); }).find("outside the file") != std::string::npos);
  spit(file, good);
  CHECK_NOTHROW(PreparedDataset::open(dir));
  std::remove(file.c_str());
  rmdir(dir.c_str());
  CHECK(error_of([&] { PreparedDataset::open(dir); }).find("cannot open prepared dataset") != std::string::npos);
}

TEST_CASE("prepared with the WordPiece tokenizer" * doctest::skip(!rt::exists(rt::root() + "/models/all-MiniLM-L6-v2/vocab.txt"))) {
  auto tk = std::make_shared<mr::tok::Tokenizer>(mr::tok::Tokenizer::from_dir(rt::root() + "/models/all-MiniLM-L6-v2"));
  auto enc = wordpiece_encoder(tk, 8);
  auto ds = load_dataset(rt::fixture("tiny"), LoadOptions{});
  PrepareInput in;
  in.ds = &ds;
  in.item_text = render_items(ds, TextTemplate("{title} {title} {title} {title} {title} {title} {title} {title}"), {});
  in.item_text[1] = "Beta";
  in.encode = enc;
  std::string dir = tmpdir();
  write_prepared(dir, in);
  auto p = PreparedDataset::open(dir);
  auto a = p.item_tokens(0);  // eight words, truncated to 8 ids with [CLS] and [SEP]
  REQUIRE(a.size() == 8);
  CHECK(a.front() == tk->token_to_id("[CLS]").value());
  CHECK(a.back() == tk->token_to_id("[SEP]").value());
  auto b = p.item_tokens(1);
  REQUIRE(b.size() == 3);  // [CLS] beta [SEP], no padding
  CHECK(tk->id_to_token(b[1]) == "beta");
  std::remove((dir + "/" + kPreparedFile).c_str());
  rmdir(dir.c_str());
}
