// The task-batched meta-batch (engine/rec/batched.h).
#include "engine/rec/batched.h"

#include "base/check.h"
#include "engine/ops.h"
#include "engine/rec/row_ops.h"

namespace mr::rec {

namespace {
int rows_of(const Tensor& x) { return int(x.numel() / x.size(-1)); }
}  // namespace

std::string TaskBatcher::unsupported(const Config& c) {
  if (c.meta.scope != Scope::Head) return "meta.scope is not \"head\"";
  if (c.encoder.train_layers != 0) return "encoder.train_layers is not 0";
  if (!c.train.step_item_table) return "train.step_item_table is off";
  if (c.loss.negatives != 0) return "loss.negatives is not 0 (the sampled softmax draws candidates per task)";
  return "";
}

TaskBatcher::TaskBatcher(const Config& c, RecModel& m, meta::MetaLearner& ml, int max_tasks)
    : alg_(c.meta.algorithm), steps_(int(c.meta.inner_steps)), lr_(float(c.meta.inner_lr)), m_(m), ml_(ml),
      max_(max_tasks) {
  const std::string why = unsupported(c);
  MR_CHECK(why.empty(), "train.batch_tasks = true needs meta.scope = \"head\", encoder.train_layers = 0, "
           "train.step_item_table = true and loss.negatives = 0: {}", why);
  MR_CHECK(!m.config().multitask(), "train.batch_tasks: the multi-task losses are not batched");
  MR_CHECK(max_tasks > 0, "TaskBatcher: no tasks");
  CC_ = m.head_weight().w.numel();
  C_ = m.head_bias().w.numel();
  const Device d = m.params().device();
  W_ = OwnedTensor(Shape{max_, C_, C_}, DType::F32, d);
  dW_ = OwnedTensor(Shape{max_, C_, C_}, DType::F32, d);
  b_ = OwnedTensor(Shape{max_, C_}, DType::F32, d);
  db_ = OwnedTensor(Shape{max_, C_}, DType::F32, d);
  if (alg_ == meta::Algorithm::MetaSGD) {
    gsW_ = OwnedTensor(Shape{max_, C_, C_}, DType::F32, d);
    gsb_ = OwnedTensor(Shape{max_, C_}, DType::F32, d);
    fill_zero(*gsW_);
    fill_zero(*gsb_);
  }
}

TaskBatcher::Rows TaskBatcher::concat(const std::vector<const TaskBatches*>& tasks, bool query) {
  Rows r;
  for (const TaskBatches* tb : tasks) {
    const Batch& b = query ? tb->query : tb->support;
    int valid = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      r.b.add(b.history[i], b.target[i], b.signal[i]);
      valid += b.target[i] != -100;
    }
    for (size_t i = 0; i < b.size(); ++i) r.weight.push_back(valid ? 1.0f / float(valid) : 0.0f);
    r.offsets.push_back(int32_t(r.b.size()));
  }
  return r;
}

Var* TaskBatcher::loss(Tape& t, const Rows& r, Var* P, Var* V) {
  const int T = int(r.offsets.size()) - 1, N = int(r.b.size());
  // the grouped linear's contract (its offsets live on the device, where the op cannot check them)
  MR_CHECK(T >= 1 && r.offsets[0] == 0 && r.offsets[size_t(T)] == N && rows_of(P->v) == N,
           "TaskBatcher: offsets for {} rows of {}", N, rows_of(P->v));
  for (int g = 0; g < T; ++g) MR_CHECK(r.offsets[size_t(g)] <= r.offsets[size_t(g) + 1], "TaskBatcher: decreasing offsets");
  Var* W = t.param_view(W_->rows(0, T), dW_->rows(0, T), false);
  Var* b = t.param_view(b_->rows(0, T), db_->rows(0, T), false);
  Var* u = ops::grouped_linear(t, P, W, b, upload(t, r.offsets, Shape{T + 1}));
  return ops::cross_entropy_weighted(t, m_.step_scores(t, u, V), upload(t, r.b.target, Shape{N}),
                                     upload(t, r.weight, Shape{N}));
}

