# Fluent Bit input plugin (in_nsgflow.so), its C harness, `nsgflow run`, the
# demo (the README's first command) and the latency benchmark.
INPUT_SO := $(BIN)/in_nsgflow.so
INPUT_HARNESS := $(BIN)/input-harness
DEMO_INPUT := .demo/input
# How long the demo shows rows arriving, and its poll interval.
DEMO_SECONDS ?= 40
DEMO_POLL ?= 5s

BUILD_TARGETS += $(INPUT_SO) $(INPUT_HARNESS)
TEST_TARGETS += test-input-harness
BENCH_TARGETS += bench-latency

.PHONY: test-input-harness bench-latency bench-input demo

# c-shared needs cgo; the header cgo writes beside the .so is not needed.
$(INPUT_SO): FORCE
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -o $@ ./plugin/input
	rm -f $(BIN)/in_nsgflow.h

$(INPUT_HARNESS): test/input-harness/harness.c
	@mkdir -p $(BIN)
	$(CC) -O2 -Wall -Wextra -o $@ $< -ldl -lpthread

# Loads in_nsgflow.so like Fluent Bit's Go proxy against Azurite holding
# generated blobs, calls the callback every 100 ms, checks every record and
# its provenance (go run ./test/input-harness/check).
test-input-harness: $(INPUT_SO) $(INPUT_HARNESS) $(BIN)/nsgflow setup-azurite
	test/input-harness/run.sh

# Commit-to-accepted latency of `nsgflow run` with a 30 s poll interval
# (p50, p95); about 4 minutes. Figures go to docs/benchmarks.md.
bench-latency: setup-azurite
	NSGFLOW_LATENCY_BENCH=1 $(GO) test -count=1 -timeout 20m -run 'TestLatency' -v ./cmd/nsgflow/

# Encoder and splitter speed of the input core.
bench-input:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/fbin/

# The demo: Azurite and the Log Analytics emulator on free loopback ports,
# generated VNet flow-log blobs fed into Azurite (last hour complete, the
# current hour growing by one block every 5 s), `nsgflow run` polling them,
# and the rows arriving in the emulator, per table, every 5 s. Everything
# stops on exit (trap), Ctrl-C included.
demo: $(BIN)/nsgflow setup-azurite
	@set -euo pipefail; \
	d=$(DEMO_INPUT); rm -rf $$d; mkdir -p $$d/azurite; \
	pids=(); \
	cleanup() { for p in "$${pids[@]}"; do kill -TERM $$p 2>/dev/null || true; done; \
		for i in $$(seq 1 50); do alive=0; for p in "$${pids[@]}"; do kill -0 $$p 2>/dev/null && alive=1; done; \
			[[ $$alive == 0 ]] && break; sleep 0.1; done; \
		for p in "$${pids[@]}"; do kill -KILL $$p 2>/dev/null || true; wait $$p 2>/dev/null || true; done; }; \
	trap cleanup EXIT INT TERM; \
	echo "== Azurite (blob storage emulator) on a free loopback port"; \
	$(AZURITE_BLOB) --blobHost 127.0.0.1 --blobPort 0 --location $$d/azurite --skipApiVersionCheck --loose \
		--disableProductStyleUrl > $$d/azurite.log 2>&1 & pids+=($$!); \
	port=""; for i in $$(seq 1 300); do \
		port=$$(sed -n 's|.*listens on http://127.0.0.1:\([0-9]*\).*|\1|p' $$d/azurite.log | head -n 1); \
		[[ -n "$$port" ]] && break; sleep 0.1; done; \
	[[ -n "$$port" ]] || { echo "Azurite did not start:"; cat $$d/azurite.log; exit 1; }; \
	storage=http://127.0.0.1:$$port/devstoreaccount1; echo "   $$storage"; \
	export NSGFLOW_STORAGE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='; \
	echo "== nsgflow emulator (local Log Analytics)"; \
	echo "demo-token-$$RANDOM$$RANDOM" > $$d/token; \
	$(BIN)/nsgflow emulator --addr 127.0.0.1:0 --token-file $$d/token --out $$d/rows.ndjson --ready-file $$d/emulator.url \
		> $$d/emulator.log 2>&1 & pids+=($$!); \
	for i in $$(seq 1 100); do [[ -s $$d/emulator.url ]] && break; sleep 0.1; done; \
	[[ -s $$d/emulator.url ]] || { echo "emulator did not start:"; cat $$d/emulator.log; exit 1; }; \
	em=$$(cat $$d/emulator.url); echo "   $$em"; \
	echo "== nsgflow feed: 2 VNet flow logs, last hour complete, current hour growing one block every 5 s"; \
	$(BIN)/nsgflow feed --storage-endpoint $$storage --format vnet4 --resources 2 --hours 2 --records-per-hour 60 \
		--tuples-per-record 20 --initial-blocks 3 --grow-every 5s --grow-for $$(( $(DEMO_SECONDS) + 10 ))s \
		> $$d/feed.log 2>&1 & pids+=($$!); \
	for i in $$(seq 1 100); do grep -q "nsgflow feed:" $$d/feed.log && break; sleep 0.1; done; head -n 1 $$d/feed.log; \
	printf '{\n  "storage_account": "devstoreaccount1",\n  "storage_endpoint": "%s",\n  "containers": "insights-logs-flowlogflowevent",\n  "start": "beginning",\n  "poll_interval": "$(DEMO_POLL)",\n  "grace": "1m",\n  "checkpoint_dir": "%s",\n  "done_marker": true,\n  "destination": "logs_ingestion",\n  "endpoint": "%s",\n  "dcr_id": "dcr-00000000000000000000000000000000",\n  "stream": "Custom-NsgFlow",\n  "credential": "static",\n  "token_file": "%s"\n}\n' \
		"$$storage" "$$d/checkpoints" "$$em" "$$d/token" > $$d/run.json; \
	echo "== bin/nsgflow run --config $$d/run.json   (log: $$d/run.log)"; \
	$(BIN)/nsgflow run --config $$d/run.json > $$d/run.log 2>&1 & runpid=$$!; pids=($$runpid "$${pids[@]}"); \
	echo "== rows accepted by the emulator, per table ($$d/rows.ndjson)"; \
	for t in $$(seq 5 5 $(DEMO_SECONDS)); do sleep 5; \
		kill -0 $$runpid 2>/dev/null || { echo "nsgflow run stopped:"; cat $$d/run.log; exit 1; }; \
		counts=$$( { grep -o '"_table":"[^"]*"' $$d/rows.ndjson 2>/dev/null || true; } | sort | uniq -c | awk '{split($$2,a,"\""); printf "%s %s rows  ", a[4], $$1}'); \
		echo "   t+$${t}s: $${counts:-no rows yet}   (feed: $$(grep -c committed $$d/feed.log || true) blocks committed since start)"; \
	done; \
	echo "== stopping nsgflow run (SIGTERM)"; kill -TERM $$runpid; wait $$runpid || true; tail -n 1 $$d/run.log; \
	echo "== one row:"; head -n 1 $$d/rows.ndjson | cut -c 1-400; \
	echo "done: logs and rows are in $$d/"
