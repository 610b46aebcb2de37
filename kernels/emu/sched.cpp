// SIMT emulator scheduler: one block at a time per OS thread, every CUDA thread a fiber
// (Boost.Context fcontext on a guarded mmap stack), a central scheduler per block.
// A thread is runnable, at a barrier (call site), at a warp collective (call site, mask) or
// done. The scheduler runs runnable threads in the configured order until they block;
// barriers and collectives are released by their last arriver; when nothing is runnable and
// threads remain, that is a deadlock. Misuse (divergent barriers, masks naming exited or
// absent lanes, shuffles from outside the mask, ...) throws mr::Error naming the kernel,
// block, thread(s) and call site(s).
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/detail/fcontext.hpp>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/check.h"
#include "kernels/emu/emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define MR_EMU_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// ThreadSanitizer mode (make emu-tsan): this file is compiled without instrumentation and with
// MR_EMU_TSAN, the kernels with -fsanitize=thread. Every CUDA thread is a TSan fiber; switching
// between fibers creates no happens-before; __syncthreads and warp collectives do (release
// on arrival, acquire on wake-up), and so do the start and end of a launch. A shared-memory
// access pair not ordered by a barrier is then reported as a data race.
#if defined(MR_EMU_TSAN)
#include <sanitizer/tsan_interface.h>
#define MR_TSAN(...) __VA_ARGS__
#else
#define MR_TSAN(...)
#endif

namespace bctx = boost::context::detail;

namespace mr::emu {
namespace {

enum class St : uint8_t { Runnable, Barrier, Collective, Done };

struct CpCopy {
  void* dst;
  const void* src;
  int bytes, src_bytes;
  long group;  // -1: not committed yet
};

struct Block;

struct Fiber {
  char* map = nullptr;  // guard page + stack
  size_t map_bytes = 0;
  char* stack_lo = nullptr;
  size_t stack_size = 0;
  bctx::fcontext_t fctx = nullptr;
  void* asan_fake = nullptr;
  bool dirty = false;  // abandoned mid-run (ASan: the whole stack must be unpoisoned)
  void* tsan = nullptr;  // TSan fiber context (MR_EMU_TSAN)

  uint3 tid{};
  int linear = 0;
  St state = St::Done;
  Loc loc;  // where it waits
  const CollectiveOp* op = nullptr;
  unsigned mask = 0;
  void* data = nullptr;
  std::vector<CpCopy> cp;
  long cp_next_group = 0;

