// Tokenizer that gives exactly the ids of HuggingFace `tokenizers`: BERT WordPiece
// (BertNormalizer + BertPreTokenizer + WordPiece + TemplateProcessing, as in
// BertTokenizerFast), and from a tokenizer.json also byte-level BPE (RoBERTa / GPT-2) and
// SentencePiece Unigram (XLM-R / ALBERT) with their normalizers, pre-tokenizers,
// post-processors and decoders. See docs/tokenizer.md for the behaviour in detail.
//
//   auto tk = mr::tok::Tokenizer::from_dir("models/all-MiniLM-L6-v2");
//   mr::tok::Encoding e = tk.encode("Hello world", "second text");
//   e.ids, e.type_ids, e.attention_mask, e.offsets
//
// Offsets are [start, end) in code points of the sequence's own text (what Python's
// `Encoding.offsets` gives); special and padding tokens have (0, 0). Invalid UTF-8 is read
// as U+FFFD per maximal ill-formed subpart (each counts as one character), which clean_text
// then drops, like HF on `bytes.decode("utf-8", errors="replace")`.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mr::tok {

struct NormalizerConfig {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::optional<bool> strip_accents;  // unset: follows lowercase (as HF)
  bool lowercase = true;
  bool strips() const { return strip_accents.value_or(lowercase); }
};

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };

struct TruncationConfig {
  size_t max_length = 0;  // 0: no truncation. Counts the special tokens too.
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  bool left = false;  // drop tokens from the start instead of the end
};

enum class PaddingStrategy { None, Fixed, BatchLongest };

struct PaddingConfig {
  PaddingStrategy strategy = PaddingStrategy::None;
  size_t length = 0;       // Fixed: pad up to this length
  size_t multiple_of = 0;  // 0: none; else round the target length up to a multiple
  bool left = false;
  int32_t pad_id = 0;
  int32_t pad_type_id = 0;
  std::string pad_token = "[PAD]";
};

struct Offset {
  uint32_t start = 0, end = 0;
  bool operator==(const Offset&) const = default;
};

struct Encoding {
  std::vector<int32_t> ids;             // (T)
  std::vector<int32_t> type_ids;        // (T)
  std::vector<int32_t> attention_mask;  // (T) 1 for tokens, 0 for padding
  std::vector<Offset> offsets;          // (T) code points in the token's own text
  size_t size() const { return ids.size(); }
};

// One token of one text before post-processing (kept public for tests and benchmarks).
struct RawToken {
  int32_t id;
  uint32_t start, end;
};

// Names of the special tokens of a vocab.txt tokenizer (tokenizer_config.json may rename them).
struct SpecialTokens {
  std::string unk = "[UNK]", cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", mask = "[MASK]";
};

class Tokenizer {
 public:
  // tokenizer.json when DIR has one; else vocab.txt with tokenizer_config.json's do_lower_case,
  // strip_accents and tokenize_chinese_chars when present.
  static Tokenizer from_dir(const std::string& dir);
  static Tokenizer from_tokenizer_json(const std::string& path);
  // vocab.txt (one token per line, id = line number) with BertTokenizerFast's defaults:
  // the special tokens below that the vocabulary has are matched in the text and skipped by
  // decode; [CLS] A [SEP] (B [SEP]).
  static Tokenizer from_vocab_txt(const std::string& path, const NormalizerConfig& norm = {},
                                  const SpecialTokens& special = {});

  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Settings, read from the files and free to change. `normalizer` is the BertNormalizer of a
  // WordPiece tokenizer; BPE / Unigram tokenizers ignore it (their normalizer is in the file).
  NormalizerConfig normalizer;
  TruncationConfig truncation;
  PaddingConfig padding;

  Encoding encode(std::string_view text) const;
  Encoding encode(std::string_view a, std::string_view b) const;
  // Several threads (threads <= 0: OpenMP's default). BatchLongest padding pads to the batch.
  std::vector<Encoding> encode_batch(std::span<const std::string> texts, int threads = 0) const;
  std::vector<Encoding> encode_batch(std::span<const std::pair<std::string, std::string>> pairs, int threads = 0) const;

  // Ids to text: drops special tokens (when skip_special) and unknown ids, then HF's decoder:
  // WordPiece (joins "##" continuations, cleanup " ." -> "."), ByteLevel, Metaspace, ...
  std::string decode(std::span<const int32_t> ids, bool skip_special = true) const;

  // Normalize + pre-tokenize + model on one text, special tokens in the text matched first;
  // no template, truncation or padding.
  void tokenize(std::string_view text, std::vector<RawToken>& out) const;

  // The normalizer alone (HF's normalize_str); special tokens are matched and kept as they are.
  std::string normalize(std::string_view text) const;

  std::string_view id_to_token(int32_t id) const;  // "" for unknown ids
  std::optional<int32_t> token_to_id(std::string_view token) const;
  size_t vocab_size() const;
  int32_t unk_id() const;  // -1 when the model has none (BPE / Unigram may not)
  // "WordPiece", "BPE" or "Unigram".
  std::string_view model_type() const;
  // Number of special tokens the template adds to a single text / a pair.
  size_t num_special_tokens(bool pair) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mr::tok
