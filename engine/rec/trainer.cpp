// The trainer (engine/rec/trainer.h): setup from the config, the outer step, logging and
// checkpoints. Multi-process: every rank draws every task of a step from the same random stream
// and runs those dealt to it; rank 0 embeds the items and writes the run folder.
#include "engine/rec/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>

#include <omp.h>

#include "base/check.h"
#include "engine/comm/comm.h"
#include "engine/optim.h"
#include "engine/progress.h"
#include "engine/rec/batched.h"
#include "engine/rec/evaluate.h"
#include "engine/rec/item_data.h"
#include "engine/rec/run_dir.h"
#include "engine/rec/tasks.h"

namespace mr::rec {

namespace {

uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " and ") + x;
  return s;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// linear warm-up, then cosine, linear or no decay to the last step
float lr_at(const TrainSettings& s, int64_t step) {
  const double lr = s.lr, warm = double(s.warmup), total = double(s.steps);
  if (step < warm) return float(lr * double(step + 1) / warm);
  const double p = total > warm ? std::min(1.0, (double(step) - warm) / (total - warm)) : 1.0;
  switch (s.decay) {
    case Decay::Cosine: return float(lr * 0.5 * (1.0 + std::cos(M_PI * p)));
    case Decay::Linear: return float(lr * (1.0 - p));
    case Decay::None: break;
  }
  return float(lr);
}

// The dropout stream of task b of a step: its own 2^24 Philox counters, so a task's masks do not
// depend on which tasks ran before it on the same tape (or on another rank).
uint64_t task_rng_offset(int64_t step, int64_t b) { return (uint64_t(step) << 40) | (uint64_t(b) << 24); }

// Multi-process start: every rank takes rank 0's parameters, AdamW state, step and seed (rank 0
// may have resumed from a checkpoint the others cannot see). One call per ParamStore.
void sync_from_root(comm::Communicator& cm, ParamStore& ps, AdamW* opt, TrainState* st) {
  if (cm.size() == 1) return;
  double head[4] = {st ? double(st->step) : 0.0, opt ? double(opt->t()) : 0.0,  // exact below 2^53
                    st ? double(st->rng_seed >> 32) : 0.0, st ? double(st->rng_seed & 0xffffffffu) : 0.0};
  cm.broadcast(head, 4, 0);
  if (st) {
    st->step = int64_t(head[0]);
    st->rng_seed = (uint64_t(head[2]) << 32) | uint64_t(head[3]);
  }
  cm.broadcast(ps.flat_params().f32(), ps.numel(), 0);
  if (opt) {
    opt->set_t(int(head[1]));
    cm.broadcast(opt->m().f32(), ps.numel(), 0);
    cm.broadcast(opt->v().f32(), ps.numel(), 0);
  }
}

// The item embeddings (n_items, *D): rank 0 embeds (or reads the cache), the others receive.
std::vector<float> shared_item_embeddings(const Config& c, const data::Dataset& ds, comm::Communicator& cm, int64_t* D) {
  std::vector<float> emb;
  if (cm.rank() == 0) emb = item_embeddings(c, ds, D);
  if (cm.size() > 1) {
    comm::UnwatchedWait solo(cm);  // rank 0 may embed the catalogue for a long time
    double d = double(*D);
    cm.broadcast(&d, 1, 0);
    *D = int64_t(d);
    emb.resize(ds.n_items() * size_t(*D));
    cm.broadcast(emb.data(), int64_t(emb.size()), 0);
  }
  return emb;
}

// Trainable top layers with several ranks: rank 0 computes (or reads) the frozen bottom's hidden
// states once and sends them, so N ranks neither compute them N times nor write one cache file
// together. One rank (or no trainable layer): none, build_model makes the spec itself.
std::optional<ItemBertSpec> shared_item_bert_spec(const Config& c, const data::Dataset& ds, comm::Communicator& cm) {
  if (c.encoder.train_layers == 0 || cm.size() == 1) return std::nullopt;
  const bool root = cm.rank() == 0;
  ItemBertSpec spec = item_bert_spec(c, ds, root);
  comm::UnwatchedWait solo(cm);  // rank 0 may run the encoder over the catalogue for a long time
  HiddenCache h = root ? *spec.cache : HiddenCache{};
  double dims[3] = {double(h.n), double(h.T), double(h.H)};
  cm.broadcast(dims, 3, 0);
  h.n = int64_t(dims[0]), h.T = int64_t(dims[1]), h.H = int64_t(dims[2]);
  std::vector<float> len(h.len.begin(), h.len.end());  // token counts <= 512: exact in float
  len.resize(size_t(h.n));
  h.h.resize(size_t(h.n * h.T * h.H));
  cm.broadcast(len.data(), h.n, 0);
  cm.broadcast(h.h.data(), int64_t(h.h.size()), 0);
  h.len.assign(len.begin(), len.end());
  spec.cache = std::make_shared<const HiddenCache>(std::move(h));
  return spec;
}

TaskOptions task_options(const Config& c) {
  const TaskSettings& t = c.task;
  MR_CHECK(!t.k_shots.empty(), "task.k_shots is empty");
  const bool next = t.target == TaskTarget::Next || (t.target == TaskTarget::Auto && is_loo(c.data.protocol));
  return {t.k_shots, next ? Target::Next : Target::Future, size_t(t.query_size),
          size_t(std::max<int64_t>(1, t.next_positions))};
}

class Trainer {
 public:
  Trainer(const Config& c, const std::string& out, bool resume, const std::string& resume_from, comm::Communicator& cm,
          const std::string& dump_tasks);
  nlohmann::json run();

