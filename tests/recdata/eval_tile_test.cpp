// Tiled evaluation (engine/baselines/evaluate.h): the bounded top-K heap against a full stable
// sort, tiles of any size against a naive per-case evaluation, and the peak memory of a
// 200,000-user x 50,000-item evaluation (measured in a child process).
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include <fmt/format.h>

#include "engine/baselines/evaluate.h"
#include "engine/metrics/metrics.h"

using namespace mr;

namespace {

// A split of U users over N items: each test case has 10 random known items (its history) and
// one random target; the training part is the histories (what pop counts).
data::Split synthetic_split(size_t U, size_t N, uint64_t seed) {
  data::Split sp;
  sp.protocol = "loo";
  sp.n_users = U;
  sp.n_items = N;
  std::mt19937_64 g(seed);
  sp.test.reserve(U);
  sp.train.reserve(U * 10);
  for (size_t u = 0; u < U; u++) {
    data::EvalCase c;
    c.user = uint32_t(u);
    // skewed popularity (many ties among the rare items): item = N * x^3
    auto draw = [&] { const double x = double(g() >> 11) / double(1ull << 53); return uint32_t(double(N) * x * x * x); };
    for (int j = 0; j < 10; j++) c.history.push_back(draw());
    c.known = c.history;
    c.targets = {draw()};
    for (int j = 0; j < 10; j++) {
      data::Interaction it;
      it.user = uint32_t(u);
      it.item = c.history[size_t(j)];
      it.time = j;
      sp.train.push_back(it);
    }
    sp.test.push_back(std::move(c));
  }
  return sp;
}

// A model that scores with its own tile function (rows in reverse order of the tile, written
// from the back), so a tile bookkeeping error in the evaluator shows as wrong metrics.
struct HashModel : baselines::Model {
  std::string name() const override { return "hash"; }
  void fit(const data::Split&) override {}
  static float s(uint32_t user, size_t i) { return float((user * 2654435761u + uint32_t(i) * 40503u) % 997u); }
  void score(const data::EvalCase& c, std::span<float> out) const override {
    for (size_t i = 0; i < out.size(); i++) out[i] = s(c.user, i);
  }
  void score_tile(std::span<const data::EvalCase* const> cs, std::span<float> out) const override {
    const size_t n = out.size() / cs.size();
    for (size_t r = cs.size(); r-- > 0;)
      for (size_t i = n; i-- > 0;) out[r * n + i] = s(cs[r]->user, i);
  }
};

}  // namespace

TEST_CASE("top_k (bounded heap) is the head of a full stable sort, with ties, exclusions and candidates") {
  std::mt19937 g(7);
  for (int trial = 0; trial < 200; trial++) {
    const size_t n = 1 + g() % 300, k = g() % 40;
    std::vector<float> s(n);
    for (auto& x : s) x = float(g() % 17);  // many ties: the order falls back to the item id
    std::vector<uint32_t> excl, tg;
    for (size_t j = 0; j < n / 5; j++) excl.push_back(uint32_t(g() % n));
    tg.push_back(uint32_t(g() % n));
    if (!excl.empty()) tg.push_back(excl[0]);  // an excluded target stays ranked
    std::vector<uint8_t> cand;
    if (trial % 2) {
      cand.assign(n, 0);
      for (auto& c : cand) c = g() % 3 != 0;
      for (auto t : tg) cand[t] = 1;
    }
    // reference: every remaining item, stable-sorted by descending score (ties: lower id first)
    std::vector<uint8_t> gone(n, 0);
    for (auto e : excl) gone[e] = 1;
    for (auto t : tg) gone[t] = 0;
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < n; i++)
      if (!gone[i] && (cand.empty() || cand[i])) ids.push_back(i);
    std::stable_sort(ids.begin(), ids.end(), [&](uint32_t a, uint32_t b) { return s[a] > s[b]; });
    ids.resize(std::min(k, ids.size()));
    CAPTURE(trial);
    CHECK(metrics::top_k(s, k, excl, tg, cand) == ids);
  }
}

