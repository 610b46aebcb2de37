// BERT WordPiece tokenizer, HuggingFace-identical. One pass over the text: special tokens
// are matched on the raw text first (HF's added vocabulary, leftmost-longest); every other
// character goes clean_text -> handle_chinese_chars -> strip_accents (NFD, drop Mn) ->
// lowercase -> BertPreTokenizer (split on whitespace, isolate punctuation), and each word
// goes through greedy longest-match-first WordPiece.
#include "tokenizer/tokenizer.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/check.h"
#include "base/escape.h"
#include "tokenizer/hf_models.h"
#include "tokenizer/json_reader.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace mr::tok {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ------------------------------------------------------------------------------- Impl
struct AddedToken {
  std::string content;
  int32_t id;
  bool special;
  uint32_t n_chars;
  // BPE / Unigram only: swallow the whitespace before / after; matched after the others
  // (HF matches normalized tokens on the normalized text: we take them only without normalizer)
  bool lstrip = false, rstrip = false, normalized = false;
};

struct TemplatePiece {
  enum Kind { Special, SeqA, SeqB } kind;
  std::vector<int32_t> ids;  // Special: its ids
  int32_t type_id = 0;
};

struct Tokenizer::Impl {
  // WordPiece model
  std::vector<std::string> id_to_token;  // (V) "" where no token has that id
  StringIdMap whole;                     // tokens without the continuation prefix
  StringIdMap cont;                      // tokens that start with the prefix, prefix removed
  std::string prefix = "##";
  std::string unk_token = "[UNK]";
  int32_t unk_id = -1;
  size_t max_input_chars_per_word = 100;

  // Added vocabulary (special tokens), matched on the raw text
  std::vector<AddedToken> added;
  bool first_byte[256] = {};

  // Post-processor template
  std::vector<TemplatePiece> single, pair;

  // Decoder
  std::string decoder_prefix = "##";
  bool decoder_cleanup = true;

  // BPE / Unigram: normalizer, pre-tokenizer, model and decoder (null for WordPiece)
  std::unique_ptr<detail::Pipeline> pipeline;
  std::string model_type = "WordPiece";
  bool trim_offsets = false, trim_prefix_space = false;  // RobertaProcessing / ByteLevel post-processing

  void add_token(const std::string& tok, int32_t id) {
    MR_CHECK(id >= 0 && id < (1 << 30), "token id {} out of range", id);
    if (size_t(id) >= id_to_token.size()) id_to_token.resize(size_t(id) + 1);
    id_to_token[size_t(id)] = tok;
    whole.insert(tok, id);
    if (!prefix.empty() && tok.size() > prefix.size() && tok.compare(0, prefix.size(), prefix) == 0)
      cont.insert(std::string_view(tok).substr(prefix.size()), id);
  }

  int32_t lookup(std::string_view tok) const {
    if (int32_t id = whole.find(tok); id >= 0) return id;
    for (const AddedToken& a : added)
      if (a.content == tok) return a.id;
    return -1;
  }

  void add_special(const std::string& content, int32_t id, bool special) {
    for (AddedToken& a : added)
      if (a.content == content) {
        a.id = id;
        a.special = special;
        return;
      }
    MR_CHECK(!content.empty(), "empty added token");
    added.push_back({content, id, special, uint32_t(count_chars(content))});
    first_byte[static_cast<unsigned char>(content[0])] = true;
    if (size_t(id) >= id_to_token.size()) id_to_token.resize(size_t(id) + 1);
    if (id_to_token[size_t(id)].empty()) id_to_token[size_t(id)] = content;
  }

  bool is_special(int32_t id) const {
    for (const AddedToken& a : added)
      if (a.id == id && a.special) return true;
    return false;
  }

  // Longest added token at text[pos] (only those with normalized == *normalized when given), or nullptr.
  const AddedToken* match_added(std::string_view text, size_t pos, const bool* normalized = nullptr) const {
    const AddedToken* best = nullptr;
    for (const AddedToken& a : added)
      if ((!normalized || a.normalized == *normalized) && a.content.size() <= text.size() - pos &&
          (!best || a.content.size() > best->content.size()) &&
          std::memcmp(text.data() + pos, a.content.data(), a.content.size()) == 0)
        best = &a;
    return best;
  }

  void bert_template(int32_t cls, int32_t sep) {
    single = {{TemplatePiece::Special, {cls}, 0}, {TemplatePiece::SeqA, {}, 0}, {TemplatePiece::Special, {sep}, 0}};
    pair = single;
    pair.push_back({TemplatePiece::SeqB, {}, 1});
    pair.push_back({TemplatePiece::Special, {sep}, 1});
  }

  size_t n_special(bool is_pair) const {
    size_t n = 0;
    for (const TemplatePiece& p : is_pair ? pair : single) n += p.ids.size();
    return n;
  }
};

// ------------------------------------------------------------------------------- encoding
namespace {

// Per-call scratch: the current word (normalized UTF-8, the original char index of each of
// its chars, the byte offset where each char starts) and the NFD reordering buffer.
struct Scratch {
  std::string word;
  std::vector<uint32_t> orig;
  std::vector<uint32_t> byte_at;
  struct Pending {
    char32_t cp;
    int ccc;
    uint32_t orig;
    bool drop, inserted;
  };
  uint32_t last_orig = 0;
  std::vector<Pending> run;
  std::vector<uint32_t> run_orig;
};

struct Encoder {
  const Tokenizer::Impl& m;
  const NormalizerConfig& cfg;
  bool strips;
  Scratch& s;
  std::vector<RawToken>& out;
  std::string* norm_out = nullptr;  // normalize(): collect the normalized text instead

