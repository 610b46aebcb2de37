#include "engine/arena.h"

#include <algorithm>
#include <cstring>

namespace mr {

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

Arena::Arena(Device dev, size_t initial_bytes) : dev_(dev) {
  chunks_.emplace_back(std::max<size_t>(initial_bytes, 64), dev);
}

size_t Arena::capacity() const {
  size_t c = 0;
  for (auto& b : chunks_) c += b.size();
  return c;
}

Tensor Arena::alloc(Shape s, DType t) {
  const size_t bytes = align64(std::max<size_t>(size_t(s.numel()) * dtype_size(t), 1));
  if (off_ + bytes > chunks_[cur_].size()) {
    // Next chunk: reuse one left from a previous step if it is big enough, else add one.
    ++cur_;
    if (cur_ == chunks_.size() || chunks_[cur_].size() < bytes) {
      size_t sz = std::max(bytes, capacity());
      if (cur_ == chunks_.size()) chunks_.emplace_back(sz, dev_);
      else chunks_[cur_] = Buffer(sz, dev_);
    }
    off_ = 0;
  }
  Tensor x;
  x.data = static_cast<char*>(chunks_[cur_].data()) + off_;
  x.shape = s;
  x.dtype = t;
  x.device = dev_;
  off_ += bytes;
  used_ += bytes;
  high_ = std::max(high_, used_);
#if !defined(__OPTIMIZE__)
  if (dev_ == Device::CPU) std::memset(x.data, 0xff, bytes);  // 0xffffffff is a NaN
#endif
  return x;
}

Tensor Arena::zeros(Shape s, DType t) {
  Tensor x = alloc(s, t);
  fill_zero(x);
  return x;
}

Tensor Arena::copy_of(const Tensor& src) {
  if (src.device == dev_) return src;
  Tensor x = alloc(src.shape, src.dtype);
  copy(x, src);
  return x;
}

void Arena::rewind(const Mark& m) {
  MR_CHECK(m.chunk < cur_ || (m.chunk == cur_ && m.off <= off_), "Arena::rewind to a mark after the current position");
  MR_CHECK(m.used <= used_, "Arena::rewind: the mark holds {} bytes, the arena {}", m.used, used_);
  // The chunks after m.chunk stay: the next allocations that spill reuse them (alloc).
  cur_ = m.chunk;
  off_ = m.off;
  used_ = m.used;
}

void Arena::reset() {
  if (chunks_.size() > 1 && cur_ > 0) {
    size_t total = std::max(capacity(), align64(high_));
    chunks_.clear();
    chunks_.emplace_back(total, dev_);
  }
  cur_ = 0;
  off_ = 0;
  used_ = 0;
}

}  // namespace mr
