// The autograd tape: a flat vector of records {backward fn, input/output vars, saved tensors,
// scalars}. Ops (engine/ops.h) run their forward through the kernel table of the tape's
// device and append a record; backward() walks the records in reverse.
//
// Gradient convention (see kernels/kernel_table.h): parameter gradients accumulate into the
// ParamStore's gradient buffer; an activation's gradient buffer is allocated from the arena
// by the first op that writes it (write mode) and every later writer accumulates (the tape
// tracks this, so a tensor feeding several ops gets the sum). Records are only made when an
// input requires a gradient: frozen parameters and no-grad mode record nothing.
#pragma once
#include <deque>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "engine/arena.h"
#include "engine/backend.h"
#include "engine/params.h"
#include "kernels/kernel_table.h"

namespace mr {

struct Var {
  Tensor v;                    // value
  Tensor g;                    // gradient: undefined until written (or the param's grad view)
  bool requires_grad = false;
  bool is_param = false;       // g is a parameter gradient: always accumulate
};

class Tape;

// One recorded op. Its saved state is a struct of the op's own, stored inline: the inputs it
// needs gradients for (Var*), the tensors it saved and its scalars, by name. Record it with
// Tape::record<backward>(name, out, saved); backward(tape, out, saved) runs in walk_back.
constexpr size_t kRecordStateBytes = 256;
struct Record {
  void (*backward)(Tape&, Record&) = nullptr;  // calls the op's backward with its saved state
  const char* name = "";
  Var* out = nullptr;
  alignas(16) unsigned char state[kRecordStateBytes] = {};
  template <class Saved>
  const Saved& saved() const {
    return *std::launder(reinterpret_cast<const Saved*>(state));
  }
};

class Tape;

// bf16 copies of f32 weights that stay constant while the cache lives (a frozen encoder's, for
// inference): each is rounded once, on first use, into memory of its own on the weights'
// device. A tape without one rounds its weights into the arena at every linear call instead, so
// training always reads the current master weights. Tape::set_bf16_weights attaches a cache;
// only parameters (never activations, whose arena memory is reused) that need no gradient
// (frozen, or under NoGrad) are taken from it. clear() forgets every copy.
class Bf16WeightCache {
 public:
  Tensor get(Tape& t, const Tensor& w);  // the bf16 copy of w (keyed by its data and size)
  size_t bytes() const { return bytes_; }
  size_t size() const { return map_.size(); }
  void clear() {
    map_.clear();
    bytes_ = 0;
  }

 private:
  struct Entry {
    Buffer buf;
    Tensor t;
  };
  std::unordered_map<const void*, std::unordered_map<int64_t, Entry>> map_;
  size_t bytes_ = 0;
};

class Tape {
 public:
  // Ops run on the backend's kernels; the arena must be on its device. The first form is the
  // CPU backend (a CUDA arena needs the second).
  explicit Tape(Arena& arena, uint64_t seed = 0);
  Tape(Arena& arena, const Backend& be, uint64_t seed = 0);

  Arena& arena() { return arena_; }
  const KernelTable& k() const { return *kt_; }
  // Runs every op on the naive reference kernels instead (tests, debugging).
  void use_reference(bool on) { kt_ = on ? &kRefKernels : be_kt_; }

  // The storage type of the activations ops create: F32 (the default) or BF16 (mixed
  // precision: bf16 activations and activation gradients, fp32 parameters, gradients and
  // optimizer state; kernels/kernel_table.h, KernelTableBf16). BF16 needs a backend with bf16
  // kernels (CUDA). Ops follow their inputs' type; embedding follows this setting, and
  // BertModel casts its output back to F32, so heads and losses stay fp32.
  void set_act_dtype(DType dt);
  DType act_dtype() const { return act_dtype_; }
  const KernelTableBf16& k16() const;  // the bf16 table (throws when the backend has none)
  // Constant weights' bf16 copies for this tape's bf16 linear layers (null: none, the default);
  // the cache outlives the tape.
  void set_bf16_weights(Bf16WeightCache* c) { bf16_weights_ = c; }
  Bf16WeightCache* bf16_weights() const { return bf16_weights_; }

  bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool on) { grad_enabled_ = on; }
  bool training() const { return training_; }
  void set_training(bool on) { training_ = on; }  // off: dropout is the identity

