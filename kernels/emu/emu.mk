# SIMT emulator (issue 5): the runtime library (libmr_emu.a), the rule that compiles any CUDA
# source with g++ for the emulator, and the emu test suite. docs/emulator.md shows how another
# suite runs kernels/cuda/*.cu through it.
MODULES     += emu
emu_DIRS    := kernels/emu
ASAN_SUITES += emu

# A .cu compiled by g++ for the emulator: every name nvcc provides comes from the
# force-included kernels/emu/emu.h; <cuda_runtime.h>, <cuda_bf16.h>, ... resolve to the
# stand-ins in kernels/emu/include (host .cpp files that call launchers use EMU_INCLUDES).
# No strict aliasing (kernels pun float4 / half2 / uint32_t as nvcc allows); `#pragma unroll`
# is an nvcc pragma g++ does not know.
EMU_INCLUDES = -Ikernels/emu/include
EMU_CU_FLAGS = -x c++ -include kernels/emu/emu.h $(EMU_INCLUDES) -fno-strict-aliasing -Wno-unknown-pragmas
EMU_LDLIBS   = -lboost_context

# any/path/x.cu -> $(BUILD)/emu/any/path/x.o
$(BUILD)/emu/%.o: %.cu | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(EMU_CU_FLAGS) -c $< -o $@

