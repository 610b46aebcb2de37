#include "engine/data/dataset.h"

#include <algorithm>
#include <numeric>
#include <unordered_set>

#include "base/check.h"
#include "base/escape.h"

namespace mr::data {

uint32_t IdMap::add(std::string_view name) {
  auto it = index.find(std::string(name));
  if (it != index.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(names.size());
  names.emplace_back(name);
  index.emplace(names.back(), id);
  return id;
}

int64_t IdMap::find(std::string_view name) const {
  auto it = index.find(std::string(name));
  return it == index.end() ? -1 : static_cast<int64_t>(it->second);
}

std::vector<uint32_t> Dataset::item_sequence(uint32_t u) const {
  std::vector<uint32_t> s;
  for (auto& x : of_user(u)) s.push_back(x.item);
  return s;
}

const std::string& Dataset::item_field(const std::string& field, uint32_t item) const {
  static const std::string empty;
  auto it = item_fields.find(field);
  if (it == item_fields.end() || item >= it->second.size()) return empty;
  return it->second[item];
}

std::string canonical_item_field(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> alias = {
      {"movie_title", "title"}, {"title", "title"}, {"name", "title"},
      {"release_year", "year"}, {"year", "year"},
      {"class", "genres"}, {"genre", "genres"}, {"genres", "genres"},
      {"categories", "categories"}, {"category", "categories"}, {"cates", "categories"},
      {"brand", "brand"}, {"description", "description"}, {"text", "text"}};
  auto it = alias.find(name);
  return it == alias.end() ? std::string(name) : it->second;
}

void DatasetBuilder::add(std::string_view user, std::string_view item, std::optional<double> time, double signal) {
  Raw r;
  r.user = users_.add(user);
  r.item = items_.add(item);
  r.time = time ? *time : static_cast<double>(raw_.size());
  r.signal = signal;
  raw_.push_back(r);
}

void DatasetBuilder::item_field(std::string_view item, const std::string& field, std::string value) {
  item_side_[field][std::string(item)] = std::move(value);
}

void DatasetBuilder::user_field(std::string_view user, const std::string& field, std::string value) {
  user_side_[field][std::string(user)] = std::move(value);
}

void DatasetBuilder::finalize(const ImplicitOptions& opt) {
  // 1. implicit feedback: keep positives
  std::vector<Raw> pos;
  pos.reserve(raw_.size());
  size_t below = 0;
  for (auto& r : raw_) {
    if (opt.threshold) {
      if (std::isnan(r.signal))
        throw Error(fmt::format("dataset {}: a rating threshold was given but the interactions carry no rating",
                                escape_bytes(ds_.name)));
      if (r.signal < *opt.threshold) { below++; continue; }
    }
    pos.push_back(r);
  }
  ds_.report.note("interactions below the rating threshold dropped", below);
  // 2. chronological per user, ties in file order
  std::stable_sort(pos.begin(), pos.end(), [](const Raw& a, const Raw& b) {
    return a.user != b.user ? a.user < b.user : a.time < b.time;
  });
  // 3. merge duplicates: earliest occurrence, latest signal
  if (opt.merge_duplicates) {
    std::vector<Raw> out;
    out.reserve(pos.size());
    size_t merged = 0, begin = 0;
    std::unordered_map<uint32_t, size_t> where;
    for (size_t i = 0; i < pos.size(); i++) {
      if (i == 0 || pos[i].user != pos[i - 1].user) { where.clear(); begin = out.size(); }
      auto [it, fresh] = where.emplace(pos[i].item, out.size());
      if (fresh) out.push_back(pos[i]);
      else { out[it->second].signal = pos[i].signal; merged++; }
      (void)begin;
    }
    pos.swap(out);
    ds_.report.note("duplicate (user, item) interactions merged", merged);
  }
  if (pos.empty()) throw Error(fmt::format("dataset {}: no interactions left (read {}, below threshold {})", escape_bytes(ds_.name),
                                           raw_.size(), below));
  // 4. dense ids in order of first appearance among the kept interactions
  std::vector<int64_t> umap(users_.size(), -1), imap(items_.size(), -1);
  ds_.users = IdMap{};
  ds_.items = IdMap{};
  // users in order of their original dense id (file order of first appearance)
  for (auto& r : pos)
    if (umap[r.user] < 0) umap[r.user] = ds_.users.add(users_.names[r.user]);
  // items: by first appearance in file order (stable across sorting choices)
  std::vector<size_t> first_seen(items_.size(), SIZE_MAX);
  for (auto& r : pos) first_seen[r.item] = 0;
  for (uint32_t i = 0; i < items_.size(); i++)
    if (first_seen[i] == 0) imap[i] = ds_.items.add(items_.names[i]);
  ds_.report.note("users without positive interactions dropped",
                  users_.size() - ds_.users.size());
  ds_.inter.clear();
  ds_.inter.reserve(pos.size());
  bool has_signal = false;
  for (auto& r : pos) {
    Interaction x;
    x.user = static_cast<uint32_t>(umap[r.user]);
    x.item = static_cast<uint32_t>(imap[r.item]);
    x.time = r.time;
    x.signal = static_cast<float>(r.signal);
    has_signal |= !std::isnan(r.signal);
    ds_.inter.push_back(x);
  }
  // users were numbered in order of their first kept interaction, and pos is grouped by the
  // old user id, so the groups are already in the new id order
  ds_.has_signal = has_signal;
  ds_.user_offsets.assign(ds_.users.size() + 1, 0);
  for (auto& x : ds_.inter) ds_.user_offsets[x.user + 1]++;
  for (size_t u = 0; u < ds_.users.size(); u++) ds_.user_offsets[u + 1] += ds_.user_offsets[u];
  // 5. side fields for known ids
  size_t unknown_items = 0;
  for (auto& [field, m] : item_side_) {
    auto& col = ds_.item_fields[field];
    col.assign(ds_.items.size(), "");
    for (auto& [tok, v] : m) {
      int64_t id = ds_.items.find(tok);
      if (id < 0) { unknown_items++; continue; }
      col[id] = v;
    }
  }
  if (!item_side_.empty())
    ds_.report.note("item side records for items without interactions ignored",
                    unknown_items / std::max<size_t>(1, item_side_.size()));
  for (auto& [field, m] : user_side_) {
    auto& col = ds_.user_fields[field];
    col.assign(ds_.users.size(), "");
    for (auto& [tok, v] : m) {
      int64_t id = ds_.users.find(tok);
      if (id >= 0) col[id] = v;
    }
  }
  raw_.clear();
  item_side_.clear();
  user_side_.clear();
}

}  // namespace mr::data