  // Dropout stream: every dropout call takes the next `n` counters of Philox under `seed`.
  uint64_t seed() const { return seed_; }
  uint64_t take_counters(uint64_t n);
  void set_rng(uint64_t seed, uint64_t offset) { seed_ = seed; rng_offset_ = offset; }
  uint64_t rng_offset() const { return rng_offset_; }

  Var* input(Tensor t, bool requires_grad = false);     // wraps an existing tensor
  Var* alloc(Shape s, bool requires_grad, DType dt = DType::F32);
  Var* param(Param& p);                                  // cached per parameter
  Var* param_view(Tensor w, Tensor g, bool frozen);      // e.g. fused QKV over three params

  bool any_requires_grad(std::initializer_list<const Var*> vs) const;
  // Throws, naming `what`, when x is defined and not on this tape's device (inputs, parameters
  // and the index/mask/target tensors ops take directly are all checked).
  void check_device(const Tensor& x, const char* what) const;
  // Records an op whose output `out` needs a gradient (nothing otherwise): at backward time
  // Backward(tape, out, saved) runs on a copy of `saved`, a trivially copyable struct.
  template <auto Backward, class Saved>
  void record(const char* name, Var* out, const Saved& saved) {
    static_assert(std::is_same_v<decltype(Backward), void (*)(Tape&, Var*, const Saved&)>,
                  "the backward of a recorded op is void(Tape&, Var* out, const Saved&)");
    static_assert(std::is_trivially_copyable_v<Saved> && sizeof(Saved) <= kRecordStateBytes && alignof(Saved) <= 16,
                  "an op's saved state is a small trivially copyable struct");
    if (!out->requires_grad) return;
    Record r;
    r.backward = [](Tape& t, Record& rec) { Backward(t, rec.out, rec.saved<Saved>()); };
    r.name = name;
    r.out = out;
    new (r.state) Saved(saved);
    records_.push_back(r);
  }
  size_t num_records() const { return records_.size(); }
  const std::vector<Record>& records() const { return records_; }

  // d(loss)/d(everything): seeds the scalar loss's gradient with 1 and walks back.
  void backward(Var* loss);
  // The same from any output, its gradient seeded with `seed` (same shape as out).
  void backward(Var* out, const Tensor& seed);
  // The gradient buffer an op's backward writes for v (null if v needs none); *mode tells it
  // whether to add (a buffer already written, or a parameter) or overwrite.
  float* grad_for(Var* v, GradMode* mode);
  bf16_t* grad_for_bf16(Var* v, GradMode* mode);  // the same for a BF16 var (its gradient is BF16)
  // For the inputs whose kernels always accumulate (weights, biases, LayerNorm and embedding
  // tables): when such an input is an activation rather than a parameter, its fresh gradient
  // buffer is zeroed first, so the kernel's += starts from 0.
  float* grad_zeroed_for(Var* v);
  // Forgets the recorded ops (after a backward) but keeps every var and the arena: the next
  // forward over the same inputs records anew (the task-batched inner loop, engine/rec/batched.h).
  void drop_records() { records_.clear(); }
  // Clears records and vars and rewinds the arena; parameters and their grads are untouched.
  void reset();

 private:
  void walk_back();  // runs the recorded backward functions, newest first
  Tensor& grad_tensor(Var* v, GradMode* mode);  // v's gradient buffer, allocated (v's dtype) on first use
  Arena& arena_;
  const KernelTable* be_kt_;  // the backend's table
  const KernelTable* kt_;     // the one ops use: be_kt_, or the reference
  std::deque<Var> vars_;
  std::vector<Record> records_;
  std::unordered_map<const Param*, Var*> param_vars_;
  bool grad_enabled_ = true, training_ = true;
  DType act_dtype_ = DType::F32;
  Bf16WeightCache* bf16_weights_ = nullptr;
  uint64_t seed_ = 0, rng_offset_ = 0;
};

// Scoped no-grad mode.
struct NoGrad {
  Tape& t;
  bool prev;
  explicit NoGrad(Tape& tape) : t(tape), prev(tape.grad_enabled()) { t.set_grad_enabled(false); }
  ~NoGrad() { t.set_grad_enabled(prev); }
};

}  // namespace mr
