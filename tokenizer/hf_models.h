// tokenizer.json models other than WordPiece, HuggingFace-identical ids (see docs/tokenizer.md):
// byte-level BPE (RoBERTa / GPT-2: ByteLevel pre-tokenizer, merges by rank, ByteLevel decoder)
// and SentencePiece Unigram (XLM-R / ALBERT: Precompiled / NFKC / ... normalizers, Metaspace
// pre-tokenizer, Viterbi with HF's unk handling, byte fallback). Internal to tokenizer/: the
// public interface stays mr::tok::Tokenizer, which matches added tokens on the raw text and
// hands every piece between them to a Pipeline.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace mr::tok::detail {

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  // Normalizer + pre-tokenizer + model on one piece of text between added tokens; char_base
  // is the index (in code points) of the piece's first character in its text.
  virtual void encode(std::string_view piece, uint32_t char_base, std::vector<RawToken>& out) const = 0;
  // The normalizer alone.
  virtual std::string normalize(std::string_view piece, uint32_t char_base) const = 0;
  // The decoder on token strings (HF: decoders, then concatenation; no decoder: joined by " ").
  virtual std::string decode(std::vector<std::string> tokens) const = 0;
  virtual bool has_normalizer() const = 0;
};

// Reads model, normalizer, pre_tokenizer and decoder of a tokenizer.json whose model.type is
// not WordPiece; fills the id <-> token tables. Unsupported parts throw mr::Error naming the
// file and the JSON path.
// text: the file's contents (the Unigram scores are re-read from it as HF's serde_json reads them).
std::unique_ptr<Pipeline> load_pipeline(const nlohmann::json& j, std::string_view text, const std::string& path,
                                        std::vector<std::string>& id_to_token, StringIdMap& vocab, int32_t& unk_id);

// base64 (RFC 4648, with or without padding); throws on bad input.
std::string base64_decode(std::string_view s);

}  // namespace mr::tok::detail
