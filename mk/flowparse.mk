# flowparse: fuzzing, benchmarks and the generated schema doc. The unit tests
# run in test-go with everything else; bench-go (Makefile) runs the benchmarks.
FLOWPARSE_FUZZ := FuzzBlob FuzzRange FuzzRecord
# Extra flags for go test -fuzz, e.g. FUZZFLAGS=-parallel=1 on a busy machine.
FUZZFLAGS ?=
# Effort spent minimising each new interesting input (runs). Go's default, 60s,
# stalls the workers for most of a short run on inputs as large as the samples.
FUZZMINIMIZE ?= 100x

.PHONY: fuzz-flowparse fuzz-smoke fuzz-smoke-flowparse bench-flowparse-profile docs-schema

# make fuzz: each flowparse target for $(FUZZTIME), one after the other. A
# crasher is saved in internal/flowparse/testdata/fuzz/<target>/ and then replayed by
# every plain go test run.
fuzz: fuzz-flowparse
fuzz-smoke: fuzz-smoke-flowparse

# Go 1.26's fuzz coordinator can fail a run at the -fuzztime deadline with a
# bare "context deadline exceeded" and no crasher when the machine is loaded
# (go.dev/issue/75804, fixed in Go 1.27): that alone is reported, not failed.
fuzz-flowparse:
	@set -o pipefail; mkdir -p $(BIN); for t in $(FLOWPARSE_FUZZ); do \
		echo "== $$t for $(FUZZTIME)"; \
		log=$(BIN)/fuzz-$$t.log; \
		before=$$(ls internal/flowparse/testdata/fuzz/$$t 2>/dev/null); \
		if $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $(FUZZFLAGS) ./internal/flowparse/ 2>&1 | tee $$log; \
			then :; elif [ "$$before" = "$$(ls internal/flowparse/testdata/fuzz/$$t 2>/dev/null)" ] && \
				grep -q '^    context deadline exceeded$$' $$log && ! grep -q 'Failing input written' $$log; then \
			echo "== $$t: stopped by Go's fuzz deadline race (go.dev/issue/75804), no crasher: not a finding"; \
		else exit 1; fi; \
	done

fuzz-smoke-flowparse:
	$(MAKE) fuzz-flowparse FUZZTIME=20s

# CPU profile of parse+expand+encode on generated data; prints the top.
bench-flowparse-profile:
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench 'BenchmarkParseEncode' -benchmem -cpu 1 -cpuprofile $(BIN)/flowparse.cpu.prof -o $(BIN)/flowparse.test ./internal/flowparse/
	$(GO) tool pprof -top -nodecount 25 $(BIN)/flowparse.test $(BIN)/flowparse.cpu.prof

# Rewrite the generated column tables of docs/schema.md from the schemas.
docs-schema:
	$(GO) test -count=1 -run TestSchemaDoc ./internal/flowparse/ -update
