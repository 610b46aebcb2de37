// Knowledge-graph facts and paths (engine/data/kg.h) on a hand-built KG, tests/data/recdata/kgmini:
//
//   items 1 Alpha (1990), 2 Beta (1991), 3 Gamma (1992), 4 Delta (1993), 9 Zeta (1995),
//         10 Epsilon (1994), linked to m.a, m.b, m.c, m.d, m.z, m.e (77 -> m.q has no interactions)
//   m.a, m.b, m.c, m.d directed_by m.dir      m.a actor m.act (no other film)
//   m.a, m.d actor m.act2                     m.a, m.z, m.e genre m.g
//   m.b sequel m.a, m.a prequel m.b           m.d written_by m.w (no other film)
//   m.a film.producer.film m.p (a relation we do not phrase)
//   interactions (time order; loo: the last is test, the one before valid):
//     u1: 2 3 9 | 1 | 4     u2: 2 3 10 | 1 | 4     u3: 3 2 1 | 9 | 4     u4: 1 | 10 | 4
//   training counts: 1:2  2:3  3:3  4:0  9:1  10:1   (all interactions: 1:4 2:3 3:3 4:4 9:2 10:2)
// Every expected text below was written by hand from these lines.
#include <doctest/doctest.h>

#include <map>

#include "engine/data/kg.h"
#include "engine/data/item_text.h"
#include "engine/data/readers.h"
#include "engine/data/split.h"
#include "tests/recdata/common.h"

using namespace mr::data;

namespace {

std::string slurp(const std::string& p) { return read_file(p); }

// item token -> facts, popularity from the loo training part (as metarec prepare --kg does)
std::map<std::string, std::string> facts_by_name(const Dataset& ds, size_t kg_max, bool leaky = false,
                                                 std::unordered_map<std::string, std::string> names = {}) {
  KgTextOptions o;
  o.max_per_relation = kg_max;
  o.names = std::move(names);
  if (leaky) {  // every interaction, test targets included: what the rule must not do
    o.popularity.assign(ds.n_items(), 0);
    for (auto& x : ds.inter) o.popularity[x.item] += 1;
  } else {
    o.popularity = kg_popularity(split_loo(ds), ds.n_items());
  }
  auto f = kg_facts(ds, o);
  std::map<std::string, std::string> m;
  for (uint32_t i = 0; i < ds.n_items(); i++) m[ds.items.names[i]] = f[i];
  return m;
}

}  // namespace