  void end_word() {
    if (s.orig.empty()) return;
    wordpiece();
    s.word.clear();
    s.orig.clear();
    s.byte_at.clear();
  }

  void wordpiece() {
    const size_t n = s.orig.size();
    if (n > m.max_input_chars_per_word) {
      out.push_back({m.unk_id, s.orig.front(), s.orig.back() + 1});
      return;
    }
    const size_t first_out = out.size();
    const size_t total = s.word.size();
    auto byte_pos = [&](size_t c) { return c < n ? size_t(s.byte_at[c]) : total; };
    size_t start = 0;
    while (start < n) {
      const StringIdMap& map = start == 0 ? m.whole : m.cont;
      const size_t b0 = s.byte_at[start];
      const size_t max_bytes = map.max_key_bytes();
      size_t end = std::min(n, start + max_bytes);
      while (end > start && byte_pos(end) - b0 > max_bytes) --end;
      int32_t id = -1;
      for (; end > start; --end) {
        id = map.find(std::string_view(s.word.data() + b0, byte_pos(end) - b0));
        if (id >= 0) break;
      }
      if (id < 0) {
        out.resize(first_out);
        out.push_back({m.unk_id, s.orig.front(), s.orig.back() + 1});
        return;
      }
      out.push_back({id, s.orig[start], s.orig[end - 1] + 1});
      start = end;
    }
  }

  // Pre-tokenizer on one normalized character.
  void emit(char32_t cp, uint32_t orig) {
    if (norm_out) {
      append_utf8(*norm_out, cp);
      return;
    }
    uint8_t f = cp < 0x80 ? ascii_class(cp) : char_class(cp);
    if (f & kSpace) {
      end_word();
    } else if (f & kPunct) {
      end_word();
      push_char(cp, orig);
      end_word();
    } else {
      push_char(cp, orig);
    }
  }

  static uint8_t ascii_class(char32_t cp) {
    static const auto table = [] {
      std::array<uint8_t, 128> t{};
      for (char32_t c = 0; c < 128; ++c) t[c] = char_class(c);
      return t;
    }();
    return table[cp];
  }

  void push_char(char32_t cp, uint32_t orig) {
    s.byte_at.push_back(uint32_t(s.word.size()));
    s.orig.push_back(orig);
    append_utf8(s.word, cp);
  }

  void lower_emit(char32_t cp, uint32_t orig) {
    if (cfg.lowercase) {
      char32_t lo[2];
      int k = to_lower(cp, lo);
      for (int i = 0; i < k; ++i) emit(lo[i], orig);
    } else {
      emit(cp, orig);
    }
  }

  // Canonical reordering of a run of combining marks (stable sort by combining class), with
  // HF's alignments: after sorting, each char that came first in its source char's
  // decomposition takes the next original position in order, and each other char takes the
  // position of the last one taken. Marks to drop (Mn) go through the sort too.
  void flush_run() {
    if (s.run.empty()) return;
    if (s.run.size() > 1) {
      s.run_orig.clear();
      for (const auto& p : s.run)
        if (!p.inserted) s.run_orig.push_back(p.orig);
      std::stable_sort(s.run.begin(), s.run.end(), [](const Scratch::Pending& a, const Scratch::Pending& b) { return a.ccc < b.ccc; });
      size_t next = 0;
      for (auto& p : s.run) {
        if (!p.inserted) s.last_orig = s.run_orig[next++];
        p.orig = s.last_orig;
      }
    } else if (!s.run[0].inserted) {
      s.last_orig = s.run[0].orig;
    }
    for (const auto& p : s.run)
      if (!p.drop) lower_emit(p.cp, p.orig);
    s.run.clear();
  }

  // strip_accents: NFD (with canonical reordering of combining marks) and drop Mn.
  void strip_emit(char32_t cp, uint32_t orig) {
    char32_t d[kMaxDecomposition];
    int k = 1;
    d[0] = cp;
    if (char_class(cp) & kMayDecompose) k = decompose(cp, d);
    for (int i = 0; i < k; ++i) {
      char32_t c = d[i];
      int ccc = combining_class(c);
      bool drop = char_class(c) & kMark;
      if (ccc == 0) {
        flush_run();
        s.last_orig = orig;
        if (!drop) lower_emit(c, orig);
      } else {
        s.run.push_back({c, ccc, orig, drop, i > 0});
      }
    }
  }

  void after_clean(char32_t cp, uint32_t orig) {
    if (strips && cp >= 0x80) {
      strip_emit(cp, orig);
      return;
    }
    if (strips) flush_run();
    lower_emit(cp, orig);
  }

  void normalize_char(char32_t cp, uint32_t orig) {
    uint8_t f = cp < 0x80 ? ascii_class(cp) : char_class(cp);
    if (cfg.clean_text) {
      if (f & kRemove || cp == 0 || cp == 0xFFFD) return;
      if (f & kCleanSpace) {
        cp = ' ';
        f = ascii_class(' ');
      }
    }
    if (cfg.handle_chinese_chars && (f & kCjk)) {
      after_clean(' ', orig);
      after_clean(cp, orig);
      after_clean(' ', orig);
      return;
    }
    after_clean(cp, orig);
  }

  void end_segment() {
    flush_run();
    end_word();
  }