  Fiber() = default;
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
  ~Fiber() {
    MR_TSAN(if (tsan) __tsan_destroy_fiber(tsan));
    if (map) munmap(map, map_bytes);
  }
};

struct Worker {
  std::vector<std::unique_ptr<Fiber>> fibers;
  bctx::fcontext_t sched_ctx = nullptr;
  void* sched_fake = nullptr;
  const void* sched_bottom = nullptr;
  size_t sched_size = 0;
  Block* block = nullptr;
  Fiber* cur = nullptr;
  void* tsan_sched = nullptr;  // TSan context of the scheduler (the OS thread)
};
thread_local Worker tl_w;
// TSan: the host's work before a block happens before its threads start (g_tsan_start);
// their work happens before the host continues (g_tsan_end). Two objects, so that one thread's
// end does not order it before another thread's start.
MR_TSAN(char g_tsan_start; char g_tsan_end;)

struct Block {
  const KernelCall* call = nullptr;
  uint3 bid{};
  int n = 0, nwarps = 0;
  std::vector<Fiber*> th;
  std::vector<unsigned> present, exited, waiting;  // per warp, one bit per lane
  int at_barrier = 0, bar_kind = 0, bar_acc = 0, bar_result = 0, bar_first = -1;
  Loc bar_loc;
  int done = 0, first_exited = -1;
  unsigned char* smem = nullptr;
  bool failed = false;
  std::string error;
  unsigned bar_epoch = 0;
  MR_TSAN(char tsan_bar[2] = {}; std::vector<char> tsan_warp;)  // TSan sync objects (addresses)
};

std::mutex g_attr_mu;
std::map<const void*, int> g_max_dyn_smem;  // cudaFuncAttributeMaxDynamicSharedMemorySize
constexpr int kDefaultDynSmem = 48 << 10;
constexpr int kMaxDynSmem = 227 << 10;  // sm_90 opt-in limit

std::string site(const Loc& l) {
  const char* f = l.file_name();
  return fmt::format("{}:{}", f ? f : "?", l.line());
}
bool same_site(const Loc& a, const Loc& b) {
  return a.line() == b.line() && a.column() == b.column() && std::strcmp(a.file_name(), b.file_name()) == 0;
}
std::string tid_str(const Block& B, int linear) {
  const dim3& d = B.call->block;
  return fmt::format("({},{},{})", linear % d.x, (linear / d.x) % d.y, linear / (d.x * d.y));
}
std::string prefix(const Block& B) {
  return fmt::format("emu: kernel '{}' (launched at {}) block ({},{},{})", B.call->name, site(B.call->loc), B.bid.x,
                     B.bid.y, B.bid.z);
}
std::string lanes_str(unsigned m) {
  std::string s;
  for (int l = 0; l < 32; ++l)
    if (m & (1u << l)) s += (s.empty() ? "" : ",") + std::to_string(l);
  return s;
}

Worker& worker_in_kernel() {
  Worker& W = tl_w;
  MR_CHECK(W.block && W.cur, "an emulator intrinsic was called outside a kernel launched with LAUNCH");
  return W;
}

[[noreturn]] void fail_here(const std::string& msg) {
  Worker& W = worker_in_kernel();
  throw Error(fmt::format("{} thread {}: {}", prefix(*W.block), tid_str(*W.block, W.cur->linear), msg));
}

// ---------------------------------------------------------------- fiber switching
void yield_to_scheduler(Worker& W, Fiber& f) {
  MR_TSAN(__tsan_switch_to_fiber(W.tsan_sched, __tsan_switch_to_fiber_no_sync));
#ifdef MR_EMU_ASAN
  __sanitizer_start_switch_fiber(&f.asan_fake, W.sched_bottom, W.sched_size);
#endif
  bctx::transfer_t t = bctx::jump_fcontext(W.sched_ctx, nullptr);
#ifdef MR_EMU_ASAN
  __sanitizer_finish_switch_fiber(f.asan_fake, nullptr, nullptr);
#endif
  W.sched_ctx = t.fctx;
}

void retire_cp(Fiber& f, long upto_group, bool all) {
  size_t k = 0;
  for (size_t i = 0; i < f.cp.size(); ++i) {
    CpCopy& c = f.cp[i];
    if (all || (c.group >= 0 && c.group <= upto_group)) {
      if (c.src_bytes > 0) std::memcpy(c.dst, c.src, size_t(c.src_bytes));
      if (c.bytes > c.src_bytes) std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, size_t(c.bytes - c.src_bytes));
    } else {
      f.cp[k++] = c;
    }
  }
  f.cp.resize(k);
}

void thread_exit(Worker& W, Block& B, Fiber& f) {
  retire_cp(f, 0, true);
  f.state = St::Done;
  B.done++;
  if (B.first_exited < 0) B.first_exited = f.linear;
  int w = f.linear >> 5;
  unsigned bit = 1u << (f.linear & 31);
  B.exited[w] |= bit;
  if (B.at_barrier > 0)
    fail_here(fmt::format("exited while {} thread(s) wait at __syncthreads ({}): every thread of a block must reach "
                          "every __syncthreads",
                          B.at_barrier, site(B.bar_loc)));
  for (int l = 0; l < 32; ++l) {
    if (!(B.waiting[w] & (1u << l))) continue;
    Fiber& g = *B.th[w * 32 + l];
    if (g.mask & bit)
      fail_here(fmt::format("exited (lane {} of warp {}) while lane {} waits at {} ({}) with mask {:#010x} naming it",
                            f.linear & 31, w, l, g.op->name, site(g.loc), g.mask));
  }
}

void fiber_main(bctx::transfer_t t) {
  Fiber* f = static_cast<Fiber*>(t.data);
  Worker& W = tl_w;
  W.sched_ctx = t.fctx;
#ifdef MR_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &W.sched_bottom, &W.sched_size);
#endif
  Block& B = *W.block;
  MR_TSAN(__tsan_acquire(&g_tsan_start));
  try {
    B.call->thunk(B.call->pack);
    thread_exit(W, B, *f);
  } catch (const std::exception& e) {
    if (!B.failed) B.error = e.what();
    B.failed = true;
  } catch (...) {
    if (!B.failed) B.error = prefix(B) + ": unknown exception in a kernel thread";
    B.failed = true;
  }
  f->state = St::Done;
  MR_TSAN(__tsan_release(&g_tsan_end));
  MR_TSAN(__tsan_switch_to_fiber(W.tsan_sched, __tsan_switch_to_fiber_no_sync));
#ifdef MR_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, W.sched_bottom, W.sched_size);
#endif
  bctx::jump_fcontext(W.sched_ctx, nullptr);
  __builtin_unreachable();
}

void resume(Worker& W, Fiber& f) {
  tl_thread_idx = f.tid;
  W.cur = &f;
  MR_TSAN(__tsan_switch_to_fiber(f.tsan, __tsan_switch_to_fiber_no_sync));
#ifdef MR_EMU_ASAN
  __sanitizer_start_switch_fiber(&W.sched_fake, f.stack_lo, f.stack_size);
#endif
  bctx::transfer_t t = bctx::jump_fcontext(f.fctx, &f);
#ifdef MR_EMU_ASAN
  __sanitizer_finish_switch_fiber(W.sched_fake, nullptr, nullptr);
#endif
  f.fctx = t.fctx;
  W.cur = nullptr;
}

void ensure_fibers(Worker& W, int n, size_t stack_bytes) {
  static const size_t page = size_t(sysconf(_SC_PAGESIZE));
  size_t sz = (std::max<size_t>(stack_bytes, 64 << 10) + page - 1) / page * page;
  if (W.fibers.size() < size_t(n)) W.fibers.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    auto& f = W.fibers[size_t(i)];
    if (f && f->stack_size >= sz) continue;
    f = std::make_unique<Fiber>();
    f->map_bytes = sz + page;
    void* m = mmap(nullptr, f->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    MR_CHECK(m != MAP_FAILED, "emu: cannot map a {}-byte fiber stack", f->map_bytes);
    f->map = static_cast<char*>(m);
    MR_CHECK(mprotect(f->map, page, PROT_NONE) == 0, "emu: cannot protect a fiber stack guard page");
    f->stack_lo = f->map + page;
    f->stack_size = sz;
    MR_TSAN(f->tsan = __tsan_create_fiber(0));
  }
}

std::string deadlock_message(const Block& B) {
  struct Group {
    St st;
    Loc loc;
    const CollectiveOp* op;
    unsigned mask;
    int count;
    std::string first;
  };
  std::vector<Group> groups;
  for (const Fiber* f : B.th) {
    if (f->state == St::Done) continue;
    bool found = false;
    for (Group& g : groups)
      if (g.st == f->state && same_site(g.loc, f->loc) && (f->state == St::Barrier || (g.op == f->op && g.mask == f->mask))) {
        g.count++;
        found = true;
        break;
      }
    if (!found) groups.push_back({f->state, f->loc, f->op, f->mask, 1, tid_str(B, f->linear)});
  }
  std::string msg = prefix(B) + ": deadlock: no thread can make progress;";
  for (const Group& g : groups) {
    if (g.st == St::Barrier)
      msg += fmt::format(" {} thread(s) (first {}) wait at __syncthreads ({});", g.count, g.first, site(g.loc));
    else
      msg += fmt::format(" {} thread(s) (first {}) wait at {} ({}) with mask {:#010x};", g.count, g.first, g.op->name,
                         site(g.loc), g.mask);
  }
  // Name, for each waiting warp collective, the first lane it waits for and where that lane is.
  for (const Fiber* f : B.th) {
    if (f->state != St::Collective) continue;
    int w = f->linear >> 5;
    for (int l = 0; l < 32; ++l) {
      if (!(f->mask & (1u << l))) continue;
      const Fiber& g = *B.th[size_t(w * 32 + l)];
      if (g.state == St::Collective && g.op == f->op && g.mask == f->mask) continue;
      std::string where = g.state == St::Barrier ? fmt::format("at __syncthreads ({})", site(g.loc))
                          : g.state == St::Collective
                              ? fmt::format("at {} ({}) with mask {:#010x}", g.op->name, site(g.loc), g.mask)
                              : std::string("runnable");
      msg += fmt::format(" {} at {} ({}) waits for lane {} (thread {}), which is {}", f->op->name, site(f->loc),
                         tid_str(B, f->linear), l, tid_str(B, g.linear), where);
      return msg;
    }
  }
  return msg;
}

void run_block(Worker& W, Block& B, const Config& cfg) {
  const dim3& bd = B.call->block;
  B.n = int(bd.x * bd.y * bd.z);
  B.nwarps = (B.n + 31) / 32;
  ensure_fibers(W, B.n, cfg.stack_bytes);
  B.th.resize(size_t(B.n));
  B.present.assign(size_t(B.nwarps), 0);
  B.exited.assign(size_t(B.nwarps), 0);
  B.waiting.assign(size_t(B.nwarps), 0);
  MR_TSAN(B.tsan_warp.assign(size_t(B.nwarps), 0));
  for (int i = 0; i < B.n; ++i) {
    Fiber& f = *W.fibers[size_t(i)];
    f.linear = i;
    f.tid = {unsigned(i) % bd.x, (unsigned(i) / bd.x) % bd.y, unsigned(i) / (bd.x * bd.y)};
    f.state = St::Runnable;
    f.op = nullptr;
    f.mask = 0;
    f.cp.clear();
    f.cp_next_group = 0;
#ifdef MR_EMU_ASAN
    // A finished fiber leaves its entry frame poisoned near the top; an abandoned one anywhere.
    size_t clean = f.dirty ? f.stack_size : std::min<size_t>(f.stack_size, 32 << 10);
    __asan_unpoison_memory_region(f.stack_lo + f.stack_size - clean, clean);
#endif
    f.dirty = true;  // until it finishes
#ifdef MR_EMU_TSAN
    char name[64];  // how the thread appears in race reports
    std::snprintf(name, sizeof name, "%s b(%u,%u,%u) t(%u,%u,%u)", B.call->name, B.bid.x, B.bid.y, B.bid.z, f.tid.x,
                  f.tid.y, f.tid.z);
    __tsan_set_fiber_name(f.tsan, name);
#endif
    f.fctx = bctx::make_fcontext(f.stack_lo + f.stack_size, f.stack_size, fiber_main);
    B.th[size_t(i)] = &f;
    B.present[size_t(i >> 5)] |= 1u << (i & 31);
  }
  std::vector<int> order(size_t(B.n));
  for (int i = 0; i < B.n; ++i) order[size_t(i)] = cfg.order == Order::Reverse ? B.n - 1 - i : i;
  std::mt19937_64 rng(cfg.seed * 0x9E3779B97F4A7C15ull + (uint64_t(B.bid.z) << 42) + (uint64_t(B.bid.y) << 21) + B.bid.x);
  for (;;) {
    if (cfg.order == Order::Random) std::shuffle(order.begin(), order.end(), rng);
    bool ran = false;
    for (int i : order) {
      Fiber& f = *B.th[size_t(i)];
      if (f.state != St::Runnable) continue;
      resume(W, f);
      if (f.state == St::Done && !B.failed) f.dirty = false;
      ran = true;
      if (B.failed) throw Error(B.error);
    }
    if (B.done == B.n) break;
    if (!ran) throw Error(deadlock_message(B));
  }
}

// ---------------------------------------------------------------- crash context
// A crash inside a kernel (segfault, fiber stack overflow into the guard page, or an ASan
// report) prints which kernel, block and thread was running before the process dies.
void print_crash_context(const char* why) {
  Worker& W = tl_w;
  if (!W.block || !W.cur) return;
  const Block& B = *W.block;
  const Fiber& f = *W.cur;
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, "emu: %s in kernel '%s' (launched at %s:%u) block (%u,%u,%u) thread (%u,%u,%u)\n",
                        why, B.call->name, B.call->loc.file_name(), unsigned(B.call->loc.line()), B.bid.x, B.bid.y,
                        B.bid.z, f.tid.x, f.tid.y, f.tid.z);
  if (n > 0) (void)!write(2, buf, size_t(std::min(n, int(sizeof buf) - 1)));
}

