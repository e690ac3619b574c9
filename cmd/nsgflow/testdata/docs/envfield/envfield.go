// Package envfield reads a variable named by a struct field that no literal
// sets: the scanner must refuse it.
package envfield

import "os"

type setting struct{ env string }

func read(s setting) string { return os.Getenv(s.env) }