  void run(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    size_t i = 0;
    uint32_t ci = 0;
    const bool have_added = !m.added.empty();
    // lstrip: the char index where the whitespace just before i starts (== ci when there is
    // none), not before the end of the previous added token (HF's AddedVocabulary). The
    // whitespace an lstrip / rstrip token takes would be dropped by BertPreTokenizer anyway:
    // only the token's offsets change.
    uint32_t ws_from = 0;
    // ASCII fast path when nothing needs the slow per-character machinery.
    while (i < n) {
      unsigned b = p[i];
      if (have_added && m.first_byte[b]) {
        if (const AddedToken* a = m.match_added(text, i)) {
          end_segment();
          const uint32_t start = a->lstrip ? ws_from : ci;
          i += a->content.size();
          ci += a->n_chars;
          if (a->rstrip)
            for (size_t next = i; next < n && (char_class(decode_utf8(p, n, next)) & kSpace); i = next) ++ci;
          if (norm_out)
            norm_out->append(a->content);
          else
            out.push_back({a->id, start, ci});
          ws_from = ci;
          continue;
        }
      }
      if (b < 0x80) {
        ++i;
        uint8_t f = ascii_class(b);
        if (!(f & kSpace)) ws_from = ci + 1;
        if (!(f & (kRemove | kCleanSpace | kPunct | kSpace)) && b != 0 && !norm_out) {
          // letters and digits: straight into the word
          if (strips) flush_run();
          char32_t c = (cfg.lowercase && b >= 'A' && b <= 'Z') ? b + 32 : b;
          s.byte_at.push_back(uint32_t(s.word.size()));
          s.orig.push_back(ci);
          s.word.push_back(char(c));
        } else {
          normalize_char(b, ci);
        }
      } else {
        const char32_t cp = decode_utf8(p, n, i);
        if (!(char_class(cp) & kSpace)) ws_from = ci + 1;
        normalize_char(cp, ci);
      }
      ++ci;
    }
    end_segment();
  }
};

thread_local Scratch tls_scratch;

}  // namespace

// HF's processors::byte_level::process_offsets on one sequence's tokens (char offsets): the
// leading / trailing spaces ('Ġ' or whitespace) of the token's text are left out of its
// offsets, except one leading space of the first token when add_prefix_space is set.
static void trim_offsets(const Tokenizer::Impl& m, RawToken* toks, const std::vector<std::string_view>& spans) {
  auto sp = [](char32_t c) { return c == 0x120 || (char_class(c) & kSpace); };
  for (size_t i = 0; i < spans.size(); ++i) {
    RawToken& tk = toks[i];
    std::string_view s = spans[i];
    if (s.empty() && tk.id >= 0 && size_t(tk.id) < m.id_to_token.size()) s = m.id_to_token[size_t(tk.id)];
    std::u32string c;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t k = 0; k < s.size();) c.push_back(decode_utf8(p, s.size(), k));
    size_t lead = 0, trail = 0;
    while (lead < c.size() && sp(c[lead])) ++lead;
    while (trail < c.size() && sp(c[c.size() - 1 - trail])) ++trail;
    if (lead > 0) {
      if ((i == 0 || tk.start == 0) && m.trim_prefix_space && lead == 1) lead = 0;
      tk.start = std::min<uint32_t>(tk.start + uint32_t(lead), tk.end);
    }
    if (trail > 0 && tk.end >= trail) tk.end = std::max<uint32_t>(tk.end - uint32_t(trail), tk.start);
  }
}

// BPE / Unigram: HF's AddedVocabulary. Added tokens are found leftmost-longest, first those
// with normalized false, then, in the pieces between them, those with normalized true (only
// allowed without a normalizer, where the normalized text is the text); lstrip / rstrip take
// the whitespace before / after into the token. f(piece, char_base) gets each piece between
// them, g(token, start, end, span) each added token with its char offsets and its text.
template <class F, class G>
static void split_pass(const Tokenizer::Impl& m, std::string_view text, uint32_t base, bool normalized, F&& f, G&& g) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  auto is_space_at = [&](size_t b, size_t& next) {
    next = b;
    return char_class(decode_utf8(p, text.size(), next)) & kSpace;
  };
  size_t i = 0, piece = 0;
  uint32_t ci = base, piece_ci = base;
  while (i < text.size()) {
    if (m.first_byte[p[i]]) {
      if (const AddedToken* a = m.match_added(text, i, &normalized)) {
        size_t start = i, stop = i + a->content.size();
        uint32_t stop_c = ci + a->n_chars;
        if (a->lstrip) {  // the whitespace at the end of the pending piece
          size_t b = piece;
          size_t ws = piece;
          while (b < start) {
            size_t next;
            if (!is_space_at(b, next)) ws = next;
            b = next;
          }
          start = ws;
        }
        if (a->rstrip) {
          size_t next;
          while (stop < text.size() && is_space_at(stop, next)) {
            stop = next;
            ++stop_c;
          }
        }
        uint32_t start_c = ci - uint32_t(count_chars(text.substr(start, i - start)));
        if (start > piece) f(text.substr(piece, start - piece), piece_ci);
        g(*a, start_c, stop_c, text.substr(start, stop - start));
        i = piece = stop;
        ci = piece_ci = stop_c;
        continue;
      }
    }
    decode_utf8(p, text.size(), i);
    ++ci;
  }
  if (text.size() > piece) f(text.substr(piece), piece_ci);
}

template <class F, class G>
static void split_added(const Tokenizer::Impl& m, std::string_view text, F&& f, G&& g) {
  split_pass(
      m, text, 0, false, [&](std::string_view piece, uint32_t base) { split_pass(m, piece, base, true, f, g); }, g);
}

