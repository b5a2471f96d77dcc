//go:build linux

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

// releaseWindow is how much of the map release drops at once: each drop
// interrupts the process's other CPUs (a TLB shootdown), so it is done
// per 8 MiB rather than per batch.
const releaseWindow = 8 << 20

// release is told that b, a part of the map, has been read: when b ends
// in a new window, the window before it is dropped from the process's
// pages (the page cache keeps them), so a file sealed from a map does not
// end up counted whole in the process's resident memory. Batches finish
// out of order, so a reader may still be in a dropped window: it faults
// the pages back in from the page cache, which costs time, not
// correctness.
func (m *mapping) release(b []byte) {
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(m.b))))
	if start, end, ok := releaseRange(off, len(b), len(m.b), os.Getpagesize()); ok {
		syscall.Madvise(m.b[start:end], syscall.MADV_DONTNEED)
	}
}

// releaseRange is the part of a map of size bytes that release drops once
// the n bytes at off are read: the window before the one b ends in, when b
// crosses into it; everything (whole pages) after the last bytes.
func releaseRange(off, n, size, page int) (start, end int, ok bool) {
	end = off + n
	if end == size {
		return 0, size / page * page, size >= page
	}
	w := end / releaseWindow
	if w == 0 || off/releaseWindow == w {
		return 0, 0, false
	}
	// The map starts on a page and windows are whole pages.
	return (w - 1) * releaseWindow, w * releaseWindow, true
}
