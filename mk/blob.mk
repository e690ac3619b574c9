# Blob input (blobsource, checkpoint): Azurite for the tests, and the memory
# benchmark. Azurite is an npm dev dependency pinned in package-lock.json and
# installed into ./node_modules by `make setup` (npm ci: reproducible, no
# global install).
AZURITE_BLOB := node_modules/.bin/azurite-blob
AZURITE_STAMP := node_modules/.azurite-3.37.0.stamp

SETUP_TARGETS += setup-azurite
BENCH_TARGETS += bench-blob

.PHONY: setup-azurite azurite bench-blob

setup-azurite: $(AZURITE_STAMP)

$(AZURITE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required to install Azurite (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@test -x $(AZURITE_BLOB) || { echo "npm ci did not install $(AZURITE_BLOB)"; exit 1; }
	touch $@

# Run Azurite in the foreground on 127.0.0.1:10000 for manual experiments.
azurite: setup-azurite
	scripts/azurite.sh

# Peak-RSS benchmark of the blob reader (20,000-blob backfill, one 500 MB
# blob). Heavy: not part of `make test`. Figures go to docs/benchmarks.md.
bench-blob: setup-azurite
	NSGFLOW_BLOB_BENCH=1 $(GO) test -count=1 -timeout 60m -run 'TestMemory' -v ./internal/blobsource/
