# CLI (nsgflow parse / gen) and the flow-log generator. The Makefile already
# builds bin/nsgflow; this adds a small demo and the generator benchmark.
DEMO_DIR ?= .demo
DEMO_GEN := $(DEMO_DIR)/gen

BENCH_TARGETS += bench-flowgen

.PHONY: demo-parse bench-flowgen

# Generate a few VNet flow-log blobs (with their block files), then parse one:
# the first rows go to the terminal, all rows to $(DEMO_DIR)/parse.ndjson,
# and parse's summary (files, records, events, skips) to stderr.
demo-parse: $(BIN)/nsgflow
	rm -rf $(DEMO_GEN)
	$(BIN)/nsgflow gen --out $(DEMO_GEN) --format vnet4 --resources 2 --hours 2 \
		--records-per-hour 10 --tuples-per-record 20 --ipv6-share 0.1 --seed 7 --blocks
	@blob=$$(find $(DEMO_GEN)/insights-logs-flowlogflowevent -name PT1H.json | sort | head -n 1); \
	echo; echo "== $(BIN)/nsgflow parse $$blob"; \
	$(BIN)/nsgflow parse "$$blob" > $(DEMO_DIR)/parse.ndjson 2> $(DEMO_DIR)/parse.summary; \
	status=$$?; head -n 3 $(DEMO_DIR)/parse.ndjson; \
	echo "... $$(wc -l < $(DEMO_DIR)/parse.ndjson) rows in all, in $(DEMO_DIR)/parse.ndjson"; \
	cat $(DEMO_DIR)/parse.summary; exit $$status

# Generator speed (MB/s of blob produced) per format.
bench-flowgen:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/flowgen/
