package vault

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Windows of the map are dropped once the batch that ends in the next one
// is read, and the whole map after its last bytes.
func TestReleaseRange(t *testing.T) {
	const w, page, batch = releaseWindow, 4096, 512 << 10
	size := 3*w + 100
	cases := []struct {
		name       string
		off, n     int
		start, end int
		ok         bool
	}{
		{"first batch", 0, batch, 0, 0, false},
		{"inside the first window", w - 2*batch, batch, 0, 0, false},
		{"ends on the first boundary", w - batch, batch, 0, w, true},
		{"starts on a boundary", w, batch, 0, 0, false},
		{"ends on the second boundary", 2*w - batch, batch, w, 2 * w, true},
		{"crosses a boundary", 2*w - 10, batch, w, 2 * w, true},
		{"last bytes", 3 * w, 100, 0, 3 * w, true},
	}
	for _, c := range cases {
		start, end, ok := releaseRange(c.off, c.n, size, page)
		if start != c.start || end != c.end || ok != c.ok {
			t.Errorf("%s: [%d,%d) %v, want [%d,%d) %v", c.name, start, end, ok, c.start, c.end, c.ok)
		}
	}
	if _, _, ok := releaseRange(0, 100, 100, page); ok {
		t.Error("a map shorter than a page: nothing whole to drop")
	}
}

// A mapped source read as a plain io.Reader gives the file's bytes, and
// an error, not a fault, once the file is cut short under it.
func TestMappedSourceRead(t *testing.T) {
	plain := pseudoRandom(3*4096+7, 4)
	path := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(path, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mapFile(f, int64(len(plain)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.unmap()
	got, err := io.ReadAll(&mappedSource{b: m.b, name: path})
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if err := f.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(&mappedSource{b: m.b, name: path}); !errors.Is(err, errFileShrank) {
		t.Fatalf("read of a file cut short: %v", err)
	}
}
