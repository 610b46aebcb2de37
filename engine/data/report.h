// Reading user data: strict by default (the first bad line throws mr::Error naming file and
// line), lenient on request (bad lines are skipped, counted by reason, and the first few are
// kept as messages so the user can see what was dropped).
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mr::data {

struct ReadOptions {
  bool lenient = false;       // skip bad lines instead of failing
  size_t max_messages = 10;   // how many skipped-line messages to keep in lenient mode
};

struct ReadReport {
  std::map<std::string, size_t> skipped;  // reason -> lines/records skipped
  std::vector<std::string> messages;      // "file: line N: reason: detail", first few
  std::map<std::string, size_t> notes;    // non-fatal facts worth reporting (merged duplicates, ...)

  // A bad record: throws "path: line N: reason: detail" unless opt.lenient, else counts it.
  void bad(const ReadOptions& opt, const std::string& path, size_t line, const std::string& reason,
           const std::string& detail);
  void note(const std::string& what, size_t n = 1) { if (n) notes[what] += n; }
  size_t total_skipped() const;
  std::string summary() const;  // one line per reason, empty when nothing was skipped
};

// Text helpers shared by the readers.
std::string read_file(const std::string& path);                 // whole file; mr::Error if unreadable
bool file_exists(const std::string& path);
std::vector<std::string_view> split(std::string_view s, char sep);  // keeps empty fields
std::vector<std::string_view> split_ws(std::string_view s);         // runs of spaces/tabs
std::string_view trim(std::string_view s);
bool parse_double(std::string_view s, double& out);              // whole string, finite
bool parse_u64(std::string_view s, unsigned long long& out);
bool valid_utf8(std::string_view s);
std::string latin1_to_utf8(std::string_view s);
std::string to_utf8(std::string_view s);  // unchanged when valid UTF-8, else read as Latin-1

// Iterates the lines of a text (\n or \r\n), 1-based numbers; the last line may lack \n.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  size_t pos = 0, no = 0;
  while (pos < text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    std::string_view line = text.substr(pos, e - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(++no, line);
    pos = e + 1;
  }
}

}  // namespace mr::data
