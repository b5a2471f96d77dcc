package app

import (
	"container/list"
	"sync"
)

// sigCache remembers hashes of transactions whose signature verified. The
// hash covers the signature and everything it signs, so a hit means these
// exact bytes were verified before. Bounded, least recently used out.
type sigCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are [32]byte
	index map[[32]byte]*list.Element
}

func newSigCache(max int) *sigCache {
	return &sigCache{max: max, order: list.New(), index: make(map[[32]byte]*list.Element, max)}
}

func (c *sigCache) has(h [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.index[h]
	if ok {
		c.order.MoveToFront(e)
	}
	return ok
}

func (c *sigCache) add(h [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[h]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.index[h] = c.order.PushFront(h)
	if c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.index, old.Value.([32]byte))
	}
}

func (c *sigCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
