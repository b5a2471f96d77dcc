package app

import "testing"

func TestSigCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newSigCache(3)
	h := func(i byte) [32]byte { return [32]byte{i} }
	c.add(h(1))
	c.add(h(2))
	c.add(h(3))
	c.has(h(1)) // 2 is now the least recently used
	c.add(h(4))
	for i, want := range map[byte]bool{1: true, 2: false, 3: true, 4: true} {
		if c.has(h(i)) != want {
			t.Errorf("has(%d) = %v, want %v", i, !want, want)
		}
	}
	if c.len() != 3 {
		t.Fatalf("len %d, want 3", c.len())
	}
}
