// ParamStore: every parameter of a model lives in one contiguous buffer and every gradient
// in a second one with the same layout, so snapshotting θ is one memcpy, AdamW is one pass
// and an all-reduce is one call. Parameters are declared first (add), then allocated
// together (finalize); tensors are views into the two buffers.
#pragma once
#include <deque>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace mr {

struct Param {
  std::string name;
  Tensor w;             // view into the parameter buffer
  Tensor g;             // view into the gradient buffer (same offset)
  int64_t offset = 0;   // in elements, into the flat buffers
  bool frozen = false;  // frozen: no gradient is computed, optimizers skip it
  bool decay = true;    // AdamW weight decay applies (false for biases and LayerNorm)
};

class ParamStore {
 public:
  // Declares a parameter. Parameters added one after another are adjacent in memory, so
  // e.g. query/key/value weights added in a row form one (3C, C) matrix.
  Param& add(const std::string& name, Shape s, bool decay = true);
  // Allocates both buffers (zeroed) on dev; no add() after this. grads false: an inference-only
  // store (a frozen encoder on a GPU), with no gradient buffer and every parameter frozen for
  // good, so the memory of a second copy of the model is not spent.
  void finalize(Device dev = Device::CPU, bool grads = true);
  bool finalized() const { return finalized_; }
  // Moves both buffers (values and gradients) to dev; every Param's views follow. Tensors taken
  // from the old buffers (a tape's cached parameter vars) are invalid afterwards.
  void to(Device dev);
  bool has_grads() const { return gbuf_.size() > 0 || numel_ == 0; }

  Param* find(const std::string& name);
  Param& at(const std::string& name);
  std::deque<Param>& all() { return params_; }
  const std::deque<Param>& all() const { return params_; }

  Tensor flat_params() const { return pbuf_.as(Shape{numel_}, DType::F32); }
  Tensor flat_grads() const;
  int64_t numel() const { return numel_; }
  int64_t trainable_numel() const;
  Device device() const { return dev_; }

  void zero_grad();
  // Maximal runs of adjacent trainable parameters with the same decay flag, in elements:
  // optimizers and clipping make one kernel call per run instead of one per tensor.
  struct Run {
    int64_t offset, n;
    bool decay;
  };
  const std::vector<Run>& runs();
  void set_frozen(const std::string& prefix, bool frozen);  // every name starting with prefix

 private:
  std::deque<Param> params_;  // deque: Param& stays valid while adding
  std::vector<Run> runs_;
  std::vector<bool> runs_key_;  // frozen/decay flags the runs were computed for
  Buffer pbuf_, gbuf_;
  int64_t numel_ = 0;
  bool finalized_ = false;
  Device dev_ = Device::CPU;
};

}  // namespace mr
