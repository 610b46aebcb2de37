# Recommendation data (readers, splits, prepared datasets), metrics and baselines: module `data`.
MODULES       += data
data_DIRS     := engine/data engine/metrics engine/baselines
recdata_LIBS  := data $(CORE_LIBS)
ASAN_SUITES   += recdata
