package state

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestStoreBasics(t *testing.T) {
	s := OpenMem()
	defer s.Close()
	for _, k := range []string{"b/2", "a/1", "b/1", "c/1", "b/3"} {
		if err := s.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete([]byte("b/3")); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.Iterate([]byte("b/"), func(k, v []byte) bool { got = append(got, string(k)); return true }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "b/1,b/2" {
		t.Fatalf("iterate b/ = %v", got)
	}
	wh := s.WorkingHash()
	h, v, err := s.Commit()
	if err != nil || v != 1 || !bytes.Equal(h, wh) || !bytes.Equal(s.Hash(), h) {
		t.Fatalf("commit = %x, %d, %v (working %x)", h, v, err, wh)
	}
	s.Set([]byte("a/1"), []byte("changed"))
	s.Set([]byte("z"), []byte("new"))
	if bytes.Equal(s.WorkingHash(), h) {
		t.Fatal("working hash did not change")
	}
	s.Rollback()
	if val, _ := s.Get([]byte("a/1")); string(val) != "va/1" {
		t.Fatalf("after rollback a/1 = %q", val)
	}
	if val, _ := s.Get([]byte("z")); val != nil {
		t.Fatalf("after rollback z = %q", val)
	}
	if !bytes.Equal(s.WorkingHash(), h) {
		t.Fatal("rollback did not restore the hash")
	}
	s.Set([]byte("a/1"), []byte("v2"))
	if _, v, _ := s.Commit(); v != 2 {
		t.Fatalf("second commit version %d", v)
	}
	if val, _ := s.GetVersioned([]byte("a/1"), 1); string(val) != "va/1" {
		t.Fatalf("a/1 at version 1 = %q", val)
	}
	if _, err := s.GetVersioned([]byte("a/1"), 3); err == nil {
		t.Fatal("version 3 should not exist")
	}
}

func TestStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		s.Set(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i))
	}
	h, _, err := s.Commit()
	if err != nil {
		t.Fatal(err)
	}
	s.Set([]byte("uncommitted"), []byte("x"))
	s.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Version() != 1 || !bytes.Equal(s.Hash(), h) {
		t.Fatalf("reopened at %d %x, want 1 %x", s.Version(), s.Hash(), h)
	}
	if v, _ := s.Get([]byte("uncommitted")); v != nil {
		t.Fatal("uncommitted write survived")
	}
	if v, _ := s.Get([]byte("k042")); string(v) != "v42" {
		t.Fatalf("k042 = %q", v)
	}
}

func TestProofs(t *testing.T) {
	s := OpenMem()
	defer s.Close()
	for i := range 50 {
		s.Set(fmt.Appendf(nil, "a/%02d", i*2), fmt.Appendf(nil, "val%d", i))
	}
	root1, _, _ := s.Commit()
	s.Set([]byte("a/00"), []byte("newer"))
	root2, _, _ := s.Commit()

	for _, tc := range []struct {
		name    string
		key     string
		version int64
		root    []byte
		want    string // "" = absent
	}{
		{"exists", "a/10", 1, root1, "val5"},
		{"old version", "a/00", 1, root1, "val0"},
		{"latest", "a/00", 0, root2, "newer"},
		{"missing middle", "a/11", 2, root2, ""},
		{"missing before all", "0", 2, root2, ""},
		{"missing after all", "z", 2, root2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			val, proof, err := s.GetWithProof([]byte(tc.key), tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if string(val) != tc.want || (tc.want == "") != (val == nil) {
				t.Fatalf("value %q, want %q", val, tc.want)
			}
			if err := VerifyProof(tc.root, []byte(tc.key), val, proof); err != nil {
				t.Fatal(err)
			}
			// JSON round trip.
			j, err := MarshalProof(proof)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := UnmarshalProof(j)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyProof(tc.root, []byte(tc.key), val, p2); err != nil {
				t.Fatalf("after JSON round trip: %v", err)
			}
			pv, err := ProvenValue([]byte(tc.key), p2)
			if err != nil || !bytes.Equal(pv, val) {
				t.Fatalf("proven value %q, %v", pv, err)
			}
			// Tampering fails.
			if val != nil {
				if VerifyProof(tc.root, []byte(tc.key), []byte("forged"), proof) == nil {
					t.Fatal("tampered value verified")
				}
				if VerifyProof(tc.root, []byte(tc.key), nil, proof) == nil {
					t.Fatal("existing key verified as absent")
				}
			} else if VerifyProof(tc.root, []byte(tc.key), []byte("x"), proof) == nil {
				t.Fatal("absent key verified as present")
			}
			other := root1
			if bytes.Equal(tc.root, root1) {
				other = root2
			}
			if tc.key != "a/10" && VerifyProof(other, []byte(tc.key), val, proof) == nil {
				t.Fatal("proof verified against the wrong root")
			}
		})
	}
	if _, err := UnmarshalProof([]byte(`{"type":"ics23:iavl","proof":"!!"}`)); err == nil {
		t.Fatal("bad base64 accepted")
	}
	if _, err := ParseProofBytes([]byte{0xff, 0xff, 0xff}); err == nil {
		t.Fatal("bad protobuf accepted")
	}
}

func FuzzUnmarshalProof(f *testing.F) {
	s := OpenMem()
	s.Set([]byte("a"), []byte("1"))
	s.Set([]byte("c"), []byte("3"))
	root, _, _ := s.Commit()
	for _, k := range []string{"a", "b"} {
		_, p, _ := s.GetWithProof([]byte(k), 0)
		j, _ := MarshalProof(p)
		f.Add(j)
	}
	s.Close()
	f.Add([]byte(`{"type":"ics23:iavl","proof":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalProof(b)
		if err != nil {
			return
		}
		v, err := ProvenValue([]byte("a"), p)
		if err != nil {
			return
		}
		_ = VerifyProof(root, []byte("a"), v, p) // must not panic
	})
}
