# Local Log Analytics emulator (package emulator, `nsgflow emulator`). Its
# tests run under test-go; this adds its benchmark and a foreground run.
BENCH_TARGETS += bench-emulator
DEMO_DIR ?= .demo
EMULATOR_ADDR ?= 127.0.0.1:8088

.PHONY: bench-emulator emulator

# Rows/s ingested over loopback (Logs Ingestion plain and gzip, Data
# Collector) and the per-row hot path alone. Figures: docs/benchmarks.md.
bench-emulator:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/emulator/

# Serve in the foreground until Ctrl-C with a random bearer token and shared
# key written to $(DEMO_DIR) (mode 600); rows go to $(DEMO_DIR)/emulator.ndjson.
emulator: $(BIN)/nsgflow
	@mkdir -p $(DEMO_DIR)
	@umask 077; [ -s $(DEMO_DIR)/emulator.token ] || head -c 24 /dev/urandom | base64 > $(DEMO_DIR)/emulator.token
	@umask 077; [ -s $(DEMO_DIR)/emulator.key ] || head -c 64 /dev/urandom | base64 -w0 > $(DEMO_DIR)/emulator.key
	$(BIN)/nsgflow emulator --addr $(EMULATOR_ADDR) --token-file $(DEMO_DIR)/emulator.token \
		--shared-key-file $(DEMO_DIR)/emulator.key --out $(DEMO_DIR)/emulator.ndjson