// The head's share of the meta-gradient, task by task into the fp64 accumulators (small flat
// launches: 2 per task).
void TaskBatcher::accumulate_head(int T) {
  const KernelTable& k = ml_.k();
  const int64_t ow = m_.head_weight().offset, ob = m_.head_bias().offset;
  double* acc = ml_.meta_grad();
  const float *W = W_->f32(), *b = b_->f32(), *dW = dW_->f32(), *db = db_->f32();
  const float* theta = m_.params().flat_params().f32();  // the batched step never moves theta
  for (int j = 0; j < T; ++j) {
    if (alg_ == meta::Algorithm::Reptile) {
      const float inv = 1.0f / (float(steps_) * lr_);
      k.acc_diff_f64(acc + ow, theta + ow, W + j * CC_, inv, CC_);  // (theta - theta') / (k alpha)
      k.acc_diff_f64(acc + ob, theta + ob, b + j * C_, inv, C_);
    } else {
      k.acc_f64(acc + ow, dW + j * CC_, CC_);
      k.acc_f64(acc + ob, db + j * C_, C_);
    }
    if (alg_ == meta::Algorithm::MetaSGD) {  // d alpha -= g_query * (sum of the inner gradients)
      k.acc_prod_f64(ml_.own_acc() + ow, dW + j * CC_, gsW_->f32() + j * CC_, -1.0f, CC_);
      k.acc_prod_f64(ml_.own_acc() + ob, db + j * C_, gsb_->f32() + j * C_, -1.0f, C_);
    }
  }
}

void TaskBatcher::run(Tape& t, const std::vector<const TaskBatches*>& tasks) {
  const int T = int(tasks.size());
  if (T == 0) return;
  MR_CHECK(T <= max_, "TaskBatcher: {} tasks, room for {}", T, max_);
  MR_CHECK(m_.in_step(), "TaskBatcher::run outside a training step (RecModel::begin_step)");
  const KernelTable& k = ml_.k();
  Param &hw = m_.head_weight(), &hb = m_.head_bias();
  const Rows S = concat(tasks, false), Q = concat(tasks, true);
  for (const Rows* r : {&S, &Q})  // as RecModel::loss checks them: the kernels index the logits by target
    for (int32_t tg : r->b.target)
      MR_CHECK(tg == -100 || (tg >= 0 && tg < m_.n_items()), "target {} out of range", tg);
  float *W = W_->f32(), *b = b_->f32(), *dW = dW_->f32(), *db = db_->f32();
  const int64_t nW = T * CC_, nb = T * C_;

  // every task starts from theta's head: row 0 of the head gathered T times
  t.reset();
  {
    const Tensor zeros = upload(t, std::vector<int32_t>(size_t(T), 0), Shape{T});
    k.gather_rows_fwd(W, hw.w.f32(), zeros.i32(), T, CC_);
    k.gather_rows_fwd(b, hb.w.f32(), zeros.i32(), T, C_);
  }
  if (alg_ == meta::Algorithm::MetaSGD) {  // the inner steps' gradient sums (none with 0 steps)
    fill_zero(gsW_->rows(0, T));
    fill_zero(gsb_->rows(0, T));
  }
  const bool inner = alg_ != meta::Algorithm::None && steps_ > 0;
  if (inner) {
    ml_.freeze_outside_scope(true);  // the item table and the user tower get no gradient
    try {
      Var *V, *P;
      {
        NoGrad ng(t);
        P = m_.step_features(t, S.b, &V);  // at theta, once for every inner step
      }
      const ParamStore* rates = ml_.inner_rates();
      for (int s = 0; s < steps_; ++s) {
        fill_zero(dW_->rows(0, T));
        fill_zero(db_->rows(0, T));
        t.backward(loss(t, S, P, V));
        t.drop_records();
        if (alg_ == meta::Algorithm::MetaSGD) {  // W_t -= alpha * dW_t; gs_t += dW_t (alpha: theta's layout)
          const float* rate = rates->flat_params().f32();
          for (int j = 0; j < T; ++j) {
            k.metasgd_step(W + j * CC_, gsW_->f32() + j * CC_, dW + j * CC_, rate + hw.offset, CC_);
            k.metasgd_step(b + j * C_, gsb_->f32() + j * C_, db + j * C_, rate + hb.offset, C_);
          }
        } else {
          k.axpy(W, dW, -lr_, nW, kAccumulate);
          k.axpy(b, db, -lr_, nb, kAccumulate);
        }
      }
    } catch (...) {
      ml_.freeze_outside_scope(false);
      throw;
    }
    ml_.freeze_outside_scope(false);
  }
  // the query (and for none the support) rows at the adapted head, into every gradient
  auto pass = [&](const Rows& r, bool query) {
    fill_zero(dW_->rows(0, T));
    fill_zero(db_->rows(0, T));
    ml_.backward_into_grads(t, [&](Tape& tt) {
      Var* V;
      Var* P = m_.step_features(tt, r.b, &V);
      return loss(tt, r, P, V);
    }, query);
    ml_.accumulate_grads();  // theta's head is unused here: its gradient is 0
    ml_.accumulate_extra();
    accumulate_head(T);
  };
  pass(Q, true);
  if (alg_ == meta::Algorithm::None) pass(S, false);
  t.reset();
  m_.params().zero_grad();
  ml_.add_tasks(T);
}

}  // namespace mr::rec
