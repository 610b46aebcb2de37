// Every code point against HuggingFace's BertNormalizer / BertPreTokenizer
// (tests/data/tokenizer/unicode_hf.txt.gz, written by tools/golden/tokenizer_golden.py).
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <map>
#include <set>
#include <sstream>

#include "tests/tokenizer/fixture.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace mr::tok;

namespace {

struct HfUnicode {
  std::map<std::string, std::vector<std::pair<char32_t, char32_t>>> ranges;
  std::map<std::string, std::map<char32_t, std::u32string>> maps;

  explicit HfUnicode(const std::string& path) {
    std::string section;
    bool is_map = false;
    for (const std::string& line : test::read_gz_lines(path)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream in(line);
      if (line.rfind("section ", 0) == 0) {
        std::string word;
        in >> word >> section;
        is_map = section == "strip_accents" || section == "lowercase";
        continue;
      }
      std::string a, b;
      in >> a >> b;
      char32_t cp = char32_t(std::stoul(a, nullptr, 16));
      if (is_map) {
        std::u32string s;
        std::istringstream parts(b);
        for (std::string h; std::getline(parts, h, ',');) s.push_back(char32_t(std::stoul(h, nullptr, 16)));
        maps[section][cp] = s;
      } else {
        ranges[section].push_back({cp, char32_t(std::stoul(b, nullptr, 16))});
      }
    }
  }

  std::vector<bool> set_of(const std::string& name) const {
    std::vector<bool> v(0x110000, false);
    for (auto [a, b] : ranges.at(name))
      for (char32_t c = a; c <= b; ++c) v[c] = true;
    return v;
  }
};

std::string hexcp(char32_t cp) { return fmt::format("{:04X}", uint32_t(cp)); }

std::string utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

}  // namespace

TEST_CASE("unicode: every code point normalizes and pre-tokenizes as HuggingFace" *
          doctest::skip(!test::have_fixture("unicode_hf.txt.gz"))) {
  HfUnicode hf(test::kDataDir + "/unicode_hf.txt.gz");
  REQUIRE(hf.ranges.size() == 5);
  REQUIRE(hf.maps.size() == 2);
  auto removed = hf.set_of("removed_by_clean_text"), space = hf.set_of("space_by_clean_text"),
       chinese = hf.set_of("chinese"), punct = hf.set_of("pretokenizer_punctuation"),
       white = hf.set_of("pretokenizer_whitespace");
  const auto& strip = hf.maps.at("strip_accents");
  const auto& lower = hf.maps.at("lowercase");

  Tokenizer clean, cjk, strips, lowers;  // no vocabulary needed for normalize()
  clean.normalizer = {true, false, false, false};
  cjk.normalizer = {false, true, false, false};
  strips.normalizer = {false, false, true, false};
  lowers.normalizer = {false, false, false, true};

  size_t bad[6] = {}, checked = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    ++checked;
    std::string c = utf8(std::u32string(1, cp));
    std::string want = removed[cp] ? "" : space[cp] ? " " : c;
    if (clean.normalize(c) != want && bad[0]++ < 5) FAIL_CHECK("clean_text U+" << hexcp(cp));
    want = chinese[cp] ? " " + c + " " : c;
    if (cjk.normalize(c) != want && bad[1]++ < 5) FAIL_CHECK("handle_chinese_chars U+" << hexcp(cp));
    auto it = strip.find(cp);
    want = it == strip.end() ? c : utf8(it->second);
    if (strips.normalize(c) != want && bad[2]++ < 5) FAIL_CHECK("strip_accents U+" << hexcp(cp));
    it = lower.find(cp);
    want = it == lower.end() ? c : utf8(it->second);
    if (lowers.normalize(c) != want && bad[3]++ < 5) FAIL_CHECK("lowercase U+" << hexcp(cp));
    uint8_t f = char_class(cp);
    if (bool(f & kPunct) != punct[cp] && bad[4]++ < 5) FAIL_CHECK("punctuation U+" << hexcp(cp));
    if (bool(f & kSpace) != white[cp] && bad[5]++ < 5) FAIL_CHECK("whitespace U+" << hexcp(cp));
  }
  CHECK(checked == 0x110000 - 0x800);
  for (size_t k = 0; k < 6; ++k) CHECK_MESSAGE(bad[k] == 0, "property " << k << ": " << bad[k] << " code points differ");
}

TEST_CASE("unicode: invalid UTF-8 decodes as U+FFFD per maximal subpart") {
  auto decode = [](std::string_view s) {
    std::u32string out;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size();) out.push_back(decode_utf8(p, s.size(), i));
    return out;
  };
  CHECK(decode("a\xC3\xA9z") == U"a\u00E9z");
  CHECK(decode("\xF0\x9F\x98\x80") == U"\U0001F600");
  CHECK(decode("\xFF") == U"\uFFFD");
  CHECK(decode("\xC0\xAF") == U"\uFFFD\uFFFD");               // overlong lead byte
  CHECK(decode("\xE0\x80\xAF") == U"\uFFFD\uFFFD\uFFFD");     // E0 needs A0..BF next
  CHECK(decode("\xED\xA0\x80") == U"\uFFFD\uFFFD\uFFFD");     // surrogate
  CHECK(decode("\xF4\x90\x80\x80") == U"\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  CHECK(decode("\xE2\x82") == U"\uFFFD");                     // truncated: one subpart
  CHECK(decode("\xE2\x82" "a") == U"\uFFFDa");
  CHECK(decode("\xF0\x9F\x98") == U"\uFFFD");
  CHECK(decode("\x80\x80") == U"\uFFFD\uFFFD");
  CHECK(count_chars("\xF0\x9F\x98 x") == 3);
}
