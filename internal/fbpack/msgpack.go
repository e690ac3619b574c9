package fbpack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MaxDepth bounds the nesting of maps and arrays a value may have.
const MaxDepth = 256

// ErrTruncated is wrapped by every error caused by input that ends inside a value.
var ErrTruncated = errors.New("msgpack: truncated input")

// Type is the family of a msgpack value.
type Type uint8

const (
	TypeInvalid Type = iota
	TypeNil
	TypeBool
	TypeInt   // signed integers and positive fixint
	TypeUint  // uint 8-64 (always non-negative)
	TypeFloat // float32 or float64
	TypeStr
	TypeBin
	TypeArray
	TypeMap
	TypeExt
)

var typeNames = [...]string{"invalid", "nil", "bool", "int", "uint", "float", "str", "bin", "array", "map", "ext"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", t)
}

// head is the decoded header of one value at b[i].
type head struct {
	typ Type
	// n is the element count for arrays and maps, the payload length for
	// str, bin and ext.
	n int
	// payload is the offset of the first byte after the header (the payload
	// of str/bin/ext, the first element of arrays/maps, the number bytes of
	// ints/floats).
	payload int
	// end is the offset after a scalar value (for arrays and maps: after the
	// header only).
	end int
	// ext type for TypeExt.
	ext int8
	// scalar values.
	i int64
	u uint64
	f float64
	b bool
}

func truncated(i int) error { return fmt.Errorf("%w at offset %d", ErrTruncated, i) }

// readHead decodes the header of the value at b[i]. Lengths are checked
// against len(b): a str of 10 bytes with 3 left is an error here.
func readHead(b []byte, i int) (head, error) {
	var h head
	if i >= len(b) {
		return h, truncated(i)
	}
	c := b[i]
	p := i + 1
	switch {
	case c <= 0x7f:
		h.typ, h.i, h.end = TypeInt, int64(c), p
		return h, nil
	case c >= 0xe0:
		h.typ, h.i, h.end = TypeInt, int64(int8(c)), p
		return h, nil
	case c&0xf0 == 0x80:
		return container(b, TypeMap, int(c&0x0f), p, 2)
	case c&0xf0 == 0x90:
		return container(b, TypeArray, int(c&0x0f), p, 1)
	case c&0xe0 == 0xa0:
		return sized(b, TypeStr, int(c&0x1f), p)
	}
	switch c {
	case 0xc0:
		h.typ, h.end = TypeNil, p
		return h, nil
	case 0xc2, 0xc3:
		h.typ, h.b, h.end = TypeBool, c == 0xc3, p
		return h, nil
	case 0xc4, 0xc5, 0xc6:
		n, q, err := length(b, p, 1<<(c-0xc4))
		if err != nil {
			return h, err
		}
		return sized(b, TypeBin, n, q)
	case 0xd9, 0xda, 0xdb:
		n, q, err := length(b, p, 1<<(c-0xd9))
		if err != nil {
			return h, err
		}
		return sized(b, TypeStr, n, q)
	case 0xc7, 0xc8, 0xc9:
		n, q, err := length(b, p, 1<<(c-0xc7))
		if err != nil {
			return h, err
		}
		if q >= len(b) {
			return h, truncated(q)
		}
		h, err = sized(b, TypeExt, n, q+1)
		h.ext = int8(b[q])
		return h, err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		if p >= len(b) {
			return h, truncated(p)
		}
		h, err := sized(b, TypeExt, 1<<(c-0xd4), p+1)
		h.ext = int8(b[p])
		return h, err
	case 0xca:
		if p+4 > len(b) {
			return h, truncated(p)
		}
		h.typ, h.f, h.payload, h.end = TypeFloat, float64(math.Float32frombits(binary.BigEndian.Uint32(b[p:]))), p, p+4
		return h, nil
	case 0xcb:
		if p+8 > len(b) {
			return h, truncated(p)
		}
		h.typ, h.f, h.payload, h.end = TypeFloat, math.Float64frombits(binary.BigEndian.Uint64(b[p:])), p, p+8
		return h, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		w := 1 << (c - 0xcc)
		if p+w > len(b) {
			return h, truncated(p)
		}
		h.typ, h.u, h.payload, h.end = TypeUint, beUint(b[p:p+w]), p, p+w
		return h, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		w := 1 << (c - 0xd0)
		if p+w > len(b) {
			return h, truncated(p)
		}
		u := beUint(b[p : p+w])
		// sign-extend from w bytes
		shift := uint(64 - 8*w)
		h.typ, h.i, h.payload, h.end = TypeInt, int64(u<<shift)>>shift, p, p+w
		return h, nil
	case 0xdc, 0xdd:
		n, q, err := length(b, p, 2<<(c-0xdc))
		if err != nil {
			return h, err
		}
		return container(b, TypeArray, n, q, 1)
	case 0xde, 0xdf:
		n, q, err := length(b, p, 2<<(c-0xde))
		if err != nil {
			return h, err
		}
		return container(b, TypeMap, n, q, 2)
	}
	return h, fmt.Errorf("msgpack: invalid type byte 0x%02x at offset %d", c, i)
}

