// Writing Fluent Bit log entries: the msgpack [timestamp, record] pairs an
// input plugin hands to Fluent Bit, with the record transcoded from a JSON
// object and extra fields appended. No reflection: JSON bytes go straight to
// msgpack bytes in a reused buffer.

package fbpack

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Field is an extra key/value appended to a record (provenance, for one).
// Exactly one of Str or Int is meant; IsInt says which.
type Field struct {
	Key   string
	Str   string
	Int   int64
	IsInt bool
}

// maxDepth bounds nesting so hostile JSON cannot recurse without end.
const maxDepth = 128

var errEOF = errors.New("fbpack: unexpected end of JSON")

// AppendEntry appends [ts, record] to dst, where record is the JSON object obj
// plus the extra fields. ts is Unix time in nanoseconds (Fluent Bit's event
// time, msgpack ext type 0).
func AppendEntry(dst []byte, tsNanos int64, obj []byte, extra ...Field) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0x92) // fixarray 2
	dst = AppendTime(dst, tsNanos)
	t := transcoder{b: obj}
	t.ws()
	if t.i >= len(t.b) || t.b[t.i] != '{' {
		return dst[:start], fmt.Errorf("fbpack: record is not a JSON object")
	}
	var err error
	dst, err = t.object(dst, 0, extra)
	if err != nil {
		return dst[:start], err
	}
	t.ws()
	if t.i != len(t.b) {
		return dst[:start], fmt.Errorf("fbpack: trailing data after the record at offset %d", t.i)
	}
	return dst, nil
}

// AppendTime appends Fluent Bit's event time: ext type 0, 4 bytes seconds and
// 4 bytes nanoseconds, big endian.
func AppendTime(dst []byte, tsNanos int64) []byte {
	sec := tsNanos / 1e9
	nsec := tsNanos % 1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	dst = append(dst, 0xd7, 0x00)
	dst = binary.BigEndian.AppendUint32(dst, uint32(sec))
	return binary.BigEndian.AppendUint32(dst, uint32(nsec))
}

type transcoder struct {
	b []byte
	i int
}

