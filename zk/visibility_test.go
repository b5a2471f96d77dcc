package zk

import "testing"

func TestParseVisibility(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Visibility
		ok   bool
	}{
		{"", ChainVisibility, true},
		{"input=private,weights=hashed,output=public", Visibility{VisPrivate, VisHashed, VisPublic}, true},
		{"weights=public", Visibility{VisHashed, VisPublic, VisPublic}, true},
		{" output=hashed , input=public", Visibility{VisPublic, VisHashed, VisHashed}, true},
		{"input=secret", Visibility{}, false},
		{"bias=public", Visibility{}, false},
		{"input", Visibility{}, false},
		{"input=public,input=private", Visibility{}, false},
	} {
		got, err := ParseVisibility(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
		}
		if tc.ok {
			back, err := ParseVisibility(got.String())
			if err != nil || back != got {
				t.Errorf("%q: String does not round-trip: %q", tc.in, got.String())
			}
		}
	}
}

// TestCommitKnownProperties pins what the chain relies on: Commit is
// deterministic, commits to order and length, equals CommitTensor of the
// same int8 values, rejects values outside int8, and its bytes are a
// canonical field element.
func TestCommitKnownProperties(t *testing.T) {
	a, err := Commit([]int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Commit([]int64{1, 2, 3})
	if a != b {
		t.Fatal("not deterministic")
	}
	for _, other := range [][]int64{{2, 1, 3}, {1, 2, 3, 0}, {1, 2}, {}} {
		if c, _ := Commit(other); c == a {
			t.Errorf("%v collides with [1 2 3]", other)
		}
	}
	if _, err := Commit([]int64{128}); err == nil {
		t.Error("128 accepted as int8")
	}
	if _, err := a.Element(); err != nil {
		t.Errorf("commitment not canonical: %v", err)
	}
	// known answer: commitments are registered on chain, so the format
	// (parameters, packing, length prefix) must not drift
	if got, want := a.String(), "0543247504e907669d2d497dd8c4a743612c703262499e9015417432a8c3319a"; got != want {
		t.Errorf("Commit([1 2 3]) = %s, want %s", got, want)
	}
	// 31 values fill one field element, 32 spill into a second
	long := make([]int64, 32)
	for i := range long {
		long[i] = int64(i - 16)
	}
	c31, _ := Commit(long[:31])
	c32, _ := Commit(long)
	if c31 == c32 {
		t.Error("32nd value not committed")
	}
}
