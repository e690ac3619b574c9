package fbpack

import "fmt"

// MapIter walks the members of a msgpack map span without allocating:
//
//	it, err := fbpack.NewMapIter(rec)
//	for it.Next() { use(it.Key(), it.Value()) }
//	if it.Err() != nil { ... }
type MapIter struct {
	b      []byte
	i      int
	left   int
	total  int
	key    []byte
	val    []byte
	err    error
	keyStr []byte
	isStr  bool
}

// NewMapIter starts an iteration over the map m. It fails when m is not a map.
func NewMapIter(m []byte) (MapIter, error) {
	h, err := readHead(m, 0)
	if err != nil {
		return MapIter{}, err
	}
	if h.typ != TypeMap {
		return MapIter{}, fmt.Errorf("msgpack: expected a map, found %s", h.typ)
	}
	return MapIter{b: m, i: h.payload, left: h.n, total: h.n}, nil
}

// Len is the number of members not yet visited.
func (it *MapIter) Len() int { return it.left }

// index is the current member's 0-based index.
func (it *MapIter) index() int { return it.total - it.left - 1 }

// Next advances to the next member; false at the end or on error.
func (it *MapIter) Next() bool {
	if it.left <= 0 || it.err != nil {
		return false
	}
	k0 := it.i
	k1, err := skip(it.b, k0, 1)
	if err != nil {
		it.err = err
		return false
	}
	v1, err := skip(it.b, k1, 1)
	if err != nil {
		it.err = err
		return false
	}
	it.key, it.val = it.b[k0:k1], it.b[k1:v1]
	it.keyStr, it.isStr = Str(it.key)
	it.i = v1
	it.left--
	return true
}

// Key is the current member's key span.
func (it *MapIter) Key() []byte { return it.key }

// KeyString returns the current key's bytes when it is a str or bin.
func (it *MapIter) KeyString() ([]byte, bool) { return it.keyStr, it.isStr }

// Value is the current member's value span.
func (it *MapIter) Value() []byte { return it.val }

// Err is the error that stopped the iteration, if any.
func (it *MapIter) Err() error { return it.err }