 private:
  double step(int64_t step);
  void check_finite(int64_t step, double query_loss, double norm);
  std::string last_checkpoint() const;
  void save();
  void log(const nlohmann::json& line);

  const Config& c_;
  comm::Communicator& cm_;
  const int rank_, nranks_;
  const bool root_;  // only rank 0 writes the run folder and reports
  const RunDir dir_;
  const double t_start_;
  LoadedRun r_;
  std::unique_ptr<AdamW> opt_, rate_opt_;  // theta's; metasgd's learned inner rates'
  std::vector<TrainedPart> parts_;         // what AdamW steps and the checkpoints hold
  TrainState st_;
  std::vector<UserSeq> seqs_;  // the tasks: the training users' sequences
  TaskOptions topt_;
  bool step_table_ = false;
  meta::MetaLearner::Reduce reduce_;
  Backend be_;  // train.device / train.precision
  std::optional<Arena> arena_;
  std::optional<Tape> tape_;
  std::optional<Progress> bar_;
  double sum_q_ = 0, t_log_ = 0;
  int64_t n_q_ = 0, tasks_done_ = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> dump_{nullptr, std::fclose};  // --dump-tasks
  std::string bad_task_;  // this step's first task with a non-finite query loss (CPU), for the error
  std::unique_ptr<TaskBatcher> batcher_;  // train.batch_tasks
};

// a batch as [[history, target, signal], ...] (signal null when NaN)
nlohmann::json batch_json(const Batch& b) {
  nlohmann::json a = nlohmann::json::array();
  for (size_t r = 0; r < b.size(); ++r)
    a.push_back({b.history[r], b.target[r], std::isnan(b.signal[r]) ? nlohmann::json(nullptr) : nlohmann::json(b.signal[r])});
  return a;
}

// the sampled softmax's draws of a task's support or query losses, in call order:
// [{"items": [...], "log_q": [...]}, ...]
nlohmann::json drawn_json(const std::vector<RecModel::Drawn>& d) {
  nlohmann::json a = nlohmann::json::array();
  for (const RecModel::Drawn& x : d) a.push_back({{"items", x.items}, {"log_q", x.log_q}});
  return a;
}

Trainer::Trainer(const Config& c, const std::string& out, bool resume, const std::string& resume_from,
                 comm::Communicator& cm, const std::string& dump_tasks)
    : c_(c), cm_(cm), rank_(cm.rank()), nranks_(cm.size()), root_(rank_ == 0), dir_(out), t_start_(now_s()) {
  be_ = parse_backend(name(c.train.device), name(c.train.precision), "train.device/train.precision");
  MR_CHECK(be_.dev == Device::CPU || nranks_ == 1 || cm.name() == "nccl",
           "train.device = cuda over {} processes needs the NCCL communicator (--comm nccl; the default under mpirun "
           "when training on the GPU), not {}", nranks_, cm.name());
  if (be_.dev != Device::CPU) be_.gpu = train_gpu(c);
  init_backend(be_);  // before anything is written: a binary without CUDA says so here
  if (root_) dir_.create();
  r_.cfg = c;
  r_.ds = load_data(c);  // every rank loads the (small) dataset and draws the same tasks
  int64_t D = 0;
  std::vector<float> emb = shared_item_embeddings(c, r_.ds, cm, &D);
  if (root_) dir_.write_item_emb(emb, int64_t(r_.ds.n_items()), D);
  // the towers' matrices are small: extra threads cost more than they give (0: OpenMP's default)
  if (c.train.threads > 0) omp_set_num_threads(int(c.train.threads));
  if (root_) dir_.write_config(c);
  const std::optional<ItemBertSpec> spec = shared_item_bert_spec(c, r_.ds, cm);
  r_.model = build_model(c, r_.ds, emb, D, spec ? &*spec : nullptr);
  if (be_.dev != Device::CPU) r_.model->to(be_);
  r_.ml = make_learner(c, *r_.model);
  ParamStore& ps = r_.model->params();
  AdamWConfig ac;
  ac.lr = float(c.train.lr);
  ac.weight_decay = float(c.train.weight_decay);
  ac.eps = float(c.train.adam_eps);
  MR_CHECK(c.train.adam_eps > 0, "train.adam_eps must be > 0, got {}", c.train.adam_eps);
  opt_ = std::make_unique<AdamW>(ps, ac, be_);
  parts_.push_back({&ps, opt_.get(), ""});
  if (ParamStore* rates = r_.ml->inner_rates()) {  // metasgd
    AdamWConfig rc = ac;
    rc.weight_decay = 0;
    rate_opt_ = std::make_unique<AdamW>(*rates, rc, be_);
    parts_.push_back({rates, rate_opt_.get(), kInnerRatesDir});
  }
  st_.rng_seed = uint64_t(c.train.seed);
  st_.config = c.to_json().dump();
  if ((resume || !resume_from.empty()) && root_) dir_.resume(parts_, &st_, resume_from);
  else if (root_) dir_.clear_metrics();
  for (const TrainedPart& p : parts_) sync_from_root(cm, *p.ps, p.opt, p.subdir.empty() ? &st_ : nullptr);
  topt_ = task_options(c);
  const int kmax = *std::max_element(topt_.k_shots.begin(), topt_.k_shots.end());
  seqs_ = task_sequences(make_split(c, r_.ds, size_t(std::max(kmax, 1))), r_.ds.n_users());
  // the item table once per outer step (its gradient accumulated over the tasks), unless the
  // inner loop adapts the item tower itself
  step_table_ = c.train.step_item_table && c.meta.scope != Scope::All && c.encoder.train_layers == 0;
  MR_CHECK(c.train.meta_batch > 0 && c.train.meta_batch < (1 << 16), "train.meta_batch must be in 1..65535, got {}",
           c.train.meta_batch);
  if (nranks_ > 1) reduce_ = [&cm](double* x, size_t n) { cm.allreduce_sum(x, int64_t(n)); };
  if (c.train.batch_tasks)
    batcher_ = std::make_unique<TaskBatcher>(c, *r_.model, *r_.ml, int((c.train.meta_batch + nranks_ - 1) / nranks_));
  if (root_)
    std::fprintf(stderr, "train: %zu task users, %zu items, %lld params (%lld trainable), %s, scope %s, on %s\n",
                 seqs_.size(), r_.ds.n_items(), (long long)ps.numel(), (long long)ps.trainable_numel(),
                 name(c.meta.algorithm), name(c.meta.scope), be_.str().c_str());
  if (root_ && nranks_ > 1)
    std::fprintf(stderr, "train: %d ranks (%s), tasks of a meta-batch dealt round-robin, one all-reduce of %zu values per step\n",
                 nranks_, cm.name().c_str(), size_t(ps.numel()) * parts_.size() + 2);
  if (nranks_ > 1 && be_.dev != Device::CPU)
    std::fprintf(stderr, "train: rank %d on GPU %d\n", rank_, be_.gpu);
  arena_.emplace(be_.dev);
  tape_.emplace(*arena_, be_, st_.rng_seed);
  if (!dump_tasks.empty()) {
    MR_CHECK(nranks_ == 1, "--dump-tasks needs one process (got {} ranks)", nranks_);
    dump_.reset(std::fopen(dump_tasks.c_str(), "w"));
    if (!dump_) throw Error(fmt::format("--dump-tasks: cannot write {}", dump_tasks));
    if (c.encoder.train_layers > 0) {  // FILE.items.json: what a replay needs of the item tower's input
      MR_CHECK(!c.encoder.cache.empty(), "--dump-tasks with encoder.train_layers > 0 needs encoder.cache (the dump "
                                         "names the hidden-state file there)");
      const std::vector<std::string> texts = item_texts(r_.ds);
      const int bottom = BertConfig::from_json_file(c.encoder.model + "/config.json").num_hidden_layers -
                         int(c.encoder.train_layers);
      const nlohmann::json j = {
          {"hidden", fmt::format("{}/hid-{:016x}-b{}.npy", c.encoder.cache, item_text_key(c, texts), bottom)},
          {"bottom_layers", bottom}, {"max_len", c.encoder.max_len}, {"texts", texts}};
      std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen((dump_tasks + ".items.json").c_str(), "w"), std::fclose);
      if (!f || std::fprintf(f.get(), "%s\n", j.dump().c_str()) < 0)
        throw Error(fmt::format("--dump-tasks: cannot write {}.items.json", dump_tasks));
    }
  }
}

