// RecBole atomic files (https://recbole.io/docs/user_guide/data/atomic_files.html).
#include <algorithm>
#include <memory>

#include "base/check.h"
#include "base/escape.h"
#include "engine/data/readers.h"

namespace mr::data {

int AtomicTable::col(std::string_view name) const {
  for (size_t i = 0; i < names.size(); i++)
    if (names[i] == name) return static_cast<int>(i);
  return -1;
}

int AtomicTable::require(std::string_view name) const {
  int c = col(name);
  if (c < 0) FAIL_INPUT(path, "line 1", "missing column '{}' (header has: {})", name,
                                 escape_bytes(fmt::format("{}", fmt::join(names, ", "))));
  return c;
}

static bool parse_type(std::string_view t, FieldType& out) {
  if (t == "token") out = FieldType::Token;
  else if (t == "token_seq") out = FieldType::TokenSeq;
  else if (t == "float") out = FieldType::Float;
  else if (t == "float_seq") out = FieldType::FloatSeq;
  else return false;
  return true;
}

AtomicTable parse_atomic(std::string_view text, const std::string& path, const ReadOptions& opt, ReadReport& rep) {
  AtomicTable t;
  t.path = path;
  bool have_header = false;
  for_each_line(text, [&](size_t no, std::string_view line) {
    if (!have_header) {
      if (no == 1 && line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // BOM
      if (trim(line).empty()) FAIL_INPUT(path, fmt::format("line {}", no), "empty header (expected name:type fields)");
      for (auto f : split(line, '\t')) {
        f = trim(f);
        size_t c = f.rfind(':');
        FieldType ty;
        if (c == std::string_view::npos || !parse_type(f.substr(c + 1), ty))
          FAIL_INPUT(path, fmt::format("line {}", no),
                     "bad header field '{}' (expected name:type, type one of token, token_seq, float, float_seq)",
                     escape_bytes(f));
        std::string name(f.substr(0, c));
        if (name.empty() || std::find(t.names.begin(), t.names.end(), name) != t.names.end())
          FAIL_INPUT(path, fmt::format("line {}", no), "empty or repeated field name '{}'", escape_bytes(name));
        t.names.push_back(name);
        t.types.push_back(ty);
      }
      have_header = true;
      return;
    }
    if (trim(line).empty()) return;  // blank lines (a trailing newline) carry nothing
    auto f = split(line, '\t');
    if (f.size() != t.names.size()) {
      rep.bad(opt, path, no, "wrong number of fields", fmt::format("{} fields, header has {}", f.size(), t.names.size()));
      return;
    }
    std::vector<std::string> row;
    row.reserve(f.size());
    for (size_t i = 0; i < f.size(); i++) {
      std::string_view v = f[i];
      if (t.types[i] != FieldType::TokenSeq) v = trim(v);
      if (t.types[i] == FieldType::Float) {
        double d;
        if (!v.empty() && !parse_double(v, d)) {
          rep.bad(opt, path, no, "not a number", fmt::format("field {} = '{}'", escape_bytes(t.names[i]), escape_bytes(v)));
          return;
        }
      } else if (t.types[i] == FieldType::FloatSeq) {
        for (auto x : split_ws(v)) {
          double d;
          if (!parse_double(x, d)) {
            rep.bad(opt, path, no, "not a number", fmt::format("field {} has '{}'", escape_bytes(t.names[i]), escape_bytes(x)));
            return;
          }
        }
      } else if (t.types[i] == FieldType::Token && v.empty() && t.names[i].size() > 3 &&
                 t.names[i].compare(t.names[i].size() - 3, 3, "_id") == 0) {
        rep.bad(opt, path, no, "empty id", fmt::format("field {}", escape_bytes(t.names[i])));
        return;
      }
      row.emplace_back(v);
    }
    t.rows.push_back(std::move(row));
    t.lines.push_back(no);
  });
  if (!have_header) FAIL_INPUT(path, "line 1", "empty file (expected a name:type header)");
  return t;
}

AtomicTable read_atomic(const std::string& path, const ReadOptions& opt, ReadReport& rep) {
  std::string text = read_file(path);
  return parse_atomic(text, path, opt, rep);
}

static std::vector<std::string> tokens(std::string_view s) {
  std::vector<std::string> out;
  for (auto t : split_ws(s)) out.emplace_back(t);
  return out;
}

// Is `h` equal to the last |h| elements of `s`?
static bool is_suffix(const std::vector<std::string>& h, const std::vector<std::string>& s) {
  return h.size() <= s.size() && std::equal(h.begin(), h.end(), s.end() - h.size());
}

bool merge_sequence_lines(const std::vector<SeqLine>& in, std::vector<std::string>& seq, std::string& why) {
  seq.clear();
  if (in.empty()) { why = "no lines"; return false; }
  std::vector<const SeqLine*> lines;
  for (auto& l : in) lines.push_back(&l);
  // Orientation: RecBole writes every prefix of a sequence, longest first; accept either
  // order. Line e continues a descending run when its history is shorter than the previous
  // line's, or as long (both truncated) and the previous history ends with its target.
  auto desc = [&](size_t e) {
    auto &p = *lines[e - 1], &c = *lines[e];
    return c.history.size() < p.history.size() ||
           (c.history.size() == p.history.size() && !p.history.empty() && p.history.back() == c.target);
  };
  if (lines.size() >= 2 && desc(1)) {
    size_t e = 1;
    while (e < lines.size() && desc(e)) e++;
    std::reverse(lines.begin(), lines.begin() + e);
  }
  seq = lines[0]->history;
  seq.push_back(lines[0]->target);
  for (size_t k = 1; k < lines.size(); k++) {
    auto& l = *lines[k];
    if (!is_suffix(l.history, seq)) {
      // a line whose history reaches further back than what we have cannot be placed
      why = fmt::format("{}: line {}: history is not a continuation of the user's earlier lines", *l.path, l.line);
      return false;
    }
    seq.push_back(l.target);
  }
  return true;
}

// ---------------------------------------------------------------- side files
static void read_item_side(const std::string& dir, const std::string& name, const LoadOptions& opt, DatasetBuilder& b,
                           Dataset& ds) {
  std::string base = dir + "/" + name;
  if (file_exists(base + ".item")) {
    auto t = read_atomic(base + ".item", opt.read, ds.report);
    int id = t.require("item_id");
    for (size_t r = 0; r < t.rows.size(); r++)
      for (size_t c = 0; c < t.names.size(); c++)
        if (static_cast<int>(c) != id) b.item_field(t.rows[r][id], canonical_item_field(t.names[c]), to_utf8(t.rows[r][c]));
  }
  if (file_exists(base + ".text")) {
    auto t = read_atomic(base + ".text", opt.read, ds.report);
    int id = t.require("item_id");
    // UniSRec-style: .text is keyed by the original item token, .item2index maps it to the
    // token used in the .inter files.
    std::unordered_map<std::string, std::string> remap;
    if (file_exists(base + ".item2index")) {
      std::string p = base + ".item2index";
      std::string txt = read_file(p);
      for_each_line(txt, [&](size_t no, std::string_view line) {
        if (trim(line).empty()) return;
        auto f = split(line, '\t');
        if (f.size() != 2 || trim(f[0]).empty() || trim(f[1]).empty()) {
          ds.report.bad(opt.read, p, no, "expected 'token<TAB>index'", escape_bytes(line));
          return;
        }
        remap[std::string(trim(f[0]))] = std::string(trim(f[1]));
      });
    }
    for (size_t r = 0; r < t.rows.size(); r++) {
      std::string key = t.rows[r][id];
      if (!remap.empty()) {
        auto it = remap.find(key);
        if (it == remap.end()) {
          ds.report.bad(opt.read, t.path, t.lines[r], "unknown id", fmt::format("item '{}' is not in {}.item2index", escape_bytes(key), escape_bytes(name)));
          continue;
        }
        key = it->second;
      }
      for (size_t c = 0; c < t.names.size(); c++)
        if (static_cast<int>(c) != id)
          b.item_field(key, canonical_item_field(t.names[c]), std::string(trim(to_utf8(t.rows[r][c]))));
    }
  }
  if (file_exists(base + ".user")) {
    auto t = read_atomic(base + ".user", opt.read, ds.report);
    int id = t.require("user_id");
    for (size_t r = 0; r < t.rows.size(); r++)
      for (size_t c = 0; c < t.names.size(); c++)
        if (static_cast<int>(c) != id) b.user_field(t.rows[r][id], t.names[c], to_utf8(t.rows[r][c]));
  }
}

static void read_kg(const std::string& dir, const std::string& name, const LoadOptions& opt, Dataset& ds) {
  std::string base = dir + "/" + name;
  if (file_exists(base + ".kg")) {
    auto t = read_atomic(base + ".kg", opt.read, ds.report);
    int h = t.require("head_id"), r = t.require("relation_id"), tl = t.require("tail_id");
    ds.kg.reserve(t.rows.size());
    for (auto& row : t.rows) ds.kg.push_back({row[h], row[r], row[tl]});
  }
  if (file_exists(base + ".link")) {
    auto t = read_atomic(base + ".link", opt.read, ds.report);
    int i = t.require("item_id"), e = t.require("entity_id");
    size_t unknown = 0;
    std::unordered_map<std::string, std::pair<size_t, std::string>> seen;  // item -> (line, entity)
    for (size_t k = 0; k < t.rows.size(); k++) {
      auto& row = t.rows[k];
      auto [first, fresh] = seen.try_emplace(row[i], t.lines[k], row[e]);
      if (!fresh) {
        // an item linked to two entities: which one it is would depend on the line order
        if (first->second.second != row[e])
          ds.report.bad(opt.read, t.path, t.lines[k], "item linked twice",
                        fmt::format("item '{}' to '{}', line {} linked it to '{}'", escape_bytes(row[i]),
                                    escape_bytes(row[e]), first->second.first, escape_bytes(first->second.second)));
        continue;
      }
      if (ds.items.find(row[i]) < 0) { unknown++; continue; }
      ds.item_entity[row[i]] = row[e];
    }
    ds.report.note("links for items without interactions ignored", unknown);
  }
}

// ---------------------------------------------------------------- .inter
static void add_sequence_rows(const AtomicTable& t, std::map<std::string, std::vector<SeqLine>>& per_user,
                              std::vector<std::string>& user_order) {
  int u = t.require("user_id"), l = t.require("item_id_list"), i = t.require("item_id");
  for (size_t r = 0; r < t.rows.size(); r++) {
    auto& row = t.rows[r];
    auto [it, fresh] = per_user.try_emplace(row[u]);
    if (fresh) user_order.push_back(row[u]);
    it->second.push_back(SeqLine{tokens(row[l]), row[i], t.lines[r], &t.path});
  }
}

static void build_sequences(const std::map<std::string, std::vector<SeqLine>>& per_user,
                            const std::vector<std::string>& user_order, const LoadOptions& opt, DatasetBuilder& b,
                            Dataset& ds) {
  std::vector<std::string> seq;
  std::string why;
  for (auto& u : user_order) {
    auto& lines = per_user.at(u);
    if (!merge_sequence_lines(lines, seq, why)) {
      ds.report.bad(opt.read, *lines.front().path, lines.front().line, "inconsistent sequence",
                    fmt::format("user '{}': {}", escape_bytes(u), why));
      continue;
    }
    for (size_t k = 0; k < seq.size(); k++) b.add(u, seq[k], static_cast<double>(k), std::nan(""));
  }
}

static void read_pointwise(const AtomicTable& t, const LoadOptions& opt, DatasetBuilder& b, Dataset& ds) {
  int u = t.require("user_id"), i = t.require("item_id");
  auto role = [&](const char* r, std::initializer_list<const char*> names) {
    auto it = opt.columns.find(r);
    if (it != opt.columns.end()) return t.require(it->second);
    for (auto n : names)
      if (int c = t.col(n); c >= 0) return c;
    return -1;
  };
  int rating = role("rating", {"rating", "score", "label"});
  int time = role("time", {"timestamp", "time"});
  if (rating >= 0 && t.types[rating] != FieldType::Float)
    FAIL_INPUT(t.path, "line 1", "column '{}' must be a float field", escape_bytes(t.names[rating]));
  if (time >= 0 && t.types[time] != FieldType::Float)
    FAIL_INPUT(t.path, "line 1", "column '{}' must be a float field", escape_bytes(t.names[time]));
  if (rating >= 0) { ds.signal_name = t.names[rating]; }
  for (size_t r = 0; r < t.rows.size(); r++) {
    auto& row = t.rows[r];
    double sig = std::nan(""), tm = 0;
    if (rating >= 0 && !row[rating].empty()) parse_double(row[rating], sig);
    std::optional<double> when;
    if (time >= 0) {
      if (row[time].empty()) { ds.report.bad(opt.read, t.path, t.lines[r], "missing value", escape_bytes(t.names[time])); continue; }
      parse_double(row[time], tm);
      when = tm;
    }
    if (rating >= 0 && opt.implicit.threshold && std::isnan(sig)) {
      ds.report.bad(opt.read, t.path, t.lines[r], "missing value", escape_bytes(t.names[rating]));
      continue;
    }
    b.add(row[u], row[i], when, sig);
  }
}

// The .inter part of load_recbole; returns the implicit options to finalize with.
static ImplicitOptions read_inter(const AtomicTable& t, const LoadOptions& opt, DatasetBuilder& b, Dataset& ds) {
  ImplicitOptions imp = opt.implicit;
  if (t.col("item_id_list") >= 0) {
    ds.source = "recbole-sequence";
    std::map<std::string, std::vector<SeqLine>> per_user;
    std::vector<std::string> order;
    add_sequence_rows(t, per_user, order);
    build_sequences(per_user, order, opt, b, ds);
    imp.merge_duplicates = false;
    imp.threshold.reset();
  } else {
    ds.source = "recbole-atomic";
    read_pointwise(t, opt, b, ds);
  }
  return imp;
}

Dataset recbole_inter_from_text(std::string_view text, const std::string& path, const LoadOptions& opt) {
  Dataset ds;
  ds.name = "text";
  DatasetBuilder b(ds);
  auto t = parse_atomic(text, path, opt.read, ds.report);
  b.finalize(read_inter(t, opt, b, ds));
  return ds;
}

Dataset load_recbole(const std::string& dir, const std::string& name, const LoadOptions& opt) {
  Dataset ds;
  ds.name = name;
  DatasetBuilder b(ds);
  std::string path = dir + "/" + name + ".inter";
  auto t = read_atomic(path, opt.read, ds.report);
  ImplicitOptions imp = read_inter(t, opt, b, ds);
  read_item_side(dir, name, opt, b, ds);
  b.finalize(imp);
  read_kg(dir, name, opt, ds);
  return ds;
}

Dataset load_recbole_benchmark(const std::string& dir, const std::string& name, const LoadOptions& opt) {
  Dataset ds;
  ds.name = name;
  ds.source = "recbole-benchmark";
  DatasetBuilder b(ds);
  std::map<std::string, std::vector<SeqLine>> per_user;
  std::vector<std::string> order;
  // keep every table alive: SeqLine points at its path
  std::vector<std::unique_ptr<AtomicTable>> tables;
  for (const char* part : {"train", "valid", "test"}) {
    std::string p = dir + "/" + name + "." + part + ".inter";
    if (!file_exists(p)) FAIL_INPUT(p, "open", "missing benchmark file (expected {}.train/valid/test.inter)", name);
    tables.push_back(std::make_unique<AtomicTable>(read_atomic(p, opt.read, ds.report)));
    add_sequence_rows(*tables.back(), per_user, order);
  }
  build_sequences(per_user, order, opt, b, ds);
  read_item_side(dir, name, opt, b, ds);
  ImplicitOptions imp;
  imp.merge_duplicates = false;
  b.finalize(imp);
  read_kg(dir, name, opt, ds);
  return ds;
}

}  // namespace mr::data
