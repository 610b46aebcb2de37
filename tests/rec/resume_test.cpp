// Safe failures of a run (issue 24 items 6 and 7): --resume past a corrupt latest checkpoint to
// the newest one that verifies (every trained part at the same step), --resume-from, training
// that stops at the first non-finite loss or gradient, and evaluation that refuses a model with
// non-finite parameters.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unistd.h>

#include "base/check.h"
#include "engine/io/checkpoint.h"
#include "engine/rec/evaluate.h"
#include "engine/rec/run_dir.h"
#include "engine/rec/trainer.h"
#include "tests/rec/random_emb.h"
#include "tests/rec/rec_test_util.h"
#include "weights/npy.h"

using namespace mr;
namespace fs = std::filesystem;

namespace {

// What f writes to stderr (fd 2) while it runs; f's exception, if any, is rethrown after.
std::string capture_stderr(const std::function<void()>& f) {
  std::fflush(stderr);
  const std::string tmp = (fs::temp_directory_path() / fmt::format("metarec_stderr_{}", ::getpid())).string();
  std::FILE* out = std::fopen(tmp.c_str(), "w+");
  REQUIRE(out);
  const int saved = ::dup(2);
  ::dup2(::fileno(out), 2);
  std::exception_ptr ex;
  try { f(); } catch (...) { ex = std::current_exception(); }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(out);
  std::ifstream in(tmp);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove(tmp);
  if (ex) std::rethrow_exception(ex);
  return s;
}

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// flips one byte near the end of the file: the data section (the header is at the start)
void flip_last_bytes(const std::string& p) {
  std::string b = read_bytes(p);
  REQUIRE(b.size() > 16);
  b[b.size() - 5] = char(b[b.size() - 5] ^ 0x5a);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << b;
}

std::string ckpt(const std::string& dir, int step) { return fmt::format("{}/ckpt-{:09d}.safetensors", dir, step); }

std::vector<float> final_params(const std::string& dir) {
  auto r = rec::load_run(dir);
  auto t = r.model->params().flat_params();
  return {t.f32(), t.f32() + t.numel()};
}

struct Fixture {
  std::string root, data, emb;
  explicit Fixture(const char* name) {
    root = (fs::temp_directory_path() / name).string();
    data = rec_test::synthetic(root);
    emb = root + "/emb.npy";
    const auto e = random_emb(45, 6, 2);
    write_npy_f32(emb, e.data(), 45, 6);
  }
  ~Fixture() { fs::remove_all(root); }
  rec::Config cfg(int steps) const {
    auto c = rec_test::small_config(data, emb);
    c.set("train.ckpt_every=1");
    c.set(fmt::format("train.steps={}", steps));
    return c;
  }
};

}  // namespace

TEST_CASE("resume: a corrupt latest checkpoint is reported and the previous one that verifies is used; nothing is deleted") {
  Fixture fx("metarec_rec_resume_test");
  const std::string a = fx.root + "/a";
  rec::train(fx.cfg(6), fx.root + "/straight", false);  // the uninterrupted run
  rec::train(fx.cfg(4), a, false);
  // ckpt_every = 1 and the default keep (3): steps 2, 3 and 4 are on disk
  REQUIRE(list_checkpoints(a) == std::vector<std::string>{ckpt(a, 2), ckpt(a, 3), ckpt(a, 4)});
  CHECK(latest_checkpoint(a) == ckpt(a, 4));
  flip_last_bytes(ckpt(a, 4));
  const std::string corrupt = read_bytes(ckpt(a, 4));

  const std::string err = capture_stderr([&] { rec::train(fx.cfg(6), a, true); });
  CAPTURE(err);
  // one line names the file that failed and why, one the checkpoint resumed from
  CHECK(err.find(ckpt(a, 4) + ": data: checksum mismatch") != std::string::npos);
  CHECK(err.find("resuming from " + ckpt(a, 3)) != std::string::npos);
  CHECK(rec::load_run(a).step == 6);
  CHECK(final_params(a) == final_params(fx.root + "/straight"));  // resume stays bit-identical
  // the corrupt file is kept (set aside when step 4 was written again), never deleted
  REQUIRE(fs::exists(ckpt(a, 4) + ".corrupt"));
  CHECK(read_bytes(ckpt(a, 4) + ".corrupt") == corrupt);
  CHECK(latest_checkpoint(a) == ckpt(a, 6));
}

