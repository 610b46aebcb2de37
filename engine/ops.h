// The differentiable op API: each function runs the forward through the tape's kernel table
// and, when an input requires a gradient, records its backward. Activations are 2-D
// (rows = B*T tokens, columns = features) unless stated; integer inputs are i32 tensors.
// bf16 storage (Tape::set_act_dtype): embedding, linear, layernorm, attention, dropout and
// cast take bf16 activations too (the type follows the inputs; parameters stay f32); the
// pools, losses and weighted_sum take f32 only.
#pragma once
#include <utility>
#include <vector>

#include "engine/tape.h"

namespace mr::ops {

// (B*T, C) = wte[ids] + wpe[0..T) + wtt[types]; ids/types (B, T) i32, types may be undefined.
Var* embedding(Tape& t, const Tensor& ids, const Tensor& types, Var* wte, Var* wpe, Var* wtt);
// (N, OUT) = act(x (N, IN) @ w (OUT, IN)^T + b); b may be null.
Var* linear(Tape& t, Var* x, Var* w, Var* b, Act act = Act::None);
// layernorm(a + r) * gamma + beta; r may be null (no residual).
Var* layernorm(Tape& t, Var* a, Var* r, Var* gamma, Var* beta, float eps);
// Self-attention over a fused projection qkv (B*T, 3C) -> (B*T, C); mask (B, T) i32 or undefined;
// bias (heads, T, T) f32, added to the scaled scores of every sequence (null: none; MPNet's
// relative position bias), its gradient accumulated over the batch.
Var* attention(Tape& t, Var* qkv, const Tensor& mask, int B, int T, int heads, float p_drop, Var* bias = nullptr);
// Identity when p == 0 or the tape is not in training mode.
Var* dropout(Tape& t, Var* x, float p);
// x converted to dt (F32 <-> BF16, round to nearest even); x itself when it already is dt.
// The gradient flows back converted the other way.
Var* cast(Tape& t, Var* x, DType dt);
// (B*T, C) -> (B, C)
Var* mean_pool(Tape& t, Var* h, const Tensor& mask, int B, int T);
Var* cls_pool(Tape& t, Var* h, int B, int T);
// Grouped linear: rows [offsets[g], offsets[g+1]) of x use w[g] and b[g]; w (G, OUT, IN),
// b (G, OUT) or null, offsets (G+1) i32 on the tape's device (offsets[G] = rows of x).
Var* grouped_linear(Tape& t, Var* x, Var* w, Var* b, const Tensor& offsets);
// Scalar losses (mean reduction).
Var* cross_entropy(Tape& t, Var* logits, const Tensor& targets);  // targets (N) i32, -100 ignored
Var* bce_with_logits(Tape& t, Var* x, const Tensor& y);          // y: same numel, f32 in [0, 1]
Var* mse(Tape& t, Var* x, const Tensor& y);
// sum over rows with a target of w[n] * cross-entropy(row n); w (N) f32 (1 / the row's task size:
// the sum of per-task means).
Var* cross_entropy_weighted(Tape& t, Var* logits, const Tensor& targets, const Tensor& w);
// sum_i w_i * x_i over tensors of one shape (e.g. combining losses).
Var* weighted_sum(Tape& t, const std::vector<std::pair<Var*, float>>& terms);

}  // namespace mr::ops