// One outer step: the meta-batch's tasks (this rank's share), each adapting on its support set
// and adding its outer update; their mean (over every rank) is clipped and AdamW steps on it.
// Returns the meta-batch's mean query loss.
double Trainer::step(int64_t step) {
  RecModel& m = *r_.model;
  meta::MetaLearner& ml = *r_.ml;
  comm::fault_hook(rank_, step);
  bad_task_.clear();
  std::mt19937_64 rng(mix64(st_.rng_seed ^ mix64(uint64_t(step))));  // the same stream on every rank
  if (step_table_) {  // dV is accumulated, reduced and averaged by the meta learner with theta's gradient
    m.begin_step();
    ml.set_extra_grad(m.step_table_grad(), size_t(m.step_table_numel()));
  }
  nlohmann::json dumped = nlohmann::json::array();
  std::vector<TaskBatches> mine;  // task-batched: this rank's tasks, run together below
  for (int64_t b = 0; b < c_.train.meta_batch; ++b) {
    const TaskBatches task = sample_task(seqs_, topt_, rng);
    if (dump_) dumped.push_back({{"support", batch_json(task.support)}, {"query", batch_json(task.query)}});
    if (b % nranks_ != rank_) continue;
    if (batcher_) {
      if (mine.empty()) tape_->set_rng(st_.rng_seed, task_rng_offset(step, b));
      mine.push_back(task);
      continue;
    }
    tape_->set_rng(st_.rng_seed, task_rng_offset(step, b));
    // --dump-tasks with the sampled softmax: the candidates each loss draws, in call order
    std::vector<RecModel::Drawn> drawn_s, drawn_q;
    const bool rec = dump_ && c_.loss.negatives > 0;
    auto recorded = [&](std::vector<RecModel::Drawn>* into, const Batch& b, Tape& t) {
      m.record_candidates(rec ? into : nullptr);
      Var* l = m.loss(t, b);
      m.record_candidates(nullptr);
      return l;
    };
    const float lq = ml.task(*tape_, [&](Tape& t) { return recorded(&drawn_s, task.support, t); },
                             [&](Tape& t) { return recorded(&drawn_q, task.query, t); });
    if (rec) dumped.back()["candidates"] = {{"support", drawn_json(drawn_s)}, {"query", drawn_json(drawn_q)}};
    // the first task of the step whose query loss is not finite (the host knows it on the CPU; a
    // device run reads no per-task loss back)
    if (be_.dev == Device::CPU && !std::isfinite(lq) && bad_task_.empty())
      bad_task_ = fmt::format("; first non-finite task: task {} of the meta-batch (query loss {}, {} support and {} query "
                              "examples)", b, lq, task.support.size(), task.query.size());
  }
  if (batcher_) {
    std::vector<const TaskBatches*> ptrs;
    for (const TaskBatches& tb : mine) ptrs.push_back(&tb);
    batcher_->run(*tape_, ptrs);
  }
  if (dump_ && (std::fprintf(dump_.get(), "%s\n", nlohmann::json({{"step", step}, {"tasks", dumped}}).dump().c_str()) < 0 ||
                std::fflush(dump_.get()) != 0))
    throw Error(fmt::format("--dump-tasks: writing step {} failed: {}", step, std::strerror(errno)));
  const double query_loss = ml.finish(reduce_);
  if (step_table_) m.end_step(1.0f);  // the mean dV through the item tower, into its parameters' gradients
  const double clip = c_.train.clip;
  const double norm = clip > 0 ? clip_grad_norm(m.params(), clip, be_) : grad_norm(m.params(), be_);
  check_finite(step, query_loss, norm);
  const float lr = lr_at(c_.train, step);
  for (const TrainedPart& p : parts_) {
    p.opt->step(lr);
    p.ps->zero_grad();
  }
  ml.after_update();
  st_.step = step + 1;
  sum_q_ += query_loss;
  n_q_++;
  tasks_done_ += c_.train.meta_batch;
  if (root_ && (st_.step % std::max<int64_t>(1, c_.train.log_every) == 0 || st_.step == c_.train.steps))
    log({{"step", st_.step}, {"query_loss", sum_q_ / double(std::max<int64_t>(n_q_, 1))}, {"lr", lr},
         {"grad_norm", norm}});
  return query_loss;
}