void on_segv(int sig, siginfo_t* info, void*) {
  Worker& W = tl_w;
  const char* why = "segmentation fault";
  if (W.cur && info) {
    auto* a = static_cast<char*>(info->si_addr);
    if (a >= W.cur->map && a < W.cur->stack_lo) why = "fiber stack overflow (raise MR_EMU_STACK_KB)";
  }
  print_crash_context(why);
  signal(sig, SIG_DFL);  // returning re-runs the faulting access under the default action
}

// The SIGSEGV handler runs on an alternate stack (a fiber that overflowed its own cannot host
// it), installed per OS thread unless the thread already has one (ASan installs its own).
struct AltStack {
  std::vector<char> mem;
  bool ours = false;
  AltStack() {
    stack_t old{};
    if (sigaltstack(nullptr, &old) != 0 || !(old.ss_flags & SS_DISABLE)) return;
    mem.resize(size_t(64) << 10);
    stack_t ss{};
    ss.ss_sp = mem.data();
    ss.ss_size = mem.size();
    ours = sigaltstack(&ss, nullptr) == 0;
  }
  ~AltStack() {
    if (!ours) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
  }
};

void install_crash_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef MR_EMU_ASAN
    __sanitizer_set_death_callback([] { print_crash_context("sanitizer report"); });
