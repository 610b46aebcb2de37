// Byte-level BPE and SentencePiece Unigram pipelines of tokenizer.json, following HuggingFace
// tokenizers 0.23 (models/bpe, models/unigram, normalizers, pre_tokenizers/{byte_level,metaspace},
// decoders, spm_precompiled). Text is carried as code points with, for each, the range of
// original characters it stands for (HF's alignments, for offsets).
#include "tokenizer/hf_models.h"

#include "base/escape.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "base/check.h"
#include "tokenizer/json_reader.h"
#include "tokenizer/unicode.h"

namespace mr::tok::detail {

using json = nlohmann::json;

namespace {

// HF's alignment of a normalized character: the original characters [s, e) it stands for.
struct Align {
  uint32_t s, e;
};

// Code points with the alignment of each. base: where the piece starts in its text; HF
// aligns characters inserted at the very start to (base, base).
struct NText {
  std::vector<char32_t> cp;
  std::vector<Align> al;
  uint32_t base = 0;
  void push(char32_t c, Align a) {
    cp.push_back(c);
    al.push_back(a);
  }
  size_t size() const { return cp.size(); }
};

NText to_ntext(std::string_view s, uint32_t base) {
  NText t;
  t.base = base;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  uint32_t k = base;
  while (i < s.size()) {
    t.push(decode_utf8(p, s.size(), i), {k, k + 1});
    ++k;
  }
  return t;
}

// HF's NormalizedString::transform over the whole text: dest holds (char, change) as HF's
// normalizers make them. Change 0 takes the next original character's place (and its
// alignment), -k also removes the k characters after it, a positive change inserts a
// character aligned like the one before it ((base, base) at the very start). Original
// characters that dest does not reach are dropped, so a normalizer that drops characters
// without saying so shifts the alignments after them: that is HF's behaviour too.
void hf_transform(NText& t, const std::vector<std::pair<char32_t, int>>& dest) {
  NText out;
  out.base = t.base;
  size_t off = 0;
  const Align start{t.base, t.base};
  for (auto [c, change] : dest) {
    Align a;
    if (change > 0) {
      a = off < 1 ? start : t.al[std::min(off, t.size()) - 1];
    } else {
      a = off < t.size() ? t.al[off] : (t.size() ? t.al.back() : start);
      off += 1 + size_t(-change);
    }
    out.push(c, a);
  }
  t = std::move(out);
}

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_utf8(p, s.size(), i));
  return out;
}

std::string to_utf8(const char32_t* c, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) append_utf8(s, c[i]);
  return s;
}

bool is_ws(char32_t c) { return char_class(c) & kSpace; }  // White_Space (Rust, Oniguruma \s)

// ------------------------------------------------------------------------------ normalizers
struct Normalizer {
  virtual ~Normalizer() = default;
  virtual void apply(NText& t) const = 0;
};

struct SequenceNorm : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> parts;
  void apply(NText& t) const override {
    for (const auto& p : parts) p->apply(t);
  }
};

struct LowercaseNorm : Normalizer {  // Rust char::to_lowercase, as BertNormalizer's lowercase
  void apply(NText& t) const override {
    NText out;
    for (size_t i = 0; i < t.size(); ++i) {
      char32_t lo[2];
      int k = to_lower(t.cp[i], lo);
      for (int j = 0; j < k; ++j) out.push(lo[j], t.al[i]);
    }
    t = std::move(out);
  }
};

struct StripNorm : Normalizer {
  bool left = true, right = true;
  void apply(NText& t) const override {
    size_t b = 0, e = t.size();
    if (left)
      while (b < e && is_ws(t.cp[b])) ++b;
    if (right)
      while (e > b && is_ws(t.cp[e - 1])) --e;
    t.cp.erase(t.cp.begin() + ptrdiff_t(e), t.cp.end());
    t.al.erase(t.al.begin() + ptrdiff_t(e), t.al.end());
    t.cp.erase(t.cp.begin(), t.cp.begin() + ptrdiff_t(b));
    t.al.erase(t.al.begin(), t.al.begin() + ptrdiff_t(b));
  }
};

struct PrependNorm : Normalizer {
  std::u32string text;
  void apply(NText& t) const override {
    if (t.cp.empty()) return;  // HF's NormalizedString::prepend leaves an empty string alone
    t.cp.insert(t.cp.begin(), text.begin(), text.end());
    t.al.insert(t.al.begin(), text.size(), t.al[0]);  // HF: all aligned like the first character
  }
};

// Replace: a literal pattern, or a regex of the forms HF files use (a literal, or one character
// repeated: "X+", "X{n,}").
struct ReplaceNorm : Normalizer {
  std::u32string pattern;  // literal
  char32_t run_char = 0;   // run mode when min_run > 0
  size_t min_run = 0;
  std::u32string content;
  void apply(NText& t) const override {
    NText out;
    out.base = t.base;
    size_t i = 0, n = t.size();
    while (i < n) {
      size_t len = 0;
      if (min_run > 0) {
        while (i + len < n && t.cp[i + len] == run_char) ++len;
        if (len < min_run) len = 0;
      } else if (!pattern.empty() && i + pattern.size() <= n &&
                 std::equal(pattern.begin(), pattern.end(), t.cp.begin() + ptrdiff_t(i))) {
        len = pattern.size();
      }
      if (len == 0) {
        out.push(t.cp[i], t.al[i]);
        ++i;
        continue;
      }
      // HF: the match is removed, the content inserted, aligned like the match's last character
      for (char32_t c : content) out.push(c, t.al[i + len - 1]);
      i += len;
    }
    t = std::move(out);
  }
};

struct CpRange {
  char32_t first, last;
};
#include "tokenizer/hf_nf_tables.inc"

template <size_t N>
bool in_ranges(const CpRange (&r)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(r), std::end(r), c, [](char32_t x, const CpRange& q) { return x < q.first; });
  return it != std::begin(r) && c <= std::prev(it)->last;
}

