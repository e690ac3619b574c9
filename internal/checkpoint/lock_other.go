//go:build !linux

package checkpoint

import (
	"fmt"
	"os"
	"syscall"
)

// lockRange takes a whole-file flock (per open file, like Linux OFD locks)
// where open-file-description byte locks are not available.
func lockRange(path string, off int64) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