#else
    struct sigaction old {};
    if (sigaction(SIGSEGV, nullptr, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
      struct sigaction sa {};
      sa.sa_sigaction = on_segv;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
      sigemptyset(&sa.sa_mask);
      sigaction(SIGSEGV, &sa, nullptr);
      sigaction(SIGBUS, &sa, nullptr);
    }
#endif
  });
#ifndef MR_EMU_ASAN
  static thread_local AltStack alt;
  (void)alt;
#endif
}

struct BlockScope {  // resets the worker after a block, also when it throws
  Worker& W;
  Block& B;
  ~BlockScope() {
    W.block = nullptr;
    W.cur = nullptr;
    MR_TSAN(__tsan_acquire(&g_tsan_end));  // the block's threads are done with its memory
    if (B.smem) ::operator delete(B.smem, std::align_val_t(16));
    B.smem = nullptr;
  }
};

void run_blocks(const KernelCall& call, const Config& cfg, const std::vector<uint3>& blocks, std::atomic<size_t>& next,
                std::atomic<bool>& stop) {
  Worker& W = tl_w;
  install_crash_handlers();
  MR_TSAN(W.tsan_sched = __tsan_get_current_fiber());
  tl_block_dim = call.block;
  tl_grid_dim = call.grid;
  for (;;) {
    size_t k = next.fetch_add(1);
    if (k >= blocks.size() || stop.load()) return;
    Block B;
    B.call = &call;
    B.bid = blocks[k];
    BlockScope scope{W, B};
    B.smem = static_cast<unsigned char*>(::operator new(std::max<size_t>(call.smem, 1), std::align_val_t(16)));
    std::memset(B.smem, 0xff, std::max<size_t>(call.smem, 1));  // NaN in float, half and bf16
    W.block = &B;
    tl_block_idx = B.bid;
    MR_TSAN(__tsan_release(&g_tsan_start));  // the poisoning above happens before the threads
    run_block(W, B, cfg);
  }
}

}  // namespace

