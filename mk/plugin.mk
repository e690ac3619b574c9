# Fluent Bit output plugin (out_nsgflow.so), its C harness and chunk generator.
PLUGIN_SO := $(BIN)/out_nsgflow.so
CC ?= gcc

BUILD_TARGETS += $(PLUGIN_SO) $(BIN)/harness $(BIN)/genchunks
TEST_TARGETS += test-harness
BENCH_TARGETS += bench-plugin

.PHONY: test-harness bench-plugin e2e fuzz-fbpack fuzz-smoke-fbpack

# make fuzz / fuzz-smoke also run the chunk reader's fuzz target. A crasher is
# saved in internal/fbpack/testdata/fuzz/FuzzReader/ and replayed by every go test.
fuzz: fuzz-fbpack
fuzz-smoke: fuzz-smoke-fbpack

fuzz-fbpack:
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) $(FUZZFLAGS) ./internal/fbpack/

fuzz-smoke-fbpack:
	$(MAKE) fuzz-fbpack FUZZTIME=20s

# c-shared needs cgo; the header cgo writes beside the .so is not needed.
$(PLUGIN_SO): FORCE
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -o $@ ./plugin/output
	rm -f $(BIN)/out_nsgflow.h

$(BIN)/harness: test/harness/harness.c
	@mkdir -p $(BIN)
	$(CC) -O2 -Wall -Wextra -o $@ $< -ldl -lpthread

$(BIN)/genchunks: FORCE
	$(GO) build -o $@ ./test/harness/genchunks

# Loads the .so like Fluent Bit's Go proxy, against a local emulator.
test-harness: $(PLUGIN_SO) $(BIN)/harness $(BIN)/genchunks $(BIN)/nsgflow
	test/harness/run.sh test

# Go benchmarks of the chunk reader and the flush pipeline, then events/s
# through the plugin ABI with 1 and 4 flushers, and the Go heap.
bench-plugin: $(PLUGIN_SO) $(BIN)/harness $(BIN)/genchunks $(BIN)/nsgflow
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/fbpack/ ./internal/fbout/
	test/harness/run.sh bench

# A real Fluent Bit 4.x ($FLUENT_BIT_BIN) tailing NDJSON into the plugin, then
# both plugins between Azurite and the emulator (that phase needs make setup);
# skipped when FLUENT_BIT_BIN is unset. Not part of make test.
e2e:
	@if [ -z "$$FLUENT_BIT_BIN" ]; then test/harness/e2e.sh; \
	else $(MAKE) $(PLUGIN_SO) $(BIN)/in_nsgflow.so $(BIN)/genchunks $(BIN)/nsgflow && test/harness/e2e.sh; fi
