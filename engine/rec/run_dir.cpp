// The run folder and its checkpoints (engine/rec/run_dir.h).
#include "engine/rec/run_dir.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "base/check.h"
#include "engine/backend.h"
#include "engine/optim.h"
#include "weights/npy.h"

namespace fs = std::filesystem;

namespace mr::rec {

namespace {

void write_text(const std::string& path, const std::string& s) {
  std::ofstream f(path + ".tmp");
  if (!f) throw Error(fmt::format("{}: cannot write", path));
  f << s;
  f.close();
  fs::rename(path + ".tmp", path);
}

std::string part_dir(const std::string& out, const TrainedPart& p) { return p.subdir.empty() ? out : out + "/" + p.subdir; }

// Verifies CK (the main part's checkpoint, in folder BASE) and every other part's checkpoint of
// its step; returns the step, or throws naming the first file that fails and why.
int64_t verify_step(const std::string& base, const std::string& ck, const std::vector<TrainedPart>& parts) {
  const int64_t step = verify_checkpoint(ck);
  for (const TrainedPart& p : parts) {
    if (p.subdir.empty()) continue;
    const std::string pk = checkpoint_path(part_dir(base, p), step);
    if (verify_checkpoint(pk) != step) FAIL_INPUT(pk, "header", "not step {}", step);
  }
  return step;
}

void load_step(const std::string& base, const std::string& ck, int64_t step, const std::vector<TrainedPart>& parts,
               TrainState* st) {
  for (const TrainedPart& p : parts) {
    if (p.subdir.empty()) *st = load_checkpoint(ck, *p.ps, p.opt);
    else load_checkpoint(checkpoint_path(part_dir(base, p), step), *p.ps, p.opt);
  }
}

// "checkpoint X has non-finite parameters (first: NAME)", or nothing when every one is finite
void check_finite(const std::string& ck, ParamStore& ps) {
  const std::string bad = first_nonfinite(ps, false);
  if (!bad.empty())
    throw Error(fmt::format("checkpoint {} has non-finite parameters (first: {}): the run diverged before it was "
                            "written; evaluate or resume from an earlier checkpoint (docs/troubleshooting.md)", ck, bad));
}

}  // namespace

void RunDir::create() const { fs::create_directories(path_); }

void RunDir::write_config(const Config& c) const {
  write_text(path_ + "/config.json", c.to_json().dump(2) + "\n");
  write_text(path_ + "/config.toml", c.to_toml());
}

void RunDir::write_item_emb(const std::vector<float>& emb, int64_t n_items, int64_t D) const {
  write_npy_f32(path_ + "/item_emb.npy", emb.data(), n_items, D);
}

void RunDir::clear_metrics() const {
  std::error_code ec;
  fs::remove(path_ + "/metrics.jsonl", ec);
}

void RunDir::append_metrics(const nlohmann::json& line) const {
  if (path_.empty()) return;
  const std::string path = path_ + "/metrics.jsonl";
  std::ofstream f(path, std::ios::app);
  if (!f) throw Error(fmt::format("{}: cannot append", path));
  f << line.dump() << "\n";
}

void RunDir::write_results(const nlohmann::json& res, const std::string& table) const {
  if (path_.empty()) return;
  write_text(path_ + "/results.json", res.dump(2) + "\n");
  if (!table.empty()) write_text(path_ + "/results.md", table);
}

bool RunDir::has_checkpoint() const { return !latest_checkpoint(path_).empty(); }

void RunDir::save(const std::vector<TrainedPart>& parts, const TrainState& st) const {
  for (const TrainedPart& p : parts) save_checkpoint(part_dir(path_, p), *p.ps, p.opt, st);
}

bool RunDir::resume(const std::vector<TrainedPart>& parts, TrainState* st, const std::string& from) const {
  if (!from.empty()) {
    const std::string base = fs::path(from).parent_path().string();
    int64_t step = 0;
    try {
      step = verify_step(base.empty() ? "." : base, from, parts);
    } catch (const Error& e) {
      throw Error(fmt::format("--resume-from {}: the checkpoint does not verify: {}", from, e.what()));
    }
    load_step(base.empty() ? "." : base, from, step, parts, st);
    std::fprintf(stderr, "resumed from %s at step %lld (--resume-from)\n", from.c_str(), (long long)st->step);
    return true;
  }
  // `latest` first, then every older checkpoint, newest first
  const std::string latest = latest_checkpoint(path_);
  std::vector<std::string> tries;
  if (!latest.empty()) tries.push_back(latest);
  const std::vector<std::string> all = list_checkpoints(path_);
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (latest.empty() || fs::path(*it).filename() < fs::path(latest).filename()) tries.push_back(*it);
  if (tries.empty()) return false;
  std::vector<std::string> failed;
  for (const std::string& ck : tries) {
    int64_t step = 0;
    try {
      step = verify_step(path_, ck, parts);
    } catch (const Error& e) {
      std::string why = e.what();  // names ck first, or the part's file that failed
      if (why.starts_with(ck + ": ")) why = why.substr(ck.size() + 2);
      std::fprintf(stderr, "resume: skipping %s: %s\n", ck.c_str(), why.c_str());
      failed.push_back(fmt::format("{}: {}", ck, why));
      continue;
    }
    if (!failed.empty())
      std::fprintf(stderr, "resume: resuming from %s (step %lld), the newest checkpoint that verifies; %zu newer "
                   "skipped and left in place\n", ck.c_str(), (long long)step, failed.size());
    load_step(path_, ck, step, parts, st);
    std::fprintf(stderr, "resumed from %s at step %lld\n", ck.c_str(), (long long)st->step);
    return true;
  }
  std::string msg = fmt::format("{}: --resume: no checkpoint verifies (docs/troubleshooting.md); tried:", path_);
  for (const std::string& f : failed) msg += "\n  " + f;
  throw Error(msg);
}

LoadedRun load_run(const std::string& dir, const std::string& checkpoint) {
  LoadedRun r;
  std::ifstream f(dir + "/config.json");
  if (!f) throw Error(fmt::format("{}: not a metarec run (no config.json)", dir));
  nlohmann::json j;
  try { f >> j; } catch (const std::exception& e) { throw Error(fmt::format("{}/config.json: {}", dir, e.what())); }
  r.cfg = Config::from_json(j, dir + "/config.json");
  if (r.cfg.encoder.device != EncoderDevice::Cpu && std::string(cuda_backend_kind()) == "none") {
    // where to compute belongs to the machine, not the run: what the frozen encoder gives
    // (the hidden states of trainable-layer runs, when not cached) is computed here on the CPU
    std::fprintf(stderr, "%s: trained with encoder.device = %s (%s); this binary has no CUDA backend, so the encoder "
                 "runs on the CPU in fp32\n", dir.c_str(), name(r.cfg.encoder.device), name(r.cfg.encoder.precision));
    r.cfg.encoder.device = EncoderDevice::Cpu;
    r.cfg.encoder.precision = Precision::Fp32;
  }
  r.ds = load_data(r.cfg);
  int64_t rows = 0, D = 0;
  auto emb = read_npy_f32(dir + "/item_emb.npy", &rows, &D);
  MR_CHECK(rows == int64_t(r.ds.n_items()), "{}/item_emb.npy: {} rows, the data has {} items", dir, rows, r.ds.n_items());
  r.model = build_model(r.cfg, r.ds, emb, D);
  const std::string ck = checkpoint.empty() ? latest_checkpoint(dir) : checkpoint;
  if (ck.empty()) throw Error(fmt::format("{}: no checkpoint", dir));
  r.step = load_checkpoint(ck, r.model->params(), nullptr).step;
  check_finite(ck, r.model->params());
  r.ml = make_learner(r.cfg, *r.model);
  if (ParamStore* rates = r.ml->inner_rates()) {  // the learned inner rates of the same step
    const std::string rk = checkpoint_path(dir + "/" + kInnerRatesDir, r.step);
    if (!fs::exists(rk)) throw Error(fmt::format("{}: metasgd run without {} (the inner rates of step {})", dir, rk, r.step));
    load_checkpoint(rk, *rates, nullptr);
    check_finite(rk, *rates);
  }
  return r;
}

}  // namespace mr::rec