void Tokenizer::tokenize(std::string_view text, std::vector<RawToken>& out) const {
  MR_CHECK(text.size() < (size_t(1) << 32), "text of {} bytes: offsets are 32-bit, at most 4 GiB per text", text.size());
  if (const Impl& m = *impl_; m.pipeline) {
    const size_t first = out.size();
    std::vector<std::string_view> spans;  // with trim_offsets: each added token's text ("" for the others)
    split_added(
        m, text,
        [&](std::string_view piece, uint32_t base) {
          m.pipeline->encode(piece, base, out);
          if (m.trim_offsets) spans.resize(out.size() - first);
        },
        [&](const AddedToken& a, uint32_t start, uint32_t end, std::string_view span) {
          out.push_back({a.id, start, end});
          if (m.trim_offsets) spans.push_back(span);
        });
    if (m.trim_offsets) trim_offsets(m, out.data() + first, spans);
    return;
  }
  Encoder e{*impl_, normalizer, normalizer.strips(), tls_scratch, out};
  e.s.word.clear();
  e.s.orig.clear();
  e.s.byte_at.clear();
  e.s.run.clear();
  e.run(text);
}

std::string Tokenizer::normalize(std::string_view text) const {
  std::vector<RawToken> unused;
  std::string out;
  if (impl_->pipeline) {
    split_added(
        *impl_, text, [&](std::string_view piece, uint32_t base) { out += impl_->pipeline->normalize(piece, base); },
        [&](const AddedToken& a, uint32_t, uint32_t, std::string_view) { out += a.content; });
    return out;
  }
  Scratch scratch;
  Encoder e{*impl_, normalizer, normalizer.strips(), scratch, unused, &out};
  e.run(text);
  return out;
}

namespace {

void truncate_seq(std::vector<RawToken>& t, size_t n, bool left) {
  if (t.size() <= n) return;
  if (left)
    t.erase(t.begin(), t.end() - ptrdiff_t(n));
  else
    t.resize(n);
}

// HF tokenizers' truncate_encodings (utils/truncation.rs), max_len without the special tokens.
void truncate_pair(std::vector<RawToken>& a, std::vector<RawToken>* b, size_t max_len, TruncationStrategy st, bool left) {
  if (max_len == 0) {  // room for the special tokens only: every strategy empties both
    a.clear();
    if (b) b->clear();
    return;
  }
  size_t total = a.size() + (b ? b->size() : 0);
  if (total <= max_len) return;
  size_t to_remove = total - max_len;
  switch (st) {
    case TruncationStrategy::LongestFirst: {
      if (!b) {
        truncate_seq(a, max_len, left);
        return;
      }
      size_t n1 = a.size(), n2 = b->size();
      bool swap = false;
      if (n1 > n2) {
        swap = true;
        std::swap(n1, n2);
      }
      if (n1 > max_len)
        n2 = n1;
      else
        n2 = std::max(n1, max_len - n1);
      if (n1 + n2 > max_len) {
        n1 = max_len / 2;
        n2 = n1 + max_len % 2;
      }
      if (swap) std::swap(n1, n2);
      truncate_seq(a, n1, left);
      truncate_seq(*b, n2, left);
      return;
    }
    case TruncationStrategy::OnlyFirst:
    case TruncationStrategy::OnlySecond: {
      std::vector<RawToken>* target = &a;
      if (st == TruncationStrategy::OnlySecond) {
        MR_CHECK(b, "truncation only_second needs a pair of texts");
        target = b;
      }
      MR_CHECK(target->size() > to_remove,
               "truncation: the sequence to truncate has {} tokens, fewer than the {} to remove to fit max_length",
               target->size(), to_remove);
      truncate_seq(*target, target->size() - to_remove, left);
      return;
    }
  }
}

void pad_to(Encoding& e, size_t target, const PaddingConfig& p) {
  if (e.ids.size() >= target) return;
  size_t k = target - e.ids.size();
  auto ins = [&](auto& v, auto val) {
    if (p.left)
      v.insert(v.begin(), k, val);
    else
      v.insert(v.end(), k, val);
  };
  ins(e.ids, p.pad_id);
  ins(e.type_ids, p.pad_type_id);
  ins(e.attention_mask, 0);
  ins(e.offsets, Offset{0, 0});
}

size_t padded_length(size_t len, const PaddingConfig& p) {
  if (p.multiple_of > 0 && len % p.multiple_of != 0) len += p.multiple_of - len % p.multiple_of;
  return len;
}

}  // namespace

static Encoding build(const Tokenizer& tk, const Tokenizer::Impl& m, std::string_view a, const std::string_view* b) {
  thread_local std::vector<RawToken> ta, tb;
  ta.clear();
  tb.clear();
  tk.tokenize(a, ta);
  if (b) tk.tokenize(*b, tb);
  if (tk.truncation.max_length > 0) {
    size_t n_added = m.n_special(b != nullptr);
    // A limit below the number of special tokens truncates nothing: HF computes max_length -
    // n_added in usize, which wraps around to a huge limit (checked against HF 0.23.3).
    if (tk.truncation.max_length >= n_added)
      truncate_pair(ta, b ? &tb : nullptr, tk.truncation.max_length - n_added, tk.truncation.strategy, tk.truncation.left);
  }
  Encoding e;
  const auto& tmpl = b ? m.pair : m.single;
  size_t n = ta.size() + tb.size() + m.n_special(b != nullptr);
  e.ids.reserve(n);
  e.type_ids.reserve(n);
  e.offsets.reserve(n);
  for (const TemplatePiece& p : tmpl) {
    if (p.kind == TemplatePiece::Special) {
      for (int32_t id : p.ids) {
        e.ids.push_back(id);
        e.type_ids.push_back(p.type_id);
        e.offsets.push_back({0, 0});
      }
    } else {
      const auto& seq = p.kind == TemplatePiece::SeqA ? ta : tb;
      for (const RawToken& t : seq) {
        e.ids.push_back(t.id);
        e.type_ids.push_back(p.type_id);
        e.offsets.push_back({t.start, t.end});
      }
    }
  }
  e.attention_mask.assign(e.ids.size(), 1);
  if (tk.padding.strategy == PaddingStrategy::Fixed)
    pad_to(e, padded_length(tk.padding.length, tk.padding), tk.padding);
  else if (tk.padding.strategy == PaddingStrategy::BatchLongest)
    pad_to(e, padded_length(e.ids.size(), tk.padding), tk.padding);
  return e;
}

