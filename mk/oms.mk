# Delivery client (oms): per-event encode+compress cost, gzip levels, and
# end-to-end sends to a loopback server and to the emulator, on one core.
# Figures go to docs/benchmarks.md ("oms").
BENCH_TARGETS += bench-oms

.PHONY: bench-oms test-oms-faults

bench-oms:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/loganalytics/

# The 50,000-event fault tests alone, verbose (they also run in make test).
test-oms-faults:
	$(GO) test -count=1 -run 'TestEmulatorFaults' -v ./internal/loganalytics/