// NFC / NFD / NFKC / NFKD: utf8proc's decompositions, but only for the code points HF's own
// (older) tables decompose; canonical reordering; utf8proc's pair compositions.
struct UnicodeNorm : Normalizer {
  bool compat = false, compose = false;
  std::u32string run(const char32_t* c, size_t n) const {
    std::vector<utf8proc_int32_t> buf;
    utf8proc_int32_t tmp[64];
    const int opts = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    for (size_t i = 0; i < n; ++i) {
      bool dec = compat ? in_ranges(kHfCompat, c[i]) : in_ranges(kHfCanonical, c[i]);
      int boundclass = 0;
      utf8proc_ssize_t k = dec ? utf8proc_decompose_char(utf8proc_int32_t(c[i]), tmp, 64, utf8proc_option_t(opts), &boundclass) : 0;
      if (k <= 0 || k > 64) {
        buf.push_back(utf8proc_int32_t(c[i]));
      } else {
        buf.insert(buf.end(), tmp, tmp + k);
      }
    }
    // canonical ordering: stable sort of each run of non-starters by combining class
    auto ccc = [](utf8proc_int32_t x) { return utf8proc_get_property(x)->combining_class; };
    for (size_t i = 0; i < buf.size();) {
      if (ccc(buf[i]) == 0) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < buf.size() && ccc(buf[j]) != 0) ++j;
      std::stable_sort(buf.begin() + ptrdiff_t(i), buf.begin() + ptrdiff_t(j),
                       [&](utf8proc_int32_t a, utf8proc_int32_t b) { return ccc(a) < ccc(b); });
      i = j;
    }
    size_t len = buf.size();
    if (compose && len > 0) {
      utf8proc_ssize_t r = utf8proc_normalize_utf32(buf.data(), utf8proc_ssize_t(len), utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
      MR_CHECK(r >= 0, "utf8proc: {}", utf8proc_errmsg(r));
      len = size_t(r);
    }
    return std::u32string(buf.begin(), buf.begin() + ptrdiff_t(len));
  }
  // Alignments as HF's unicode-normalization-alignments reports them (checked on its output):
  // positionally. Each character decomposes into units, the first of which stands for the
  // character; composition merges units; an output character that stands for k >= 1
  // characters replaces the next one and removes k - 1 after it, one that stands for none is
  // inserted (hf_transform).
  void apply(NText& t) const override {
    if (t.cp.empty()) return;
    bool ascii = std::all_of(t.cp.begin(), t.cp.end(), [](char32_t c) { return c < 0x80; });
    if (ascii) return;
    struct Unit {
      char32_t c;
      int stands;  // original characters it stands for
    };
    std::vector<Unit> u;
    utf8proc_int32_t tmp[64];
    const int opts = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    for (char32_t c : t.cp) {
      bool dec = compat ? in_ranges(kHfCompat, c) : in_ranges(kHfCanonical, c);
      int boundclass = 0;
      utf8proc_ssize_t k = dec ? utf8proc_decompose_char(utf8proc_int32_t(c), tmp, 64, utf8proc_option_t(opts), &boundclass) : 0;
      if (k <= 0 || k > 64) {
        u.push_back({c, 1});
      } else {
        for (utf8proc_ssize_t i = 0; i < k; ++i) u.push_back({char32_t(tmp[i]), i == 0 ? 1 : 0});
      }
    }
    auto ccc = [](char32_t x) { return int(utf8proc_get_property(utf8proc_int32_t(x))->combining_class); };
    for (size_t i = 0; i < u.size();) {  // canonical ordering
      if (ccc(u[i].c) == 0) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < u.size() && ccc(u[j].c) != 0) ++j;
      std::stable_sort(u.begin() + ptrdiff_t(i), u.begin() + ptrdiff_t(j), [&](const Unit& x, const Unit& y) { return ccc(x.c) < ccc(y.c); });
      i = j;
    }
    if (compose) {  // canonical composition (UAX #15), the pair compositions from utf8proc
      std::vector<Unit> out;
      int starter = -1, last = -1;  // last: combining class of the last unit kept after the starter
      for (const Unit& x : u) {
        const int cc = ccc(x.c);
        if (starter >= 0 && !(last != -1 && last >= cc)) {
          utf8proc_int32_t pair[2] = {utf8proc_int32_t(out[size_t(starter)].c), utf8proc_int32_t(x.c)};
          if (utf8proc_normalize_utf32(pair, 2, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE)) == 1) {
            out[size_t(starter)].c = char32_t(pair[0]);
            out[size_t(starter)].stands += x.stands;
            continue;
          }
        }
        if (cc == 0) {
          starter = int(out.size());
          last = -1;
        } else {
          last = cc;
        }
        out.push_back(x);
      }
      u = std::move(out);
    }
    // the text must be what the whole-text normalization gives (it is what the tests check)
    std::u32string whole = run(t.cp.data(), t.size());
    bool same = whole.size() == u.size();
    for (size_t i = 0; same && i < u.size(); ++i) same = whole[i] == u[i].c;
    if (!same) {  // not expected: keep the text, align roughly
      NText w;
      w.base = t.base;
      for (size_t k = 0; k < whole.size(); ++k) w.push(whole[k], t.al[std::min(k * t.size() / whole.size(), t.size() - 1)]);
      t = std::move(w);
      return;
    }
    std::vector<std::pair<char32_t, int>> dest;
    for (const Unit& x : u) dest.push_back({x.c, x.stands >= 1 ? 1 - x.stands : 1});
    hf_transform(t, dest);
  }
};

// sentencepiece's precompiled charsmap: [u32 trie size][darts-clone double array][NUL-separated
// normalized strings]. HF applies it per extended grapheme cluster: a cluster of fewer than 6
// bytes is looked up whole (the FIRST prefix match replaces the whole cluster, as
// spm_precompiled does), otherwise, or when nothing matches, each character on its own.
struct PrecompiledNorm : Normalizer {
  std::vector<uint32_t> trie;
  std::string normalized;