// A non-finite mean query loss or gradient (theta's norm, clipped or not, and every other trained
// part's) stops training at that step: before AdamW steps and before its checkpoint, so the
// latest checkpoint stays the last finite one. Every rank sees the same reduced values.
void Trainer::check_finite(int64_t step, double query_loss, double norm) {
  std::vector<std::string> what;
  if (!std::isfinite(query_loss)) what.push_back(fmt::format("mean query loss ({})", query_loss));
  for (const TrainedPart& p : parts_) {
    const double n = p.subdir.empty() ? norm : grad_norm(*p.ps, be_);
    if (std::isfinite(n)) continue;
    what.push_back(fmt::format("gradient norm{} ({}; first non-finite gradient: {})",
                               p.subdir.empty() ? "" : " of " + p.subdir, n, first_nonfinite(*p.ps, true)));
  }
  if (what.empty()) return;
  throw Error(fmt::format("train: stopped at step {}: non-finite {}{}; nothing of this step was applied or saved, {} "
                          "(docs/troubleshooting.md: lower train.lr)", step + 1, join(what), bad_task_, last_checkpoint()));
}

// where the run can go on from, for the messages above
std::string Trainer::last_checkpoint() const {
  if (!root_) return "rank 0 holds the checkpoints";
  const std::string ck = latest_checkpoint(dir_.path());
  return ck.empty() ? "and no checkpoint was written" : "the latest checkpoint is " + ck;
}

