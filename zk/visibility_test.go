package zk

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func TestParseVisibility(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Visibility
		ok   bool
	}{
		{"", ChainVisibility, true},
		{"input=private,weights=hashed,output=public", Visibility{VisPrivate, VisHashed, VisPublic}, true},
		{"weights=public", Visibility{VisHashed, VisPublic, VisPublic}, true},
		{"weights=hashed", Visibility{VisHashed, VisHashed, VisPublic}, true},
		{" output=hashed , input=public", Visibility{VisPublic, VisCommitted, VisHashed}, true},
		{"weights=committed", Visibility{VisHashed, VisCommitted, VisPublic}, true},
		{"input=committed", Visibility{}, false},
		{"output=committed", Visibility{}, false},
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
	if got, want := a.String(), "0c8e55f20b5d597fd47be3f5264ed3e73d364e0fb38a07657f6351e48d285c95"; got != want {
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

// TestSpongePaddingIsUnambiguous: the last block is padded with zeros, so
// the element count in the initial state is what keeps a sequence apart from
// the same sequence with zeros appended.
func TestSpongePaddingIsUnambiguous(t *testing.T) {
	var one, two fr.Element
	one.SetUint64(1)
	two.SetUint64(2)
	var zero fr.Element
	seqs := []struct {
		name string
		els  []fr.Element
	}{
		{"empty", nil},
		{"[0]", []fr.Element{zero}},
		{"[0 0]", []fr.Element{zero, zero}},
		{"[1]", []fr.Element{one}},
		{"[1 0]", []fr.Element{one, zero}},
		{"[1 0 0]", []fr.Element{one, zero, zero}},
		{"[1 2]", []fr.Element{one, two}},
		{"[2 1]", []fr.Element{two, one}},
		{"[1 2 0]", []fr.Element{one, two, zero}},
	}
	seen := map[FieldBytes]string{}
	for _, s := range seqs {
		var h sponge
		for _, e := range s.els {
			h.write(e)
		}
		d := h.sum()
		if prev, ok := seen[d]; ok {
			t.Errorf("%s and %s hash alike", s.name, prev)
		}
		seen[d] = s.name
	}
}