TEST_CASE("kg: unnamed tails described by the training split's most popular linked titles") {
  auto ds = load_dataset(rt::fixture("kgmini"), LoadOptions{});
  REQUIRE(ds.n_items() == 6);
  auto p = kg_popularity(split_loo(ds), ds.n_items());
  std::map<std::string, double> pop;
  for (uint32_t i = 0; i < ds.n_items(); i++) pop[ds.items.names[i]] = p[i];
  CHECK(pop == std::map<std::string, double>{{"1", 2}, {"2", 3}, {"3", 3}, {"4", 0}, {"9", 1}, {"10", 1}});

  size_t skipped = 0;
  KgTextOptions o;
  o.max_per_relation = 2;
  o.popularity = p;
  auto raw = kg_facts(ds, o, &skipped);
  // m.act and m.w connect no other item; film.producer.film is not phrased
  CHECK(skipped == 3);

  auto f = facts_by_name(ds, 2);
  // director: Beta 3, Gamma 3 (tie: id 2 < 3), Delta 0; genre: Zeta 1, Epsilon 1 (tie: 9 < 10
  // as numbers, though "10" < "9" as bytes); m.b is item 2's entity, so it is named by its title
  CHECK(f["1"] ==
        "directed by: the director of Beta (1991) and Gamma (1992); starring: an actor in Delta (1993); "
        "sequel to Beta (1991); genre: the genre of Zeta (1995) and Epsilon (1994)");
  CHECK(f["2"] == "directed by: the director of Gamma (1992) and Alpha (1990); followed by Alpha (1990)");
  CHECK(f["3"] == "directed by: the director of Beta (1991) and Alpha (1990)");
  CHECK(f["4"] == "directed by: the director of Beta (1991) and Gamma (1992); starring: an actor in Alpha (1990)");
  CHECK(f["9"] == "genre: the genre of Alpha (1990) and Epsilon (1994)");
  CHECK(f["10"] == "genre: the genre of Alpha (1990) and Zeta (1995)");

  // --kg-max 3 and 1: more or fewer titles
  CHECK(facts_by_name(ds, 3)["3"] == "directed by: the director of Beta (1991), Alpha (1990) and Delta (1993)");
  CHECK(facts_by_name(ds, 1)["1"] ==
        "directed by: the director of Beta (1991); starring: an actor in Delta (1993); sequel to Beta (1991); genre: "
        "the genre of Zeta (1995)");

  for (auto& [item, text] : facts_by_name(ds, 0)) CHECK(text == "");
  // names win; a group of named and described tails takes the colon
  auto named = facts_by_name(ds, 2, false, {{"m.dir", "Jane Doe"}, {"m.act", "John Roe"}});
  CHECK(named["1"] ==
        "directed by Jane Doe; starring: John Roe, an actor in Delta (1993); sequel to Beta (1991); genre: the genre "
        "of Zeta (1995) and Epsilon (1994)");
  CHECK(named["3"] == "directed by Jane Doe");

  // in the default template
  auto text = render_items(ds, TextTemplate(default_template(ds)), raw);
  CHECK(text[ds.items.find("3")] == "Gamma (1992). directed by: the director of Beta (1991) and Alpha (1990)");
}

TEST_CASE("kg: a test-split interaction does not change the chosen titles") {
  auto ds = load_dataset(rt::fixture("kgmini"), LoadOptions{});
  // the same data with the test targets of u1, u2 and u3 moved from Delta (4) to items they have
  // not seen, Epsilon (10), Zeta (9), Epsilon (10): counting every interaction, Delta would
  // leave the director list and Epsilon overtake Zeta in the genre list
  rt::TempDir d;
  std::string inter = slurp(rt::fixture("kgmini/kgmini.inter"));
  for (auto [u, to] : {std::pair{"u1", "10"}, std::pair{"u2", "9"}, std::pair{"u3", "10"}}) {
    const std::string from = std::string(u) + "\t4\t5\n";
    auto at = inter.find(from);
    REQUIRE(at != std::string::npos);
    inter.replace(at, from.size(), std::string(u) + "\t" + to + "\t6\n");
  }
  d.write("kgmini.inter", inter);
  for (const char* ext : {".item", ".kg", ".link"})
    d.write(std::string("kgmini") + ext, slurp(rt::fixture(std::string("kgmini/kgmini") + ext)));
  auto moved = load_dataset(d.path, LoadOptions{});
  // the splits differ only in the test targets
  auto a = split_loo(ds), b = split_loo(moved);
  REQUIRE(a.test.size() == 4);
  REQUIRE(a.train.size() == b.train.size());
  CHECK(moved.items.names[b.test[0].targets[0]] == "10");
  for (size_t k = 0; k < a.train.size(); k++) {
    CHECK(ds.items.names[a.train[k].item] == moved.items.names[b.train[k].item]);
    CHECK(ds.users.names[a.train[k].user] == moved.users.names[b.train[k].user]);
  }

  CHECK(facts_by_name(ds, 2) == facts_by_name(moved, 2));
  CHECK(facts_by_name(ds, 3) == facts_by_name(moved, 3));
  // the check has teeth: counting every interaction, the test targets pick other titles
  auto la = facts_by_name(ds, 2, true), lb = facts_by_name(moved, 2, true);
  // Delta 4, Beta 3, Gamma 3; Zeta 2, Epsilon 2
  CHECK(la["1"] ==
        "directed by: the director of Delta (1993) and Beta (1991); starring: an actor in Delta (1993); sequel to "
        "Beta (1991); genre: the genre of Zeta (1995) and Epsilon (1994)");
  // Beta 3, Gamma 3, Delta 1; Epsilon 4, Zeta 3
  CHECK(lb["1"] ==
        "directed by: the director of Beta (1991) and Gamma (1992); starring: an actor in Delta (1993); sequel to "
        "Beta (1991); genre: the genre of Epsilon (1994) and Zeta (1995)");
}

