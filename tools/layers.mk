# The layer check (docs/architecture.md): every #include against the layer table, run by
# `make test` as the "test binary" $(BUILD)/tests/layers_tests (tools/check_layers.py --suite).
$(BUILD)/tests/layers_tests: tools/check_layers.py
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\nexec python3 tools/check_layers.py --suite\n' > $@
	@chmod +x $@
TEST_BINS += $(BUILD)/tests/layers_tests