TEST_CASE("--resume-from: an explicit older checkpoint; a truncated one is refused; no checkpoint verifies") {
  Fixture fx("metarec_rec_resume_from_test");
  const std::string b = fx.root + "/b";
  rec::train(fx.cfg(6), fx.root + "/straight", false);
  rec::train(fx.cfg(4), b, false);
  const std::string err = capture_stderr([&] { rec::train(fx.cfg(6), b, true, nullptr, ckpt(b, 2)); });
  CHECK(err.find("resumed from " + ckpt(b, 2) + " at step 2") != std::string::npos);
  CHECK(rec::load_run(b).step == 6);
  CHECK(final_params(b) == final_params(fx.root + "/straight"));

  // a truncated copy: refused, naming it; nothing trained, nothing written
  const std::string trunc = fx.root + "/trunc.safetensors";
  const std::string whole = read_bytes(ckpt(b, 5));
  std::ofstream(trunc, std::ios::binary) << whole.substr(0, whole.size() / 2);
  const auto before = list_checkpoints(b);
  CHECK_THROWS_WITH_AS(rec::train(fx.cfg(8), b, true, nullptr, trunc),
                       doctest::Contains(("--resume-from " + trunc + ": the checkpoint does not verify: " + trunc).c_str()), Error);
  CHECK(list_checkpoints(b) == before);
  CHECK(latest_checkpoint(b) == ckpt(b, 6));

  // every checkpoint corrupt: an error listing each one tried, all files left as they were
  for (const std::string& f : before) flip_last_bytes(f);
  std::string msg;
  try {
    capture_stderr([&] { rec::train(fx.cfg(8), b, true); });
  } catch (const Error& e) {
    msg = e.what();
  }
  CAPTURE(msg);
  CHECK(msg.find("no checkpoint verifies") != std::string::npos);
  for (const std::string& f : before) CHECK(msg.find(f + ": data: checksum mismatch") != std::string::npos);
  CHECK(list_checkpoints(b) == before);
}

TEST_CASE("resume with Meta-SGD: a step whose inner-rates checkpoint does not verify is skipped as a whole") {
  Fixture fx("metarec_rec_resume_metasgd_test");
  const std::string m = fx.root + "/m";
  auto cfg = [&](int steps) {
    auto c = fx.cfg(steps);
    c.set("meta.algorithm=metasgd");
    return c;
  };
  rec::train(cfg(6), fx.root + "/straight", false);
  rec::train(cfg(4), m, false);
  const std::string rates = m + "/" + rec::kInnerRatesDir;
  REQUIRE(fs::exists(ckpt(rates, 4)));
  flip_last_bytes(ckpt(rates, 4));  // theta's step 4 is fine, its inner rates are not
  const std::string err = capture_stderr([&] { rec::train(cfg(6), m, true); });
  CAPTURE(err);
  CHECK(err.find("resume: skipping " + ckpt(m, 4) + ": " + ckpt(rates, 4) + ": data: checksum mismatch") != std::string::npos);
  CHECK(err.find("resuming from " + ckpt(m, 3)) != std::string::npos);
  CHECK(final_params(m) == final_params(fx.root + "/straight"));
  CHECK(fs::exists(ckpt(rates, 4) + ".corrupt"));
}

TEST_CASE("training stops at the first non-finite query loss or gradient; the latest checkpoint stays finite") {
  Fixture fx("metarec_rec_nonfinite_test");
  const std::string n = fx.root + "/n";
  auto c = fx.cfg(30);
  c.set("train.lr=1e9");  // AdamW moves every weight by ~1e9 a step: the loss overflows within a few steps
  std::string msg = "no error";
  try {
    rec::train(c, n, false);
  } catch (const Error& e) {
    msg = e.what();
  }
  CAPTURE(msg);
  CHECK(msg.find("non-finite") != std::string::npos);
  // the loss overflows before the gradient: the message names the first task whose query loss did
  if (msg.find("non-finite mean query loss") != std::string::npos)
    CHECK(msg.find("first non-finite task: task ") != std::string::npos);
  const std::string ck = latest_checkpoint(n);
  REQUIRE(!ck.empty());
  auto r = rec::load_run(n);  // refuses a checkpoint with a non-finite parameter
  CHECK(msg.find(fmt::format("step {}:", r.step + 1)) != std::string::npos);
  CHECK(r.step < 30);
  const auto t = r.model->params().flat_params();
  CHECK(std::all_of(t.f32(), t.f32() + t.numel(), [](float x) { return std::isfinite(x); }));
}