# $(BUILD)/lib/libmr_<name>_emu.a: an archive of emulator objects; give its objects as
# prerequisites (`$(BUILD)/lib/libmr_foo_emu.a: $(BUILD)/emu/kernels/cuda/foo.o`) and put
# foo_emu in a suite's _LIBS.
$(BUILD)/lib/libmr_%_emu.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# ---- the emu suite: tests/emu/*_test.cpp against the kernels in tests/emu/kernels/*.cu
EMU_TEST_CU   := $(wildcard tests/emu/kernels/*.cu)
EMU_TEST_OBJS := $(EMU_TEST_CU:%.cu=$(BUILD)/emu/%.o)
emu_LIBS      := emu_tests_emu emu base
$(BUILD)/lib/libmr_emu_tests_emu.a: $(EMU_TEST_OBJS)
$(BUILD)/tests/emu_tests: LDLIBS += $(EMU_LDLIBS)
$(BUILD)/obj/tests/emu/%.o: CXXFLAGS += $(EMU_INCLUDES)
-include $(EMU_TEST_OBJS:.o=.d)

# The same test kernels must compile with nvcc (sm_80, sm_90, warnings as errors): checked
# before the suite links whenever CUDA objects are built; `make emu-nvcc-check` on its own.
EMU_NVCC_OBJS := $(EMU_TEST_CU:%.cu=$(BUILD)/emu-nvcc/%.o)
$(BUILD)/emu-nvcc/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@
.PHONY: emu-nvcc-check
emu-nvcc-check: $(EMU_NVCC_OBJS)
ifeq ($(CUDA)$(ASAN),10)
$(BUILD)/tests/emu_tests: | $(EMU_NVCC_OBJS)
endif

# The same suite natively on a GPU (kernels by nvcc, tests against the real runtime; the
# emulator-only cases compile out): `make emu-gpu-tests` builds and runs it.
EMU_GPU_TOBJS := $(patsubst %.cpp,$(BUILD)/emu-gpu/%.o,$(wildcard tests/emu/*.cpp))
$(BUILD)/emu-gpu/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -I$(CUDA_HOME)/include -c $< -o $@
$(BUILD)/tests/emu_gpu_tests: $(EMU_GPU_TOBJS) $(EMU_NVCC_OBJS) $(BUILD)/obj/tests/doctest_main.o
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart $(LDLIBS)
-include $(EMU_GPU_TOBJS:.o=.d)
.PHONY: emu-gpu-tests
emu-gpu-tests: $(BUILD)/tests/emu_gpu_tests
	@bash tools/run_tests.sh $<

# ThreadSanitizer mode: the runtime is built uninstrumented with MR_EMU_TSAN (every CUDA
# thread a TSan fiber, barriers and collectives as happens-before edges), kernels and host
# code with -fsanitize=thread, so a missing __syncthreads is reported as a data race whatever
# the thread order. Rules: $(EMU_TSAN_DIR)/path/x.o from any path/x.cu or path/x.cpp
# (instrumented); link them with $(EMU_TSAN_RT) using -fsanitize=thread. The emu suite's own
# check: tests/emu/tsan_test.cpp runs $(EMU_TSAN_DIR)/race_check (not in ASan builds).
EMU_TSAN_DIR   := $(BUILD)/emu-tsan
EMU_TSAN_FLAGS  = $(filter-out -fsanitize=% -fno-sanitize-recover=% -fopenmp,$(CXXFLAGS))
EMU_TSAN_RT    := $(patsubst kernels/emu/%.cpp,$(EMU_TSAN_DIR)/rt/%.o,$(wildcard kernels/emu/*.cpp))
EMU_TSAN_LIBS   = -lboost_context -lfmt -lpthread
$(EMU_TSAN_DIR)/rt/%.o: kernels/emu/%.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_TSAN_FLAGS) -DMR_EMU_TSAN -c $< -o $@
$(EMU_TSAN_DIR)/%.o: %.cu | setup
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_TSAN_FLAGS) -fsanitize=thread $(EMU_CU_FLAGS) -c $< -o $@
$(EMU_TSAN_DIR)/%.o: %.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_TSAN_FLAGS) -fsanitize=thread $(EMU_INCLUDES) -c $< -o $@
EMU_TSAN_CHECK_OBJS := $(EMU_TEST_CU:%.cu=$(EMU_TSAN_DIR)/%.o) $(EMU_TSAN_DIR)/tests/emu/tsan/race_check.o
$(EMU_TSAN_DIR)/race_check: $(EMU_TSAN_CHECK_OBJS) $(EMU_TSAN_RT)
	$(CXX) -fsanitize=thread -o $@ $^ $(EMU_TSAN_LIBS)
-include $(EMU_TSAN_CHECK_OBJS:.o=.d) $(EMU_TSAN_RT:.o=.d)
.PHONY: emu-tsan
emu-tsan: $(EMU_TSAN_DIR)/race_check
ifneq ($(ASAN),1)
$(BUILD)/tests/emu_tests: | $(EMU_TSAN_DIR)/race_check
$(BUILD)/obj/tests/emu/tsan_test.o: CXXFLAGS += -DMR_EMU_TSAN_CHECK='"$(EMU_TSAN_DIR)/race_check"'
endif

# tools/emu-run: a user's .cu (kernels and a host main) under the emulator, in any thread
# order (docs/emulator.md, "Running your own kernel"). The script names the source
# (EMU_RUN_SRC), its cache key (EMU_RUN_KEY: a hash of the path, the content and the options
# that change the build) and the mode (EMU_RUN_TSAN=1: ThreadSanitizer, as emu-tsan above);
# `make emu-run-build` then compiles and links $(BUILD)/emu-run/KEY/prog, the emulator's
# library or TSan runtime included (it prints the folder first, and "emu-run-built" on a link).
# An edit of the rules, the flags or the script rebuilds the cached programs.
ifdef EMU_RUN_SRC
EMU_RUN_OUT  := $(BUILD)/emu-run/$(EMU_RUN_KEY)
EMU_RUN_DEPS := Makefile kernels/emu/emu.mk tools/emu-run
$(info emu-run-dir: $(EMU_RUN_OUT))
.PHONY: emu-run-build
emu-run-build: $(EMU_RUN_OUT)/prog
ifeq ($(EMU_RUN_TSAN),1)
$(EMU_RUN_OUT)/prog.o: $(EMU_RUN_SRC) $(EMU_RUN_DEPS) | setup
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_TSAN_FLAGS) -fsanitize=thread $(EMU_CU_FLAGS) -c $< -o $@
$(EMU_RUN_OUT)/prog: $(EMU_RUN_OUT)/prog.o $(EMU_TSAN_RT)
	$(CXX) -fsanitize=thread -o $@ $^ $(EMU_TSAN_LIBS)
	@echo emu-run-built
else
$(EMU_RUN_OUT)/prog.o: $(EMU_RUN_SRC) $(EMU_RUN_DEPS) | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(EMU_CU_FLAGS) -c $< -o $@
$(EMU_RUN_OUT)/prog: $(EMU_RUN_OUT)/prog.o $(call lib_of,emu)
	$(CXX) $(LDFLAGS) -o $@ $^ $(EMU_LDLIBS) -lfmt -lpthread
	@echo emu-run-built
endif
-include $(EMU_RUN_OUT)/prog.d
endif

# tools/emu-run's checks (tests/emu/emu_run/emu_run_test.sh) as one "test binary" that
# run_tests.sh counts like a doctest suite. The script calls make itself (for the same BUILD,
# without setup, which this make has done); the library and the TSan runtime are built first.
# Not in ASan builds, as emu-tsan.
ifneq ($(ASAN),1)
EMU_RUN_TEST_MAKEFLAGS := BUILD=$(if $(filter 1,$(DEBUG)),$(BUILD:%-debug=%),$(BUILD)) DEBUG=$(DEBUG) NATIVE=$(NATIVE) SETUP=0
$(BUILD)/tests/emu_run_tests: tests/emu/emu_run/emu_run_test.sh tools/emu-run $(call lib_of,emu) $(EMU_TSAN_RT)
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec env EMU_RUN_MAKEFLAGS="$(EMU_RUN_TEST_MAKEFLAGS)" bash tests/emu/emu_run/emu_run_test.sh "$$@"\n' > $@
	@chmod +x $@
TEST_BINS += $(BUILD)/tests/emu_run_tests
endif
