# Tokenizer module: build rules beyond the Makefile's defaults (see docs/tokenizer.md).
# The test suite needs only the tokenizer library (base/check.h is header-only) and zlib to
# read the gzip fixtures; CI also runs it under ASan+UBSan (make test-asan).
tokenizer_LIBS := tokenizer base
ASAN_SUITES += tokenizer
$(BUILD)/tests/tokenizer_tests: LDLIBS += -lz

# libFuzzer target (clang; not part of `make test`):
#   make fuzz-tokenizer && build/fuzz/tokenizer_fuzz -max_total_time=600 build/fuzz/corpus
# (texts), build/fuzz/tokenizer_load_fuzz (tokenizer.json / vocab.txt / tokenizer_config.json).
FUZZ_CXX ?= clang++
# The BPE / Unigram fixtures (tests/data/tokenizer/hf_*.json.gz) are unpacked into build/fuzz,
# where tokenizer_fuzz picks them up, and seed the loader's corpus (mode byte 0: tokenizer.json).
HF_TOK_FIXTURES := $(wildcard tests/data/tokenizer/hf_*.json.gz)
.PHONY: fuzz-tokenizer
fuzz-tokenizer: build/fuzz/tokenizer_fuzz build/fuzz/tokenizer_load_fuzz $(patsubst tests/data/tokenizer/%.gz,build/fuzz/%,$(HF_TOK_FIXTURES))
build/fuzz/hf_%.json: tests/data/tokenizer/hf_%.json.gz
	@mkdir -p build/fuzz/load_corpus
	gzip -dc $< > $@
	{ printf '\000'; cat $@; } > build/fuzz/load_corpus/seed_$(notdir $@)
build/fuzz/tokenizer_%: fuzz/tokenizer_%.cpp $(wildcard tokenizer/*.cpp tokenizer/*.h tokenizer/*.inc)
	@mkdir -p $(dir $@) build/fuzz/corpus build/fuzz/load_corpus
	$(FUZZ_CXX) -std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(wildcard tokenizer/*.cpp) -lfmt -lutf8proc

# Throughput benchmark against HuggingFace tokenizers: bench/tokenizer.sh (results: bench/tokenizer.md)
$(BUILD)/bench/tokenizer_bench: bench/tokenizer_bench.cpp $(BUILD)/lib/libmr_tokenizer.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/lib/libmr_tokenizer.a -lfmt -lutf8proc