// ---------------------------------------------------------------- configuration
Config config_from_env() {
  Config c;
  if (const char* o = std::getenv("MR_EMU_ORDER"); o && *o) {
    std::string s(o);
    if (s == "forward") c.order = Order::Forward;
    else if (s == "reverse") c.order = Order::Reverse;
    else if (s == "random") c.order = Order::Random;
    else if (s.rfind("random:", 0) == 0) {
      c.order = Order::Random;
      char* end = nullptr;
      c.seed = std::strtoull(s.c_str() + 7, &end, 10);
      MR_CHECK(end && *end == 0 && s.size() > 7, "MR_EMU_ORDER={}: the seed must be a decimal number", s);
    } else {
      MR_CHECK(false, "MR_EMU_ORDER={}: expected forward, reverse, random or random:SEED", s);
    }
  }
  if (const char* t = std::getenv("MR_EMU_THREADS"); t && *t) {
    c.workers = std::atoi(t);
    MR_CHECK(c.workers >= 1 && c.workers <= 1024, "MR_EMU_THREADS={}: expected 1..1024", t);
  }
  if (const char* k = std::getenv("MR_EMU_STACK_KB"); k && *k) {
    long kb = std::atol(k);
    MR_CHECK(kb >= 64, "MR_EMU_STACK_KB={}: fiber stacks are at least 64 KiB", k);
    c.stack_bytes = size_t(kb) << 10;
  }
  return c;
}

