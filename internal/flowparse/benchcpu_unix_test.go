//go:build unix

package flowparse_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) the test process has used.
// Benchmarks report per-tuple CPU time beside wall time: on a shared machine
// the wall clock also counts time spent waiting for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