// This step's checkpoint, unless an update made a parameter non-finite (a finite loss and gradient
// can still overflow a weight): then training stops without writing it.
void Trainer::save() {
  for (const TrainedPart& p : parts_) {
    const std::string bad = first_nonfinite(*p.ps, false);
    if (bad.empty()) continue;
    throw Error(fmt::format("train: stopped at step {}: non-finite parameter {} after the update; its checkpoint was not "
                            "written, {} (docs/troubleshooting.md: lower train.lr)", st_.step, bad, last_checkpoint()));
  }
  dir_.save(parts_, st_);
}

// one line of metrics.jsonl (with the speed since the last one and the elapsed time) and the bar
void Trainer::log(const nlohmann::json& l) {
  const double t = now_s();
  nlohmann::json line = l;
  line["tasks_per_s"] = double(tasks_done_) / std::max(1e-9, t - t_log_);
  line["elapsed_s"] = t - t_start_;
  if (be_.dev != Device::CPU) line["device_peak_mib"] = std::round(double(device_mem_stats().peak_bytes) / (1 << 20) * 10) / 10;
  dir_.append_metrics(line);
  bar_->update(st_.step, fmt::format("loss {:.4f} lr {:.2e} {:.0f} tasks/s", line["query_loss"].get<double>(),
                                     line["lr"].get<float>(), line["tasks_per_s"].get<double>()));
  sum_q_ = 0;
  n_q_ = 0;
  tasks_done_ = 0;
  t_log_ = t;
}

