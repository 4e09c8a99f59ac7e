//go:build linux && !arm

package logsink

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing out the n bytes of f at
// off (sync_file_range with SYNC_FILE_RANGE_WRITE: it does not wait for
// the disk). It is a hint; errors are ignored, and the fsync of the commit
// stays the durability point.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SyncFileRange(int(fd), off, n, 2 /* SYNC_FILE_RANGE_WRITE */)
	})
}
