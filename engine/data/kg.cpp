// Knowledge-graph facts as item text, and KG paths between items (engine/data/kg.h).
#include "engine/data/kg.h"

#include <algorithm>
#include <map>

#include "base/check.h"
#include "base/escape.h"

namespace mr::data {

const RelationWords* relation_words(const std::string& relation) {
  // in the order facts are written: the most telling first (a tokenizer cuts the end)
  static const std::map<std::string, RelationWords> words = {
      {"film.film.directed_by", {"directed by", "the director of", "director", 0}},
      {"film.film.actor", {"starring", "an actor in", "actor", 1}},
      {"film.film.written_by", {"written by", "the writer of", "writer", 2}},
      {"film.film.sequel", {"followed by", "the sequel of", "sequel", 3}},
      {"film.film.prequel", {"sequel to", "the prequel of", "prequel", 4}},
      {"film.film.produced_by", {"produced by", "the producer of", "producer", 5}},
      {"film.film.production_companies", {"produced by", "the company behind", "production company", 6}},
      {"film.film.cinematography", {"cinematography by", "the cinematographer of", "cinematographer", 7}},
      {"film.film.subjects", {"about", "the subject of", "subject", 8}},
      {"film.film.genre", {"genre", "the genre of", "genre", 9}},
      {"film.film.award_won", {"won", "an award won by", "award", 10}},
      {"film.film.award_nomination", {"nominated for", "an award nominating", "nomination", 11}},
      {"film.film.country", {"country", "the country of", "country", 12}},
      {"film.film.language", {"language", "the language of", "language", 13}},
      {"film.film.rating", {"rated", "the rating of", "rating", 14}}};
  auto it = words.find(relation);
  return it == words.end() ? nullptr : &it->second;
}

std::string relation_phrase(const std::string& relation) {
  const RelationWords* w = relation_words(relation);
  return w ? w->phrase : "";
}

std::unordered_map<std::string, std::string> read_entity_names(const std::string& path, const ReadOptions& opt,
                                                              ReadReport& rep) {
  std::unordered_map<std::string, std::string> m;
  std::string text = read_file(path);
  for_each_line(text, [&](size_t no, std::string_view line) {
    if (trim(line).empty()) return;
    auto tab = line.find('\t');
    if (tab == std::string_view::npos || trim(line.substr(0, tab)).empty() || trim(line.substr(tab + 1)).empty()) {
      rep.bad(opt, path, no, "expected 'entity<TAB>name'", escape_bytes(line));
      return;
    }
    m[std::string(trim(line.substr(0, tab)))] = to_utf8(trim(line.substr(tab + 1)));
  });
  return m;
}

std::vector<double> kg_popularity(const Split& sp, size_t n_items) {
  std::vector<uint8_t> held_out;  // cold-start valid/test users: only their support is in train
  for (auto* v : {&sp.valid_users, &sp.test_users})
    for (uint32_t u : *v) {
      if (u >= held_out.size()) held_out.resize(size_t(u) + 1, 0);
      held_out[u] = 1;
    }
  std::vector<double> n(n_items, 0.0);
  for (auto& x : sp.train)
    if (x.user >= held_out.size() || !held_out[x.user]) n.at(x.item) += 1;
  return n;
}

nlohmann::json kg_split_desc(const std::string& protocol, const ColdUserOptions& cu) {
  nlohmann::json d = {{"protocol", protocol}};
  if (protocol == "cold-user")
    d.update({{"seed", cu.seed}, {"min_inter", cu.min_interactions}, {"max_inter", cu.max_interactions},
              {"test_fraction", cu.test_fraction}, {"valid_fraction", cu.valid_fraction}});
  if (protocol == "cold-item")
    d.update({{"seed", cu.seed}, {"test_fraction", cu.test_fraction}, {"valid_fraction", cu.valid_fraction}});
  return d;
}

std::string kg_split_mismatch(const nlohmann::json& meta, const nlohmann::json& desc) {
  if (!meta.is_object() || !meta.contains("kg_popularity_split") || !meta["kg_popularity_split"].is_object()) return "";
  nlohmann::json had = meta["kg_popularity_split"];
  had.erase("train_interactions");
  if (had == desc) return "";
  return fmt::format("its KG text took titles from the training part of {}, this split is {}", had.dump(), desc.dump());
}

bool item_id_less(const std::string& a, const std::string& b) {
  auto digits = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (digits(a) && digits(b)) {
    auto strip = [](const std::string& s) {  // leading zeros off, "0" kept
      return std::string_view(s).substr(std::min(s.find_first_not_of('0'), s.size() - 1));
    };
    std::string_view x = strip(a), y = strip(b);
    if (x.size() != y.size()) return x.size() < y.size();
    if (x != y) return x < y;
  }
  return a < b;
}

KgIndex::KgIndex(const Dataset& ds, std::unordered_map<std::string, std::string> names) {
  const size_t n = ds.n_items();
  item_names_ = ds.items.names;
  titles_.resize(n);
  for (uint32_t i = 0; i < n; i++) {
    const std::string& t = ds.item_field("title", i);
    if (t.empty()) continue;
    const std::string& y = ds.item_field("year", i);
    titles_[i] = y.empty() ? t : t + " (" + y + ")";
  }
  std::unordered_map<std::string, uint32_t> ent, rel;
  auto intern = [](std::unordered_map<std::string, uint32_t>& m, std::vector<std::string>& v, const std::string& s) {
    auto [it, fresh] = m.try_emplace(s, uint32_t(v.size()));
    if (fresh) v.push_back(s);
    return it->second;
  };
  item_entity_.assign(n, -1);
  for (uint32_t i = 0; i < n; i++) {
    auto e = ds.item_entity.find(ds.items.names[i]);
    if (e != ds.item_entity.end()) item_entity_[i] = intern(ent, entities_, e->second);
  }
  // entity -> its edges, file order, duplicates removed
  std::vector<std::vector<Edge>> ent_edges;
  for (auto& t : ds.kg) {
    const RelationWords* w = relation_words(t.relation);
    if (!w) { unknown_relation_++; continue; }
    auto h = ent.find(t.head);
    if (h == ent.end()) continue;  // no item of ours links to the head
    uint32_t r = intern(rel, relations_, t.relation);
    if (words_.size() < relations_.size()) words_.push_back(w);
    Edge e{r, intern(ent, entities_, t.tail)};
    if (ent_edges.size() <= h->second) ent_edges.resize(size_t(h->second) + 1);
    auto& v = ent_edges[h->second];
    if (std::none_of(v.begin(), v.end(), [&](const Edge& x) { return x.relation == e.relation && x.tail == e.tail; }))
      v.push_back(e);
  }
  item_edges_.resize(n);
  for (uint32_t i = 0; i < n; i++) {
    if (item_entity_[i] < 0 || size_t(item_entity_[i]) >= ent_edges.size()) continue;
    item_edges_[i] = ent_edges[size_t(item_entity_[i])];
    for (auto& e : item_edges_[i]) by_edge_[key(e)].push_back(i);
  }
  entity_name_.assign(entities_.size(), "");
  entity_item_.assign(entities_.size(), -1);
  for (uint32_t i = 0; i < n; i++)
    if (item_entity_[i] >= 0 && entity_item_[size_t(item_entity_[i])] < 0) entity_item_[size_t(item_entity_[i])] = i;
  for (size_t k = 0; k < entities_.size(); k++) {
    auto nm = names.find(entities_[k]);
    if (nm != names.end()) entity_name_[k] = nm->second;
    else if (entity_item_[k] >= 0) entity_name_[k] = titles_[size_t(entity_item_[k])];
  }
}

std::vector<uint32_t> KgIndex::sharing(uint32_t item, const Edge& e) const {
  std::vector<uint32_t> out;
  auto it = by_edge_.find(key(e));
  if (it == by_edge_.end()) return out;
  for (uint32_t j : it->second)
    if (j != item && item_entity_[j] != item_entity_[item]) out.push_back(j);
  return out;
}

std::string KgIndex::tail_name(const Edge& e, uint32_t from_item) const {
  if (item_entity_[from_item] == int64_t(e.tail)) return "";  // a self-loop: not named after itself
  return entity_name_[e.tail];
}

static std::string english_list(const std::vector<std::string>& v) {
  std::string s;
  for (size_t k = 0; k < v.size(); k++) s += (k == 0 ? "" : k + 1 == v.size() ? " and " : ", ") + v[k];
  return s;
}

std::string KgIndex::facts(uint32_t item, size_t max_per_relation, const std::vector<double>& popularity,
                           size_t* skipped) const {
  struct Group {
    std::string phrase;
    int order;
    std::vector<std::string> tails;
    bool described = false;
  };
  std::vector<Group> groups;  // by relation order (relation_words), then first appearance
  size_t skip = 0;
  auto pop = [&](uint32_t i) { return i < popularity.size() ? popularity[i] : 0.0; };
  for (const Edge& e : item_edges_[item]) {
    const RelationWords* w = words_[e.relation];
    std::string text = tail_name(e, item);
    bool described = false;
    if (text.empty()) {
      std::vector<uint32_t> others = sharing(item, e);
      others.erase(std::remove_if(others.begin(), others.end(), [&](uint32_t j) { return titles_[j].empty(); }),
                   others.end());
      if (others.empty()) { skip++; continue; }
      std::sort(others.begin(), others.end(), [&](uint32_t a, uint32_t b) {
        if (pop(a) != pop(b)) return pop(a) > pop(b);
        return item_id_less(item_names_[a], item_names_[b]);
      });
      std::vector<std::string> t;
      for (size_t k = 0; k < others.size() && t.size() < max_per_relation; k++)
        if (std::find(t.begin(), t.end(), titles_[others[k]]) == t.end()) t.push_back(titles_[others[k]]);
      text = std::string(w->role) + " " + english_list(t);
      described = true;
    }
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.phrase == w->phrase; });
    if (g == groups.end()) { groups.push_back({w->phrase, w->order, {}, false}); g = groups.end() - 1; }
    if (g->tails.size() < max_per_relation && std::find(g->tails.begin(), g->tails.end(), text) == g->tails.end()) {
      g->tails.push_back(text);
      g->described |= described;
    }
  }
  std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) { return a.order < b.order; });
  std::string s;
  for (auto& g : groups) {
    if (g.tails.empty()) continue;  // max_per_relation 0
    std::string list;
    for (auto& t : g.tails) list += (list.empty() ? "" : ", ") + t;
    s += (s.empty() ? "" : "; ") + g.phrase + (g.described ? ": " : " ") + list;
  }
  if (skipped) *skipped += skip;
  return s;
}