  // spm_precompiled's transform: the first (shortest) common-prefix match of key, if any.
  bool transform(std::string_view key, std::string_view& out) const {
    if (trie.empty()) return false;
    size_t pos = 0;
    auto offset = [](uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); };
    uint32_t unit = trie[0];
    pos ^= offset(unit);
    for (char ch : key) {
      unsigned c = static_cast<unsigned char>(ch);
      if (c == 0) break;
      pos ^= c;
      if (pos >= trie.size()) return false;
      unit = trie[pos];
      if ((unit & ((1u << 31) | 0xFF)) != c) return false;
      pos ^= offset(unit);
      if (pos >= trie.size()) return false;
      if ((unit >> 8) & 1) {
        size_t v = trie[pos] & ((1u << 31) - 1);
        if (v > normalized.size()) return false;
        size_t e = normalized.find('\0', v);
        if (e == std::string::npos) e = normalized.size();
        out = std::string_view(normalized).substr(v, e - v);
        return true;
      }
    }
    return false;
  }

  // Alignments as HF 0.23.3 gives them (checked on its output): a replacement of m characters
  // by q is a list of (char, change) for HF's positional transform (hf_transform): the first
  // q <= m characters replace (the first also removes m - q), beyond m they are inserted; a
  // removal is added to the previous entry's change (so an inserted character after which
  // characters vanish becomes a replacing one, and later alignments shift, as in HF), and is
  // lost at the very start (shifting everything after it, as in HF).
  void apply(NText& t) const override {
    const size_t n = t.size();
    utf8proc_int32_t state = 0;
    size_t i = 0;
    std::string g;
    std::vector<std::pair<char32_t, int>> dest;
    bool modified = false;
    auto emit = [&](std::string_view rep, int m) {
      std::u32string r = to_u32(rep);
      const int q = int(r.size());
      modified = true;
      if (q == 0) {
        if (!dest.empty()) dest.back().second -= m;
        return;
      }
      for (int k = 0; k < q; ++k) dest.push_back({r[size_t(k)], q <= m ? (k == 0 ? q - m : 0) : (k < m ? 0 : 1)});
    };
    while (i < n) {
      size_t j = i + 1;
      while (j < n && !utf8proc_grapheme_break_stateful(utf8proc_int32_t(t.cp[j - 1]), utf8proc_int32_t(t.cp[j]), &state)) ++j;
      g = to_utf8(t.cp.data() + i, j - i);
      std::string_view rep;
      if (g.size() < 6 && transform(g, rep)) {
        emit(rep, int(j - i));
      } else {
        for (size_t k = i; k < j; ++k) {
          std::string one = to_utf8(&t.cp[k], 1);
          if (transform(one, rep))
            emit(rep, 1);
          else
            dest.push_back({t.cp[k], 0});
        }
      }
      i = j;
    }
    if (modified) hf_transform(t, dest);
  }
};

// ------------------------------------------------------------------------------ words
// One pre-token: UTF-8 text, the byte offset of each of its characters, and each character's
// alignment.
struct Word {
  std::string text;
  std::vector<uint32_t> at;  // byte offset of char k
  std::vector<Align> al;     // alignment of char k
  size_t chars() const { return at.size(); }
  std::string_view chr(size_t k) const {
    size_t e = k + 1 < at.size() ? at[k + 1] : text.size();
    return std::string_view(text).substr(at[k], e - at[k]);
  }
  void push(char32_t c, Align a) {
    at.push_back(uint32_t(text.size()));
    al.push_back(a);
    append_utf8(text, c);
  }
  // A token over chars [c0, c1): from the first one's start to the last one's end (HF).
  RawToken token(int32_t id, size_t c0, size_t c1) const { return {id, al[c0].s, al[c1 - 1].e}; }
};

// GPT-2's byte <-> unicode map (printable bytes map to themselves, the others to U+0100...).
struct ByteMap {
  std::array<char32_t, 256> to_char{};
  std::unordered_map<char32_t, uint8_t> to_byte;
  ByteMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = keep ? char32_t(b) : char32_t(256 + n++);
      to_byte[to_char[b]] = uint8_t(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

// ------------------------------------------------------------------------------ pre-tokenizers
struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  virtual void split(NText& t, bool at_start, std::vector<Word>& words) const = 0;
};

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  auto cat = utf8proc_category(utf8proc_int32_t(c));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  auto cat = utf8proc_category(utf8proc_int32_t(c));
  return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}