TEST_CASE("tiled evaluation equals a naive per-case evaluation for every tile size") {
  const data::Split sp = synthetic_split(53, 211, 3);
  HashModel m;
  // naive: each case scored by score(), ranked, accumulated in case order
  metrics::Accumulator acc(sp.n_items, {5, 20}, sp.n_items);
  std::vector<float> sc(sp.n_items);
  for (auto& c : sp.test) {
    m.score(c, sc);
    acc.add(metrics::score_case(sc, c.targets, c.known, {}, {5, 20}));
  }
  const nlohmann::json ref = acc.result();
  for (size_t tile : {size_t(1), size_t(4), size_t(52), size_t(53), size_t(1000), size_t(0)}) {
    baselines::EvalOptions eo;
    eo.ks = {5, 20};
    eo.tile = tile;
    nlohmann::json j = baselines::evaluate(sp, m, eo);
    CAPTURE(tile);
    for (auto it = ref.begin(); it != ref.end(); ++it) CHECK(j.at(it.key()) == it.value());  // bit-equal
  }
  // and a model with only score() (the default score_tile) gives pop's usual numbers at any tile
  auto pop = baselines::make_model("pop", {});
  pop->fit(sp);
  baselines::EvalOptions a, b;
  a.tile = 1;
  b.tile = 8;
  CHECK(baselines::evaluate(sp, *pop, a).dump() == baselines::evaluate(sp, *pop, b).dump());
}

namespace {

// P "ranks" as threads, allreduce_sum over shared memory: returns each rank's result (or error).
std::vector<std::string> run_sharded(const data::Split& sp, const baselines::Model& m, baselines::EvalOptions eo, int P) {
  std::vector<std::vector<double>*> bufs(static_cast<size_t>(P));
  std::barrier sync(P);
  std::vector<std::string> out(static_cast<size_t>(P));
  std::vector<std::thread> th;
  for (int r = 0; r < P; r++)
    th.emplace_back([&, r, eo]() mutable {
      eo.rank = r;
      eo.ranks = P;
      std::vector<double> mine;
      eo.allreduce_sum = [&](double* x, int64_t n) {
        mine.assign(x, x + n);
        bufs[size_t(r)] = &mine;
        sync.arrive_and_wait();
        for (int64_t i = 0; i < n; i++) {
          double s = 0;
          for (int q = 0; q < P; q++) s += (*bufs[size_t(q)])[size_t(i)];
          x[i] = s;
        }
        sync.arrive_and_wait();
      };
      std::string cases;  // on_case's calls, in the order they come
      if (eo.on_case)
        eo.on_case = [&cases](size_t i, const data::EvalCase& c, const metrics::CaseResult& cr) {
          cases += fmt::format("{} {} {:.17g} {:.17g}\n", i, c.user, cr.ndcg[0], cr.mrr);
        };
      try {
        out[size_t(r)] = baselines::evaluate(sp, m, eo).dump() + cases;
      } catch (const std::exception& e) {
        out[size_t(r)] = std::string("error: ") + e.what();
      }
    });
  for (auto& t : th) t.join();
  return out;
}

// scores like HashModel; the case of user `bad` has a NaN score (the ranking throws)
struct NanModel : HashModel {
  uint32_t bad;
  explicit NanModel(uint32_t b) : bad(b) {}
  void score(const data::EvalCase& c, std::span<float> out) const override {
    HashModel::score(c, out);
    if (c.user == bad) out[3] = std::nanf("");
  }
  void score_tile(std::span<const data::EvalCase* const> cs, std::span<float> out) const override {
    const size_t n = out.size() / cs.size();
    for (size_t r = 0; r < cs.size(); r++) score(*cs[r], out.subspan(r * n, n));
  }
};

}  // namespace

