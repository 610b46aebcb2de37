// MovieLens native formats (https://grouplens.org/datasets/movielens/) and generic CSV/JSONL.
#include <dirent.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/check.h"
#include "base/escape.h"
#include "engine/data/prepared.h"
#include "engine/data/readers.h"

namespace mr::data {

static const char* kMl100kGenres[19] = {"unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
                                        "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
                                        "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"};

void split_title_year(std::string_view s, std::string& title, std::string& year) {
  s = trim(s);
  title.assign(s);
  year.clear();
  // "Toy Story (1995)"; also "Babe (a.k.a. Pig) (1995)" -> the last "(dddd)"
  if (s.size() >= 6 && s.back() == ')') {
    size_t open = s.rfind('(');
    if (open != std::string_view::npos && s.size() - open == 6) {
      auto y = s.substr(open + 1, 4);
      if (std::all_of(y.begin(), y.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        year.assign(y);
        title.assign(trim(s.substr(0, open)));
      }
    }
  }
}

bool split_csv(std::string_view line, char delim, std::vector<std::string>& out) {
  out.clear();
  std::string cur;
  size_t i = 0;
  bool any = false;
  while (true) {
    cur.clear();
    if (i < line.size() && line[i] == '"') {
      i++;
      while (true) {
        if (i >= line.size()) return false;  // unterminated quote
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') { cur.push_back('"'); i += 2; continue; }
          i++;
          break;
        }
        cur.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != delim) return false;  // text after a closing quote
    } else {
      while (i < line.size() && line[i] != delim) cur.push_back(line[i++]);
    }
    out.push_back(cur);
    any = true;
    if (i >= line.size()) break;
    i++;  // delimiter
    if (i == line.size()) { out.emplace_back(); break; }
  }
  return any;
}

void parse_ml_ratings(std::string_view text, const std::string& path, std::string_view sep, bool header,
                      DatasetBuilder& b, const ReadOptions& opt, ReadReport& rep) {
  std::vector<std::string> f;
  for_each_line(text, [&](size_t no, std::string_view line) {
    if (header && no == 1) return;
    if (trim(line).empty()) return;
    f.clear();
    size_t pos = 0;
    while (true) {
      size_t e = line.find(sep, pos);
      if (e == std::string_view::npos) { f.emplace_back(trim(line.substr(pos))); break; }
      f.emplace_back(trim(line.substr(pos, e - pos)));
      pos = e + sep.size();
    }
    if (f.size() != 4) {
      rep.bad(opt, path, no, "wrong number of fields", fmt::format("{} fields, expected user{}item{}rating{}timestamp",
                                                                    f.size(), sep, sep, sep));
      return;
    }
    double rating, ts;
    if (f[0].empty() || f[1].empty()) { rep.bad(opt, path, no, "empty id", ""); return; }
    if (!parse_double(f[2], rating)) { rep.bad(opt, path, no, "not a number", fmt::format("rating '{}'", escape_bytes(f[2]))); return; }
    if (!parse_double(f[3], ts)) { rep.bad(opt, path, no, "not a number", fmt::format("timestamp '{}'", escape_bytes(f[3]))); return; }
    b.add(f[0], f[1], ts, rating);
  });
}

void parse_ml_movies(std::string_view text, const std::string& path, const std::string& variant, DatasetBuilder& b,
                     const ReadOptions& opt, ReadReport& rep) {
  std::vector<std::string> f;
  for_each_line(text, [&](size_t no, std::string_view raw) {
    if (trim(raw).empty()) return;
    std::string line = to_utf8(raw);  // ml-100k and ml-1m are Latin-1
    std::string id, title_year, genres;
    if (variant == "ml-100k") {  // id|title|release date|video release date|url|19 genre flags
      auto p = split(line, '|');
      if (p.size() != 24) { rep.bad(opt, path, no, "wrong number of fields", fmt::format("{} fields, expected 24", p.size())); return; }
      id = trim(p[0]);
      title_year = trim(p[1]);
      for (int g = 0; g < 19; g++) {
        auto flag = trim(p[5 + g]);
        if (flag != "0" && flag != "1") { rep.bad(opt, path, no, "bad genre flag", fmt::format("'{}'", escape_bytes(flag))); return; }
        if (flag == "1") genres += (genres.empty() ? "" : " ") + std::string(kMl100kGenres[g]);
      }
    } else if (variant == "ml-1m") {  // id::Title (year)::Genre|Genre
      std::vector<std::string> p;
      size_t pos = 0;
      while (true) {
        size_t e = line.find("::", pos);
        if (e == std::string::npos) { p.push_back(line.substr(pos)); break; }
        p.push_back(line.substr(pos, e - pos));
        pos = e + 2;
      }
      if (p.size() != 3) { rep.bad(opt, path, no, "wrong number of fields", fmt::format("{} fields, expected 3", p.size())); return; }
      id = trim(p[0]); title_year = p[1];
      for (auto g : split(p[2], '|')) genres += (genres.empty() ? "" : " ") + std::string(trim(g));
    } else {  // ml-latest: movieId,title,genres with a header
      if (no == 1) return;
      if (!split_csv(line, ',', f)) { rep.bad(opt, path, no, "bad CSV quoting", ""); return; }
      if (f.size() != 3) { rep.bad(opt, path, no, "wrong number of fields", fmt::format("{} fields, expected 3", f.size())); return; }
      id = trim(f[0]); title_year = f[1];
      if (f[2] != "(no genres listed)")
        for (auto g : split(f[2], '|')) genres += (genres.empty() ? "" : " ") + std::string(trim(g));
    }
    if (id.empty()) { rep.bad(opt, path, no, "empty id", ""); return; }
    std::string title, year;
    split_title_year(title_year, title, year);
    b.item_field(id, "title", title);
    b.item_field(id, "year", year);
    b.item_field(id, "genres", genres);
  });
}

void parse_ml_users(std::string_view text, const std::string& path, const std::string& variant, DatasetBuilder& b,
                    const ReadOptions& opt, ReadReport& rep) {
  // ml-100k u.user: id|age|gender|occupation|zip; ml-1m users.dat: id::gender::age::occupation::zip
  static const char* k100k[] = {"age", "gender", "occupation", "zip_code"};
  static const char* k1m[] = {"gender", "age", "occupation", "zip_code"};
  for_each_line(text, [&](size_t no, std::string_view raw) {
    if (trim(raw).empty()) return;
    std::string line = to_utf8(raw);
    std::vector<std::string> p;
    std::string sep = variant == "ml-100k" ? "|" : "::";
    size_t pos = 0;
    while (true) {
      size_t e = line.find(sep, pos);
      if (e == std::string::npos) { p.push_back(line.substr(pos)); break; }
      p.push_back(line.substr(pos, e - pos));
      pos = e + sep.size();
    }
    if (p.size() != 5) { rep.bad(opt, path, no, "wrong number of fields", fmt::format("{} fields, expected 5", p.size())); return; }
    std::string id(trim(p[0]));
    if (id.empty()) { rep.bad(opt, path, no, "empty id", ""); return; }
    for (int k = 0; k < 4; k++)
      b.user_field(id, variant == "ml-100k" ? k100k[k] : k1m[k], std::string(trim(p[k + 1])));
  });
}

std::string movielens_name(const std::string& dir, const std::string& variant, size_t n_ratings) {
  // 1. GroupLens's README states the release: "This dataset (ml-latest-small) describes ..."
  for (const char* readme : {"README.txt", "README"}) {
    std::string p = dir + "/" + readme;
    if (!file_exists(p)) continue;
    std::string text = read_file(p);
    static const std::string_view kSays = "This dataset (ml-";
    size_t at = text.find(kSays);
    if (at == std::string::npos) continue;
    size_t b = at + kSays.size() - 3, e = text.find(')', b);
    if (e == std::string::npos || e - b > 40) continue;
    std::string name = text.substr(b, e - b);
    if (std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }) &&
        name.size() > 3)
      return name;
  }
  // 2. the files and their size
  if (variant == "ml-100k") return "ml-100k";  // u.data ships only in ml-100k
  if (variant == "ml-1m")  // ml-1m ships users.dat and 1,000,209 ratings; ml-10m tags.dat and 10M ratings
    return file_exists(dir + "/users.dat") || (n_ratings <= 1000209 && !file_exists(dir + "/tags.dat")) ? "ml-1m" : "ml-10m";
  // ml-latest, ml-20m and ml-25m ship the tag genome; ml-latest-small has ~100k ratings
  if (file_exists(dir + "/genome-scores.csv") || n_ratings >= 1000000) return "ml-latest";
  return "ml-latest-small";
}

