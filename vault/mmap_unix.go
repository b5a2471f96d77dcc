//go:build unix

package vault

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// mapping is a read-only memory map of a file's first bytes.
type mapping struct{ b []byte }

// mapFile maps the first size bytes of f for reading; it fails for an
// empty size and for what cannot be mapped (pipes, some special files).
func mapFile(f *os.File, size int64) (*mapping, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, errors.New("nothing to map")
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &mapping{b: b}, nil
}

func (m *mapping) unmap() { syscall.Munmap(m.b) }

// release drops a read part of the map from the process's pages (the page
// cache keeps them): a file sealed from a map would otherwise count whole
// in the process's resident memory by the end.
func (m *mapping) release(b []byte) {
	// Whole pages inside b only: the map starts on a page.
	page := os.Getpagesize()
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(m.b))))
	start := (off + page - 1) / page * page
	end := (off + len(b)) / page * page
	if end > start {
		syscall.Madvise(m.b[start:end], syscall.MADV_DONTNEED)
	}
}