func beUint(b []byte) uint64 {
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u
}

// length reads a w-byte big-endian length at b[p].
func length(b []byte, p, w int) (n, next int, err error) {
	if p+w > len(b) {
		return 0, p, truncated(p)
	}
	u := beUint(b[p : p+w])
	if u > uint64(len(b)) {
		// Cannot fit in what remains; also keeps n within int on 32-bit.
		return 0, p, fmt.Errorf("%w: length %d at offset %d exceeds input", ErrTruncated, u, p)
	}
	return int(u), p + w, nil
}

func sized(b []byte, t Type, n, p int) (head, error) {
	if n > len(b)-p {
		return head{}, fmt.Errorf("%w: %s of %d bytes at offset %d", ErrTruncated, t, n, p)
	}
	return head{typ: t, n: n, payload: p, end: p + n}, nil
}

// container checks that n elements (each at least one byte, per element
// count per item) can fit in what remains, so a forged count cannot drive a
// long loop.
func container(b []byte, t Type, n, p, per int) (head, error) {
	if n > (len(b)-p)/per {
		return head{}, fmt.Errorf("%w: %s of %d elements at offset %d", ErrTruncated, t, n, p)
	}
	return head{typ: t, n: n, payload: p, end: p}, nil
}

// skip returns the offset after the value at b[i].
func skip(b []byte, i, depth int) (int, error) {
	h, err := readHead(b, i)
	if err != nil {
		return i, err
	}
	switch h.typ {
	case TypeArray, TypeMap:
		if depth >= MaxDepth {
			return i, fmt.Errorf("msgpack: nesting deeper than %d at offset %d", MaxDepth, i)
		}
		n := h.n
		if h.typ == TypeMap {
			n *= 2
		}
		j := h.payload
		for k := 0; k < n; k++ {
			if j, err = skip(b, j, depth+1); err != nil {
				return j, err
			}
		}
		return j, nil
	}
	return h.end, nil
}

// TypeOf returns the type of the value v starts with (TypeInvalid when v is
// empty or starts with an unused byte).
func TypeOf(v []byte) Type {
	h, err := readHead(v, 0)
	if err != nil {
		return TypeInvalid
	}
	return h.typ
}

// Str returns the bytes of a str or bin value (aliasing v), and false for
// any other type.
func Str(v []byte) ([]byte, bool) {
	h, err := readHead(v, 0)
	if err != nil || (h.typ != TypeStr && h.typ != TypeBin) {
		return nil, false
	}
	return v[h.payload:h.end], true
}

// Int returns an integer value (int or uint that fits in int64).
func Int(v []byte) (int64, bool) {
	h, err := readHead(v, 0)
	if err != nil {
		return 0, false
	}
	switch h.typ {
	case TypeInt:
		return h.i, true
	case TypeUint:
		if h.u <= math.MaxInt64 {
			return int64(h.u), true
		}
	}
	return 0, false
}
