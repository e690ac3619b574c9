//go:build !unix

package flowparse_test

import "time"

// processCPU is not measured on this platform; the cpu metrics then read 0.
func processCPU() time.Duration { return 0 }
