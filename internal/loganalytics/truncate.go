package loganalytics

import (
	"fmt"
	"unicode/utf8"
)

// truncateFields appends to dst a copy of the JSON object obj whose string
// values longer than limit bytes (as encoded) are cut to at most limit bytes,
// never inside an escape sequence or a UTF-8 character. It returns nil if obj
// is not a JSON object it can walk. Nested values are copied unchanged.
func truncateFields(dst, obj []byte, limit int) []byte {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	dst = append(dst, '{')
	i++
	for {
		i = skipWS(obj, i)
		if i >= len(obj) {
			return nil
		}
		if obj[i] == '}' {
			return append(dst, '}')
		}
		if obj[i] == ',' {
			dst = append(dst, ',')
			i++
			continue
		}
		// key
		ks, ke, ok := stringSpan(obj, i)
		if !ok {
			return nil
		}
		dst = append(dst, obj[ks:ke]...)
		i = skipWS(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		dst = append(dst, ':')
		i = skipWS(obj, i+1)
		if i >= len(obj) {
			return nil
		}
		if obj[i] == '"' {
			vs, ve, ok := stringSpan(obj, i)
			if !ok {
				return nil
			}
			content := obj[vs+1 : ve-1]
			if len(content) > limit {
				content = content[:safeCut(content, limit)]
			}
			dst = append(dst, '"')
			dst = append(dst, content...)
			dst = append(dst, '"')
			i = ve
			continue
		}
		ve, ok := valueEnd(obj, i)
		if !ok {
			return nil
		}
		dst = append(dst, obj[i:ve]...)
		i = ve
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringSpan returns the span of the JSON string starting at b[i] == '"',
// quotes included.
func stringSpan(b []byte, i int) (int, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return i, j + 1, true
		}
	}
	return 0, 0, false
}

// valueEnd returns the end of the non-string JSON value starting at b[i].
func valueEnd(b []byte, i int) (int, bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch c := b[j]; c {
		case '"':
			_, e, ok := stringSpan(b, j)
			if !ok {
				return 0, false
			}
			j = e - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j, true
			}
			depth--
			if depth == 0 {
				return j + 1, true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return j, true
			}
		}
	}
	return 0, false
}

// safeCut returns n <= limit such that s[:n] ends neither inside an escape
// sequence nor inside a UTF-8 character.
func safeCut(s []byte, limit int) int {
	n := limit
	// Do not end inside an escape: find the start of the escape run covering n.
	for k := n - 1; k >= 0 && k >= n-6; k-- {
		if s[k] != '\\' {
			continue
		}
		// count the backslashes ending at k
		run := 0
		for m := k; m >= 0 && s[m] == '\\'; m-- {
			run++
		}
		if run%2 == 0 { // "\\\\" pairs: k is the second of an escaped backslash
			continue
		}
		end := k + 2
		if k+1 < len(s) && s[k+1] == 'u' {
			end = k + 6
		}
		if end > n {
			n = k
		}
		break
	}
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

func oversizeReason(before, after, maxBody, fieldLimit int) string {
	return fmt.Sprintf("event of %d bytes (%d after truncating string fields to %d bytes) does not fit the %d-byte body cap", before, after, fieldLimit, maxBody)
}
