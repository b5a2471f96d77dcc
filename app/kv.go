package app

import (
	"sort"
)

// kvReader reads state.
type kvReader interface {
	Get(key []byte) ([]byte, error)
}

// kvStore reads and writes state.
type kvStore interface {
	kvReader
	Set(key, value []byte) error
	Delete(key []byte) error
}

type cacheEntry struct {
	value   []byte
	deleted bool
}

// cache buffers writes over a parent so a failing message leaves no trace.
// Writes reach the parent only through flush, in ascending key order,
// because the shape (and hash) of an IAVL tree depends on insertion order.
type cache struct {
	parent kvReader
	writes map[string]cacheEntry
}

func newCache(parent kvReader) *cache {
	return &cache{parent: parent, writes: make(map[string]cacheEntry, 4)}
}

func (c *cache) Get(key []byte) ([]byte, error) {
	if e, ok := c.writes[string(key)]; ok {
		if e.deleted {
			return nil, nil
		}
		return e.value, nil
	}
	return c.parent.Get(key)
}

func (c *cache) Set(key, value []byte) error {
	c.writes[string(key)] = cacheEntry{value: value}
	return nil
}

func (c *cache) Delete(key []byte) error {
	c.writes[string(key)] = cacheEntry{deleted: true}
	return nil
}

// flush writes the buffered changes to dst in key order and empties c.
func (c *cache) flush(dst kvStore) error {
	keys := make([]string, 0, len(c.writes))
	for k := range c.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := c.writes[k]
		var err error
		if e.deleted {
			err = dst.Delete([]byte(k))
		} else {
			err = dst.Set([]byte(k), e.value)
		}
		if err != nil {
			return err
		}
	}
	clear(c.writes)
	return nil
}