std::vector<KgIndex::Path> KgIndex::paths(uint32_t item, const std::vector<uint32_t>& history) const {
  std::vector<Path> out;
  for (uint32_t h : history) {
    if (h == item || titles_[h].empty()) continue;
    const std::string watched = titles_[h] + ", which you watched";
    // direct: the item's tail is h's entity
    for (const Edge& e : item_edges_[item])
      if (item_entity_[h] == int64_t(e.tail)) out.push_back({h, std::string(words_[e.relation]->phrase) + " " + watched});
    // shared (relation, tail), the rarest first
    std::vector<std::pair<size_t, size_t>> shared;  // (items sharing it, edge index)
    for (size_t k = 0; k < item_edges_[item].size(); k++) {
      const Edge& e = item_edges_[item][k];
      auto it = by_edge_.find(key(e));
      if (item_entity_[h] >= 0 && item_entity_[h] != item_entity_[item] &&
          std::find(item_edges_[h].begin(), item_edges_[h].end(), e) != item_edges_[h].end())
        shared.push_back({it->second.size(), k});
    }
    std::stable_sort(shared.begin(), shared.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (auto& [cnt, k] : shared) {
      const Edge& e = item_edges_[item][k];
      std::string nm = entity_name_[e.tail];
      out.push_back({h, "same " + std::string(words_[e.relation]->same) + (nm.empty() ? "" : " (" + nm + ")") + " as " +
                            watched});
    }
  }
  return out;
}

std::vector<std::string> kg_facts(const Dataset& ds, const KgTextOptions& opt, size_t* skipped) {
  KgIndex kg(ds, opt.names);
  if (!opt.popularity.empty())
    MR_CHECK(opt.popularity.size() == ds.n_items(), "kg popularity has {} items, the data {}", opt.popularity.size(),
             ds.n_items());
  std::vector<std::string> out(ds.n_items());
  size_t skip = kg.unknown_relation_triples();
  for (uint32_t i = 0; i < ds.n_items(); i++) out[i] = kg.facts(i, opt.max_per_relation, opt.popularity, &skip);
  if (skipped) *skipped = skip;
  return out;
}

}  // namespace mr::data
