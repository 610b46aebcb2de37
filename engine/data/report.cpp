#include "engine/data/report.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "base/check.h"

namespace mr::data {

void ReadReport::bad(const ReadOptions& opt, const std::string& path, size_t line, const std::string& reason,
                     const std::string& detail) {
  std::string where = line ? fmt::format("line {}", line) : std::string("file");
  if (!opt.lenient) FAIL_INPUT(path, where, "{}{}{}", reason, detail.empty() ? "" : ": ", detail);
  skipped[reason]++;
  if (messages.size() < opt.max_messages)
    messages.push_back(fmt::format("{}: {}: {}{}{}", path, where, reason, detail.empty() ? "" : ": ", detail));
}

size_t ReadReport::total_skipped() const {
  size_t n = 0;
  for (auto& [k, v] : skipped) n += v;
  return n;
}

std::string ReadReport::summary() const {
  std::string s;
  for (auto& [k, v] : skipped) s += fmt::format("skipped {} ({})\n", v, k);
  for (auto& m : messages) s += "  " + m + "\n";
  for (auto& [k, v] : notes) s += fmt::format("note: {} {}\n", v, k);
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) FAIL_INPUT(path, "open", "cannot read file");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t e = s.find(sep, pos);
    if (e == std::string_view::npos) { out.push_back(s.substr(pos)); break; }
    out.push_back(s.substr(pos, e - pos));
    pos = e + 1;
  }
  return out;
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') i++;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_double(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty() || s.size() > 64) return false;
  char buf[72];
  std::copy(s.begin(), s.end(), buf);
  buf[s.size()] = 0;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(buf, &end);
  if (end != buf + s.size() || errno == ERANGE || !std::isfinite(v)) return false;
  out = v;
  return true;
}

bool parse_u64(std::string_view s, unsigned long long& out) {
  s = trim(s);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n) return false;
    if (len == 2 && c < 0xC2) return false;  // overlong
    for (size_t k = 1; k < len; k++)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += len;
  }
  return true;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (unsigned char c : s) {
    if (c < 0x80) out.push_back(static_cast<char>(c));
    else { out.push_back(static_cast<char>(0xC0 | (c >> 6))); out.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
  }
  return out;
}

std::string to_utf8(std::string_view s) { return valid_utf8(s) ? std::string(s) : latin1_to_utf8(s); }

}  // namespace mr::data