Config& config() {
  static Config c = config_from_env();
  return c;
}

cudaError_t func_set_attribute(const void* fn, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || value > kMaxDynSmem) return cudaErrorInvalidValue;
    std::lock_guard<std::mutex> lk(g_attr_mu);
    g_max_dyn_smem[fn] = value;
  }
  return cudaSuccess;
}

// ---------------------------------------------------------------- launch
void launch(const KernelCall& call) {
  MR_CHECK(tl_w.block == nullptr, "emu: kernel '{}' launched from inside a kernel (dynamic parallelism is not emulated)",
           call.name);
  const dim3 &g = call.grid, &b = call.block;
  uint64_t nthreads = uint64_t(b.x) * b.y * b.z;
  if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 || nthreads > 1024 || g.x == 0 ||
      g.y == 0 || g.z == 0 || g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
    set_last_error(cudaErrorInvalidConfiguration);
    return;
  }
  int limit = kDefaultDynSmem;
  {
    std::lock_guard<std::mutex> lk(g_attr_mu);
    auto it = g_max_dyn_smem.find(call.key);
    if (it != g_max_dyn_smem.end()) limit = it->second;
  }
  if (call.smem > size_t(limit)) {
    set_last_error(cudaErrorInvalidValue);
    return;
  }
  const Config cfg = config();
  std::vector<uint3> blocks;
  blocks.reserve(size_t(g.x) * g.y * g.z);
  for (unsigned z = 0; z < g.z; ++z)
    for (unsigned y = 0; y < g.y; ++y)
      for (unsigned x = 0; x < g.x; ++x) blocks.push_back({x, y, z});
  if (cfg.order == Order::Reverse) std::reverse(blocks.begin(), blocks.end());
  if (cfg.order == Order::Random) {
    std::mt19937_64 rng(cfg.seed);
    std::shuffle(blocks.begin(), blocks.end(), rng);
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  int nw = int(std::min<size_t>(size_t(cfg.workers), blocks.size()));
  MR_TSAN(__tsan_release(&g_tsan_start));
  if (nw <= 1) {
    run_blocks(call, cfg, blocks, next, stop);
    MR_TSAN(__tsan_acquire(&g_tsan_end));
    return;
  }
  std::exception_ptr first;
  std::mutex mu;
  std::vector<std::thread> pool;
  for (int i = 0; i < nw; ++i)
    pool.emplace_back([&] {
      try {
        run_blocks(call, cfg, blocks, next, stop);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu);
        if (!first) first = std::current_exception();
        stop = true;
      }
    });
  for (auto& t : pool) t.join();
  MR_TSAN(__tsan_acquire(&g_tsan_end));
  if (first) std::rethrow_exception(first);
}

// ---------------------------------------------------------------- block and warp primitives
[[noreturn]] void fail(const char* what) { fail_here(what); }

unsigned lane_id() { return unsigned(worker_in_kernel().cur->linear & 31); }

unsigned active_mask() {
  Worker& W = worker_in_kernel();
  int w = W.cur->linear >> 5;
  return W.block->present[size_t(w)] & ~W.block->exited[size_t(w)];
}

unsigned char* dynamic_smem() { return worker_in_kernel().block->smem; }

