package blob

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// writesConn records each Write call it is given.
type writesConn struct {
	net.Conn // nil: only Write is called
	writes   [][]byte
}

func (c *writesConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestWholeBodyConnWritesOnce(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, as a run of four chunks
	tests := []struct {
		name       string
		reader     func() io.Reader
		want       []byte
		wantWrites int // 0: any number
	}{
		// What net/http hands the connection for a lent chunk run: the
		// whole body must go in one write.
		{"lent body in a LimitedReader", func() io.Reader {
			return &io.LimitedReader{R: (&lentBody{data: data}).body(), N: int64(len(data))}
		}, data, 1},
		// A limit shorter than the body: only N bytes, by the copy path.
		{"limit below the body", func() io.Reader {
			return &io.LimitedReader{R: bytes.NewReader(data), N: 1000}
		}, data[:1000], 0},
		{"other reader", func() io.Reader { return strings.NewReader("abc") }, []byte("abc"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &writesConn{}
			n, err := wholeBodyConn{w}.ReadFrom(tc.reader())
			if err != nil {
				t.Fatal(err)
			}
			got := bytes.Join(w.writes, nil)
			if n != int64(len(tc.want)) || !bytes.Equal(got, tc.want) {
				t.Fatalf("wrote %d bytes (%d returned), want %d", len(got), n, len(tc.want))
			}
			if tc.wantWrites > 0 && len(w.writes) != tc.wantWrites {
				t.Errorf("%d writes, want %d", len(w.writes), tc.wantWrites)
			}
		})
	}
}