Encoding Tokenizer::encode(std::string_view text) const { return build(*this, *impl_, text, nullptr); }

Encoding Tokenizer::encode(std::string_view a, std::string_view b) const { return build(*this, *impl_, a, &b); }

template <class F>
static std::vector<Encoding> batch(const Tokenizer& tk, size_t n, int threads, F&& one) {
  std::vector<Encoding> out(n);
  std::exception_ptr err;
  std::mutex mu;
#ifdef _OPENMP
  int nt = threads > 0 ? threads : omp_get_max_threads();
#else
  int nt = 1;
  (void)threads;
#endif
#pragma omp parallel for schedule(dynamic, 32) num_threads(nt)
  for (size_t i = 0; i < n; ++i) {
    try {
      out[i] = one(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!err) err = std::current_exception();
    }
  }
  if (err) std::rethrow_exception(err);
  if (tk.padding.strategy == PaddingStrategy::BatchLongest) {
    size_t longest = 0;
    for (const Encoding& e : out) longest = std::max(longest, e.ids.size());
    for (Encoding& e : out) pad_to(e, padded_length(longest, tk.padding), tk.padding);
  }
  return out;
}

std::vector<Encoding> Tokenizer::encode_batch(std::span<const std::string> texts, int threads) const {
  return batch(*this, texts.size(), threads, [&](size_t i) { return encode(texts[i]); });
}

std::vector<Encoding> Tokenizer::encode_batch(std::span<const std::pair<std::string, std::string>> pairs, int threads) const {
  return batch(*this, pairs.size(), threads, [&](size_t i) { return encode(pairs[i].first, pairs[i].second); });
}

// ------------------------------------------------------------------------------- decoding
// HF's WordPiece decoder: each token after the first loses the prefix or gains a leading
// space; with cleanup each token then gets tokenizers' cleanup() replacements.
static std::string cleanup(std::string t) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},   {" !", "!"},   {" ,", ","},           {" ' ", "'"},  {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto [from, to] : kRules) {
    std::string r;
    size_t pos = 0;
    for (size_t hit; (hit = t.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
      r.append(t, pos, hit - pos);
      r.append(to);
    }
    if (pos == 0) continue;
    r.append(t, pos, std::string::npos);
    t = std::move(r);
  }
  return t;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const Impl& m = *impl_;
  if (m.pipeline) {
    std::vector<std::string> tokens;
    for (int32_t id : ids) {
      std::string_view tok = id_to_token(id);
      if (tok.empty() || (skip_special && m.is_special(id))) continue;
      tokens.emplace_back(tok);
    }
    return m.pipeline->decode(std::move(tokens));
  }
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    std::string_view tok = id_to_token(id);
    if (tok.empty()) continue;
    if (skip_special && m.is_special(id)) continue;
    std::string t;
    if (!first) {
      if (!m.decoder_prefix.empty() && tok.substr(0, m.decoder_prefix.size()) == m.decoder_prefix)
        t.assign(tok.substr(m.decoder_prefix.size()));
      else
        t = " " + std::string(tok);
    } else {
      t.assign(tok);
    }
    first = false;
    out += m.decoder_cleanup ? cleanup(std::move(t)) : t;
  }
  return out;
}

// ------------------------------------------------------------------------------- accessors
Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::string_view Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || size_t(id) >= impl_->id_to_token.size()) return {};
  return impl_->id_to_token[size_t(id)];
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  int32_t id = impl_->lookup(token);
  if (id < 0) return std::nullopt;
  return id;
}

size_t Tokenizer::vocab_size() const { return impl_->id_to_token.size(); }
int32_t Tokenizer::unk_id() const { return impl_->unk_id; }
std::string_view Tokenizer::model_type() const { return impl_->model_type; }
size_t Tokenizer::num_special_tokens(bool pair) const { return impl_->n_special(pair); }

// ------------------------------------------------------------------------------- loading
static std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) FAIL_INPUT(path, "open", "cannot read the file");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Rust's str::trim_end: drops trailing White_Space characters.
static std::string_view trim_end(std::string_view s) {
  while (!s.empty()) {
    size_t k = s.size() - 1;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    size_t i = k;
    char32_t cp = decode_utf8(reinterpret_cast<const unsigned char*>(s.data()), s.size(), i);
    if (i != s.size() || !(char_class(cp) & kSpace)) break;
    s = s.substr(0, k);
  }
  return s;
}

