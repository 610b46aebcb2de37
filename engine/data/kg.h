// Knowledge-graph facts as item text, and KG paths between items (RecBole .kg + .link).
//
// An item is linked (.link) to an entity; the entity's triples (head, relation, tail) with a
// known relation (relation_words) are its facts. A tail is written as
//   * its name: --kg-names (entity<TAB>name) first, else the title of the item linked to it
//     (film.film.sequel's tail is a film: "followed by Return of the Jedi (1983)");
//   * otherwise through the other items it connects by the same relation: the relation's role
//     and up to max_per_relation of their titles, "the director of Star Wars (1977) and Return of
//     the Jedi (1983)". The titles are the most popular items in the TRAINING part of the split
//     (KgTextOptions::popularity, kg_popularity below), ties by item id (numerically when both
//     ids are integers, else bytewise), so that no validation or test interaction decides which
//     titles an item's text carries.
// A tail with neither is dropped (counted as skipped). Facts of one relation phrase form a group
// ("starring A, B"), tails in .kg file order, at most max_per_relation; a group holding a
// described tail takes a colon ("directed by: the director of ..."); groups are joined with "; "
// in a fixed order, the most telling first (director, actors, writers, sequels, producers, ...,
// genre, awards, country, language, rating: RelationWords::order), since a tokenizer cuts the end.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"
#include "engine/data/split.h"

namespace mr::data {

struct RelationWords {
  const char* phrase;  // the item's side: "directed by"
  const char* role;    // the tail through other items: "the director of"
  const char* same;    // what two items share: "director" ("same director as ...")
  int order;           // facts are written in this order: director, actors, writers, ... rating
};
// nullptr when the relation is not one we phrase (e.g. the inverse film.director.film).
const RelationWords* relation_words(const std::string& relation);
// The phrase for a relation ("film.film.directed_by" -> "directed by"); "" when unknown.
std::string relation_phrase(const std::string& relation);

// Reads "entity<TAB>name" lines.
std::unordered_map<std::string, std::string> read_entity_names(const std::string& path, const ReadOptions& opt,
                                                              ReadReport& rep);

// Interactions per item in the training part of a split, the support sets of cold-start users
// left out (they change with K, and a K=1 evaluation's targets are in a K=10 support set).
std::vector<double> kg_popularity(const Split& sp, size_t n_items);

// The split whose training part ranked the titles, as metarec prepare records it in the prepared
// file's meta ("kg_popularity_split"): the protocol, and for cold-user / cold-item the seed and
// the filters and fractions that choose the held-out users or items.
nlohmann::json kg_split_desc(const std::string& protocol, const ColdUserOptions& cu);
// "" when a prepared file's meta has no KG text or ranked it with `desc`'s split, else why not: a
// run or an evaluation on another split may have let its own validation or test interactions
// choose titles (its callers refuse it).
std::string kg_split_mismatch(const nlohmann::json& meta, const nlohmann::json& desc);

// "a" < "b" for item ids: numerically when both are decimal integers, else bytewise.
bool item_id_less(const std::string& a, const std::string& b);

// The KG seen from the items: an index built once over ds (its items, titles, .kg and .link).
class KgIndex {
 public:
  KgIndex(const Dataset& ds, std::unordered_map<std::string, std::string> names = {});

  struct Edge {
    uint32_t relation, tail;  // ids into relations_ / entities_
    bool operator==(const Edge&) const = default;
  };
  // The item's edges with a known relation, in .kg file order, duplicates removed.
  const std::vector<Edge>& edges(uint32_t item) const { return item_edges_[item]; }
  // Other items (not item, not linked to item's entity) with the same (relation, tail).
  std::vector<uint32_t> sharing(uint32_t item, const Edge& e) const;
  // "" when the tail has no name (names file, else a linked item's title)
  std::string tail_name(const Edge& e, uint32_t from_item) const;
  const std::string& relation(uint32_t r) const { return relations_[r]; }
  // "Title (year)", "" without a title
  const std::string& title(uint32_t item) const { return titles_[item]; }
  size_t unknown_relation_triples() const { return unknown_relation_; }

  // The item's facts as text (see the top of this file); popularity: per dense item, empty for
  // all equal; skipped (optional): tails dropped for lack of a name and of other items.
  std::string facts(uint32_t item, size_t max_per_relation, const std::vector<double>& popularity,
                    size_t* skipped = nullptr) const;

  // Paths from `item` to the history items, as text for `metarec recommend`, in the order of
  // `history` (the caller's priority); for each history item h: the item's edges whose tail is
  // h's entity ("sequel to X, which you watched"), then the shared (relation, tail) pairs, the
  // rarest first (fewest items share it; ties in edge order): "same director (George Lucas) as
  // X, which you watched" (the name when there is one).
  struct Path {
    uint32_t history_item;
    std::string text;
  };
  std::vector<Path> paths(uint32_t item, const std::vector<uint32_t>& history) const;

 private:
  std::vector<std::string> relations_, entities_, titles_, item_names_;
  std::vector<const RelationWords*> words_;            // per relation
  std::vector<std::vector<Edge>> item_edges_;          // per dense item
  std::vector<int64_t> item_entity_;                   // per dense item, -1 none
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_edge_;  // (relation, tail) -> items
  std::vector<std::string> entity_name_;               // per entity, "" none
  std::vector<int64_t> entity_item_;                   // per entity, the first item linked to it, -1 none
  size_t unknown_relation_ = 0;
  static uint64_t key(const Edge& e) { return (uint64_t(e.relation) << 32) | e.tail; }
};

struct KgTextOptions {
  size_t max_per_relation = 3;  // tails per relation, and titles per described tail (--kg-max)
  // entity -> readable name (--kg-names); wins over everything else
  std::unordered_map<std::string, std::string> names;
  // per dense item: interactions in the training part (kg_popularity); empty: all equal
  std::vector<double> popularity;
};
// Facts of each item with a .link entity. Returns one string per dense item id; `skipped` counts
// triples with a relation we do not phrase, and tails with neither a name nor another item.
std::vector<std::string> kg_facts(const Dataset& ds, const KgTextOptions& opt, size_t* skipped = nullptr);

}  // namespace mr::data
