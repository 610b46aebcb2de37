// The emulator's settings from the environment (MR_EMU_ORDER, MR_EMU_THREADS, MR_EMU_STACK_KB).
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "base/check.h"

#ifdef MR_EMU
namespace {
struct EnvScope {  // sets one variable, restores it after
  std::string name, old;
  bool had;
  EnvScope(const char* n, const char* v) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    setenv(n, v, 1);
  }
  ~EnvScope() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
};
}  // namespace

TEST_CASE("emu: MR_EMU_ORDER, MR_EMU_THREADS and MR_EMU_STACK_KB") {
  using mr::emu::Order;
  {
    EnvScope e("MR_EMU_ORDER", "reverse");
    CHECK(mr::emu::config_from_env().order == Order::Reverse);
  }
  {
    EnvScope e("MR_EMU_ORDER", "random:42");
    auto c = mr::emu::config_from_env();
    CHECK(c.order == Order::Random);
    CHECK(c.seed == 42);
  }
  {
    EnvScope e("MR_EMU_ORDER", "forward");
    CHECK(mr::emu::config_from_env().order == Order::Forward);
  }
  {
    EnvScope e("MR_EMU_ORDER", "backwards");
    CHECK_THROWS_WITH_AS(mr::emu::config_from_env(), doctest::Contains("expected forward, reverse, random or random:SEED"),
                         mr::Error);
  }
  {
    EnvScope e("MR_EMU_ORDER", "random:x1");
    CHECK_THROWS_WITH_AS(mr::emu::config_from_env(), doctest::Contains("the seed must be a decimal number"), mr::Error);
  }
  {
    EnvScope e("MR_EMU_THREADS", "4");
    CHECK(mr::emu::config_from_env().workers == 4);
  }
  {
    EnvScope e("MR_EMU_THREADS", "0");
    CHECK_THROWS_AS(mr::emu::config_from_env(), mr::Error);
  }
  {
    EnvScope e("MR_EMU_STACK_KB", "128");
    CHECK(mr::emu::config_from_env().stack_bytes == 128u << 10);
  }
  {
    EnvScope e("MR_EMU_STACK_KB", "32");
    CHECK_THROWS_WITH_AS(mr::emu::config_from_env(), doctest::Contains("at least 64 KiB"), mr::Error);
  }
}
#endif
