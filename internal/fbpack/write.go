package fbpack

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// The Append* writers build msgpack the way Fluent Bit does. They exist for
// tests, fixtures (test/harness/genchunks) and benchmarks; the plugin itself
// only reads.

// AppendNil appends nil.
func AppendNil(b []byte) []byte { return append(b, 0xc0) }

// AppendBool appends a bool.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// AppendInt appends an integer in the smallest encoding.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 0x7f:
		return append(b, byte(v))
	case v < 0 && v >= -32:
		return append(b, byte(int8(v)))
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return append(b, 0xd0, byte(int8(v)))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(v)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

// AppendUint appends an unsigned integer as uint 64.
func AppendUint(b []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// AppendFloat appends a float64.
func AppendFloat(b []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(v))
}

// AppendFloat32 appends a float32.
func AppendFloat32(b []byte, v float32) []byte {
	return binary.BigEndian.AppendUint32(append(b, 0xca), math.Float32bits(v))
}

// AppendStr appends a str.
func AppendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// AppendBin appends a bin.
func AppendBin(b []byte, v []byte) []byte {
	n := len(v)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, v...)
}

// AppendArrayHeader starts an array of n elements.
func AppendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

// AppendMapHeader starts a map of n members.
func AppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// AppendEventTime appends Fluent Bit's event time (fixext 8, type 0).
func AppendEventTime(b []byte, sec, nsec int64) []byte {
	b = append(b, 0xd7, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(sec))
	return binary.BigEndian.AppendUint32(b, uint32(nsec))
}

// AppendEntryHeader starts a Fluent Bit >= 2.1 entry: [[time, {}], and the
// caller appends the record. A negative sec writes a group marker's time.
func AppendEntryHeader(b []byte, sec, nsec int64) []byte {
	b = append(b, 0x92, 0x92)
	b = AppendEventTime(b, sec, nsec)
	return append(b, 0x80)
}

// AppendJSONValue appends a value decoded by encoding/json (with UseNumber
// or float64 numbers; int, int64 and []byte are accepted too) as msgpack. Map keys are written sorted, so the output
// is deterministic.
func AppendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return AppendNil(b), nil
	case bool:
		return AppendBool(b, x), nil
	case string:
		return AppendStr(b, x), nil
	case []byte:
		return AppendBin(b, x), nil
	case int:
		return AppendInt(b, int64(x)), nil
	case int64:
		return AppendInt(b, x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return AppendInt(b, int64(x)), nil
		}
		return AppendFloat(b, x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return AppendInt(b, i), nil
		}
		f, err := x.Float64()
		if err != nil {
			return b, fmt.Errorf("number %q: %w", x, err)
		}
		return AppendFloat(b, f), nil
	case []any:
		b = AppendArrayHeader(b, len(x))
		for _, e := range x {
			var err error
			if b, err = AppendJSONValue(b, e); err != nil {
				return b, err
			}
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = AppendMapHeader(b, len(x))
		for _, k := range keys {
			b = AppendStr(b, k)
			var err error
			if b, err = AppendJSONValue(b, x[k]); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return b, fmt.Errorf("cannot encode %T as msgpack", v)
}
