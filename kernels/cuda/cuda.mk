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