int barrier(int kind, int pred, const Loc& loc) {
  Worker& W = worker_in_kernel();
  Block& B = *W.block;
  Fiber& f = *W.cur;
  if (B.first_exited >= 0)
    fail_here(fmt::format("reached __syncthreads ({}) after thread {} exited: every thread of a block must reach every "
                          "__syncthreads",
                          site(loc), tid_str(B, B.first_exited)));
  if (B.at_barrier == 0) {
    B.bar_loc = loc;
    B.bar_kind = kind;
    B.bar_acc = kind == kBarAnd ? 1 : 0;
    B.bar_first = f.linear;
  } else if (!same_site(B.bar_loc, loc) || B.bar_kind != kind) {
    fail_here(fmt::format("threads at different __syncthreads calls: thread {} waits at {}, thread {} arrived at {}",
                          tid_str(B, B.bar_first), site(B.bar_loc), tid_str(B, f.linear), site(loc)));
  }
  if (kind == kBarCount) B.bar_acc += pred;
  else if (kind == kBarAnd) B.bar_acc &= pred;
  else if (kind == kBarOr) B.bar_acc |= pred;
  f.state = St::Barrier;
  f.loc = loc;
  MR_TSAN(char* sync = &B.tsan_bar[B.bar_epoch & 1]; __tsan_release(sync));  // one object per epoch parity
  if (++B.at_barrier == B.n) {
    B.bar_result = B.bar_acc;
    B.at_barrier = 0;
    B.bar_epoch++;
    for (Fiber* t : B.th) t->state = St::Runnable;
  }
  yield_to_scheduler(W, f);
  MR_TSAN(__tsan_acquire(sync));
  return B.bar_result;
}

void collective(const CollectiveOp& op, unsigned mask, void* data, const Loc& loc) {
  Worker& W = worker_in_kernel();
  Block& B = *W.block;
  Fiber& f = *W.cur;
  int w = f.linear >> 5, lane = f.linear & 31;
  unsigned bit = 1u << lane;
  if (!(mask & bit))
    fail_here(fmt::format("{} ({}): mask {:#010x} does not name the calling lane {}", op.name, site(loc), mask, lane));
  if (unsigned absent = mask & ~B.present[size_t(w)])
    fail_here(fmt::format("{} ({}): mask {:#010x} names lane(s) {} of warp {}, which do not exist (the block has {} "
                          "threads)",
                          op.name, site(loc), mask, lanes_str(absent), w, B.n));
  if (unsigned gone = mask & B.exited[size_t(w)])
    fail_here(fmt::format("{} ({}): mask {:#010x} names lane(s) {} of warp {}, which have already exited", op.name,
                          site(loc), mask, lanes_str(gone), w));
  f.state = St::Collective;
  f.op = &op;
  f.mask = mask;
  f.data = data;
  f.loc = loc;
  MR_TSAN(__tsan_release(&B.tsan_warp[size_t(w)]));
  B.waiting[size_t(w)] |= bit;
  if ((B.waiting[size_t(w)] & mask) == mask) {
    bool ready = true;
    for (int l = 0; l < 32 && ready; ++l)
      if (mask & (1u << l)) {
        const Fiber& g = *B.th[size_t(w * 32 + l)];
        ready = g.op == &op && g.mask == mask;
      }
    if (ready) {
      void* slots[32] = {};
      for (int l = 0; l < 32; ++l)
        if (mask & (1u << l)) {
          const Fiber& g = *B.th[size_t(w * 32 + l)];
          if (!op.any_site && !same_site(g.loc, loc))
            fail_here(fmt::format("lanes of warp {} at different {} calls: lane {} at {}, lane {} at {}", w, op.name, l,
                                  site(g.loc), lane, site(loc)));
          slots[l] = g.data;
        }
      op.resolve(slots, mask);
      for (int l = 0; l < 32; ++l)
        if (mask & (1u << l)) B.th[size_t(w * 32 + l)]->state = St::Runnable;
      B.waiting[size_t(w)] &= ~mask;
    }
  }
  yield_to_scheduler(W, f);
  MR_TSAN(__tsan_acquire(&B.tsan_warp[size_t(w)]));
}

