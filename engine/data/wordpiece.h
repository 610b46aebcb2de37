// The prepared-dataset encoder from the tokenizer (tokenizer/: WordPiece, or BPE / Unigram
// from a tokenizer.json): the text in its template ([CLS] text [SEP], <s> text </s>, ...),
// truncated to max_tokens (special tokens included), never padded (batches pad later).
// Header-only so that the data module itself does not depend on the tokenizer module.
#pragma once
#include <memory>
#include <string>

#include "engine/data/prepared.h"
#include "tokenizer/tokenizer.h"

namespace mr::data {

inline Encoder wordpiece_encoder(std::shared_ptr<mr::tok::Tokenizer> tk, size_t max_tokens) {
  tk->truncation.max_length = max_tokens;
  tk->padding.strategy = mr::tok::PaddingStrategy::None;
  return [tk](const std::string& s) { return tk->encode(s).ids; };
}

}  // namespace mr::data
