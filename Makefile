# nsgflow build, test and demo entry points. Each area adds its own targets in
# mk/*.mk; the prerequisites lists below collect them.
SHELL := /bin/bash
GO ?= go
BIN := bin
export CGO_ENABLED ?= 1

# Areas append to these in mk/*.mk.
BUILD_TARGETS := $(BIN)/nsgflow
TEST_TARGETS := test-go
SETUP_TARGETS :=
BENCH_TARGETS := bench-go
FUZZTIME ?= 10m
.DEFAULT_GOAL := all

.PHONY: all build setup test test-go bench bench-go fuzz demo clean vet

# The areas' targets and their additions to the lists above. Included before
# any rule names the lists: make expands a rule's prerequisites when it reads it.
-include mk/*.mk

all: build

build: $(BUILD_TARGETS)

$(BIN)/nsgflow: FORCE
	$(GO) build -o $@ ./cmd/nsgflow

FORCE:

setup: $(SETUP_TARGETS)

# One command runs every test: Go unit and integration tests (Azurite and the
# emulator are started by the tests themselves), then the C harness.
test: setup build
	$(MAKE) $(TEST_TARGETS)

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

bench: build
	$(MAKE) $(BENCH_TARGETS)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/flowparse/

clean:
	rm -rf $(BIN)