Dataset load_movielens(const std::string& dir, const std::string& variant, const LoadOptions& opt) {
  Dataset ds;
  ds.source = variant;
  ds.signal_name = "rating";
  DatasetBuilder b(ds);
  std::string ratings, movies, sep;
  bool header = false;
  if (variant == "ml-100k") { ratings = dir + "/u.data"; movies = dir + "/u.item"; sep = "\t"; }
  else if (variant == "ml-1m") { ratings = dir + "/ratings.dat"; movies = dir + "/movies.dat"; sep = "::"; }
  else if (variant == "ml-latest") { ratings = dir + "/ratings.csv"; movies = dir + "/movies.csv"; sep = ","; header = true; }
  else throw Error(fmt::format("unknown MovieLens variant '{}'", variant));
  {
    std::string text = read_file(ratings);
    if (header) {
      auto first = text.substr(0, text.find('\n'));
      if (trim(first).rfind("userId,movieId,rating,timestamp", 0) != 0)
        FAIL_INPUT(ratings, "line 1", "expected header 'userId,movieId,rating,timestamp', got '{}'", escape_bytes(trim(first)));
    }
    parse_ml_ratings(text, ratings, sep, header, b, opt.read, ds.report);
  }
  ds.name = movielens_name(dir, variant, b.raw_count());
  if (file_exists(movies)) parse_ml_movies(read_file(movies), movies, variant, b, opt.read, ds.report);
  std::string users = variant == "ml-100k" ? dir + "/u.user" : variant == "ml-1m" ? dir + "/users.dat" : "";
  if (!users.empty() && file_exists(users)) parse_ml_users(read_file(users), users, variant, b, opt.read, ds.report);
  b.finalize(opt.implicit);
  return ds;
}