// GPT-2's pattern, by hand:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Returns the end of the match starting at i (always > i).
size_t gpt2_match(const std::vector<char32_t>& c, size_t i) {
  const size_t n = c.size();
  if (c[i] == '\'' && i + 1 < n) {
    char32_t a = c[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < n) {
      char32_t b = c[i + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
  }
  auto other = [](char32_t x) { return !is_ws(x) && !is_letter(x) && !is_number(x); };
  size_t s = i;
  if (c[i] == ' ' && i + 1 < n && !is_ws(c[i + 1])) s = i + 1;
  if (s < n && !is_ws(c[s])) {
    size_t e = s;
    if (is_letter(c[s])) {
      while (e < n && is_letter(c[e])) ++e;
    } else if (is_number(c[s])) {
      while (e < n && is_number(c[e])) ++e;
    } else {
      while (e < n && other(c[e])) ++e;
    }
    return e;
  }
  // whitespace run
  size_t e = i;
  while (e < n && is_ws(c[e])) ++e;
  if (e == n) return e;            // \s+(?!\S) at the end
  if (e - i >= 2) return e - 1;    // leave the last one to precede the word
  return e;                        // \s+
}

struct ByteLevelPre : PreTokenizer {
  bool add_prefix_space = false, use_regex = true;
  void split(NText& t, bool, std::vector<Word>& words) const override {
    if (add_prefix_space && !t.cp.empty() && t.cp[0] != ' ') {  // HF's prepend
      t.cp.insert(t.cp.begin(), ' ');
      t.al.insert(t.al.begin(), t.al[0]);
    }
    const ByteMap& bm = byte_map();
    size_t i = 0;
    while (i < t.size()) {
      size_t e = use_regex ? gpt2_match(t.cp, i) : t.size();
      Word w;
      for (size_t k = i; k < e; ++k) {
        std::string b;
        append_utf8(b, t.cp[k]);
        for (char ch : b) w.push(bm.to_char[static_cast<unsigned char>(ch)], t.al[k]);
      }
      words.push_back(std::move(w));
      i = e;
    }
  }
};

struct MetaspacePre : PreTokenizer {
  char32_t replacement = 0x2581;
  enum { Always, First, Never } scheme = Always;
  bool split_words = true;
  void split(NText& t, bool at_start, std::vector<Word>& words) const override {
    for (char32_t& c : t.cp)
      if (c == ' ') c = replacement;
    bool prepend = scheme == Always || (scheme == First && at_start);
    if (prepend && !t.cp.empty() && t.cp[0] != replacement) {  // HF's prepend
      t.cp.insert(t.cp.begin(), replacement);
      t.al.insert(t.al.begin(), t.al[0]);
    }
    Word w;
    for (size_t k = 0; k < t.size(); ++k) {
      if (split_words && t.cp[k] == replacement && w.chars() > 0) {
        words.push_back(std::move(w));
        w = Word{};
      }
      w.push(t.cp[k], t.al[k]);
    }
    if (w.chars() > 0) words.push_back(std::move(w));
  }
};

// ------------------------------------------------------------------------------ models
struct Model {
  virtual ~Model() = default;
  virtual void tokenize(const Word& w, std::vector<RawToken>& out) const = 0;
};

std::string byte_token(unsigned char b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

// byte_fallback: the ids of "<0xXX>" for every byte of s, or false when one is missing.
bool byte_ids(const StringIdMap& vocab, std::string_view s, std::vector<int32_t>& ids) {
  ids.clear();
  for (char ch : s) {
    int32_t id = vocab.find(byte_token(static_cast<unsigned char>(ch)));
    if (id < 0) return false;
    ids.push_back(id);
  }
  return true;
}

struct BpeModel : Model {
  const StringIdMap* vocab = nullptr;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;  // (left, right) -> (rank, new id)
  std::string prefix, suffix;
  int32_t unk_id = -1;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;

  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  struct Sym {
    int32_t id;
    int32_t prev, next;
    uint32_t c0, c1;  // chars [c0, c1) of the word
  };

  void tokenize(const Word& w, std::vector<RawToken>& out) const override {
    const size_t n = w.chars();
    if (n == 0) return;
    if (ignore_merges) {
      if (int32_t id = vocab->find(w.text); id >= 0) {
        out.push_back(w.token(id, 0, n));
        return;
      }
    }
    std::vector<Sym> sy;
    auto add = [&](int32_t id, uint32_t c0, uint32_t c1) {
      int32_t k = int32_t(sy.size());
      sy.push_back({id, k - 1, -1, c0, c1});
      if (k > 0) sy[size_t(k) - 1].next = k;
    };
    bool have_unk = false;
    Sym unk{};
    std::string s;
    for (size_t k = 0; k < n; ++k) {
      s.clear();
      if (k > 0) s += prefix;
      s += w.chr(k);
      if (k + 1 == n) s += suffix;
      if (int32_t id = vocab->find(s); id >= 0) {
        if (have_unk) add(unk.id, unk.c0, unk.c1), have_unk = false;
        add(id, uint32_t(k), uint32_t(k + 1));
        continue;
      }
      if (std::vector<int32_t> ids; byte_fallback && byte_ids(*vocab, s, ids)) {
        // HF adds no pending unk here: it stays pending until the next known char
        for (int32_t id : ids) add(id, uint32_t(k), uint32_t(k + 1));
        continue;
      }
      if (unk_id >= 0) {
        if (have_unk && fuse_unk) {
          unk.c1 = uint32_t(k + 1);
        } else {
          if (have_unk) add(unk.id, unk.c0, unk.c1);
          unk = {unk_id, -1, -1, uint32_t(k), uint32_t(k + 1)};
          have_unk = true;
        }
      }
    }
    if (have_unk) add(unk.id, unk.c0, unk.c1);
    if (sy.empty()) return;

    struct Cand {
      int32_t rank, pos, new_id;
      bool operator<(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand> q;
    auto consider = [&](int32_t pos) {
      if (pos < 0 || sy[size_t(pos)].next < 0) return;
      auto it = merges.find(key(sy[size_t(pos)].id, sy[size_t(sy[size_t(pos)].next)].id));
      if (it != merges.end()) q.push({it->second.first, pos, it->second.second});
    };
    for (int32_t k = 0; k + 1 < int32_t(sy.size()); ++k) consider(k);
    std::vector<bool> dead(sy.size(), false);
    while (!q.empty()) {
      Cand top = q.top();
      q.pop();
      Sym& a = sy[size_t(top.pos)];
      if (dead[size_t(top.pos)] || a.next < 0) continue;
      Sym& b = sy[size_t(a.next)];
      auto it = merges.find(key(a.id, b.id));
      if (it == merges.end() || it->second.second != top.new_id) continue;
      a.id = top.new_id;
      a.c1 = b.c1;
      dead[size_t(a.next)] = true;
      a.next = b.next;
      if (a.next >= 0) sy[size_t(a.next)].prev = top.pos;
      consider(a.prev);
      consider(top.pos);
    }
    for (size_t k = 0; k < sy.size(); ++k)
      if (!dead[k]) out.push_back(w.token(sy[k].id, sy[k].c0, sy[k].c1));
  }
};

struct UnigramModel : Model {
  const StringIdMap* vocab = nullptr;  // piece -> id (the last of duplicates, as HF's HashMap)
  std::vector<double> score;           // by id
  size_t max_piece_bytes = 0;
  double unk_score = 0;
  int32_t unk_id = -1;
  bool byte_fallback = false;
  std::string path;

  void tokenize(const Word& w, std::vector<RawToken>& out) const override {
    const size_t n = w.chars();
    if (n == 0) return;
    struct Node {
      double score = 0;
      int32_t start = -1;  // char index where the best path's last piece starts
      int32_t id = -1;
    };
    std::vector<Node> best(n + 1);
    best[0].start = 0;
    const size_t total = w.text.size();
    auto byte_at = [&](size_t c) { return c < n ? size_t(w.at[c]) : total; };
    for (size_t s = 0; s < n; ++s) {
      if (s > 0 && best[s].start < 0) continue;  // unreachable (cannot happen: unk covers every char)
      const double base = best[s].score;
      bool single = false;
      const size_t b0 = w.at[s];
      for (size_t e = s + 1; e <= n && byte_at(e) - b0 <= max_piece_bytes; ++e) {
        int32_t id = vocab->find(std::string_view(w.text).substr(b0, byte_at(e) - b0));
        if (id < 0) continue;
        double cand = score[size_t(id)] + base;
        Node& t = best[e];
        if (t.start < 0 || cand > t.score) t = {cand, int32_t(s), id};
        if (e == s + 1) single = true;
      }
      if (!single) {
        if (unk_id < 0) FAIL_INPUT(path, "model.unk_id", "the text has a character that no piece covers and the model has no unk_id");
        double cand = unk_score + base;
        Node& t = best[s + 1];
        if (t.start < 0 || cand > t.score) t = {cand, int32_t(s), unk_id};
      }
    }
    // backtrack; consecutive unknown pieces are fused (HF's Unigram always fuses unk)
    struct Piece {
      size_t c0, c1;
    };
    std::vector<Piece> pieces;
    size_t e = n;
    bool in_unk = false;
    while (e > 0) {
      const Node& node = best[e];
      size_t s = size_t(node.start);
      if (node.id == unk_id && unk_id >= 0) {
        if (in_unk)
          pieces.back().c0 = s;
        else
          pieces.push_back({s, e});
        in_unk = true;
      } else {
        pieces.push_back({s, e});
        in_unk = false;
      }
      e = s;
    }
    std::reverse(pieces.begin(), pieces.end());
    for (const Piece& p : pieces) {
      std::string_view str = std::string_view(w.text).substr(byte_at(p.c0), byte_at(p.c1) - byte_at(p.c0));
      const RawToken tk = w.token(0, p.c0, p.c1);
      const uint32_t o0 = tk.start, o1 = tk.end;
      int32_t id = vocab->find(str);
      if (id >= 0) {
        out.push_back({id, o0, o1});
        continue;
      }
      if (std::vector<int32_t> ids; byte_fallback && byte_ids(*vocab, str, ids)) {
        for (int32_t b : ids) out.push_back({b, o0, o1});
        continue;
      }
      if (unk_id < 0) FAIL_INPUT(path, "model.unk_id", "piece \"{}\" is unknown and the model has no unk_id", str);
      out.push_back({unk_id, o0, o1});
    }
  }
};

// ------------------------------------------------------------------------------ decoders
struct Decoder {
  virtual ~Decoder() = default;
  virtual void apply(std::vector<std::string>& tokens) const = 0;
};

struct SequenceDec : Decoder {
  std::vector<std::unique_ptr<Decoder>> parts;
  void apply(std::vector<std::string>& t) const override {
    for (const auto& p : parts) p->apply(t);
  }
};

std::string lossy_utf8(std::string_view bytes) {  // Rust's String::from_utf8_lossy
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  while (i < bytes.size()) append_utf8(out, decode_utf8(p, bytes.size(), i));
  return out;
}

struct ByteLevelDec : Decoder {
  void apply(std::vector<std::string>& t) const override {
    const ByteMap& bm = byte_map();
    std::string bytes;
    for (const std::string& tok : t) {
      std::string mine;
      bool ok = true;
      for (char32_t c : to_u32(tok)) {
        auto it = bm.to_byte.find(c);
        if (it == bm.to_byte.end()) {
          ok = false;
          break;
        }
        mine.push_back(char(it->second));
      }
      bytes += ok ? mine : tok;
    }
    t = {lossy_utf8(bytes)};
  }
};

struct MetaspaceDec : Decoder {
  char32_t replacement = 0x2581;
  bool strip_first = true;  // prepend_scheme != never
  void apply(std::vector<std::string>& t) const override {
    for (size_t i = 0; i < t.size(); ++i) {
      std::string s;
      for (char32_t c : to_u32(t[i])) {
        if (c == replacement) {
          if (!(i == 0 && strip_first)) s.push_back(' ');
        } else {
          append_utf8(s, c);
        }
      }
      t[i] = std::move(s);
    }
  }
};

struct ByteFallbackDec : Decoder {
  void apply(std::vector<std::string>& t) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      const auto* p = reinterpret_cast<const unsigned char*>(pending.data());
      size_t i = 0;
      bool valid = true;
      while (i < pending.size()) {
        size_t before = i;
        char32_t c = decode_utf8(p, pending.size(), i);
        if (c == 0xFFFD && !(i - before == 3 && std::memcmp(p + before, "\xEF\xBF\xBD", 3) == 0)) valid = false;
      }
      if (valid)
        out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
      pending.clear();
    };
    for (std::string& tok : t) {
      if (tok.size() == 6 && tok.compare(0, 3, "<0x") == 0 && tok[5] == '>' && std::isxdigit(static_cast<unsigned char>(tok[3])) &&
          std::isxdigit(static_cast<unsigned char>(tok[4]))) {
        pending.push_back(char(std::stoi(tok.substr(3, 2), nullptr, 16)));
      } else {
        flush();
        out.push_back(std::move(tok));
      }
    }
    flush();
    t = std::move(out);
  }
};

// ------------------------------------------------------------------------------ pipeline
struct PipelineImpl : Pipeline {
  std::unique_ptr<Normalizer> norm;
  std::unique_ptr<PreTokenizer> pre;
  std::unique_ptr<Model> model;
  std::unique_ptr<Decoder> dec;
  const std::vector<std::string>* id_to_token = nullptr;

  void encode(std::string_view piece, uint32_t char_base, std::vector<RawToken>& out) const override {
    NText t = to_ntext(piece, char_base);
    if (norm) norm->apply(t);
    std::vector<Word> words;
    if (pre) {
      pre->split(t, char_base == 0, words);
    } else {
      Word w;
      for (size_t k = 0; k < t.size(); ++k) w.push(t.cp[k], t.al[k]);
      if (w.chars()) words.push_back(std::move(w));
    }
    for (const Word& w : words) model->tokenize(w, out);
  }

  bool has_normalizer() const override { return norm != nullptr; }

  std::string normalize(std::string_view piece, uint32_t char_base) const override {
    NText t = to_ntext(piece, char_base);
    if (norm) norm->apply(t);
    return to_utf8(t.cp.data(), t.size());
  }

  std::string decode(std::vector<std::string> tokens) const override {
    std::string out;
    if (!dec) {
      for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
      return out;
    }
    dec->apply(tokens);
    for (const std::string& s : tokens) out += s;
    return out;
  }
};

// ------------------------------------------------------------------------------ loading
struct Loader : JsonReader {
  char32_t one_char(const json& j, const char* key, const std::string& where) const {
    std::u32string s = to_u32(get<std::string>(j, key, where));
    if (s.size() != 1) fail(where + "." + key, "expected one character");
    return s[0];
  }

  // {"type": "Sequence", key: [...]}: each part through one(part, its JSON path).
  template <class Seq, class One>
  std::unique_ptr<Seq> sequence(const json& j, const char* key, const std::string& where, One&& one) const {
    auto seq = std::make_unique<Seq>();
    const json& arr = need(j, key, where);
    if (!arr.is_array()) fail(where + "." + key, "expected an array");
    for (size_t k = 0; k < arr.size(); ++k) seq->parts.push_back(one(arr[k], fmt::format("{}.{}[{}]", where, key, k)));
    return seq;
  }

  std::unique_ptr<Normalizer> normalizer(const json& n, const std::string& where) const {
    std::string t = get<std::string>(n, "type", where);
    if (t == "Sequence")
      return sequence<SequenceNorm>(n, "normalizers", where, [&](const json& x, const std::string& w) { return normalizer(x, w); });
    if (t == "Lowercase") return std::make_unique<LowercaseNorm>();
    if (t == "NFC" || t == "NFD" || t == "NFKC" || t == "NFKD") {
      auto u = std::make_unique<UnicodeNorm>();
      u->compose = t == "NFC" || t == "NFKC";
      u->compat = t[2] == 'K';
      return u;
    }
    if (t == "Strip") {
      auto s = std::make_unique<StripNorm>();
      s->left = get_or<bool>(n, "strip_left", true, where);
      s->right = get_or<bool>(n, "strip_right", true, where);
      return s;
    }
    if (t == "Prepend") {
      auto p = std::make_unique<PrependNorm>();
      p->text = to_u32(get<std::string>(n, "prepend", where));
      return p;
    }
    if (t == "Replace") {
      auto r = std::make_unique<ReplaceNorm>();
      r->content = to_u32(get<std::string>(n, "content", where));
      const json& pat = need(n, "pattern", where);
      if (pat.is_object() && pat.contains("String")) {
        r->pattern = to_u32(get<std::string>(pat, "String", where + ".pattern"));
        if (r->pattern.empty()) fail(where + ".pattern.String", "empty pattern");
      } else if (pat.is_object() && pat.contains("Regex")) {
        std::u32string re = to_u32(get<std::string>(pat, "Regex", where + ".pattern"));
        static const std::u32string meta = U"\\^$.|?*+()[]{}";
        auto literal = [&](char32_t c) { return meta.find(c) == std::u32string::npos; };
        if (!re.empty() && std::all_of(re.begin(), re.end(), literal)) {
          r->pattern = re;
        } else if (re.size() == 2 && literal(re[0]) && re[1] == '+') {
          r->run_char = re[0];
          r->min_run = 1;
        } else if (re.size() >= 5 && literal(re[0]) && re[1] == '{' && re.substr(re.size() - 2) == U",}" &&
                   std::all_of(re.begin() + 2, re.end() - 2, [](char32_t c) { return c >= '0' && c <= '9'; })) {
          r->run_char = re[0];
          r->min_run = 0;
          for (size_t k = 2; k + 2 < re.size() && r->min_run < 1000000; ++k) r->min_run = r->min_run * 10 + (re[k] - '0');
          if (r->min_run == 0) fail(where + ".pattern.Regex", "a run of at least 0 characters is not supported");
        } else {
          fail(where + ".pattern.Regex",
               fmt::format("regex \"{}\" is not supported (only literals, \"X+\" and \"X{{n,}}\")", escape_bytes(to_utf8(re.data(), re.size()))));
        }
      } else {
        fail(where + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
      }
      return r;
    }
    if (t == "Precompiled") {
      auto p = std::make_unique<PrecompiledNorm>();
      const json& cm = need(n, "precompiled_charsmap", where);
      if (cm.is_null()) return std::make_unique<SequenceNorm>();  // HF: no charsmap, no change
      std::string blob;
      try {
        blob = base64_decode(get<std::string>(n, "precompiled_charsmap", where));
      } catch (const Error& e) {
        fail(where + ".precompiled_charsmap", e.what());
      }
      if (blob.size() < 4) fail(where + ".precompiled_charsmap", "too short");
      uint32_t trie_bytes;
      std::memcpy(&trie_bytes, blob.data(), 4);  // little-endian (x86 / ARM)
      if (trie_bytes % 4 != 0 || size_t(trie_bytes) > blob.size() - 4)
        fail(where + ".precompiled_charsmap", fmt::format("bad trie size {} for {} bytes", trie_bytes, blob.size()));
      p->trie.resize(trie_bytes / 4);
      std::memcpy(p->trie.data(), blob.data() + 4, trie_bytes);
      p->normalized = blob.substr(4 + trie_bytes);
      return p;
    }
    fail(where + ".type",
         fmt::format("normalizer \"{}\" is not supported here (Sequence, Precompiled, NFC, NFD, NFKC, NFKD, Lowercase, "
                     "Strip, Prepend, Replace)", escape_bytes(t)));
  }

  std::unique_ptr<PreTokenizer> pre_tokenizer(const json& p, const std::string& where) const {
    std::string t = get<std::string>(p, "type", where);
    if (t == "ByteLevel") {
      auto b = std::make_unique<ByteLevelPre>();
      b->add_prefix_space = get_or<bool>(p, "add_prefix_space", true, where);
      b->use_regex = get_or<bool>(p, "use_regex", true, where);
      return b;
    }
    if (t == "Metaspace") {
      auto m = std::make_unique<MetaspacePre>();
      m->replacement = one_char(p, "replacement", where);
      bool legacy_prefix = get_or<bool>(p, "add_prefix_space", true, where);
      m->scheme = legacy_prefix ? MetaspacePre::Always : MetaspacePre::Never;
      if (p.contains("prepend_scheme") && !p["prepend_scheme"].is_null()) {
        std::string s = get<std::string>(p, "prepend_scheme", where);
        if (s == "always")
          m->scheme = MetaspacePre::Always;
        else if (s == "first")
          m->scheme = MetaspacePre::First;
        else if (s == "never")
          m->scheme = MetaspacePre::Never;
        else
          fail(where + ".prepend_scheme", fmt::format("unknown scheme \"{}\"", escape_bytes(s)));
      }
      m->split_words = get_or<bool>(p, "split", true, where);
      return m;
    }
    fail(where + ".type", fmt::format("pre-tokenizer \"{}\" is not supported here (ByteLevel, Metaspace)", escape_bytes(t)));
  }

  std::unique_ptr<Decoder> decoder(const json& d, const std::string& where) const {
    std::string t = get<std::string>(d, "type", where);
    if (t == "Sequence")
      return sequence<SequenceDec>(d, "decoders", where, [&](const json& x, const std::string& w) { return decoder(x, w); });
    if (t == "ByteLevel") return std::make_unique<ByteLevelDec>();
    if (t == "ByteFallback") return std::make_unique<ByteFallbackDec>();
    if (t == "Metaspace") {
      auto m = std::make_unique<MetaspaceDec>();
      m->replacement = one_char(d, "replacement", where);
      m->strip_first = get_or<bool>(d, "add_prefix_space", true, where);
      if (d.contains("prepend_scheme") && !d["prepend_scheme"].is_null())
        m->strip_first = get<std::string>(d, "prepend_scheme", where) != "never";
      return m;
    }
    fail(where + ".type", fmt::format("decoder \"{}\" is not supported here (ByteLevel, Metaspace, ByteFallback, Sequence)", escape_bytes(t)));
  }
};

// serde_json's default (not float_roundtrip) reading of a JSON number, which HF uses for the
// Unigram scores: the decimal digits as a u64 significand (digits that would overflow it are
// dropped), then one multiplication or division by a power of ten. It can differ from the
// correctly rounded value in the last bit, and Viterbi ties follow those bits.
double serde_f64(std::string_view s, double fallback) {
  static const std::vector<double> pow10 = [] {
    std::vector<double> t(309);
    for (int k = 0; k <= 308; ++k) t[size_t(k)] = std::strtod(("1e" + std::to_string(k)).c_str(), nullptr);
    return t;
  }();
  size_t i = 0;
  bool positive = true;
  if (i < s.size() && s[i] == '-') {
    positive = false;
    ++i;
  }
  auto digit = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  auto overflows = [](uint64_t a, uint64_t d) {
    const uint64_t m = UINT64_MAX;
    return a >= m / 10 && (a > m / 10 || d > m % 10);
  };
  uint64_t sig = 0;
  int64_t exp = 0;
  bool over = false;
  if (!digit(i)) return fallback;
  if (s[i] == '0') {
    ++i;
  } else {
    for (; digit(i); ++i) {
      uint64_t d = uint64_t(s[i] - '0');
      if (over || overflows(sig, d)) {
        over = true;
        ++exp;
        continue;
      }
      sig = sig * 10 + d;
    }
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; digit(i); ++i) {
      uint64_t d = uint64_t(s[i] - '0');
      if (over || overflows(sig, d)) {
        over = true;
        continue;
      }
      sig = sig * 10 + d;
      --exp;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool pos_exp = true;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) pos_exp = s[i++] == '+';
    int64_t e = 0;
    for (; digit(i); ++i) {
      e = e * 10 + (s[i] - '0');
      if (e > (int64_t(1) << 31)) return fallback;  // serde: 0 or an error; not a score
    }
    exp += pos_exp ? e : -e;
  }
  if (i != s.size()) return fallback;
  double f = double(sig);
  for (;;) {
    uint64_t a = uint64_t(exp < 0 ? -exp : exp);
    if (a <= 308) {
      if (exp >= 0)
        f *= pow10[a];
      else
        f /= pow10[a];
      break;
    }
    if (f == 0.0) break;
    if (exp >= 0) return fallback;  // serde: overflow error
    f /= 1e308;
    exp += 308;
  }
  return positive ? f : -f;
}

// The raw text of the numbers at model.vocab[k][1] of a tokenizer.json, in order.
struct VocabScoreText : nlohmann::json_sax<json> {
  std::vector<char> stack;        // 'o' object, 'a' array
  std::vector<std::string> keys;  // current key per object level
  std::vector<std::string> out;
  bool in_score() const {
    return stack.size() == 4 && stack[0] == 'o' && stack[1] == 'o' && stack[2] == 'a' && stack[3] == 'a' && keys.size() >= 2 &&
           keys[0] == "model" && keys[1] == "vocab";
  }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t v) override {
    if (in_score()) out.push_back(std::to_string(v));
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (in_score()) out.push_back(std::to_string(v));
    return true;
  }
  bool number_float(number_float_t, const string_t& s) override {
    if (in_score()) out.push_back(s);
    return true;
  }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    stack.push_back('o');
    keys.resize(std::count(stack.begin(), stack.end(), 'o'));
    return true;
  }
  bool key(string_t& k) override {
    keys.back() = k;
    return true;
  }
  bool end_object() override {
    stack.pop_back();
    keys.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    stack.push_back('a');
    return true;
  }
  bool end_array() override {
    stack.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

}  // namespace

std::string base64_decode(std::string_view s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  std::string out;
  out.reserve(s.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = val(c);
    if (v < 0) throw Error(fmt::format("invalid base64 character 0x{:02x}", static_cast<unsigned char>(c)));
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::unique_ptr<Pipeline> load_pipeline(const json& j, std::string_view text, const std::string& path,
                                        std::vector<std::string>& id_to_token, StringIdMap& vocab, int32_t& unk_id) {
  Loader r{{path}};
  auto p = std::make_unique<PipelineImpl>();
  p->id_to_token = &id_to_token;
  const json& m = r.need(j, "model", "top level");
  std::string type = r.get<std::string>(m, "type", "model");
  auto set_token = [&](const std::string& tok, int64_t id, const std::string& where, int64_t max_id) {
    if (id < 0 || id >= max_id) r.fail(where, fmt::format("token \"{}\": invalid id {}", escape_bytes(tok), id));
    if (size_t(id) >= id_to_token.size()) id_to_token.resize(size_t(id) + 1);
    id_to_token[size_t(id)] = tok;
    vocab.insert(tok, int32_t(id));
  };
  if (type == "BPE") {
    auto bpe = std::make_unique<BpeModel>();
    bpe->vocab = &vocab;
    if (m.contains("dropout") && !m["dropout"].is_null() && r.get<double>(m, "dropout", "model") != 0.0)
      r.fail("model.dropout", "BPE dropout is not supported (it is random)");
    const json& v = r.need(m, "vocab", "model");
    if (!v.is_object()) r.fail("model.vocab", "expected an object {token: id}");
    const int64_t max_id = int64_t(v.size()) * 2 + 4096;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_number_integer()) r.fail("model.vocab", fmt::format("token \"{}\": id {} is not an integer", escape_bytes(it.key()), escape_bytes(it.value().dump())));
      set_token(it.key(), it.value().get<int64_t>(), "model.vocab", max_id);
    }
    bpe->prefix = r.get_or<std::string>(m, "continuing_subword_prefix", "", "model");
    bpe->suffix = r.get_or<std::string>(m, "end_of_word_suffix", "", "model");
    bpe->fuse_unk = r.get_or<bool>(m, "fuse_unk", false, "model");
    bpe->byte_fallback = r.get_or<bool>(m, "byte_fallback", false, "model");
    bpe->ignore_merges = r.get_or<bool>(m, "ignore_merges", false, "model");
    if (m.contains("unk_token") && !m["unk_token"].is_null()) {
      std::string unk = r.get<std::string>(m, "unk_token", "model");
      bpe->unk_id = vocab.find(unk);
      if (bpe->unk_id < 0) r.fail("model.unk_token", fmt::format("\"{}\" is not in the vocabulary", escape_bytes(unk)));
    }
    unk_id = bpe->unk_id;
    const json& merges = r.need(m, "merges", "model");
    if (!merges.is_array()) r.fail("model.merges", "expected an array");
    for (size_t k = 0; k < merges.size(); ++k) {
      const json& mg = merges[k];
      std::string where = fmt::format("model.merges[{}]", k);
      std::string a, b;
      if (mg.is_string()) {  // "a b" (tokenizers < 0.20)
        std::string s = mg.get<std::string>();
        size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) r.fail(where, fmt::format("\"{}\" is not \"a b\"", escape_bytes(s)));
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
        a = mg[0].get<std::string>();
        b = mg[1].get<std::string>();
      } else {
        r.fail(where, "expected \"a b\" or [\"a\", \"b\"]");
      }
      int32_t ia = vocab.find(a), ib = vocab.find(b);
      if (ia < 0 || ib < 0) r.fail(where, fmt::format("\"{}\" or \"{}\" is not in the vocabulary", escape_bytes(a), escape_bytes(b)));
      std::string merged = a + (!bpe->prefix.empty() && b.compare(0, bpe->prefix.size(), bpe->prefix) == 0 ? b.substr(bpe->prefix.size()) : b);
      int32_t id = vocab.find(merged);
      if (id < 0) r.fail(where, fmt::format("the merge result \"{}\" is not in the vocabulary", escape_bytes(merged)));
      bpe->merges.emplace(BpeModel::key(ia, ib), std::make_pair(int32_t(k), id));  // the first rank wins, as HF
    }
    p->model = std::move(bpe);
  } else if (type == "Unigram") {
    auto uni = std::make_unique<UnigramModel>();
    uni->vocab = &vocab;
    uni->path = path;
    const json& v = r.need(m, "vocab", "model");
    if (!v.is_array()) r.fail("model.vocab", "expected an array of [piece, score]");
    double min_score = std::numeric_limits<double>::infinity();
    VocabScoreText raw;
    json::sax_parse(text, &raw);
    if (raw.out.size() != v.size()) raw.out.clear();  // unexpected layout: nlohmann's values
    for (size_t k = 0; k < v.size(); ++k) {
      const json& e = v[k];
      std::string where = fmt::format("model.vocab[{}]", k);
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) r.fail(where, "expected [piece, score]");
      std::string piece = e[0].get<std::string>();
      set_token(piece, int64_t(k), where, int64_t(v.size()));
      double sc = e[1].get<double>();
      if (!raw.out.empty()) sc = serde_f64(raw.out[k], sc);
      uni->score.push_back(sc);
      min_score = std::min(min_score, sc);
      uni->max_piece_bytes = std::max(uni->max_piece_bytes, piece.size());
    }
    if (v.empty()) r.fail("model.vocab", "empty vocabulary");
    uni->unk_score = min_score - 10.0;  // HF's K_UNK_PENALTY
    if (m.contains("unk_id") && !m["unk_id"].is_null()) {
      int64_t u = r.get<int64_t>(m, "unk_id", "model");
      if (u < 0 || u >= int64_t(v.size())) r.fail("model.unk_id", fmt::format("{} is not an id of the vocabulary", u));
      uni->unk_id = int32_t(u);
    }
    unk_id = uni->unk_id;
    uni->byte_fallback = r.get_or<bool>(m, "byte_fallback", false, "model");
    p->model = std::move(uni);
  } else {
    r.fail("model.type", fmt::format("\"{}\" is not supported (WordPiece, BPE, Unigram)", escape_bytes(type)));
  }

  if (j.contains("normalizer") && !j["normalizer"].is_null()) p->norm = r.normalizer(j["normalizer"], "normalizer");
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null()) p->pre = r.pre_tokenizer(j["pre_tokenizer"], "pre_tokenizer");
  if (j.contains("decoder") && !j["decoder"].is_null()) p->dec = r.decoder(j["decoder"], "decoder");
  return p;
}

}  // namespace mr::tok::detail
