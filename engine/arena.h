// Arena: bump allocation of per-step activations. reset() rewinds, it does not free: after
// the first step has shown how much a step needs, later steps allocate nothing.
#pragma once
#include <vector>

#include "base/tensor.h"

namespace mr {

class Arena {
 public:
  explicit Arena(Device dev = Device::CPU, size_t initial_bytes = size_t(1) << 20);
  // A tensor of shape s, 64-byte aligned; its contents are undefined (poisoned with NaN
  // bytes in DEBUG builds so a read-before-write shows up).
  Tensor alloc(Shape s, DType t = DType::F32);
  Tensor zeros(Shape s, DType t = DType::F32);
  // A copy of src (on any device) in this arena, on the arena's device; src itself when it is
  // already there (e.g. host inputs of a CPU tape).
  Tensor copy_of(const Tensor& src);
  // Rewinds. If the last step spilled into extra chunks, they are merged into one chunk big
  // enough for the whole step, so the next step uses a single chunk.
  void reset();
  // A position in the arena, and a rewind to it: everything allocated after mark() is released
  // (its memory is handed out again by later allocations), everything before it stays. For
  // scoped temporaries inside a step, e.g. one encoder layer's at inference
  // (BertModel::forward_layers under NoGrad). The high water is not rewound.
  struct Mark {
    size_t chunk = 0, off = 0, used = 0;
  };
  Mark mark() const { return Mark{cur_, off_, used_}; }
  void rewind(const Mark& m);
  size_t used() const { return used_; }
  size_t high_water() const { return high_; }
  size_t capacity() const;
  int chunks() const { return int(chunks_.size()); }
  Device device() const { return dev_; }

 private:
  Device dev_;
  std::vector<Buffer> chunks_;
  size_t cur_ = 0;     // index of the chunk being filled
  size_t off_ = 0;     // offset inside it
  size_t used_ = 0;    // bytes handed out this step
  size_t high_ = 0;
};

}  // namespace mr
