package fbin

import "bytes"

// Span is one record found in a byte range of a blob. Off and End are blob
// offsets: the record's provenance range, which starts where the previous
// record (or the range) ended, so the spans of a range are contiguous and an
// acknowledgment of all of them covers the range without gaps. JSON is the
// record object itself, '{' through '}', aliasing the range's bytes.
type Span struct {
	Off, End int64
	JSON     []byte
}

// Split finds the complete top-level records in data, the bytes of a blob
// starting at blob offset base. It skips a leading UTF-8 BOM and the blob head
// {"records":[, the commas between records, whitespace and the tail ]}.
//
// It appends one Span per complete record to dst and returns it, with used:
// the blob offset up to which data was consumed. used is base+len(data)
// unless data ends inside a record (a range cut short), in which case it is
// the start of that incomplete record's span; the bytes after used must be
// read again. Bytes that are not records (the head, the tail, garbage between
// records) are folded into the span of the record after them, or, after the
// last record, into its span when the range ends with them; when data holds
// no record at all, dst is returned unchanged and [base, used) is the
// data-less range the caller acknowledges itself.
func Split(dst []Span, data []byte, base int64) (spans []Span, used int64) {
	n0 := len(dst)
	i := 0
	if bytes.HasPrefix(data, bom) {
		i = len(bom)
	}
	i = skipHead(data, i)
	prev := 0 // start of the next span, relative to data
	for i < len(data) {
		c := data[i]
		switch c {
		case ' ', '\t', '\r', '\n', ',', ']', '}', '[':
			i++
			continue
		case '{':
			end, ok := objectEnd(data, i)
			if !ok {
				// Incomplete record: stop before it. The bytes from prev are
				// left for the next read.
				return dst, base + int64(prev)
			}
			dst = append(dst, Span{Off: base + int64(prev), End: base + int64(end), JSON: data[i:end]})
			prev = end
			i = end
		default:
			// Garbage outside a record: skip to the next '{'.
			k := bytes.IndexByte(data[i:], '{')
			if k < 0 {
				i = len(data)
			} else {
				i += k
			}
		}
	}
	if len(dst) > n0 {
		// Trailing bytes (tail, whitespace) belong to the last record.
		dst[len(dst)-1].End = base + int64(len(data))
	}
	return dst, base + int64(len(data))
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// skipHead returns the index after {"records":[ (with any whitespace) when
// data has it at i, else i.
func skipHead(data []byte, i int) int {
	j := skipWS(data, i)
	if j >= len(data) || data[j] != '{' {
		return i
	}
	j = skipWS(data, j+1)
	const key = `"records"`
	if !bytes.HasPrefix(data[j:], []byte(key)) {
		return i
	}
	j = skipWS(data, j+len(key))
	if j >= len(data) || data[j] != ':' {
		return i
	}
	j = skipWS(data, j+1)
	if j >= len(data) || data[j] != '[' {
		return i
	}
	return j + 1
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// objectEnd returns the index after the '}' or ']' closing the object or
// array that opens at b[i], skipping strings; ok is false when b ends first.
func objectEnd(b []byte, i int) (end int, ok bool) {
	depth := 0
	for i < len(b) {
		k := bytes.IndexAny(b[i:], "\"{}[]")
		if k < 0 {
			return 0, false
		}
		i += k
		switch b[i] {
		case '"':
			j, ok := stringEnd(b, i)
			if !ok {
				return 0, false
			}
			i = j
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
		i++
	}
	return 0, false
}