nlohmann::json Trainer::run() {
  const int64_t steps = c_.train.steps, ckpt_every = c_.train.ckpt_every;
  if (root_) bar_.emplace("train", steps, "step");
  t_log_ = now_s();
  const int64_t first = st_.step;
  uint64_t allocs_after_first = 0;
  for (int64_t s = st_.step; s < steps; ++s) {
    step(s);
    if (s == first) allocs_after_first = device_mem_stats().allocs;
    if (root_ && ((ckpt_every > 0 && st_.step % ckpt_every == 0) || st_.step == steps)) {
      st_.rng_offset = task_rng_offset(st_.step, 0);
      save();
    }
  }
  if (root_) {
    bar_->finish();
    if (be_.dev != Device::CPU) {  // what the device held (every device Buffer: base/device.h)
      const DeviceMemStats m = device_mem_stats();
      std::fprintf(stderr, "train: device memory peak %.1f MiB; %llu device allocations after the first step\n",
                   double(m.peak_bytes) / (1 << 20), (unsigned long long)(steps > first ? m.allocs - allocs_after_first : 0));
    }
    if (!dir_.has_checkpoint()) save();
  }
  r_.step = st_.step;
  const double t_train = now_s() - t_start_;
  if (be_.dev != Device::CPU && root_) {  // evaluated from the checkpoint just written, on the training device
    tape_.reset();
    r_ = load_run(dir_.path());
    r_.step = st_.step;
    move_run(r_, be_);
  }
  // the other ranks evaluate the parameters they hold, bitwise rank 0's (the same all-reduced
  // updates): no rank but 0 reads the run folder, which may be on rank 0's node only
  // every rank scores its share of the evaluation cases; rank 0 writes the results
  auto res = evaluate(r_, root_ ? dir_.path() : std::string(), &cm_);
  if (!root_) {
    comm::UnwatchedWait solo(cm_);  // rank 0 writes the results
    cm_.barrier();
    return {{"rank", rank_}, {"step", st_.step}};
  }
  res["train_seconds"] = std::round(t_train * 10) / 10;
  res["threads"] = omp_get_max_threads();
  res["ranks"] = nranks_;
  dir_.write_results(res, "");
  comm::UnwatchedWait solo(cm_);
  cm_.barrier();
  return res;
}

}  // namespace

int train_gpu(const Config& c) {
  const int local = comm::local_rank();
  const auto& g = c.train.gpus;
  if (g.empty()) return local < 0 ? 0 : local;
  const int i = local < 0 ? 0 : local;
  MR_CHECK(i < int(g.size()), "train.gpus lists {} GPU(s), but this process is local rank {} on its node", g.size(), i);
  MR_CHECK(g[size_t(i)] >= 0, "train.gpus: GPU {} is not a GPU number", g[size_t(i)]);
  return g[size_t(i)];
}

nlohmann::json train(const Config& c, const std::string& out, bool resume, comm::Communicator* comm,
                     const std::string& resume_from, const std::string& dump_tasks) {
  std::unique_ptr<comm::Communicator> single;
  if (!comm) single = comm::make_communicator("single");
  if (c.data.protocol == Protocol::LooMirror && c.eval.part == Part::Test)
    throw Error("data.protocol = loo-mirror has no test part (it is for choosing settings): set eval.part = valid");
  if (c.eval.tile < 0)  // an evaluation setting that would fail after training fails now
    throw Error(fmt::format("eval.tile = {}: expected 0 (automatic) or a number of cases", c.eval.tile));
  for (auto& spec : c.eval.finetune) {  // a bad spec is an error before training, not after it
    int st = 0;
    double lr = 0;
    parse_finetune(spec, "eval.finetune", &st, &lr);
  }
  Trainer t(c, out, resume, resume_from, comm ? *comm : *single, dump_tasks);
  return t.run();
}

}  // namespace mr::rec
