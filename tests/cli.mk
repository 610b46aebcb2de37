# The CLI suite (tests/cli): runs $(BIN) as a user would (--help and usage errors of every
# registered subcommand, exit codes; `embed` on a tiny model folder). It links no library; the
# binary is built first.
cli_LIBS :=
$(BUILD)/tests/cli_tests: | $(BIN)
$(BUILD)/obj/tests/cli/%.o: CXXFLAGS += -DMR_METAREC='"$(BIN)"'
