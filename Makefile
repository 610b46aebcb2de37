# metarec build. `make` builds build/metarec and the libraries; `make test` builds and runs
# every test suite; `make golden` regenerates the PyTorch reference fixtures.
# Options: CUDA=0 (skip nvcc objects), DEBUG=1, ASAN=1 (address + undefined sanitizers),
#          NATIVE=0 (portable code instead of -march=native), SETUP=0 (skip tools/setup.sh).

CXX      ?= g++
NVCC     ?= nvcc
BUILD    ?= build
DEBUG    ?= 0
ASAN     ?= 0
NATIVE   ?= 1
SETUP    ?= 1

# ---------------------------------------------------------------- optional parts
HAVE_NVCC  := $(shell command -v $(NVCC) >/dev/null 2>&1 && echo 1 || echo 0)
CUDA       ?= $(HAVE_NVCC)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
HAVE_CUDNN := $(shell ls /usr/include/cudnn.h /usr/include/*/cudnn.h $(CUDA_HOME)/include/cudnn.h 2>/dev/null | head -1 | grep -q . && echo 1 || echo 0)
HAVE_NCCL  := $(shell ls /usr/include/nccl.h $(CUDA_HOME)/include/nccl.h 2>/dev/null | head -1 | grep -q . && echo 1 || echo 0)
HAVE_MPI   := $(shell command -v mpicxx >/dev/null 2>&1 && echo 1 || echo 0)

# ---------------------------------------------------------------- flags
CXXFLAGS := -std=c++20 -Wall -Wextra -Wno-unused-parameter -Wno-restrict -fopenmp -MMD -MP -I. -fPIC
ifeq ($(DEBUG),1)
  CXXFLAGS += -O0 -g3
  BUILD := $(BUILD)-debug
else
  CXXFLAGS += -O3 -g
endif
ifeq ($(NATIVE),1)
  CXXFLAGS += -march=native
endif
ifeq ($(ASAN),1)
  CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
  BUILD := $(BUILD)-asan
endif
LDFLAGS += -fopenmp
LDLIBS  := -lopenblas -lfmt -lutf8proc -lpthread

# ---------------------------------------------------------------- sources
# Everything under these folders is library code; add a file and it is built.
LIB_DIRS := engine kernels/ref kernels/cpu weights tokenizer
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp))
CLI_SRCS := $(wildcard tools/cli/*.cpp)
TEST_SRCS := $(wildcard tests/*_test.cpp)
CUDA_SRCS := $(wildcard kernels/cuda/*.cu)

# Sub-makefiles (kernels/emu/emu.mk, ...) may append to these lists and add test binaries
# to TEST_BINS; they are read after the defaults below are set.
TEST_BINS :=
EXTRA_LIBS :=
-include $(wildcard */*.mk kernels/*/*.mk)

LIB_OBJS  := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.cpp=$(BUILD)/obj/%.o)
TEST_OBJS := $(TEST_SRCS:%.cpp=$(BUILD)/obj/%.o) $(BUILD)/obj/tests/doctest_main.o
CUDA_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/cuda/%.o)

LIB     := $(BUILD)/libmetarec.a
BIN     := $(BUILD)/metarec
TESTBIN := $(BUILD)/tests/metarec_tests
TEST_BINS += $(TESTBIN)

NVCCFLAGS := -std=c++20 -O3 -I. -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter \
             -Werror all-warnings -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90

.PHONY: all setup test test-only golden clean cuda info bench
all: info $(BIN) $(if $(filter 1,$(CUDA)),cuda)

info:
	@echo "metarec build: CXX=$(CXX) BUILD=$(BUILD) nvcc=$(HAVE_NVCC) (CUDA objects: $(CUDA)) cuDNN=$(HAVE_CUDNN) NCCL=$(HAVE_NCCL) MPI=$(HAVE_MPI)"

setup:
ifeq ($(SETUP),1)
	@bash tools/setup.sh deps
endif

$(BUILD)/obj/%.o: %.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj/tests/doctest_main.o: tests/doctest_main.cc | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJS) $(LIB) $(EXTRA_LIBS)
	$(CXX) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(EXTRA_LIBS) $(LDLIBS)

$(TESTBIN): $(TEST_OBJS) $(LIB) $(EXTRA_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJS) $(LIB) $(EXTRA_LIBS) $(LDLIBS)

# CUDA: every kernels/cuda source compiles with nvcc for sm_80 and sm_90, warnings as errors.
cuda: $(CUDA_OBJS)
$(BUILD)/cuda/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

test: all $(TEST_BINS) $(BIN)
	@bash tools/run_tests.sh $(TEST_BINS)

test-only:
	@bash tools/run_tests.sh $(TEST_BINS)

bench: $(BIN)
	@bash bench/train_step.sh

golden:
	@bash tools/setup.sh golden
	@bash tools/golden/make_all.sh

clean:
	rm -rf build build-debug build-asan build-debug-asan

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d)
