// Unicode pieces of the BERT tokenizer, with HuggingFace `tokenizers` semantics.
//
// HF's BertNormalizer and BertPreTokenizer classify characters with Rust crates that carry
// their own Unicode versions (unicode_categories: an old one; std: a recent one). To give
// exactly HF's ids, the character classes come from tokenizer/unicode_tables.inc, which
// tools/golden/tokenizer_golden.py generates by running HF on every code point; canonical
// decomposition (NFD) and combining classes come from utf8proc. tests/tokenizer checks every
// code point against HF's behaviour (tests/data/tokenizer/unicode_hf.txt.gz).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mr::tok {

// Character class bits, one byte per code point.
enum : uint8_t {
  kRemove = 1,       // clean_text drops it (Cc/Cf/Co in HF's tables, U+0000, U+FFFD)
  kCleanSpace = 2,   // clean_text turns it into ' ' (HF's is_whitespace: \t \n \r + White_Space)
  kCjk = 4,          // handle_chinese_chars puts spaces around it
  kPunct = 8,        // BertPreTokenizer isolates it (ASCII punctuation + Unicode P*)
  kSpace = 16,       // BertPreTokenizer splits on it and drops it (char::is_whitespace)
  kMark = 32,        // strip_accents drops it after NFD (Mn)
  kHasLower = 64,    // lowercase changes it
  kMayDecompose = 128,  // NFD may change it (utf8proc has a canonical decomposition)
};

uint8_t char_class(char32_t cp);

// Lowercase as HF (Rust char::to_lowercase, full mapping: U+0130 gives two code points).
// Writes 1 or 2 code points into out and returns how many.
int to_lower(char32_t cp, char32_t out[2]);

// Canonical decomposition (NFD, without reordering) of one code point; returns the count
// (at most kMaxDecomposition) written to out.
constexpr int kMaxDecomposition = 8;
int decompose(char32_t cp, char32_t out[kMaxDecomposition]);

// Canonical combining class (for the canonical reordering step of NFD).
int combining_class(char32_t cp);

// Decodes one code point of UTF-8 at s[i] (i < n) and advances i. Invalid UTF-8 decodes as
// U+FFFD, one per maximal subpart of an ill-formed sequence (Unicode 15 §3.9 "U+FFFD
// substitution of maximal subparts"; the same as Python's bytes.decode(errors="replace")).
inline char32_t decode_utf8(const unsigned char* s, size_t n, size_t& i) {
  unsigned b0 = s[i];
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int need;
  unsigned lo = 0x80, hi = 0xBF;
  char32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    ++i;
    return 0xFFFD;
  }
  size_t j = i + 1;
  for (int k = 0; k < need; ++k, ++j) {
    if (j >= n) {
      i = j;
      return 0xFFFD;
    }
    unsigned b = s[j];
    if (b < lo || b > hi) {
      i = j;
      return 0xFFFD;
    }
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
  }
  i = j;
  return cp;
}

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Number of code points in s as decode_utf8 counts them (invalid subparts count one each).
size_t count_chars(std::string_view s);

}  // namespace mr::tok