Tokenizer Tokenizer::from_vocab_txt(const std::string& path, const NormalizerConfig& norm, const SpecialTokens& special) {
  std::string text = read_file(path);
  Tokenizer tk;
  Impl& m = *tk.impl_;
  tk.normalizer = norm;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line = trim_end(std::string_view(text).substr(pos, nl - pos));
    m.add_token(std::string(line), int32_t(line_no));
    ++line_no;
    pos = nl + 1;
  }
  if (line_no == 0) FAIL_INPUT(path, "line 1", "empty vocabulary");
  // BertTokenizerFast: the special tokens present in the vocabulary, [CLS] A [SEP] (B [SEP]).
  for (const std::string& s : {special.pad, special.unk, special.cls, special.sep, special.mask})
    if (int32_t id = m.whole.find(s); id >= 0 && !s.empty()) m.add_special(s, id, true);
  m.unk_token = special.unk;
  m.unk_id = m.whole.find(m.unk_token);
  if (m.unk_id < 0) FAIL_INPUT(path, fmt::format("{} lines", line_no), "the vocabulary has no {} token", escape_bytes(m.unk_token));
  int32_t cls = m.whole.find(special.cls), sep = m.whole.find(special.sep);
  if (cls < 0 || sep < 0)
    FAIL_INPUT(path, fmt::format("{} lines", line_no), "the vocabulary lacks {} or {}", escape_bytes(special.cls),
               escape_bytes(special.sep));
  m.bert_template(cls, sep);
  return tk;
}