// ---------------------------------------------------------------- generic CSV / JSONL
void parse_generic(std::string_view text, const std::string& path, const std::string& format, const LoadOptions& o,
                   DatasetBuilder& b, ReadReport& rep) {
  auto col_of = [&](const char* role) -> std::string {
    auto it = o.columns.find(role);
    return it == o.columns.end() ? std::string() : it->second;
  };
  std::string cu = col_of("user"), ci = col_of("item"), cr = col_of("rating"), ct = col_of("time");
  if (cu.empty() || ci.empty())
    FAIL_INPUT(path, "options", "the column mapping must name the user and item columns (e.g. user=userId,item=movieId)");
  if (format == "jsonl") {
    for_each_line(text, [&](size_t no, std::string_view line) {
      if (trim(line).empty()) return;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) { rep.bad(o.read, path, no, "not a JSON object", ""); return; }
      auto str = [&](const std::string& k, std::string& out) -> bool {
        auto it = j.find(k);
        if (it == j.end() || it->is_null()) return false;
        if (it->is_string()) out = it->get<std::string>();
        else if (it->is_number_integer()) out = std::to_string(it->get<long long>());
        else if (it->is_number_unsigned()) out = std::to_string(it->get<unsigned long long>());
        else if (it->is_number()) out = fmt::format("{}", it->get<double>());
        else return false;
        return true;
      };
      std::string u, i, r, t;
      if (!str(cu, u) || u.empty()) { rep.bad(o.read, path, no, "missing column", cu); return; }
      if (!str(ci, i) || i.empty()) { rep.bad(o.read, path, no, "missing column", ci); return; }
      double rating = std::nan(""), time = 0;
      if (!cr.empty()) {
        if (!str(cr, r)) { rep.bad(o.read, path, no, "missing column", cr); return; }
        if (!parse_double(r, rating)) { rep.bad(o.read, path, no, "not a number", fmt::format("{} = '{}'", cr, escape_bytes(r))); return; }
      }
      if (!ct.empty()) {
        if (!str(ct, t)) { rep.bad(o.read, path, no, "missing column", ct); return; }
        if (!parse_double(t, time)) { rep.bad(o.read, path, no, "not a number", fmt::format("{} = '{}'", ct, escape_bytes(t))); return; }
      }
      b.add(u, i, ct.empty() ? std::nullopt : std::optional<double>(time), rating);
    });
    return;
  }
  // CSV: columns by header name, or by 0-based index without a header
  int iu = -1, ii = -1, ir = -1, it = -1;
  size_t nf = 0;
  std::vector<std::string> f;
  auto index_of = [&](const std::vector<std::string>& hdr, const std::string& name, size_t no) -> int {
    if (name.empty()) return -1;
    for (size_t k = 0; k < hdr.size(); k++)
      if (trim(hdr[k]) == name) return static_cast<int>(k);
    FAIL_INPUT(path, fmt::format("line {}", no), "missing column '{}' (header has: {})", name, escape_bytes(fmt::format("{}", fmt::join(hdr, ", "))));
  };
  auto index_num = [&](const std::string& name) -> int {
    if (name.empty()) return -1;
    unsigned long long k;
    if (!parse_u64(name, k) || k > 10000) FAIL_INPUT(path, "options", "without a header, columns are 0-based indices; got '{}'", name);
    return static_cast<int>(k);
  };
  if (!o.header) {
    iu = index_num(cu); ii = index_num(ci); ir = index_num(cr); it = index_num(ct);
    nf = static_cast<size_t>(std::max({iu, ii, ir, it})) + 1;
  }
  bool seen_header = !o.header;
  for_each_line(text, [&](size_t no, std::string_view line) {
    if (trim(line).empty()) return;
    if (!split_csv(line, o.delimiter, f)) { rep.bad(o.read, path, no, "bad CSV quoting", ""); return; }
    if (!seen_header) {
      if (no == 1 && !f.empty() && f[0].rfind("\xEF\xBB\xBF", 0) == 0) f[0] = f[0].substr(3);
      iu = index_of(f, cu, no); ii = index_of(f, ci, no); ir = index_of(f, cr, no); it = index_of(f, ct, no);
      nf = f.size();
      seen_header = true;
      return;
    }
    if (o.header ? f.size() != nf : f.size() < nf) {
      rep.bad(o.read, path, no, "wrong number of fields", fmt::format("{} fields, expected {}", f.size(), nf));
      return;
    }
    std::string_view u = trim(f[iu]), i = trim(f[ii]);
    if (u.empty() || i.empty()) { rep.bad(o.read, path, no, "empty id", ""); return; }
    double rating = std::nan(""), time = 0;
    if (ir >= 0 && !parse_double(f[ir], rating)) { rep.bad(o.read, path, no, "not a number", fmt::format("rating '{}'", escape_bytes(f[ir]))); return; }
    if (it >= 0 && !parse_double(f[it], time)) { rep.bad(o.read, path, no, "not a number", fmt::format("time '{}'", escape_bytes(f[it]))); return; }
    b.add(u, i, it >= 0 ? std::optional<double>(time) : std::nullopt, rating);
  });
  if (!seen_header) FAIL_INPUT(path, "line 1", "empty file (expected a header)");
}

