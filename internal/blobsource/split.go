package blobsource

import "bytes"

var (
	blobHead = []byte(`{"records":[`)
	// Azure writes "time" (NSG, VNet) or "category" (some VNet writers)
	// first; neither can occur in a JSON string unescaped, nor as a key of
	// an object inside a record.
	recordStarts = [][]byte{[]byte(`,{"time":`), []byte(`,{"category":`)}
)

// recordCut returns the length of a prefix of b (the longest one that can
// be found cheaply) that ends at a record boundary: right after a record's closing '}' at the top level of
// the records array, so that the rest starts with the ',' before the next
// record. b starts at a record boundary (the blob head, a ',' or a '{').
// It returns 0 when b holds no complete record.
//
// Azure starts every record with ",{"time": or ",{"category": (after the
// first); the last of those is found with a fast search and is exact even
// past a truncated or malformed block. Other key orders fall back to a walk
// of the JSON structure.
func recordCut(b []byte) int {
	if k := fallbackCut(b, 0); k > 0 {
		return k
	}
	i := 0
	if bytes.HasPrefix(b, blobHead) {
		i = len(blobHead)
	}
	depth, last := 0, 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string, honouring escapes.
			for i++; i < len(b); i++ {
				if b[i] == '\\' {
					i++
				} else if b[i] == '"' {
					break
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 && b[i] == '}' {
				last = i + 1
			} else if depth < 0 {
				// The tail "]}" or garbage: nothing further is a record.
				return last
			}
		}
	}
	return last
}

// fallbackCut returns the last Azure record start after last, or last.
func fallbackCut(b []byte, last int) int {
	for _, p := range recordStarts {
		if k := lastIndexFrom(b, last+1, p); k > last {
			last = k
		}
	}
	return last
}

// lastIndexFrom is bytes.LastIndex(b[from:], p) + from, or -1, searching
// growing windows from the end: the match is usually near the end, and
// bytes.LastIndex walks the whole slice.
func lastIndexFrom(b []byte, from int, p []byte) int {
	for w := 64 << 10; ; w *= 4 {
		start := max(from, len(b)-w)
		if start > len(b) {
			return -1
		}
		if k := bytes.LastIndex(b[start:], p); k >= 0 {
			return start + k
		}
		if start == from {
			return -1
		}
		// Overlap the windows so a match across the border is found.
		b = b[:start+len(p)-1]
	}
}