func (t *transcoder) ws() {
	for t.i < len(t.b) {
		switch t.b[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

// value transcodes one JSON value at t.i.
func (t *transcoder) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("fbpack: JSON nested deeper than %d", maxDepth)
	}
	t.ws()
	if t.i >= len(t.b) {
		return dst, errEOF
	}
	switch c := t.b[t.i]; {
	case c == '{':
		return t.object(dst, depth, nil)
	case c == '[':
		return t.array(dst, depth)
	case c == '"':
		s, err := t.str()
		if err != nil {
			return dst, err
		}
		return appendStr(dst, s), nil
	case c == 't' && t.lit("true"):
		return append(dst, 0xc3), nil
	case c == 'f' && t.lit("false"):
		return append(dst, 0xc2), nil
	case c == 'n' && t.lit("null"):
		return append(dst, 0xc0), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number(dst)
	default:
		return dst, fmt.Errorf("fbpack: unexpected %q at offset %d", c, t.i)
	}
}

func (t *transcoder) lit(s string) bool {
	if len(t.b)-t.i >= len(s) && string(t.b[t.i:t.i+len(s)]) == s {
		t.i += len(s)
		return true
	}
	return false
}

// object transcodes {...} as a map32 whose count is patched at the end.
func (t *transcoder) object(dst []byte, depth int, extra []Field) ([]byte, error) {
	t.i++ // '{'
	hdr := len(dst)
	dst = append(dst, 0xdf, 0, 0, 0, 0)
	n := uint32(0)
	t.ws()
	if t.i < len(t.b) && t.b[t.i] == '}' {
		t.i++
	} else {
		for {
			t.ws()
			if t.i >= len(t.b) {
				return dst, errEOF
			}
			if t.b[t.i] != '"' {
				return dst, fmt.Errorf("fbpack: expected a key at offset %d", t.i)
			}
			k, err := t.str()
			if err != nil {
				return dst, err
			}
			dst = appendStr(dst, k)
			t.ws()
			if t.i >= len(t.b) || t.b[t.i] != ':' {
				return dst, fmt.Errorf("fbpack: expected ':' at offset %d", t.i)
			}
			t.i++
			if dst, err = t.value(dst, depth+1); err != nil {
				return dst, err
			}
			n++
			t.ws()
			if t.i >= len(t.b) {
				return dst, errEOF
			}
			if t.b[t.i] == ',' {
				t.i++
				continue
			}
			if t.b[t.i] == '}' {
				t.i++
				break
			}
			return dst, fmt.Errorf("fbpack: expected ',' or '}' at offset %d", t.i)
		}
	}
	for _, f := range extra {
		dst = appendStr(dst, []byte(f.Key))
		if f.IsInt {
			dst = AppendInt(dst, f.Int)
		} else {
			dst = appendStr(dst, []byte(f.Str))
		}
		n++
	}
	binary.BigEndian.PutUint32(dst[hdr+1:], n)
	return dst, nil
}

func (t *transcoder) array(dst []byte, depth int) ([]byte, error) {
	t.i++ // '['
	hdr := len(dst)
	dst = append(dst, 0xdd, 0, 0, 0, 0)
	n := uint32(0)
	t.ws()
	if t.i < len(t.b) && t.b[t.i] == ']' {
		t.i++
	} else {
		for {
			var err error
			if dst, err = t.value(dst, depth+1); err != nil {
				return dst, err
			}
			n++
			t.ws()
			if t.i >= len(t.b) {
				return dst, errEOF
			}
			if t.b[t.i] == ',' {
				t.i++
				continue
			}
			if t.b[t.i] == ']' {
				t.i++
				break
			}
			return dst, fmt.Errorf("fbpack: expected ',' or ']' at offset %d", t.i)
		}
	}
	binary.BigEndian.PutUint32(dst[hdr+1:], n)
	return dst, nil
}

// str reads a JSON string; without escapes the result aliases the input.
func (t *transcoder) str() ([]byte, error) {
	start := t.i + 1
	for j := start; j < len(t.b); j++ {
		switch t.b[j] {
		case '"':
			t.i = j + 1
			return t.b[start:j], nil
		case '\\':
			return t.strEscaped(start)
		}
		if t.b[j] < 0x20 {
			return nil, fmt.Errorf("fbpack: control character in string at offset %d", j)
		}
	}
	return nil, errEOF
}

func (t *transcoder) strEscaped(start int) ([]byte, error) {
	// Find the end first, then let encoding/json decode (rare path).
	j := start
	for j < len(t.b) {
		if t.b[j] == '\\' {
			j += 2
			continue
		}
		if t.b[j] == '"' {
			break
		}
		j++
	}
	if j >= len(t.b) {
		return nil, errEOF
	}
	var s string
	if err := json.Unmarshal(t.b[start-1:j+1], &s); err != nil {
		return nil, fmt.Errorf("fbpack: bad string escape near offset %d", start)
	}
	t.i = j + 1
	return []byte(s), nil
}

func (t *transcoder) number(dst []byte) ([]byte, error) {
	start := t.i
	end, isFloat, ok := scanNumber(t.b, start)
	if !ok {
		return dst, fmt.Errorf("fbpack: bad number at offset %d", start)
	}
	t.i = end
	if !isFloat {
		// Integers (counters, ports, offsets) are parsed in place: no
		// string per number on the hot path.
		if n, ok := parseInt(t.b[start:end]); ok {
			return AppendInt(dst, n), nil
		}
		if n, err := strconv.ParseUint(string(t.b[start:end]), 10, 64); err == nil {
			dst = append(dst, 0xcf)
			return binary.BigEndian.AppendUint64(dst, n), nil
		}
	}
	raw := string(t.b[start:end])
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return dst, fmt.Errorf("fbpack: number %q out of range at offset %d", raw, start)
	}
	dst = append(dst, 0xcb)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), nil
}

// parseInt parses a JSON integer that fits in int64.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// scanNumber checks JSON's number grammar -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// from i and returns where the number ends.
func scanNumber(b []byte, i int) (end int, isFloat, ok bool) {
	digits := func() int {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - s
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, false, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		isFloat = true
		if digits() == 0 {
			return i, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		isFloat = true
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false, false
		}
	}
	return i, isFloat, true
}

func appendStr(dst []byte, s []byte) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= 0xff:
		dst = append(dst, 0xd9, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0xda)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0xdb)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, s...)
}