void parse_generic_items(std::string_view text, const std::string& path, const std::string& format, const LoadOptions& o,
                         DatasetBuilder& b, ReadReport& rep) {
  auto it = o.columns.find("item");
  if (it == o.columns.end()) FAIL_INPUT(path, "options", "the column mapping must name the item column");
  const std::string& ci = it->second;
  if (format == "jsonl") {
    for_each_line(text, [&](size_t no, std::string_view line) {
      if (trim(line).empty()) return;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) { rep.bad(o.read, path, no, "not a JSON object", ""); return; }
      auto id = j.find(ci);
      if (id == j.end() || !(id->is_string() || id->is_number_integer() || id->is_number_unsigned())) {
        rep.bad(o.read, path, no, "missing column", ci);
        return;
      }
      std::string key = id->is_string() ? id->get<std::string>() : id->dump();
      for (auto f = j.begin(); f != j.end(); ++f) {
        if (f.key() == ci) continue;
        std::string v;
        if (f->is_string()) v = f->get<std::string>();
        else if (f->is_array()) {  // ["Drama", "War"] -> "Drama War"
          for (auto& x : *f) v += (v.empty() ? "" : " ") + (x.is_string() ? x.get<std::string>() : x.dump());
        } else if (!f->is_null()) v = f->dump();
        b.item_field(key, canonical_item_field(f.key()), to_utf8(v));
      }
    });
    return;
  }
  std::vector<std::string> hdr, f;
  int id = -1;
  for_each_line(text, [&](size_t no, std::string_view line) {
    if (trim(line).empty()) return;
    if (!split_csv(line, o.delimiter, f)) { rep.bad(o.read, path, no, "bad CSV quoting", ""); return; }
    if (hdr.empty()) {
      hdr = f;
      for (size_t k = 0; k < hdr.size(); k++)
        if (trim(hdr[k]) == ci) id = static_cast<int>(k);
      if (id < 0) FAIL_INPUT(path, fmt::format("line {}", no), "missing column '{}' (header has: {})", ci, escape_bytes(fmt::format("{}", fmt::join(hdr, ", "))));
      return;
    }
    if (f.size() != hdr.size()) {
      rep.bad(o.read, path, no, "wrong number of fields", fmt::format("{} fields, header has {}", f.size(), hdr.size()));
      return;
    }
    if (trim(f[id]).empty()) { rep.bad(o.read, path, no, "empty id", ci); return; }
    for (size_t k = 0; k < f.size(); k++)
      if (static_cast<int>(k) != id) b.item_field(trim(f[id]), canonical_item_field(trim(hdr[k])), to_utf8(f[k]));
  });
  if (hdr.empty()) FAIL_INPUT(path, "line 1", "empty file (expected a header)");
}