TEST_CASE("kg: cold-start users' support sets do not count") {
  Split sp;
  sp.train = {{0, 0, 1, 1}, {0, 1, 2, 1}, {1, 2, 1, 1}, {2, 2, 1, 1}};  // users 1 and 2: valid/test supports
  sp.valid_users = {1};
  sp.test_users = {2};
  CHECK(kg_popularity(sp, 3) == std::vector<double>{1, 1, 0});
  sp.valid_users.clear();
  sp.test_users.clear();
  CHECK(kg_popularity(sp, 3) == std::vector<double>{1, 1, 2});
}

TEST_CASE("kg: item ids order numerically when both are integers") {
  CHECK(item_id_less("9", "10"));
  CHECK(!item_id_less("10", "9"));
  CHECK(item_id_less("009", "10"));
  CHECK(item_id_less("10", "a"));
  CHECK(item_id_less("a10", "a9"));  // not both integers: bytewise
  CHECK(!item_id_less("7", "7"));
}

TEST_CASE("kg paths for metarec recommend: direct links, then shared tails, the rarest first") {
  auto ds = load_dataset(rt::fixture("kgmini"), LoadOptions{});
  auto id = [&](const char* t) { return uint32_t(ds.items.find(t)); };
  KgIndex kg(ds);
  std::vector<std::string> got;
  for (auto& p : kg.paths(id("1"), {id("2"), id("9"), id("4"), id("1"), id("10")})) got.push_back(p.text);
  CHECK(got == std::vector<std::string>{
                   "sequel to Beta (1991), which you watched",       // Alpha's prequel edge ends at Beta's entity
                   "same director as Beta (1991), which you watched",
                   "same genre as Zeta (1995), which you watched",
                   "same actor as Delta (1993), which you watched",  // m.act2: 2 items share it
                   "same director as Delta (1993), which you watched",  // m.dir: 4 items
                   "same genre as Epsilon (1994), which you watched"});
  // names, when there are: the names file, or the linked item's title
  KgIndex named(ds, {{"m.dir", "Jane Doe"}});
  auto p = named.paths(id("3"), {id("2")});
  REQUIRE(p.size() == 1);
  CHECK(p[0].history_item == id("2"));
  CHECK(p[0].text == "same director (Jane Doe) as Beta (1991), which you watched");
  CHECK(kg.paths(id("9"), {id("3")}).empty());  // nothing in common
}

