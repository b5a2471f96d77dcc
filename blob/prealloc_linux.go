package blob

import (
	"errors"
	"os"
	"syscall"
)

// Preallocate makes f size bytes long with its disk blocks allocated up
// front (fallocate), where the filesystem can; elsewhere it only sets the
// length. Writing into allocated blocks costs ext4 about half the CPU of
// writing a growing file, whose blocks it reserves page by page.
func Preallocate(f *os.File, size int64) error {
	if size <= 0 {
		return f.Truncate(max(size, 0))
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Fallocate(int(fd), 0, 0, size)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(ferr, syscall.EOPNOTSUPP) || errors.Is(ferr, syscall.ENOSYS) {
		return f.Truncate(size)
	}
	return ferr
}

// allocRange allocates the disk blocks of [off, off+n) of f, where the
// filesystem can, without changing its length: Preallocate for one chunk
// at a time, so a store allocates disk only for chunks that arrive. It is
// an optimization only; a failure shows again in the write that follows.
func allocRange(f *os.File, off, n int64) {
	if n <= 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	rc.Control(func(fd uintptr) {
		for errors.Is(syscall.Fallocate(int(fd), keepSize, off, n), syscall.EINTR) {
		}
	})
}