Dataset load_generic(const std::string& file, const std::string& format, const LoadOptions& opt) {
  Dataset ds;
  ds.source = format;
  std::string base = file.substr(file.find_last_of('/') + 1);
  ds.name = base.substr(0, base.find('.'));
  if (opt.columns.count("rating")) ds.signal_name = opt.columns.at("rating");
  DatasetBuilder b(ds);
  parse_generic(read_file(file), file, format, opt, b, ds.report);
  if (!opt.items_file.empty()) {
    std::string f = opt.items_file;
    std::string ifmt = f.size() > 6 && f.substr(f.size() - 6) == ".jsonl" ? "jsonl" : "csv";
    parse_generic_items(read_file(f), f, ifmt, opt, b, ds.report);
  }
  b.finalize(opt.implicit);
  return ds;
}

// ---------------------------------------------------------------- detection
static std::string basename_of(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p.substr(p.find_last_of('/') + 1);
}

static bool is_dir(const std::string& p) {
  DIR* d = opendir(p.c_str());
  if (!d) return false;
  closedir(d);
  return true;
}

std::string dataset_name_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name == "." || name == "..") return "is not a name";
  for (size_t i = 0; i < name.size();) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == '/' || c == '\\') return "has a path separator";
    if (c < 0x20 || c == 0x7F) return "has a control character";
    if (c < 0x80) { i++; continue; }
    size_t len = utf8_char_len(name, i);
    if (!len) return "is not valid UTF-8";
    if (c == 0xC2 && static_cast<unsigned char>(name[i + 1]) < 0xA0) return "has a control character";  // C1
    i += len;
  }
  return "";
}

// Stems of the RecBole files in dir: NAME.inter (NAME without a dot) and NAME.train.inter.
static void recbole_files(const std::string& dir, std::vector<std::string>& inter, std::vector<std::string>& train) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (auto* e = readdir(d)) {
    std::string f = e->d_name;
    if (f.size() > 12 && f.substr(f.size() - 12) == ".train.inter") train.push_back(f.substr(0, f.size() - 12));
    else if (f.size() > 6 && f.substr(f.size() - 6) == ".inter" && f.find('.') == f.size() - 6) inter.push_back(f.substr(0, f.size() - 6));
  }
  closedir(d);
  std::sort(inter.begin(), inter.end());
  std::sort(train.begin(), train.end());
}

static std::string stem_list(const std::vector<std::string>& stems, const char* ext) {
  std::string s;
  for (auto& n : stems) s += (s.empty() ? "" : ", ") + escape_bytes(n) + ext;
  return s;
}

