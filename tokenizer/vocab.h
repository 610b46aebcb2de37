// String -> id map for WordPiece lookups: open addressing over one byte arena, looked up by
// string_view without allocating (the hot path of encoding).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mr::tok {

inline uint64_t hash_bytes(const char* p, size_t n) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (n * kMul);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

class StringIdMap {
 public:
  // Inserts or overwrites (the last insert of a key wins, as HF's HashMap::insert).
  void insert(std::string_view key, int32_t id) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    put(key, id);
  }

  // -1 when absent.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    size_t mask = slots_.size() - 1;
    uint64_t h = hash_bytes(key.data(), key.size());
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.len == key.size() && std::memcmp(&arena_[s.off], key.data(), key.size()) == 0) return s.id;
    }
  }

  size_t size() const { return count_; }
  size_t max_key_bytes() const { return max_len_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t off = 0, len = 0;
    int32_t id = -1;
  };

  void put(std::string_view key, int32_t id) {
    size_t mask = slots_.size() - 1;
    uint64_t h = hash_bytes(key.data(), key.size());
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s.hash = h;
        s.off = static_cast<uint32_t>(arena_.size());
        s.len = static_cast<uint32_t>(key.size());
        s.id = id;
        arena_.append(key);
        ++count_;
        if (key.size() > max_len_) max_len_ = key.size();
        return;
      }
      if (s.hash == h && s.len == key.size() && std::memcmp(&arena_[s.off], key.data(), key.size()) == 0) {
        s.id = id;
        return;
      }
    }
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    std::string old_arena = std::move(arena_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    arena_.clear();
    count_ = 0;
    for (const Slot& s : old)
      if (s.id >= 0) put(std::string_view(&old_arena[s.off], s.len), s.id);
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t count_ = 0, max_len_ = 0;
};

}  // namespace mr::tok
