# CUDA backend (issue 6). `make cuda` (Makefile) compiles every kernels/cuda/*.cu with nvcc for
# sm_80 and sm_90 with warnings as errors. Here: the same sources under the SIMT emulator
# (docs/emulator.md) for the kernel regression suite tests/cuda/, run by `make test-kernels`
# (and by `make test`, which runs every suite).
CUDA_EMU_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/emu/%.o)
cuda_LIBS := cuda_emu emu core
$(BUILD)/lib/libmr_cuda_emu.a: $(CUDA_EMU_OBJS)
$(BUILD)/tests/cuda_tests: LDLIBS += -lboost_context
$(BUILD)/obj/tests/cuda/%.o: CXXFLAGS += -Ikernels/emu/include
-include $(CUDA_EMU_OBJS:.o=.d)

.PHONY: test-kernels
test-kernels: $(BUILD)/tests/cuda_tests
	@bash tools/run_tests.sh $<

# The same suite natively on a GPU: kernels compiled by nvcc (the `make cuda` objects), tests
# against the real CUDA runtime (cudart), plus the full-size shapes the emulator skips.
# `make test-kernels-gpu` builds and runs it (it links without a GPU; it needs one to run);
# `metarec test-kernels` runs whichever of the two suites fits the machine.
CUDA_NV_OBJS   := $(CUDA_SRCS:%.cu=$(BUILD)/cuda/%.o)
CUDA_GPU_TOBJS := $(patsubst %.cpp,$(BUILD)/cuda-gpu/%.o,$(wildcard tests/cuda/*.cpp))
$(BUILD)/cuda-gpu/%.o: %.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -I$(CUDA_HOME)/include -c $< -o $@
$(BUILD)/tests/cuda_gpu_tests: $(CUDA_GPU_TOBJS) $(CUDA_NV_OBJS) $(BUILD)/obj/tests/doctest_main.o $(BUILD)/lib/libmr_core.a
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(CUDA_GPU_TOBJS) $(CUDA_NV_OBJS) $(BUILD)/obj/tests/doctest_main.o \
	  $(BUILD)/lib/libmr_core.a -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart $(LDLIBS)
-include $(CUDA_GPU_TOBJS:.o=.d)
.PHONY: test-kernels-gpu
test-kernels-gpu: $(BUILD)/tests/cuda_gpu_tests
	@bash tools/run_tests.sh $<

# ThreadSanitizer mode (docs/emulator.md): the kernels and the op tests instrumented, every CUDA
# thread a TSan fiber, so a missing __syncthreads is reported as a data race whatever the
# thread order. `make test-kernels-tsan` (slow: run on demand, not part of `make test`).
CUDA_TSAN_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/emu-tsan/%.o) $(BUILD)/emu-tsan/tests/cuda/ops_test.o
CUDA_TSAN_RT   := $(patsubst kernels/emu/%.cpp,$(BUILD)/emu-tsan/rt/%.o,$(wildcard kernels/emu/*.cpp))
$(BUILD)/tests/cuda_tsan_tests: $(CUDA_TSAN_OBJS) $(CUDA_TSAN_RT) $(BUILD)/obj/tests/doctest_main.o $(BUILD)/lib/libmr_core.a
	@mkdir -p $(dir $@)
	$(CXX) -fsanitize=thread -fopenmp -o $@ $(CUDA_TSAN_OBJS) $(CUDA_TSAN_RT) $(BUILD)/obj/tests/doctest_main.o \
	  $(BUILD)/lib/libmr_core.a -lboost_context $(LDLIBS)
-include $(CUDA_TSAN_OBJS:.o=.d)
.PHONY: test-kernels-tsan
test-kernels-tsan: $(BUILD)/tests/cuda_tsan_tests
	@bash tools/run_tests.sh $<