TEST_CASE("evaluation refuses a checkpoint with non-finite parameters, naming the file and the first parameter") {
  Fixture fx("metarec_rec_nan_eval_test");
  const std::string d = fx.root + "/d";
  rec::train(fx.cfg(2), d, false);
  std::string name;
  {
    auto r = rec::load_run(d);
    Param& p = r.model->params().all().back();  // the last parameter: every earlier one stays finite
    name = p.name;
    p.w.f32()[0] = std::nanf("");
    TrainState st;
    st.step = 3;
    st.config = r.cfg.to_json().dump();
    save_checkpoint(d, r.model->params(), nullptr, st);
  }
  const std::string want = fmt::format("checkpoint {} has non-finite parameters (first: {})", ckpt(d, 3), name);
  CHECK_THROWS_WITH_AS(([&] { auto r = rec::load_run(d); rec::evaluate(r, ""); })(), doctest::Contains(want.c_str()), Error);
  // the checkpoint before it still evaluates
  auto ok = rec::load_run(d, ckpt(d, 2));
  CHECK(ok.step == 2);
}

TEST_CASE("--dump-tasks writes each step's meta-batch; a resumed run dumps the same tasks as the uninterrupted one") {
  Fixture fx("metarec_dump_tasks");
  auto c = fx.cfg(4);
  c.set("train.meta_batch=3");
  const std::string full = fx.root + "/full.jsonl", first = fx.root + "/first.jsonl", rest = fx.root + "/rest.jsonl";
  rec::train(c, fx.root + "/a", false, nullptr, "", full);
  auto lines = [](const std::string& p) {
    std::vector<nlohmann::json> v;
    std::ifstream f(p);
    for (std::string l; std::getline(f, l);) v.push_back(nlohmann::json::parse(l));
    return v;
  };
  const auto a = lines(full);
  REQUIRE(a.size() == 4);
  for (size_t s = 0; s < a.size(); ++s) {
    CHECK(a[s]["step"] == int(s));
    REQUIRE(a[s]["tasks"].size() == 3);
    for (auto& t : a[s]["tasks"]) {
      CHECK(!t["support"].empty());
      CHECK(!t["query"].empty());
      for (auto& row : t["support"]) {
        CHECK(row[1].get<int>() >= 0);
        CHECK(row[1].get<int>() < 45);
        for (auto& it : row[0]) CHECK(it.get<int>() < 45);
      }
    }
  }
  CHECK(a[0]["tasks"] != a[1]["tasks"]);  // a fresh draw each step
  // 2 steps, then resumed to 4: the two dumps together are the uninterrupted run's
  auto c2 = fx.cfg(2);
  c2.set("train.meta_batch=3");
  rec::train(c2, fx.root + "/b", false, nullptr, "", first);
  rec::train(c, fx.root + "/b", true, nullptr, "", rest);
  const auto b1 = lines(first), b2 = lines(rest);
  REQUIRE(b1.size() == 2);
  REQUIRE(b2.size() == 2);
  CHECK(b1[0] == a[0]);
  CHECK(b1[1] == a[1]);
  CHECK(b2[0] == a[2]);
  CHECK(b2[1] == a[3]);
  CHECK_THROWS_WITH_AS(rec::train(c, fx.root + "/c", false, nullptr, "", fx.root + "/no/such/dir/x.jsonl"),
                       doctest::Contains("--dump-tasks: cannot write"), Error);
  c.set("eval.tile=-1");  // refused before training, not after it
  CHECK_THROWS_WITH_AS(rec::train(c, fx.root + "/d", false), doctest::Contains("eval.tile = -1"), Error);
  CHECK_FALSE(fs::exists(fx.root + "/d"));
}
