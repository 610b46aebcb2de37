# Communicators for multi-process training (engine/comm, docs/comm.md): module `comm`, unit
# tests in tests/comm, and the multi-rank checks (tools/mpi_test.sh: the unit tests, training
# parity and fault handling under `mpirun -np 2`) as the test binary $(BUILD)/tests/mpi_tests.
# MPI is optional: with mpicxx (HAVE_MPI=1) comm_mpi.cpp is compiled with Open MPI's flags and
# every binary links libmpi; without it comm_mpi.cpp is a stub and only `single` exists.
MODULES   += comm
comm_DIRS := engine/comm
ifeq ($(HAVE_MPI),1)
  MPI_CFLAGS := $(shell mpicxx --showme:compile)
  MPI_LIBS   := $(filter-out -lmpi_cxx,$(shell mpicxx --showme:link))
  $(BUILD)/obj/engine/comm/comm_mpi.o: CXXFLAGS += -DMR_HAVE_MPI $(MPI_CFLAGS)
  LDLIBS += $(MPI_LIBS)
endif

# the multi-rank checks as one "test binary" that run_tests.sh counts like a doctest suite
$(BUILD)/tests/mpi_tests: tools/mpi_test.sh $(BUILD)/tests/comm_tests $(BUILD)/metarec $(if $(filter 1,$(ASAN)),,$(BUILD)/metarec-emu)
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec env METAREC_SETUP=$(SETUP) bash tools/mpi_test.sh $(BUILD) "$$@"\n' > $@
	@chmod +x $@
TEST_BINS += $(BUILD)/tests/mpi_tests

# NCCL backend: compiled by `make cuda` (nvcc, sm_80/sm_90, -Werror) when nccl.h and MPI exist,
# and linked into build/metarec-cuda (NCCL_NV_OBJS; it loads libnccl.so.2 itself, with dlopen, when
# a run asks for it, so the binary needs no NCCL to start). build/metarec-emu gets the same
# source compiled against engine/comm/nccl_emu/nccl.h, a stand-in over MPI (NCCL_EMU_OBJS), so
# that `make test` runs multi-GPU training under the emulator (tools/mpi_test.sh).
ifeq ($(HAVE_NCCL)$(HAVE_MPI),11)
cuda: $(BUILD)/cuda/engine/comm/comm_nccl.o
$(BUILD)/cuda/engine/comm/comm_nccl.o: NVCCFLAGS += $(MPI_CFLAGS)
NCCL_NV_OBJS := $(BUILD)/cuda/engine/comm/comm_nccl.o
NCCL_LIBS    := -ldl
endif
ifeq ($(HAVE_MPI),1)
NCCL_EMU_OBJS := $(BUILD)/emu/engine/comm/comm_nccl.o
$(NCCL_EMU_OBJS): CXXFLAGS += $(MPI_CFLAGS) -Iengine/comm/nccl_emu
-include $(NCCL_EMU_OBJS:.o=.d)
endif

# The NCCL communicator on a GPU: `make test-comm-gpu` builds tests/comm/nccl_gpu.cc against the
# nvcc-built comm_nccl.o, NCCL, cudart and MPI, and runs it as one rank (it links without a GPU;
# it needs one to run). Several GPUs: mpirun -np N $(BUILD)/tests/comm_nccl_tests.
ifeq ($(HAVE_NCCL)$(HAVE_MPI),11)
$(BUILD)/cuda-gpu/tests/comm/nccl_gpu.o: tests/comm/nccl_gpu.cc | setup
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(MPI_CFLAGS) -I$(CUDA_HOME)/include -c $< -o $@
$(BUILD)/tests/comm_nccl_tests: $(BUILD)/cuda-gpu/tests/comm/nccl_gpu.o $(BUILD)/cuda/engine/comm/comm_nccl.o \
                                $(BUILD)/obj/tests/doctest_main.o $(call libs_of,comm $(CORE_LIBS))
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) \
	  -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lnccl -lcudart $(LDLIBS)
-include $(BUILD)/cuda-gpu/tests/comm/nccl_gpu.d
.PHONY: test-comm-gpu
test-comm-gpu: $(BUILD)/tests/comm_nccl_tests
	@bash tools/run_tests.sh $<
endif
