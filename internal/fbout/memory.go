package fbout

import (
	"container/list"
	"hash/maphash"
	"sync"
)

// chunkSeed keys chunk identities. Memory lives only in this process, so a
// per-process seed is fine and keeps the hash fast (maphash uses AES).
var chunkSeed = maphash.MakeSeed()

// chunkKey identifies a chunk by its bytes and tag: a retried chunk has the
// same bytes and tag.
func chunkKey(chunk []byte, tag string) uint64 {
	var h maphash.Hash
	h.SetSeed(chunkSeed)
	_, _ = h.WriteString(tag)
	_ = h.WriteByte(0)
	_, _ = h.Write(chunk)
	return h.Sum64()
}

// memory remembers, for at most max chunks, the batch keys accepted (and the
// split marks) in earlier attempts, so a retry skips them. Least recently
// used chunks are forgotten first. Safe for concurrent use.
type memory struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are *memEntry
	byKey map[uint64]*list.Element
}

type memEntry struct {
	chunk uint64
	keys  map[uint64]struct{}
}

func newMemory(max int) *memory {
	return &memory{max: max, order: list.New(), byKey: make(map[uint64]*list.Element)}
}

// seen returns a snapshot of the keys remembered for chunk, or nil.
func (m *memory) seen(chunk uint64) map[uint64]struct{} {
	if m.max <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byKey[chunk]
	if !ok {
		return nil
	}
	m.order.MoveToFront(el)
	src := el.Value.(*memEntry).keys
	out := make(map[uint64]struct{}, len(src))
	for k := range src {
		out[k] = struct{}{}
	}
	return out
}

// remember adds keys to chunk's memory.
func (m *memory) remember(chunk uint64, keys []uint64) {
	if m.max <= 0 || len(keys) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byKey[chunk]
	if !ok {
		el = m.order.PushFront(&memEntry{chunk: chunk, keys: make(map[uint64]struct{}, len(keys))})
		m.byKey[chunk] = el
		for m.order.Len() > m.max {
			old := m.order.Back()
			m.order.Remove(old)
			delete(m.byKey, old.Value.(*memEntry).chunk)
		}
	} else {
		m.order.MoveToFront(el)
	}
	e := el.Value.(*memEntry)
	for _, k := range keys {
		e.keys[k] = struct{}{}
	}
}

// forget drops chunk's memory (it was delivered or dropped).
func (m *memory) forget(chunk uint64) {
	if m.max <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[chunk]; ok {
		m.order.Remove(el)
		delete(m.byKey, chunk)
	}
}

// len is the number of chunks remembered.
func (m *memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
