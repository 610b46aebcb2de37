#include "engine/data/item_text.h"

#include <algorithm>
#include <functional>

#include "base/check.h"
#include "base/escape.h"

namespace mr::data {

TextTemplate::TextTemplate(std::string spec) : spec_(std::move(spec)) {
  int group = -1;
  std::string lit;
  auto flush = [&] {
    if (!lit.empty()) pieces_.push_back({lit, "", false, group});
    lit.clear();
  };
  for (size_t i = 0; i < spec_.size(); i++) {
    char c = spec_[i];
    if (c == '\\' && i + 1 < spec_.size() && std::string_view("[]{}\\").find(spec_[i + 1]) != std::string_view::npos) {
      lit.push_back(spec_[++i]);
    } else if (c == '[') {
      if (group >= 0) throw Error(fmt::format("template '{}': nested [ at {}", spec_, i));
      flush();
      group = groups_++;
    } else if (c == ']') {
      if (group < 0) throw Error(fmt::format("template '{}': ] without [ at {}", spec_, i));
      flush();
      group = -1;
    } else if (c == '{') {
      size_t e = spec_.find('}', i);
      if (e == std::string::npos) throw Error(fmt::format("template '{}': {{ without }} at {}", spec_, i));
      flush();
      std::string name = spec_.substr(i + 1, e - i - 1);
      bool list = false;
      if (auto bar = name.find('|'); bar != std::string::npos) {
        std::string filt = name.substr(bar + 1);
        if (filt != "list") throw Error(fmt::format("template '{}': unknown filter '{}' (list)", spec_, filt));
        list = true;
        name = name.substr(0, bar);
      }
      if (name.empty() || name.find_first_of("{[]") != std::string::npos)
        throw Error(fmt::format("template '{}': bad field name '{}'", spec_, name));
      pieces_.push_back({"", name, list, group});
      i = e;
    } else if (c == '}') {
      throw Error(fmt::format("template '{}': }} without {{ at {}", spec_, i));
    } else {
      lit.push_back(c);
    }
  }
  if (group >= 0) throw Error(fmt::format("template '{}': [ without ]", spec_));
  flush();
}

std::vector<std::string> TextTemplate::fields() const {
  std::vector<std::string> f;
  for (auto& p : pieces_)
    if (!p.field.empty() && std::find(f.begin(), f.end(), p.field) == f.end()) f.push_back(p.field);
  return f;
}

static std::string collapse(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (ws) { space = !out.empty(); continue; }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string TextTemplate::render(const std::function<std::string(const std::string&)>& field) const {
  std::vector<std::string> vals(pieces_.size());
  std::vector<uint8_t> drop(groups_, 0);
  for (size_t k = 0; k < pieces_.size(); k++) {
    auto& p = pieces_[k];
    if (p.field.empty()) { vals[k] = p.literal; continue; }
    std::string v = collapse(field(p.field));
    if (p.list) {
      std::string j;
      for (auto t : split_ws(v)) j += (j.empty() ? "" : ", ") + std::string(t);
      v = j;
    }
    if (v.empty() && p.group >= 0) drop[p.group] = 1;
    vals[k] = v;
  }
  std::string out;
  for (size_t k = 0; k < pieces_.size(); k++)
    if (pieces_[k].group < 0 || !drop[pieces_[k].group]) out += vals[k];
  return collapse(out);
}

std::string default_template(const Dataset& ds) {
  if (ds.item_fields.count("text")) return "{text}";
  return "{title}[ ({year})][. Genres: {genres|list}][. Categories: {categories|list}][. Brand: {brand}][. {description}][. "
         "{kg}]";
}

std::vector<std::string> render_items(const Dataset& ds, const TextTemplate& t, const std::vector<std::string>& kg) {
  std::vector<std::string> out(ds.n_items());
  for (uint32_t i = 0; i < ds.n_items(); i++)
    out[i] = t.render([&](const std::string& f) -> std::string {
      if (f == "kg") return i < kg.size() ? kg[i] : std::string();
      if (f == "id") return ds.items.names[i];
      return ds.item_field(f, i);
    });
  return out;
}

}  // namespace mr::data
