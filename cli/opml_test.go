package cli

import (
	"testing"

	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/worker"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    worker.Fault
		wantErr bool
	}{
		{"", worker.Fault{}, false},
		{"corrupt:3:100", worker.Fault{Corrupt: true, Node: 3, Elem: 100}, false},
		{"garble:2", worker.Fault{Garble: true, Node: 2}, false},
		{"silent", worker.Fault{Corrupt: true, SilentInDispute: true}, false},
		{"silent:6", worker.Fault{Corrupt: true, SilentInDispute: true, SilentAfter: 6}, false},
		{"noresult", worker.Fault{NoResult: true}, false},
		{"corrupt:3", worker.Fault{}, true},
		{"corrupt:x:1", worker.Fault{}, true},
		{"lie", worker.Fault{}, true},
	}
	for _, tt := range tests {
		got, err := parseFault(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("parseFault(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestOpmlStore(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	s := opmlStore(t.TempDir())
	if err := s.PutModel(m); err != nil {
		t.Fatal(err)
	}
	back, err := s.Model(m.ID())
	if err != nil || back.ID() != m.ID() {
		t.Fatalf("model round trip: %v", err)
	}
	if _, err := s.Model([32]byte{1}); err == nil {
		t.Fatal("missing model loaded")
	}
	in := opmltest.Input(3)
	root, err := s.PutInputs(m, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Inputs(root)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := opml.InputsRoot(m, got); err != nil || r != root {
		t.Fatalf("input round trip: root %x, want %x (%v)", r, root, err)
	}
}