TEST_CASE("sharded evaluation (2 and 3 ranks) gives one process's metrics to the last digit, on every rank") {
  const data::Split sp = synthetic_split(53, 211, 4);
  HashModel m;
  baselines::EvalOptions eo;
  eo.ks = {5, 20};
  eo.tile = 4;      // 14 tiles: rounds where some ranks have no tile
  eo.sampled = 30;  // the sampled metrics travel too
  std::string one_cases;  // every rank's on_case calls are one process's: the same cases, order and results
  eo.on_case = [&one_cases](size_t i, const data::EvalCase& c, const metrics::CaseResult& cr) {
    one_cases += fmt::format("{} {} {:.17g} {:.17g}\n", i, c.user, cr.ndcg[0], cr.mrr);
  };
  const std::string one = baselines::evaluate(sp, m, eo).dump() + one_cases;
  CHECK(std::count(one_cases.begin(), one_cases.end(), '\n') == 53);
  for (int P : {2, 3}) {
    const auto got = run_sharded(sp, m, eo, P);
    for (int r = 0; r < P; r++) {
      CAPTURE(P); CAPTURE(r);
      CHECK(got[size_t(r)] == one);
    }
  }
  // a failure on one rank (a NaN score in user 9's case: tile 2, rank 0 of 2) stops every rank
  NanModel bad(9);
  const auto got = run_sharded(sp, bad, eo, 2);
  CHECK(got[0].find("NaN") != std::string::npos);
  CHECK(got[1].find("evaluation failed on rank 0") != std::string::npos);
}

TEST_CASE("eval tile default: 64 MiB of scores, within [16, 1024]") {
  baselines::EvalOptions eo;
  CHECK(baselines::eval_tile(eo, 50000) == 335);  // 67108864 / (4 * 50000) = 335.5
  CHECK(baselines::eval_tile(eo, 1682) == 1024);
  CHECK(baselines::eval_tile(eo, 10000000) == 16);
  eo.tile = 3;
  CHECK(baselines::eval_tile(eo, 50000) == 3);
}

// Runs only when the parent test below starts it (doctest's --no-skip).
TEST_CASE("eval memory child: pop on 200000 users x 50000 items" * doctest::skip()) {
  const data::Split sp = synthetic_split(200000, 50000, 1);
  auto pop = baselines::make_model("pop", {});
  pop->fit(sp);
  baselines::EvalOptions eo;
  eo.ks = {10, 50};
  const nlohmann::json j = baselines::evaluate(sp, *pop, eo);
  CHECK(j["cases"] == 200000);
  if (const char* out = std::getenv("MR_EVAL_CHILD_OUT")) {  // tells the parent it ran
    FILE* f = std::fopen(out, "w");
    REQUIRE(f);
    std::fprintf(f, "%s", j.dump().c_str());
    std::fclose(f);
  }
}

TEST_CASE("evaluation of 200,000 users x 50,000 items peaks under 1 GiB (O(tile x items + cases x K))") {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("skipped under AddressSanitizer: its shadow memory and quarantine make RSS meaningless");
  return;
#else
  // Before tiling and the bounded heap, each case kept an items-sized vector (top_k's id list):
  // 200,000 x 50,000 x 4 bytes = 40 GB. Now: one tile of scores (64 MiB), per-case ranks and top 50.
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  REQUIRE(len > 0);
  exe[len] = 0;
  const std::string out = "/tmp/mr_eval_child_" + std::to_string(getpid()) + ".json";
  std::remove(out.c_str());
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setenv("MR_EVAL_CHILD_OUT", out.c_str(), 1);
    execl(exe, exe, "--test-case=eval memory child*", "--no-skip", "--no-version", "--minimal", (char*)nullptr);
    _exit(127);
  }
  int st = 0;
  struct rusage ru{};
  REQUIRE(wait4(pid, &st, 0, &ru) == pid);
  REQUIRE_MESSAGE(WIFEXITED(st), "the child evaluation was killed");
  REQUIRE(WEXITSTATUS(st) == 0);
  FILE* f = std::fopen(out.c_str(), "r");
  REQUIRE_MESSAGE(f, "the child did not run the evaluation (doctest filter?)");
  std::string body(4096, '\0');
  body.resize(std::fread(body.data(), 1, body.size(), f));
  std::fclose(f);
  std::remove(out.c_str());
  const nlohmann::json j = nlohmann::json::parse(body);
  CHECK(j["cases"] == 200000);
  CHECK(j["recall@10"].get<double>() > 0.0);  // pop finds some targets: the skew makes popular items popular targets
  const double mib = double(ru.ru_maxrss) / 1024.0;
  MESSAGE("peak RSS of the 200,000 x 50,000 evaluation: " << mib << " MiB");
  CHECK(mib < 1024.0);
#endif
}
