// The TOML subset of run configs (engine/rec/toml.h).
#include "engine/rec/toml.h"

#include <sstream>
#include <stdexcept>

#include "base/check.h"

namespace mr::rec {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

nlohmann::json parse_toml_value(const std::string& raw) {
  std::string s = trim(raw);
  if (s.empty()) throw std::invalid_argument("empty value");
  if (s.front() == '"' || s.front() == '\'') {
    if (s.size() < 2 || s.back() != s.front()) throw std::invalid_argument("unterminated string");
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      if (s.front() == '"' && s[i] == '\\' && i + 2 < s.size()) {
        char c = s[++i];
        out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
      } else {
        out += s[i];
      }
    }
    return out;
  }
  if (s == "true") return true;
  if (s == "false") return false;
  if (s.front() == '[') {
    if (s.back() != ']') throw std::invalid_argument("unterminated array");
    nlohmann::json a = nlohmann::json::array();
    std::string inner = trim(s.substr(1, s.size() - 2)), cur;
    bool q = false;
    for (char c : inner) {
      if (c == '"') q = !q;
      if (c == ',' && !q) { if (!trim(cur).empty()) a.push_back(parse_toml_value(cur)); cur.clear(); }
      else cur += c;
    }
    if (!trim(cur).empty()) a.push_back(parse_toml_value(cur));
    return a;
  }
  std::string t;
  for (char c : s) if (c != '_') t += c;
  size_t pos = 0;
  if (t.find_first_of(".eE") == std::string::npos || t.rfind("0x", 0) == 0) {
    long long v = std::stoll(t, &pos, 0);
    if (pos == t.size()) return v;
  } else {
    double v = std::stod(t, &pos);
    if (pos == t.size()) return v;
  }
  throw std::invalid_argument("not a TOML value: " + s);
}

void read_toml(const std::string& text, const std::string& origin,
               const std::function<void(const std::string&, const nlohmann::json&, const std::string&)>& entry) {
  std::stringstream in(text);
  std::string line, section;
  int ln = 0;
  while (std::getline(in, line)) {
    ++ln;
    // strip a comment outside quotes
    bool q = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '"') q = !q;
      if (line[i] == '#' && !q) { line.resize(i); break; }
    }
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') FAIL_INPUT(origin, fmt::format("line {}", ln), "unterminated section header");
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) FAIL_INPUT(origin, fmt::format("line {}", ln), "expected key = value");
    std::string key = trim(line.substr(0, eq));
    if (!section.empty()) key = section + "." + key;
    nlohmann::json v;
    try { v = parse_toml_value(line.substr(eq + 1)); } catch (const std::exception& e) {
      FAIL_INPUT(origin, fmt::format("line {}", ln), "{}", e.what());
    }
    entry(key, v, fmt::format("{}:{}", origin, ln));
  }
}

}  // namespace mr::rec