std::string recbole_stem(const std::string& dir, bool benchmark, const std::string& name_hint) {
  const char* ext = benchmark ? ".train.inter" : ".inter";
  for (const std::string& n : {name_hint, basename_of(dir)})
    if (!n.empty() && file_exists(dir + "/" + n + ext)) return n;
  std::vector<std::string> inter, train;
  recbole_files(dir, inter, train);
  const auto& stems = benchmark ? train : inter;
  if (stems.size() == 1) return stems[0];
  if (stems.empty()) FAIL_INPUT(dir, "directory", "no NAME{} file", ext);
  FAIL_INPUT(dir, "directory", "{} data sets ({}): pick one with --name", stems.size(), stem_list(stems, ext));
}

std::string detect_format(const std::string& path, std::string& stem, const std::string& name_hint) {
  stem.clear();
  if (!is_dir(path)) {
    if (path.size() > 6 && path.substr(path.size() - 6) == ".jsonl") return "jsonl";
    if (path.size() > 4 && path.substr(path.size() - 4) == ".mrd") return "prepared";
    if (path.size() > 4 && (path.substr(path.size() - 4) == ".csv" || path.substr(path.size() - 4) == ".tsv")) return "csv";
    if (!file_exists(path)) throw Error(fmt::format("{}: no such file or directory", path));
    throw Error(fmt::format("{}: cannot tell the format of a file (use a directory, a .csv or a .jsonl file)", path));
  }
  std::string d = path + "/";
  if (file_exists(d + kPreparedFile)) return "prepared";
  for (const std::string& n : {name_hint, basename_of(path)}) {
    if (n.empty()) continue;
    if (file_exists(d + n + ".inter")) { stem = n; return "recbole"; }
    if (file_exists(d + n + ".train.inter")) { stem = n; return "recbole-benchmark"; }
  }
  if (file_exists(d + "u.data")) return "ml-100k";
  if (file_exists(d + "ratings.dat")) return "ml-1m";
  if (file_exists(d + "ratings.csv")) return "ml-latest";
  // a RecBole directory named differently from its files: one *.inter or *.train.inter
  std::vector<std::string> inter, train;
  recbole_files(path, inter, train);
  if (inter.size() == 1) { stem = inter[0]; return "recbole"; }
  if (train.size() == 1 && inter.empty()) { stem = train[0]; return "recbole-benchmark"; }
  if (inter.size() + train.size() > 1)
    FAIL_INPUT(path, "directory", "several data sets ({}{}{}): pick one with --name", stem_list(inter, ".inter"),
               inter.empty() || train.empty() ? "" : ", ", stem_list(train, ".train.inter"));
  throw Error(fmt::format("{}: unknown dataset layout (looked for NAME.inter, NAME.train.inter, u.data, ratings.dat, "
                          "ratings.csv)", path));
}

Dataset load_dataset(const std::string& path, const LoadOptions& opt) {
  if (!opt.name.empty())
    if (std::string why = dataset_name_problem(opt.name); !why.empty())
      throw Error(fmt::format("data set name '{}' {}", escape_bytes(opt.name), why));
  std::string stem, fmt_ = opt.format;
  if (fmt_ == "auto") fmt_ = detect_format(path, stem, opt.name);
  else if (fmt_ == "recbole" || fmt_ == "recbole-benchmark") stem = recbole_stem(path, fmt_ == "recbole-benchmark", opt.name);
  Dataset ds;
  if (fmt_ == "prepared") ds = PreparedDataset::open(path).to_dataset();
  else if (fmt_ == "recbole") ds = load_recbole(path, stem, opt);
  else if (fmt_ == "recbole-benchmark") ds = load_recbole_benchmark(path, stem, opt);
  else if (fmt_ == "ml-100k" || fmt_ == "ml-1m" || fmt_ == "ml-latest") ds = load_movielens(path, fmt_, opt);
  else if (fmt_ == "csv" || fmt_ == "jsonl") ds = load_generic(path, fmt_, opt);
  else
    throw Error(fmt::format("unknown data format '{}' (auto, prepared, recbole, recbole-benchmark, ml-100k, ml-1m, ml-latest, csv, jsonl)",
                            fmt_));
  if (!opt.name.empty()) ds.name = opt.name;
  else if (std::string why = dataset_name_problem(ds.name); fmt_ != "prepared" && !why.empty())
    FAIL_INPUT(path, "name", "the files name the data set '{}', which {}: give a name with --name", escape_bytes(ds.name), why);
  return ds;
}

}  // namespace mr::data
