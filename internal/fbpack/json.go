package fbpack

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the msgpack value v as JSON to dst and returns the
// extended buffer. Mapping:
//
//   - str and bin become JSON strings (invalid UTF-8 replaced by U+FFFD);
//   - nil, bool, integers become null, true/false, numbers;
//   - floats become numbers (NaN and infinities become null);
//   - ext values become null;
//   - maps become objects; keys that are not strings are written as strings
//     (an integer key 5 becomes "5"; a map or array key becomes "_key<i>",
//     i its member index);
//   - arrays become arrays.
//
// On error dst is returned cut back to its original length.
func AppendJSON(dst, v []byte) ([]byte, error) {
	n := len(dst)
	out, _, err := appendJSON(dst, v, 0, 0)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// AppendJSONOmit is AppendJSON for a map whose top-level members with a key
// starting with omitPrefix are left out.
func AppendJSONOmit(dst, m []byte, omitPrefix string) ([]byte, error) {
	return AppendJSONRename(dst, m, omitPrefix, "", "")
}

// AppendJSONRename is AppendJSONOmit that also writes a top-level key equal
// to from as to (when from is not empty).
func AppendJSONRename(dst, m []byte, omitPrefix, from, to string) ([]byte, error) {
	n := len(dst)
	it, err := NewMapIter(m)
	if err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	first := true
	for it.Next() {
		if k, ok := it.KeyString(); ok && len(k) >= len(omitPrefix) && string(k[:len(omitPrefix)]) == omitPrefix {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if k, ok := it.KeyString(); ok && from != "" && string(k) == from {
			dst = AppendString(dst, []byte(to))
		} else if dst, err = appendKey(dst, it.Key(), it.index()); err != nil {
			return dst[:n], err
		}
		dst = append(dst, ':')
		if dst, _, err = appendJSON(dst, it.Value(), 0, 1); err != nil {
			return dst[:n], err
		}
	}
	if it.Err() != nil {
		return dst[:n], it.Err()
	}
	return append(dst, '}'), nil
}

// appendJSON transcodes the value at v[i] and returns the offset after it.
func appendJSON(dst, v []byte, i, depth int) ([]byte, int, error) {
	h, err := readHead(v, i)
	if err != nil {
		return dst, i, err
	}
	switch h.typ {
	case TypeNil, TypeExt:
		return append(dst, "null"...), h.end, nil
	case TypeBool:
		if h.b {
			return append(dst, "true"...), h.end, nil
		}
		return append(dst, "false"...), h.end, nil
	case TypeInt:
		return strconv.AppendInt(dst, h.i, 10), h.end, nil
	case TypeUint:
		return strconv.AppendUint(dst, h.u, 10), h.end, nil
	case TypeFloat:
		return appendFloat(dst, h.f, v[i] == 0xca), h.end, nil
	case TypeStr, TypeBin:
		return AppendString(dst, v[h.payload:h.end]), h.end, nil
	case TypeArray:
		if depth >= MaxDepth {
			return dst, i, fmt.Errorf("msgpack: nesting deeper than %d at offset %d", MaxDepth, i)
		}
		dst = append(dst, '[')
		j := h.payload
		for k := 0; k < h.n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			if dst, j, err = appendJSON(dst, v, j, depth+1); err != nil {
				return dst, j, err
			}
		}
		return append(dst, ']'), j, nil
	case TypeMap:
		if depth >= MaxDepth {
			return dst, i, fmt.Errorf("msgpack: nesting deeper than %d at offset %d", MaxDepth, i)
		}
		dst = append(dst, '{')
		j := h.payload
		for k := 0; k < h.n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			kEnd, err := skip(v, j, depth+1)
			if err != nil {
				return dst, j, err
			}
			if dst, err = appendKey(dst, v[j:kEnd], k); err != nil {
				return dst, j, err
			}
			dst = append(dst, ':')
			if dst, j, err = appendJSON(dst, v, kEnd, depth+1); err != nil {
				return dst, j, err
			}
		}
		return append(dst, '}'), j, nil
	}
	return dst, i, fmt.Errorf("msgpack: unexpected %s at offset %d", h.typ, i)
}

// appendKey writes a map key as a JSON string: str and bin as they are,
// nil, bool and numbers as their JSON text ("null", "true", "5", "1.5"), and
// maps, arrays and ext values (which cannot be keys in JSON and never occur
// in logs) as "_key<i>", i the member index. Rendering a container key as
// its JSON text would escape it again at every level of key nesting: hostile
// input could make the output grow exponentially.
func appendKey(dst, k []byte, index int) ([]byte, error) {
	h, err := readHead(k, 0)
	if err != nil {
		return dst, err
	}
	switch h.typ {
	case TypeStr, TypeBin:
		return AppendString(dst, k[h.payload:h.end]), nil
	case TypeNil, TypeBool, TypeInt, TypeUint, TypeFloat:
		dst = append(dst, '"')
		dst, _, err = appendJSON(dst, k, 0, MaxDepth)
		return append(dst, '"'), err
	}
	dst = append(dst, `"_key`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	return append(dst, '"'), nil
}

func appendFloat(dst []byte, f float64, is32 bool) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	bits := 64
	if is32 {
		bits = 32
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// safe marks ASCII bytes that go into a JSON string unchanged.
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = false, false
	return t
}()

// AppendString appends s as a quoted JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