// ---------------------------------------------------------------- shuffles, votes, syncwarp
namespace {
struct ShflSlot {
  uint64_t val;
  int kind, arg, width;
  uint64_t out;
};
void resolve_shfl(void* const* slots, unsigned mask) {
  for (int l = 0; l < 32; ++l) {
    if (!(mask & (1u << l))) continue;
    auto* s = static_cast<ShflSlot*>(slots[l]);
    int w = s->width;
    if (w < 1 || w > 32 || (w & (w - 1)))
      fail_here(fmt::format("shuffle width {} (lane {}) is not a power of two in 1..32", w, l));
    int base = l & ~(w - 1), src = l;
    switch (s->kind) {
      case kShflIdx: src = base + (s->arg & (w - 1)); break;
      case kShflUp: src = (l - base) - s->arg >= 0 ? l - s->arg : l; break;
      case kShflDown: src = (l - base) + s->arg < w ? l + s->arg : l; break;
      case kShflXor: {
        int x = l ^ s->arg;
        src = (x >= 0 && x < base + w) ? x : l;  // later groups are out of reach: own value
        break;
      }
    }
    if (!(mask & (1u << src)))
      fail_here(fmt::format("shuffle from outside the mask: lane {} reads lane {}, which mask {:#010x} does not name",
                            l, src, mask));
    s->out = static_cast<ShflSlot*>(slots[src])->val;
  }
}
const CollectiveOp kShflOps[4] = {{"__shfl_sync", false, resolve_shfl},
                                  {"__shfl_up_sync", false, resolve_shfl},
                                  {"__shfl_down_sync", false, resolve_shfl},
                                  {"__shfl_xor_sync", false, resolve_shfl}};

struct VoteSlot {
  int pred;
  unsigned out;
};
void resolve_ballot(void* const* slots, unsigned mask) {
  unsigned b = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask & (1u << l)) && static_cast<VoteSlot*>(slots[l])->pred) b |= 1u << l;
  for (int l = 0; l < 32; ++l)
    if (mask & (1u << l)) static_cast<VoteSlot*>(slots[l])->out = b;
}
const CollectiveOp kVoteOps[3] = {{"__ballot_sync", false, resolve_ballot},
                                  {"__any_sync", false, resolve_ballot},
                                  {"__all_sync", false, resolve_ballot}};
void resolve_nothing(void* const*, unsigned) {}
const CollectiveOp kSyncwarpOp = {"__syncwarp", true, resolve_nothing};
}  // namespace

uint64_t shfl(int kind, unsigned mask, uint64_t val, int arg, int width, const Loc& loc) {
  ShflSlot s{val, kind, arg, width, 0};
  collective(kShflOps[kind & 3], mask, &s, loc);
  return s.out;
}

unsigned vote(int kind, unsigned mask, int pred, const Loc& loc) {
  VoteSlot s{pred != 0, 0};
  collective(kVoteOps[kind], mask, &s, loc);
  if (kind == 0) return s.out;
  if (kind == 1) return s.out != 0;
  return s.out == mask;
}

void syncwarp(unsigned mask, const Loc& loc) { collective(kSyncwarpOp, mask, nullptr, loc); }

// ---------------------------------------------------------------- cp.async
void cp_async(void* dst, const void* src, int bytes, int src_bytes, const Loc& loc) {
  Worker& W = worker_in_kernel();
  if (bytes != 4 && bytes != 8 && bytes != 16)
    fail_here(fmt::format("cp.async ({}): size {} is not 4, 8 or 16 bytes", site(loc), bytes));
  if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) % uintptr_t(bytes))
    fail_here(fmt::format("cp.async ({}): addresses {} and {} are not {}-byte aligned", site(loc), dst, src, bytes));
  if (src_bytes < 0 || src_bytes > bytes)
    fail_here(fmt::format("cp.async ({}): src-size {} outside 0..{}", site(loc), src_bytes, bytes));
  W.cur->cp.push_back({dst, src, bytes, src_bytes, -1});
}

void cp_async_commit() {
  Fiber& f = *worker_in_kernel().cur;
  for (CpCopy& c : f.cp)
    if (c.group < 0) c.group = f.cp_next_group;
  f.cp_next_group++;
}

void cp_async_wait(int n_pending) {
  Fiber& f = *worker_in_kernel().cur;
  retire_cp(f, f.cp_next_group - 1 - n_pending, false);
}

}  // namespace mr::emu
