// The in-memory recommendation dataset every reader produces: dense user and item ids,
// implicit-feedback interactions in chronological order per user, item/user side fields
// (title, year, genres, ...) and optional knowledge-graph facts.
//
// Implicit feedback (finalize()): with a threshold, an interaction is positive when its
// signal (rating) >= threshold and the others are dropped; without one, every interaction is
// positive. Per user, interactions are sorted by time, ties kept in file order (stable).
// Duplicates (same user and item) are merged unless the source defines sequences with
// repeats (RecBole's item_id_list benchmark files): the earliest occurrence is kept, with the
// signal of the latest one. The signal (rating, dwell time, ...) is kept for regression tasks.
#pragma once
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/data/report.h"

namespace mr::data {

struct IdMap {
  std::vector<std::string> names;                    // dense id -> external token
  std::unordered_map<std::string, uint32_t> index;  // external token -> dense id
  uint32_t add(std::string_view name);               // existing id or a new one
  int64_t find(std::string_view name) const;         // -1 when unknown
  size_t size() const { return names.size(); }
};

struct Interaction {
  uint32_t user = 0, item = 0;
  double time = 0;                     // timestamp, or position in the file when there is none
  float signal = std::nanf("");        // rating / dwell / ...; NaN when the source has none
};

struct Triple {
  std::string head, relation, tail;
};

struct ImplicitOptions {
  std::optional<double> threshold;   // positives: signal >= threshold; nullopt: all positive
  bool merge_duplicates = true;
};

struct Dataset {
  std::string name;     // e.g. "ml-100k"
  std::string source;   // format that was read: "recbole-atomic", "recbole-sequence", "ml-100k", ...
  IdMap users, items;
  std::vector<Interaction> inter;       // grouped by user (dense id order), chronological
  std::vector<uint64_t> user_offsets;   // (n_users + 1) CSR offsets into inter
  bool has_signal = false;
  std::string signal_name;              // "rating", ...
  // Side information, one string per dense id ("" when missing). Canonical item field names:
  // title, year, genres, categories, brand, description, text; others keep their file name.
  std::map<std::string, std::vector<std::string>> item_fields, user_fields;
  std::vector<Triple> kg;                                  // RecBole .kg (head, relation, tail)
  std::unordered_map<std::string, std::string> item_entity;  // item token -> KG entity (.link)
  ReadReport report;                                       // skipped lines, merged duplicates

  size_t n_users() const { return users.size(); }
  size_t n_items() const { return items.size(); }
  std::span<const Interaction> of_user(uint32_t u) const {
    return {inter.data() + user_offsets[u], inter.data() + user_offsets[u + 1]};
  }
  std::vector<uint32_t> item_sequence(uint32_t u) const;
  const std::string& item_field(const std::string& field, uint32_t item) const;  // "" if absent
};

// Collects raw interactions from a reader and turns them into a Dataset.
class DatasetBuilder {
 public:
  explicit DatasetBuilder(Dataset& ds) : ds_(ds) {}
  // signal: NaN when none; time: nullopt -> the running count of interactions (file order).
  void add(std::string_view user, std::string_view item, std::optional<double> time, double signal);
  // Side fields, keyed by external token; applied to known ids in finalize().
  void item_field(std::string_view item, const std::string& field, std::string value);
  void user_field(std::string_view user, const std::string& field, std::string value);
  // Implicit conversion, sorting, merging, CSR offsets, side fields. Empty result -> error.
  void finalize(const ImplicitOptions& opt);
  size_t raw_count() const { return raw_.size(); }

 private:
  struct Raw { uint32_t user, item; double time; double signal; };
  Dataset& ds_;
  IdMap users_, items_;
  std::vector<Raw> raw_;
  std::map<std::string, std::unordered_map<std::string, std::string>> item_side_, user_side_;
};

// Canonical name of a side field ("movie_title" -> "title", "class" -> "genres", ...).
std::string canonical_item_field(std::string_view name);

}  // namespace mr::data
