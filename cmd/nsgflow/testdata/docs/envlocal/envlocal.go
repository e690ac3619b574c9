// Package envlocal reads a variable whose name is in a local variable: the
// scanner must refuse it rather than miss it.
package envlocal

import "os"

func read() string {
	v := "HIDDEN"
	return os.Getenv(v)
}
