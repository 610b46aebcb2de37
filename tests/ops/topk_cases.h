// The ranking ops (kernels/ops.def: topk_merge, topk_count) are no table row (integer outputs,
// no gradient): this case runs them on any backend's table (memory through a runner.h Mem)
// against a reference of its own, independent of kernels/ref: per row, every ranked item of the
// WHOLE row (not removed, a candidate, not NaN) sorted by (score desc, id asc) in double with
// std::sort, and each target's rank and ties counted against that full row. The ops run over
// item tiles of several widths (a running top merged tile by tile, the counts summed), on rows
// with a stride wider than the items; the scores are drawn from a few values (many ties, -0 and
// +0, +-inf), some rows have NaN scores (on a removed item too), K from 1 to more than the
// candidates, rows of 1, 33, 1025 and 5000 items (more than one shared-memory chunk on CUDA).
// Every output must equal the reference exactly (ids, score bits, counts, the NaN item), the
// slots past a row's count stay untouched, the inputs stay bit-identical and every buffer
// keeps its sentinels.
#pragma once
#include <algorithm>
#include <climits>
#include <cmath>
#include <string>

#include "tests/ops/meta_cases.h"

namespace mr::optest {

struct TopkCase {
  std::string name;
  int R = 1, N = 1, K = 1;
  int64_t ld = 1;                              // row stride (>= N; the columns past N are never read as items)
  std::vector<float> s;                        // (R, ld)
  std::vector<std::vector<int32_t>> rm, tg;    // per row: removed items (sorted), targets (ranked items)
  std::vector<int32_t> cand;                   // (N) or empty: every item
};

struct TopkResult {
  std::vector<std::vector<int32_t>> ids;  // per row, best first
  std::vector<std::vector<float>> sc;
  std::vector<int32_t> nan;               // per row: the lowest NaN item, INT_MAX if none
  std::vector<int32_t> tscore_bits, above, ties;  // per target, rows concatenated
};

inline bool topk_ranked(const TopkCase& c, int r, int i) {
  if (!c.cand.empty() && c.cand[size_t(i)] == 0) return false;
  const auto& rm = c.rm[size_t(r)];
  if (std::find(rm.begin(), rm.end(), i) != rm.end()) return false;
  return !std::isnan(c.s[size_t(r * c.ld + i)]);
}

inline int32_t float_bits(float f) {
  int32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// The naive full-row reference.
inline TopkResult topk_naive(const TopkCase& c) {
  TopkResult w;
  for (int r = 0; r < c.R; ++r) {
    std::vector<std::pair<double, int32_t>> all;
    int32_t nan = INT_MAX;
    for (int i = 0; i < c.N; ++i) {
      const float v = c.s[size_t(r * c.ld + i)];
      if (std::isnan(v) && nan == INT_MAX) nan = i;
      if (topk_ranked(c, r, i)) all.emplace_back(double(v), i);
    }
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    w.ids.emplace_back();
    w.sc.emplace_back();
    for (size_t k = 0; k < all.size() && k < size_t(c.K); ++k) {
      w.ids.back().push_back(all[k].second);
      w.sc.back().push_back(float(all[k].first));
    }
    w.nan.push_back(nan);
    for (int32_t t : c.tg[size_t(r)]) {
      const double st = double(c.s[size_t(r * c.ld + t)]);
      int32_t a = 0, e = 0;
      for (auto& [v, i] : all) {
        a += v > st || (v == st && i < t);
        e += v == st && i != t;
      }
      w.tscore_bits.push_back(float_bits(c.s[size_t(r * c.ld + t)]));
      w.above.push_back(a);
      w.ties.push_back(e);
    }
  }
  return w;
}

constexpr int32_t kTopkUnset = -7;  // what the op must leave in a top slot it does not fill

// Runs table k's topk_merge over item tiles of width wt, then topk_count over the same tiles.
inline TopkResult topk_run(const KernelTable& k, Mem& mem, const TopkCase& c, int wt) {
  std::vector<int32_t> rm_off{0}, rm, t_off{0}, tg;
  for (int r = 0; r < c.R; ++r) {
    rm.insert(rm.end(), c.rm[size_t(r)].begin(), c.rm[size_t(r)].end());
    rm_off.push_back(int32_t(rm.size()));
    tg.insert(tg.end(), c.tg[size_t(r)].begin(), c.tg[size_t(r)].end());
    t_off.push_back(int32_t(tg.size()));
  }
  const size_t T = tg.size(), RK = size_t(c.R) * size_t(c.K);
  Typed<float> s(mem, c.s), top_score(mem, std::vector<float>(RK, -3.5f)), tscore(mem, std::vector<float>(T, NAN));
  Typed<int32_t> prm_off(mem, rm_off), prm(mem, rm), pt_off(mem, t_off), ptg(mem, tg), pcand(mem, c.cand);
  Typed<int32_t> top_id(mem, std::vector<int32_t>(RK, kTopkUnset)), top_n(mem, std::vector<int32_t>(size_t(c.R), 0));
  Typed<int32_t> nan(mem, std::vector<int32_t>(size_t(c.R), INT_MAX)), above(mem, std::vector<int32_t>(T, 0)),
      ties(mem, std::vector<int32_t>(T, 0));
  const int32_t* cand = c.cand.empty() ? nullptr : pcand.p();
  for (int c0 = 0; c0 < c.N; c0 += wt)
    k.topk_merge(top_id.p(), top_score.p(), top_n.p(), nan.p(), tscore.p(), s.p() + c0, c.ld, c.R,
                 std::min(wt, c.N - c0), c0, prm_off.p(), prm.p(), cand, pt_off.p(), ptg.p(), c.K);
  for (int c0 = 0; c0 < c.N; c0 += wt)
    k.topk_count(above.p(), ties.p(), s.p() + c0, c.ld, c.R, std::min(wt, c.N - c0), c0, prm_off.p(), prm.p(), cand,
                 pt_off.p(), ptg.p(), tscore.p());
  mem.sync();
  TopkResult g;
  const auto ids = top_id.get(), n = top_n.get();
  const auto sc = top_score.get();
  for (int r = 0; r < c.R; ++r) {
    const int nr = std::clamp(n[size_t(r)], 0, c.K);
    g.ids.emplace_back(ids.begin() + r * c.K, ids.begin() + r * c.K + nr);
    g.sc.emplace_back(sc.begin() + r * c.K, sc.begin() + r * c.K + nr);
    if (n[size_t(r)] != nr) g.ids.back().push_back(INT_MIN);  // a count outside 0..K never matches
    for (int q = nr; q < c.K; ++q)
      if (ids[size_t(r * c.K + q)] != kTopkUnset) g.ids.back().push_back(INT_MIN);  // a slot past the count written
  }
  g.nan = nan.get();
  for (float f : tscore.get()) g.tscore_bits.push_back(float_bits(f));
  g.above = above.get();
  g.ties = ties.get();
  // inputs untouched
  bool same_in = bits_differ(s.get(), c.s) == 0 && prm_off.get() == rm_off && prm.get() == rm &&
                 pt_off.get() == t_off && ptg.get() == tg && pcand.get() == c.cand;
  if (!same_in) g.nan.push_back(INT_MIN);
  return g;
}

// The differences between a result and the reference, in words ("" when equal).
inline std::string topk_diff(const TopkResult& g, const TopkResult& w) {
  std::string d;
  for (size_t r = 0; r < w.ids.size(); ++r) {
    if (r >= g.ids.size() || g.ids[r] != w.ids[r]) d += " ids of row " + std::to_string(r) + ";";
    else if (bits_differ(g.sc[r], w.sc[r])) d += " scores of row " + std::to_string(r) + ";";
  }
  if (g.nan != w.nan) d += " NaN item (or an input changed);";
  if (g.above != w.above) d += " counts above the targets;";
  if (g.ties != w.ties) d += " ties of the targets;";
  if (g.tscore_bits != w.tscore_bits) d += " target scores;";
  return d;
}

inline std::vector<TopkCase> topk_cases() {
  std::vector<TopkCase> cs;
  struct Q { int R, N, K, pad; bool cand; bool nan; };
  for (Q q : {Q{1, 1, 1, 0, false, false}, Q{3, 1, 5, 2, true, false}, Q{4, 33, 5, 0, false, false},
              Q{5, 33, 50, 3, true, false}, Q{3, 33, 33, 1, false, true}, Q{2, 1025, 10, 5, true, false},
              Q{3, 1025, 1, 0, false, true}, Q{2, 1025, 300, 1, false, false}, Q{2, 5000, 50, 0, true, false}}) {
    TopkCase c;
    c.R = q.R, c.N = q.N, c.K = q.K, c.ld = q.N + q.pad;
    c.name = "R=" + std::to_string(q.R) + " N=" + std::to_string(q.N) + " K=" + std::to_string(q.K) +
             " ld=" + std::to_string(c.ld) + (q.cand ? " candidates" : "") + (q.nan ? " NaN" : "");
    std::mt19937_64 rng(uint64_t(q.R * 131 + q.N * 7 + q.K));
    // few distinct values: many ties; -0 and +0 equal; +-inf
    const float vals[] = {0.5f, -0.25f, 0.0f, -0.0f, 1.75f, INFINITY, -INFINITY, 3.0f, -2.0f};
    c.s.resize(size_t(c.R) * size_t(c.ld));
    for (auto& v : c.s) {
      const int u = std::uniform_int_distribution<int>(0, 19)(rng);
      v = u < 9 ? vals[u] : float(std::uniform_int_distribution<int>(-4, 4)(rng)) * 0.125f;
    }
    if (q.cand) {
      c.cand.resize(size_t(c.N));
      for (auto& m : c.cand) m = std::uniform_int_distribution<int>(0, 3)(rng) != 0;
    }
    for (int r = 0; r < c.R; ++r) {
      std::vector<int32_t> rm, tg;
      for (int i = 0; i < c.N; ++i) {
        const int u = std::uniform_int_distribution<int>(0, 9)(rng);
        if (u < 2) rm.push_back(i);
        else if (u == 2 && tg.size() < 4 && (c.cand.empty() || c.cand[size_t(i)]) && !std::isnan(c.s[size_t(r * c.ld + i)]))
          tg.push_back(i);
      }
      if (r % 2 == 1) std::reverse(tg.begin(), tg.end());  // any order of targets
      if (q.nan && r != 1) {
        const int at = std::uniform_int_distribution<int>(0, c.N - 1)(rng);
        if (std::find(tg.begin(), tg.end(), at) == tg.end()) c.s[size_t(r * c.ld + at)] = NAN;
        if (r == 2 && !rm.empty()) c.s[size_t(r * c.ld + rm[0])] = NAN;  // a removed item's NaN still counts
      }
      c.rm.push_back(rm);
      c.tg.push_back(tg);
    }
    // padding columns hold NaN: read as an item, they would show
    for (int r = 0; r < c.R; ++r)
      for (int64_t i = c.N; i < c.ld; ++i) c.s[size_t(r * c.ld + i)] = NAN;
    cs.push_back(c);
  }
  return cs;
}

// Every case, every tile width, against the naive reference.
inline void check_topk_ops(const KernelTable& k, Mem& mem) {
  for (const TopkCase& c : topk_cases()) {
    const TopkResult want = topk_naive(c);
    for (int wt : {c.N, 7, 300}) {
      if ((wt > c.N && wt != c.N) || (wt == 7 && c.N > 2000)) continue;
      INFO(k.name, " topk ", c.name, ", item tiles of ", wt);
      const std::string d = topk_diff(topk_run(k, mem, c, wt), want);
      INFO("differs:", d);
      CHECK(d.empty());
    }
  }
}

}  // namespace mr::optest
