# CUDA backend (issue 6). `make cuda` (Makefile) compiles every kernels/cuda/*.cu with nvcc for
# sm_80 and sm_90 with warnings as errors. Here: the same sources under the SIMT emulator
# (docs/emulator.md) for the kernel regression suite tests/cuda/, run by `make test-kernels`
# (and by `make test`, which runs every suite).
CUDA_EMU_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/emu/%.o)
cuda_LIBS := cuda_emu emu $(CORE_LIBS)
# the CUDA backend's registration (engine/backend.h), which TextEncoder and bottom_hidden use
cuda_EXTRA_OBJS := $(BUILD)/obj/tools/backend/cuda_emu.o
# the whole emulated suite also runs under ASan + UBSan in `make test-asan` (65 s on 2 cores)
ASAN_SUITES += cuda
$(BUILD)/lib/libmr_cuda_emu.a: $(CUDA_EMU_OBJS)
$(BUILD)/tests/cuda_tests: LDLIBS += -lboost_context
$(BUILD)/obj/tests/cuda/%.o: CXXFLAGS += -Ikernels/emu/include
-include $(CUDA_EMU_OBJS:.o=.d)

.PHONY: test-kernels
test-kernels: $(BUILD)/tests/cuda_tests
	@bash tools/run_tests.sh $<

# The same suite natively on a GPU: kernels compiled by nvcc (the `make cuda` objects), tests
# against the real CUDA runtime (cudart), plus the op table's full-size `big` rows the emulator skips.
# `make test-kernels-gpu` builds and runs it (it links without a GPU; it needs one to run);
# `metarec test-kernels` runs whichever of the two suites fits the machine.
CUDA_NV_OBJS   := $(CUDA_SRCS:%.cu=$(BUILD)/cuda/%.o)
CUDA_GPU_TOBJS := $(patsubst %.cpp,$(BUILD)/cuda-gpu/%.o,$(wildcard tests/cuda/*.cpp))
$(BUILD)/cuda-gpu/%.o: %.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -I$(CUDA_HOME)/include -c $< -o $@
$(BUILD)/tests/cuda_gpu_tests: $(CUDA_GPU_TOBJS) $(CUDA_NV_OBJS) $(BUILD)/obj/tests/doctest_main.o $(BUILD)/obj/tools/backend/cuda.o \
                               $(call libs_of,$(CORE_LIBS))
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(CUDA_GPU_TOBJS) $(BUILD)/obj/tools/backend/cuda.o $(CUDA_NV_OBJS) $(BUILD)/obj/tests/doctest_main.o \
	  $(call libs_of,$(CORE_LIBS)) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart $(LDLIBS)
-include $(CUDA_GPU_TOBJS:.o=.d)
.PHONY: test-kernels-gpu
test-kernels-gpu: $(BUILD)/tests/cuda_gpu_tests
	@bash tools/run_tests.sh $<

# ThreadSanitizer mode (docs/emulator.md): the kernels and the op table's CUDA runner instrumented, every CUDA
# thread a TSan fiber, so a missing __syncthreads is reported as a data race whatever the
# thread order. `make test-kernels-tsan` (slow: run on demand, not part of `make test`).
CUDA_TSAN_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/emu-tsan/%.o) $(BUILD)/emu-tsan/tests/cuda/ops_table_test.o
CUDA_TSAN_RT   := $(patsubst kernels/emu/%.cpp,$(BUILD)/emu-tsan/rt/%.o,$(wildcard kernels/emu/*.cpp))
$(BUILD)/tests/cuda_tsan_tests: $(CUDA_TSAN_OBJS) $(CUDA_TSAN_RT) $(BUILD)/obj/tests/doctest_main.o $(call libs_of,$(CORE_LIBS))
	@mkdir -p $(dir $@)
	$(CXX) -fsanitize=thread -fopenmp -o $@ $(CUDA_TSAN_OBJS) $(CUDA_TSAN_RT) $(BUILD)/obj/tests/doctest_main.o \
	  $(call libs_of,$(CORE_LIBS)) -lboost_context $(LDLIBS)
-include $(CUDA_TSAN_OBJS:.o=.d)
.PHONY: test-kernels-tsan
test-kernels-tsan: $(BUILD)/tests/cuda_tsan_tests
	@bash tools/run_tests.sh $<

# bench/cuda_bench.cpp (docs/cuda.md, bench/README.md): natively `make bench-gpu-bins` builds
# build/bench/cuda_bench (needs nvcc; runs on a GPU); build/bench/cuda_bench_emu is the same
# program under the emulator, a smoke test at tiny shapes (tests/cuda/bench_smoke_test.cpp).
$(BUILD)/cuda-gpu/bench/cuda_bench.o: bench/cuda_bench.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -I$(CUDA_HOME)/include -c $< -o $@
$(BUILD)/bench/cuda_bench: $(BUILD)/cuda-gpu/bench/cuda_bench.o $(CUDA_NV_OBJS) $(call libs_of,$(CORE_LIBS))
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $< $(CUDA_NV_OBJS) $(call libs_of,$(CORE_LIBS)) \
	  -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart $(LDLIBS)
$(BUILD)/obj/bench/cuda_bench_emu.o: bench/cuda_bench.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(EMU_INCLUDES) -c $< -o $@
$(BUILD)/bench/cuda_bench_emu: $(BUILD)/obj/bench/cuda_bench_emu.o $(call libs_of,cuda_emu emu $(CORE_LIBS))
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $< $(call libs_of,cuda_emu emu $(CORE_LIBS)) -lboost_context $(LDLIBS)
-include $(BUILD)/cuda-gpu/bench/cuda_bench.d $(BUILD)/obj/bench/cuda_bench_emu.d
.PHONY: bench-gpu-bins
bench-gpu-bins: $(BUILD)/bench/cuda_bench $(BUILD)/tests/cuda_gpu_tests
$(BUILD)/tests/cuda_tests: | $(BUILD)/bench/cuda_bench_emu
$(BUILD)/obj/tests/cuda/bench_smoke_test.o: CXXFLAGS += -DMR_CUDA_BENCH='"$(BUILD)/bench/cuda_bench_emu"'

# build/metarec-cuda and build/metarec-emu, the CLI with the CUDA backend: rules in the Makefile
# (they need CLI_OBJS and ALL_LIBS, defined after the fragments).
ifneq ($(ASAN),1)
$(BUILD)/tests/cuda_tests: | $(BUILD)/metarec-emu $(BIN)
$(BUILD)/obj/tests/cuda/cli_cuda_test.o: CXXFLAGS += -DMR_METAREC_EMU='"$(BUILD)/metarec-emu"' -DMR_METAREC='"$(BIN)"'
$(BUILD)/obj/tests/cuda/train_cuda_test.o: CXXFLAGS += -DMR_METAREC_EMU='"$(BUILD)/metarec-emu"' -DMR_METAREC='"$(BIN)"'
endif