TEST_CASE("kg files: malformed lines name the file and line, escaped; --lenient skips them") {
  rt::TempDir d;
  const std::string item = slurp(rt::fixture("kgmini/kgmini.item")), inter = slurp(rt::fixture("kgmini/kgmini.inter"));
  d.write("kgmini.inter", inter);
  d.write("kgmini.item", item);
  const std::string link = slurp(rt::fixture("kgmini/kgmini.link")), kg = slurp(rt::fixture("kgmini/kgmini.kg"));
  auto load = [&](bool lenient = false) {
    LoadOptions o;
    o.read.lenient = lenient;
    return load_dataset(d.path, o);
  };
  auto err = [&] { return rt::error_of([&] { load(); }); };
  // a triple with two fields
  d.write("kgmini.link", link);
  d.write("kgmini.kg", kg + "m.a\tfilm.film.genre\n");
  CHECK(err() == d.path + "/kgmini.kg: line 17: wrong number of fields: 2 fields, header has 3");
  // an empty head
  d.write("kgmini.kg", kg + "\tfilm.film.genre\tm.g\n");
  CHECK(err() == d.path + "/kgmini.kg: line 17: empty id: field head_id");
  // a header without tail_id
  d.write("kgmini.kg", "head_id:token\trelation_id:token\tobject:token\nm.a\tfilm.film.genre\tm.g\n");
  CHECK(err().starts_with(d.path + "/kgmini.kg: line 1: missing column 'tail_id'"));
  // an item linked to two entities (the second quoted escaped)
  d.write("kgmini.kg", kg);
  d.write("kgmini.link", link + "2\tm.\x1b[2J\xff\n");
  CHECK(err() == d.path + "/kgmini.link: line 9: item linked twice: item '2' to 'm.\\x1b[2J\\xff', line 3 linked it to 'm.b'");
  // the same link twice is harmless
  d.write("kgmini.link", link + "2\tm.b\n");
  CHECK(load().item_entity.at("2") == "m.b");
  // an empty entity
  d.write("kgmini.link", link + "3\t\n");
  CHECK(err() == d.path + "/kgmini.link: line 9: empty id: field entity_id");
  // --lenient: the bad lines are skipped and counted, the first link kept
  d.write("kgmini.kg", kg + "m.a\tfilm.film.genre\n");
  d.write("kgmini.link", link + "2\tm.x\n");
  auto ds = load(true);
  CHECK(ds.report.total_skipped() == 2);
  CHECK(ds.item_entity.at("2") == "m.b");
  CHECK(ds.kg.size() == 15);
  // a bad names line
  const std::string names = d.write("names.tsv", "m.dir\tJane Doe\nm.act John Roe\n");
  ReadReport rep;
  CHECK(rt::error_of([&] { read_entity_names(names, ReadOptions{}, rep); }) ==
        names + ": line 2: expected 'entity<TAB>name': m.act John Roe");
}

TEST_CASE("kg on ml-100k as shipped in recbole" * doctest::skip(!rt::have_ml100k())) {
  auto ds = load_dataset(rt::ml100k(), LoadOptions{});
  KgTextOptions o;
  o.popularity = kg_popularity(split_loo(ds), ds.n_items());
  size_t skipped = 0;
  auto f = kg_facts(ds, o, &skipped);
  size_t with = 0;
  for (auto& s : f) with += !s.empty();
  CHECK(with >= 1500);
  // recbole's KG links the director entity of Return of the Jedi (item 181) to one other film
  const int64_t rotj = ds.items.find("181");
  REQUIRE(rotj >= 0);
  CHECK(f[size_t(rotj)].starts_with("directed by: the director of Ladybird Ladybird (1994); starring: "));
}

TEST_CASE("kg: the split a prepared file's KG text was ranked with must be the run's") {
  ColdUserOptions cu;
  cu.seed = 3;
  const nlohmann::json loo = kg_split_desc("loo", cu), cold = kg_split_desc("cold-user", cu);
  CHECK(loo == nlohmann::json{{"protocol", "loo"}});
  CHECK(cold == nlohmann::json{{"protocol", "cold-user"}, {"seed", 3}, {"min_inter", 13}, {"max_inter", 100},
                               {"test_fraction", 0.2}, {"valid_fraction", 0.1}});
  CHECK(kg_split_desc("cold-item", cu) ==
        nlohmann::json{{"protocol", "cold-item"}, {"seed", 3}, {"test_fraction", 0.2}, {"valid_fraction", 0.1}});
  nlohmann::json meta = {{"name", "x"}};
  CHECK(kg_split_mismatch(meta, cold) == "");  // no KG text
  meta["kg_popularity_split"] = cold;
  meta["kg_popularity_split"]["train_interactions"] = 7;
  CHECK(kg_split_mismatch(meta, cold) == "");
  cu.seed = 4;
  CHECK(kg_split_mismatch(meta, kg_split_desc("cold-user", cu)).starts_with("its KG text took titles from the training part of {"));
  CHECK(kg_split_mismatch(meta, loo) != "");
}
