// Character classes (HF's tables, see unicode.h) and NFD through utf8proc.
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace mr::tok {
namespace {

struct CpRange {
  char32_t first, last;
};
struct CpLower {
  char32_t cp, lower1, lower2;
};
#include "tokenizer/unicode_tables.inc"

constexpr char32_t kMaxCp = 0x110000;
constexpr int kBlockBits = 8;
constexpr int kBlock = 1 << kBlockBits;

// Two-level table: stage1[cp >> 8] is the index of a deduplicated 256-entry block.
struct ClassTable {
  std::vector<uint16_t> stage1;
  std::vector<uint8_t> blocks;

  ClassTable() {
    std::vector<uint8_t> flat(kMaxCp, 0);
    auto mark = [&](const CpRange* r, size_t n, uint8_t bit) {
      for (size_t i = 0; i < n; ++i)
        for (char32_t c = r[i].first; c <= r[i].last; ++c) flat[c] |= bit;
    };
    mark(kRemovedByClean, std::size(kRemovedByClean), kRemove);
    mark(kSpaceByClean, std::size(kSpaceByClean), kCleanSpace);
    mark(kChinese, std::size(kChinese), kCjk);
    mark(kPunctuation, std::size(kPunctuation), kPunct);
    mark(kWhitespace, std::size(kWhitespace), kSpace);
    mark(kNonspacingMark, std::size(kNonspacingMark), kMark);
    for (const CpLower& l : kLowercase) flat[l.cp] |= kHasLower;
    for (char32_t c = 0x80; c < kMaxCp; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
      if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) flat[c] |= kMayDecompose;
    }
    for (char32_t c = 0xAC00; c <= 0xD7A3; ++c) flat[c] |= kMayDecompose;  // Hangul syllables
    for (const CpRange& r : kNoDecomposition)  // newer than HF's NFD tables
      for (char32_t c = r.first; c <= r.last; ++c) flat[c] &= uint8_t(~kMayDecompose);
    stage1.resize(kMaxCp >> kBlockBits);
    for (size_t b = 0; b < stage1.size(); ++b) {
      const uint8_t* src = &flat[b << kBlockBits];
      size_t nblocks = blocks.size() / kBlock, found = nblocks;
      for (size_t k = 0; k < nblocks; ++k)
        if (std::memcmp(&blocks[k * kBlock], src, kBlock) == 0) {
          found = k;
          break;
        }
      if (found == nblocks) blocks.insert(blocks.end(), src, src + kBlock);
      stage1[b] = static_cast<uint16_t>(found);
    }
  }
};

const ClassTable& table() {
  static const ClassTable t;
  return t;
}

}  // namespace

uint8_t char_class(char32_t cp) {
  if (cp >= kMaxCp) return 0;
  const ClassTable& t = table();
  return t.blocks[(size_t(t.stage1[cp >> kBlockBits]) << kBlockBits) | (cp & (kBlock - 1))];
}

int to_lower(char32_t cp, char32_t out[2]) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  const CpLower* e = std::lower_bound(std::begin(kLowercase), std::end(kLowercase), cp,
                                      [](const CpLower& l, char32_t c) { return l.cp < c; });
  if (e == std::end(kLowercase) || e->cp != cp) {
    out[0] = cp;
    return 1;
  }
  out[0] = e->lower1;
  if (e->lower2 == 0) return 1;
  out[1] = e->lower2;
  return 2;
}

int decompose(char32_t cp, char32_t out[kMaxDecomposition]) {
  utf8proc_int32_t buf[kMaxDecomposition];
  int last_boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, kMaxDecomposition,
                                               UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > kMaxDecomposition) {
    out[0] = cp;
    return 1;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out[i] = static_cast<char32_t>(buf[i]);
  return static_cast<int>(n);
}

int combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

size_t count_chars(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    decode_utf8(p, s.size(), i);
    ++n;
  }
  return n;
}

}  // namespace mr::tok