using detail::JsonReader;

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  std::string text = read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    FAIL_INPUT(path, fmt::format("byte {}", e.byte), "invalid JSON: {}", escape_bytes(e.what(), 200));
  } catch (const json::exception& e) {  // e.g. out_of_range: a number too large ("1e551")
    FAIL_INPUT(path, "parse", "invalid JSON: {}", escape_bytes(e.what(), 200));
  }
  try {
  JsonReader r{path};
  Tokenizer tk;
  Impl& m = *tk.impl_;

  // model
  const json& model = r.need(j, "model", "top level");
  std::string type = r.get_or<std::string>(model, "type", "WordPiece", "model");
  int64_t max_id = 0;
  if (type != "WordPiece") {
    // BPE / Unigram: model, normalizer, pre-tokenizer and decoder in hf_models.cpp
    m.pipeline = detail::load_pipeline(j, text, path, m.id_to_token, m.whole, m.unk_id);
    m.model_type = type;
    m.prefix.clear();
    max_id = int64_t(m.id_to_token.size()) * 2 + 4096;
    tk.normalizer = NormalizerConfig{false, false, false, false};
  } else {
  m.unk_token = r.get_or<std::string>(model, "unk_token", "[UNK]", "model");
  m.prefix = r.get_or<std::string>(model, "continuing_subword_prefix", "##", "model");
  m.max_input_chars_per_word = r.get_or<size_t>(model, "max_input_chars_per_word", 100, "model");
  const json& vocab = r.need(model, "vocab", "model");
  if (!vocab.is_object()) r.fail("model.vocab", "expected an object {token: id}");
  // ids index a dense table: refuse ids far beyond the vocabulary size (a corrupt file must
  // not make us allocate gigabytes)
  max_id = int64_t(vocab.size()) * 2 + 4096;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() >= max_id)
      r.fail("model.vocab", fmt::format("token \"{}\": id {} is not a valid id (0..{})", escape_bytes(it.key()),
                                            escape_bytes(it.value().dump()), max_id - 1));
    m.add_token(it.key(), it.value().get<int32_t>());
  }
  m.unk_id = m.whole.find(m.unk_token);
  if (m.unk_id < 0) r.fail("model.unk_token", fmt::format("\"{}\" is not in the vocabulary", escape_bytes(m.unk_token)));

  // normalizer
  NormalizerConfig norm{false, false, false, false};
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const json& n = j["normalizer"];
    std::string t = r.get<std::string>(n, "type", "normalizer");
    if (t != "BertNormalizer") r.fail("normalizer.type", fmt::format("\"{}\" is not supported (only BertNormalizer)", escape_bytes(t)));
    norm.clean_text = r.get_or<bool>(n, "clean_text", true, "normalizer");
    norm.handle_chinese_chars = r.get_or<bool>(n, "handle_chinese_chars", true, "normalizer");
    norm.lowercase = r.get_or<bool>(n, "lowercase", true, "normalizer");
    norm.strip_accents = std::nullopt;
    if (n.contains("strip_accents") && !n["strip_accents"].is_null()) norm.strip_accents = r.get<bool>(n, "strip_accents", "normalizer");
  }
  tk.normalizer = norm;

  // pre-tokenizer
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null()) {
    std::string t = r.get<std::string>(j["pre_tokenizer"], "type", "pre_tokenizer");
    if (t != "BertPreTokenizer") r.fail("pre_tokenizer.type", fmt::format("\"{}\" is not supported (only BertPreTokenizer)", escape_bytes(t)));
  } else {
    r.fail("pre_tokenizer", "missing: only BertPreTokenizer is supported");
  }
  }  // WordPiece

  // added tokens
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    size_t k = 0;
    for (const json& a : j["added_tokens"]) {
      std::string where = fmt::format("added_tokens[{}]", k++);
      std::string content = r.get<std::string>(a, "content", where);
      int64_t id = r.get<int64_t>(a, "id", where);
      bool special = r.get_or<bool>(a, "special", false, where);
      if (content.empty()) r.fail(where, "empty content");
      bool lstrip = r.get_or<bool>(a, "lstrip", false, where), rstrip = r.get_or<bool>(a, "rstrip", false, where);
      bool normalized = r.get_or<bool>(a, "normalized", false, where);
      if (r.get_or<bool>(a, "single_word", false, where))
        r.fail(where + ".single_word", fmt::format("added token \"{}\": single_word is not supported", escape_bytes(content)));
      if (!m.pipeline && normalized)  // (lstrip / rstrip: the offsets take the whitespace, as HF)
        r.fail(where + ".normalized",
               fmt::format("added token \"{}\": normalized added tokens are not supported with WordPiece",
                           escape_bytes(content)));
      if (normalized && m.pipeline->has_normalizer())
        r.fail(where + ".normalized",
               fmt::format("added token \"{}\": normalized added tokens are supported only without a normalizer",
                           escape_bytes(content)));
      if (id < 0 || id >= max_id) r.fail(where, fmt::format("invalid id {} (0..{})", id, max_id - 1));
      m.add_special(content, int32_t(id), special);
      for (AddedToken& t : m.added)
        if (t.content == content) {
          t.lstrip = lstrip;
          t.rstrip = rstrip;
          t.normalized = normalized;
        }
    }
  }

  // post-processor
  auto token_id = [&](const std::string& tok, const std::string& where) {
    int32_t id = m.lookup(tok);
    if (id < 0) r.fail(where, fmt::format("token \"{}\" is not in the vocabulary", escape_bytes(tok)));
    return id;
  };
  m.single = {{TemplatePiece::SeqA, {}, 0}};
  m.pair = {{TemplatePiece::SeqA, {}, 0}, {TemplatePiece::SeqB, {}, 1}};
  std::function<void(const json&, const std::string&)> post_processor = [&](const json& pp, const std::string& W) {
    std::string t = r.get<std::string>(pp, "type", W);
    auto cls_sep = [&](int32_t& cls_id, int32_t& sep_id) {  // "cls": [token, id], "sep": [token, id]
      const json& cls = r.need(pp, "cls", W);
      const json& sep = r.need(pp, "sep", W);
      if (!cls.is_array() || cls.size() != 2 || !sep.is_array() || sep.size() != 2 || !cls[1].is_number_integer() || !sep[1].is_number_integer())
        r.fail(W, "cls and sep must be [token, id]");
      int64_t c = cls[1].get<int64_t>(), s = sep[1].get<int64_t>();
      if (c < 0 || c >= max_id || s < 0 || s >= max_id) r.fail(W, "cls or sep id out of range");
      cls_id = int32_t(c);
      sep_id = int32_t(s);
    };
    int32_t cls_id, sep_id;
    if (t == "BertProcessing") {
      cls_sep(cls_id, sep_id);
      m.bert_template(cls_id, sep_id);
    } else if (t == "RobertaProcessing") {
      cls_sep(cls_id, sep_id);
      // <s> A </s> and <s> A </s> </s> B </s>, every type id 0 (as HF)
      m.single = {{TemplatePiece::Special, {cls_id}, 0}, {TemplatePiece::SeqA, {}, 0}, {TemplatePiece::Special, {sep_id}, 0}};
      m.pair = m.single;
      m.pair.push_back({TemplatePiece::Special, {sep_id}, 0});
      m.pair.push_back({TemplatePiece::SeqB, {}, 0});
      m.pair.push_back({TemplatePiece::Special, {sep_id}, 0});
      if (m.pipeline && r.get_or<bool>(pp, "trim_offsets", true, W)) {
        m.trim_offsets = true;
        m.trim_prefix_space = r.get_or<bool>(pp, "add_prefix_space", true, W);
      }
    } else if (t == "ByteLevel") {  // offsets only
      if (m.pipeline && r.get_or<bool>(pp, "trim_offsets", true, W)) {
        m.trim_offsets = true;
        m.trim_prefix_space = r.get_or<bool>(pp, "add_prefix_space", true, W);
      }
    } else if (t == "Sequence") {
      const json& arr = r.need(pp, "processors", W);
      if (!arr.is_array()) r.fail(W + ".processors", "expected an array");
      for (size_t k = 0; k < arr.size(); ++k) post_processor(arr[k], fmt::format("{}.processors[{}]", W, k));
    } else if (t == "TemplateProcessing") {
      const json& specials = r.get_or<json>(pp, "special_tokens", json::object(), W);
      auto parse = [&](const char* key, bool is_pair) {
        std::vector<TemplatePiece> out;
        const json& arr = r.need(pp, key, W);
        if (!arr.is_array()) r.fail(W + "." + key, "expected an array");
        for (const json& item : arr) {
          std::string where = W + "." + key;
          if (item.contains("SpecialToken")) {
            const json& st = item["SpecialToken"];
            std::string sid = r.get<std::string>(st, "id", where);
            TemplatePiece p{TemplatePiece::Special, {}, r.get_or<int32_t>(st, "type_id", 0, where)};
            if (specials.contains(sid)) {
              for (int64_t id : r.get<std::vector<int64_t>>(specials[sid], "ids", where + ".special_tokens")) {
                if (id < 0 || id >= max_id) r.fail(where + ".special_tokens", fmt::format("id {} out of range", id));
                p.ids.push_back(int32_t(id));
              }
            } else {
              p.ids = {token_id(sid, where)};
            }
            out.push_back(std::move(p));
          } else if (item.contains("Sequence")) {
            const json& sq = item["Sequence"];
            std::string sid = r.get<std::string>(sq, "id", where);
            if (sid != "A" && sid != "B") r.fail(where, fmt::format("unknown sequence \"{}\"", escape_bytes(sid)));
            if (sid == "B" && !is_pair) r.fail(where, "sequence B in the single template");
            out.push_back({sid == "A" ? TemplatePiece::SeqA : TemplatePiece::SeqB, {}, r.get_or<int32_t>(sq, "type_id", 0, where)});
          } else {
            r.fail(where, fmt::format("unknown template item {}", escape_bytes(item.dump())));
          }
        }
        return out;
      };
      m.single = parse("single", false);
      m.pair = parse("pair", true);
    } else {
      r.fail(W + ".type", fmt::format("\"{}\" is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)",
                                      escape_bytes(t)));
    }
  };
  if (j.contains("post_processor") && !j["post_processor"].is_null()) post_processor(j["post_processor"], "post_processor");

  // truncation and padding
  if (j.contains("truncation") && !j["truncation"].is_null()) {
    const json& t = j["truncation"];
    tk.truncation.max_length = r.get<size_t>(t, "max_length", "truncation");
    std::string s = r.get_or<std::string>(t, "strategy", "LongestFirst", "truncation");
    if (s == "LongestFirst")
      tk.truncation.strategy = TruncationStrategy::LongestFirst;
    else if (s == "OnlyFirst")
      tk.truncation.strategy = TruncationStrategy::OnlyFirst;
    else if (s == "OnlySecond")
      tk.truncation.strategy = TruncationStrategy::OnlySecond;
    else
      r.fail("truncation.strategy", fmt::format("unknown strategy \"{}\"", escape_bytes(s)));
    tk.truncation.left = r.get_or<std::string>(t, "direction", "Right", "truncation") == "Left";
  }
  if (j.contains("padding") && !j["padding"].is_null()) {
    const json& p = j["padding"];
    const json& st = r.need(p, "strategy", "padding");
    if (st.is_string() && st.get<std::string>() == "BatchLongest") {
      tk.padding.strategy = PaddingStrategy::BatchLongest;
    } else if (st.is_object() && st.contains("Fixed")) {
      tk.padding.strategy = PaddingStrategy::Fixed;
      tk.padding.length = r.get<size_t>(st, "Fixed", "padding.strategy");
    } else {
      r.fail("padding.strategy", fmt::format("unknown strategy {}", escape_bytes(st.dump())));
    }
    tk.padding.left = r.get_or<std::string>(p, "direction", "Right", "padding") == "Left";
    tk.padding.multiple_of = r.get_or<size_t>(p, "pad_to_multiple_of", 0, "padding");
    tk.padding.pad_id = r.get_or<int32_t>(p, "pad_id", 0, "padding");
    tk.padding.pad_type_id = r.get_or<int32_t>(p, "pad_type_id", 0, "padding");
    tk.padding.pad_token = r.get_or<std::string>(p, "pad_token", "[PAD]", "padding");
  }

  // decoder (BPE / Unigram: read with the pipeline)
  if (!m.pipeline && j.contains("decoder") && !j["decoder"].is_null()) {
    const json& d = j["decoder"];
    std::string t = r.get<std::string>(d, "type", "decoder");
    if (t != "WordPiece") r.fail("decoder.type", fmt::format("\"{}\" is not supported (only WordPiece)", escape_bytes(t)));
    m.decoder_prefix = r.get_or<std::string>(d, "prefix", "##", "decoder");
    m.decoder_cleanup = r.get_or<bool>(d, "cleanup", true, "decoder");
  }
  return tk;
  } catch (const json::exception& e) {  // a JSON access the checks did not foresee
    FAIL_INPUT(path, "json", "unexpected content: {}", escape_bytes(e.what(), 200));
  }
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  fs::path d(dir);
  if (fs::exists(d / "tokenizer.json")) return from_tokenizer_json((d / "tokenizer.json").string());
  fs::path vocab = d / "vocab.txt";
  if (!fs::exists(vocab)) FAIL_INPUT(dir, "directory", "neither tokenizer.json nor vocab.txt found");
  NormalizerConfig norm;
  SpecialTokens special;
  fs::path cfg = d / "tokenizer_config.json";
  if (fs::exists(cfg)) {
    std::string path = cfg.string();
    json j;
    try {
      j = json::parse(read_file(path));
    } catch (const json::parse_error& e) {
      FAIL_INPUT(path, fmt::format("byte {}", e.byte), "invalid JSON: {}", escape_bytes(e.what(), 200));
    } catch (const json::exception& e) {
      FAIL_INPUT(path, "parse", "invalid JSON: {}", escape_bytes(e.what(), 200));
    }
    JsonReader r{path};
    norm.lowercase = r.get_or<bool>(j, "do_lower_case", true, "top level");
    norm.handle_chinese_chars = r.get_or<bool>(j, "tokenize_chinese_chars", true, "top level");
    if (j.contains("strip_accents") && !j["strip_accents"].is_null()) norm.strip_accents = r.get<bool>(j, "strip_accents", "top level");
    // special token names: a string, or an AddedToken object {"content": ...}
    auto name = [&](const char* key, std::string& dst) {
      if (!j.contains(key) || j[key].is_null()) return;
      const json& v = j[key];
      if (v.is_string())
        dst = v.get<std::string>();
      else if (v.is_object() && v.contains("content") && v["content"].is_string())
        dst = v["content"].get<std::string>();
      else
        r.fail(fmt::format("top level.{}", key), fmt::format("expected a token, found {}", escape_bytes(v.dump())));
    };
    name("unk_token", special.unk);
    name("cls_token", special.cls);
    name("sep_token", special.sep);
    name("pad_token", special.pad);
    name("mask_token", special.mask);
  }
  return from_vocab_txt(vocab.string(), norm, special);
}

}  // namespace mr::tok
