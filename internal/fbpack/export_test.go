package fbpack

// Test-only views of the reader's internals: a value's end, and a map
// member found by key through MapIter.

func Skip(b []byte, i int) (int, error) { return skip(b, i, 0) }

func Lookup(m []byte, key string) (val []byte, found bool, err error) {
	it, err := NewMapIter(m)
	if err != nil {
		return nil, false, err
	}
	for it.Next() {
		if k, ok := it.KeyString(); ok && string(k) == key {
			return it.Value(), true, nil
		}
	}
	return nil, false, it.Err()
}
