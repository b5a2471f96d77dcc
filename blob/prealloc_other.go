//go:build !linux

package blob

import "os"

// Preallocate makes f size bytes long (on Linux it also allocates the
// file's disk blocks up front).
func Preallocate(f *os.File, size int64) error { return f.Truncate(max(size, 0)) }

// allocRange allocates the blocks of a range of f on Linux; elsewhere it
// does nothing.
func allocRange(*os.File, int64, int64) {}
