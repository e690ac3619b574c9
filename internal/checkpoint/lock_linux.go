package checkpoint

import (
	"fmt"
	"os"
	"syscall"
)

// fOFDSetLkW is F_OFD_SETLKW: a blocking open-file-description lock. Unlike
// classic POSIX record locks these belong to the open file, not the process,
// so two opens in one process (two Go runtimes in Fluent Bit) exclude each
// other, and the lock goes away when the file is closed or the process dies.
const fOFDSetLkW = 38

// lockRange locks one byte at off of the file at path, opening the file for
// this lock only. The returned function unlocks and closes.
func lockRange(path string, off int64) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: off, Len: 1}
	for {
		err = syscall.FcntlFlock(f.Fd(), fOFDSetLkW, &lk)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
