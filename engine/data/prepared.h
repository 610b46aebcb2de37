// A prepared dataset: everything training and evaluation read, in one versioned, checksummed
// binary file (DIR/prepared.mrd) that loads by mmap without parsing.
//
// Layout (little-endian):
//   header   magic "MRPREP\0\0" | u32 version | u32 n_sections | u64 file_size |
//            u64 checksum (FNV-1a 64 of every byte after the header and section table) |
//            n_sections x {char name[24], u64 offset, u64 size}
//   sections 64-byte aligned arrays, by name:
//     inter.user u32[N], inter.item u32[N], inter.time f64[N], inter.signal f32[N]
//     user.offsets u64[U+1]       CSR: user u's interactions are [offsets[u], offsets[u+1])
//     user.names.off u64[U+1], user.names.dat bytes     (external ids)
//     item.names.off u64[I+1], item.names.dat bytes
//     item.text.off u64[I+1], item.text.dat bytes       (the rendered item text, UTF-8)
//     item.tok.off u64[I+1], item.tok.ids i32[...]      (token ids; absent when not tokenized)
//     meta bytes                                       (JSON: name, source, template, tokenizer, counts)
// A reader refuses other versions and, unless asked not to, checks the checksum.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"

namespace mr::data {

constexpr uint32_t kPreparedVersion = 1;
constexpr const char* kPreparedFile = "prepared.mrd";

// Token ids of one item text (e.g. the tokenizer with its special tokens and truncation).
using Encoder = std::function<std::vector<int32_t>(const std::string&)>;

struct PrepareInput {
  const Dataset* ds = nullptr;
  std::vector<std::string> item_text;   // one per item
  Encoder encode;                       // empty: no token ids stored
  nlohmann::json meta = nlohmann::json::object();  // extra fields recorded in the meta section
};

// Writes DIR/prepared.mrd (DIR is created). Returns the meta JSON written.
nlohmann::json write_prepared(const std::string& dir, const PrepareInput& in);

uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull);

class PreparedDataset {
 public:
  // path: a directory holding prepared.mrd, or the file. mr::Error naming the file and offset
  // on a bad magic, version, truncated file, out-of-range section or checksum mismatch.
  static PreparedDataset open(const std::string& path, bool verify_checksum = true);
  static bool is_prepared(const std::string& path);
  PreparedDataset(PreparedDataset&&) noexcept;
  PreparedDataset& operator=(PreparedDataset&&) noexcept;
  ~PreparedDataset();

  size_t n_users() const { return user_offsets_.size() - 1; }
  size_t n_items() const { return item_name_off_.size() - 1; }
  size_t n_interactions() const { return inter_user_.size(); }
  std::span<const uint32_t> inter_user() const { return inter_user_; }
  std::span<const uint32_t> inter_item() const { return inter_item_; }
  std::span<const double> inter_time() const { return inter_time_; }
  std::span<const float> inter_signal() const { return inter_signal_; }
  std::span<const uint64_t> user_offsets() const { return user_offsets_; }
  std::string_view user_name(uint32_t u) const;
  std::string_view item_name(uint32_t i) const;
  std::string_view item_text(uint32_t i) const;
  bool has_tokens() const { return !tok_off_.empty(); }
  std::span<const int32_t> item_tokens(uint32_t i) const;
  const nlohmann::json& meta() const { return meta_; }
  const std::string& path() const { return path_; }

  // A Dataset copy (item field "text") for the splits and the evaluator.
  Dataset to_dataset() const;

 private:
  PreparedDataset() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  nlohmann::json meta_;
  std::span<const uint32_t> inter_user_, inter_item_;
  std::span<const double> inter_time_;
  std::span<const float> inter_signal_;
  std::span<const uint64_t> user_offsets_, user_name_off_, item_name_off_, text_off_, tok_off_;
  std::span<const char> user_name_dat_, item_name_dat_, text_dat_;
  std::span<const int32_t> tok_ids_;
};

}  // namespace mr::data
