# The op test table (tests/ops/README.md): its CPU runner, the suite `ops`, in `make test` and
# under ASan + UBSan in `make test-asan` (7.6 s there on 2026-12-07; 5.7 s without). The CUDA
# runner is tests/cuda/ops_table_test.cpp, in the cuda suite (kernels/cuda/cuda.mk).
ops_LIBS := $(CORE_LIBS)
ASAN_SUITES += ops
