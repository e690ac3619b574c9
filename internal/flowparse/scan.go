package flowparse

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// scanner is a minimal JSON reader over a byte slice. It never copies: string
// values come back as sub-slices of the input unless they hold escapes.
type scanner struct {
	b []byte
	i int
}

var errEOF = errors.New("unexpected end of input")

// maxDepth bounds nesting when skipping values, so hostile input cannot make
// the skipper run away.
const maxDepth = 512

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) {
		return errEOF
	}
	if s.b[s.i] != c {
		return fmt.Errorf("expected %q at offset %d, found %q", c, s.i, s.b[s.i])
	}
	s.i++
	return nil
}

// str reads a JSON string and returns its decoded content. Without escapes the
// result aliases the input; with escapes it is a fresh copy. Raw control
// characters are tolerated (the encoder escapes them on output).
func (s *scanner) str() ([]byte, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, errEOF
	}
	if s.b[s.i] != '"' {
		return nil, fmt.Errorf("expected string at offset %d, found %q", s.i, s.b[s.i])
	}
	start := s.i + 1
	k := bytes.IndexByte(s.b[start:], '"')
	if k < 0 {
		return nil, errEOF
	}
	v := s.b[start : start+k]
	if bytes.IndexByte(v, '\\') >= 0 {
		return s.strEscaped(start)
	}
	s.i = start + k + 1
	return v, nil
}

func (s *scanner) strEscaped(start int) ([]byte, error) {
	out := make([]byte, 0, 64)
	j := start
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return out, nil
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(s.b) {
			return nil, errEOF
		}
		e := s.b[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s.b, j)
			if !ok {
				return nil, fmt.Errorf("bad \\u escape at offset %d", j-2)
			}
			j += 4
			if r >= 0xD800 && r < 0xDC00 && j+6 <= len(s.b) && s.b[j] == '\\' && s.b[j+1] == 'u' {
				if r2, ok := hex4(s.b, j+2); ok && r2 >= 0xDC00 && r2 < 0xE000 {
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					j += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, fmt.Errorf("bad escape \\%c at offset %d", e, j-2)
		}
	}
	return nil, errEOF
}

func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[j : j+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

// intValue reads a JSON number (or a string holding one) as an int64.
// Fractions are truncated; anything else is an error.
func (s *scanner) intValue() (int64, error) {
	c := s.peek()
	if c == '"' {
		v, err := s.str()
		if err != nil {
			return 0, err
		}
		n, ok := parseInt(v)
		if !ok {
			return 0, fmt.Errorf("not a number: %q", clip(v))
		}
		return n, nil
	}
	start := s.i
	if err := s.skip(); err != nil {
		return 0, err
	}
	raw := s.b[start:s.i]
	for k, ch := range raw {
		if ch == '.' || ch == 'e' || ch == 'E' {
			raw = raw[:k]
			break
		}
	}
	n, ok := parseInt(raw)
	if !ok {
		return 0, fmt.Errorf("not a number: %q", clip(s.b[start:s.i]))
	}
	return n, nil
}

// skip consumes one JSON value of any type, validating its structure.
func (s *scanner) skip() error { return s.skipDepth(0) }

func (s *scanner) skipDepth(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nesting deeper than %d at offset %d", maxDepth, s.i)
	}
	switch c := s.peek(); c {
	case 0:
		return errEOF
	case '"':
		_, err := s.rawStr()
		return err
	case '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return nil
		}
		for {
			if _, err := s.rawStr(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
			if done, err := s.next('}'); done || err != nil {
				return err
			}
		}
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skipDepth(depth + 1); err != nil {
				return err
			}
			if done, err := s.next(']'); done || err != nil {
				return err
			}
		}
	default:
		return s.scalar()
	}
}

// next consumes the separator after a member or element: ',' (more follow)
// or the closing byte (done).
func (s *scanner) next(closing byte) (done bool, err error) {
	switch c := s.peek(); c {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	case 0:
		return false, errEOF
	default:
		return false, fmt.Errorf("expected ',' or %q at offset %d, found %q", closing, s.i, c)
	}
}

// arrayElems iterates an array: fn must consume each element.
func (s *scanner) arrayElems(fn func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := fn(n); err != nil {
			return err
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// rawStr consumes a string without decoding it. It finds the closing quote
// with bytes.IndexByte (vectorised), since skipping tuple arrays is the bulk
// of the first pass over a record.
func (s *scanner) rawStr() ([]byte, error) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, fmt.Errorf("expected string at offset %d", s.i)
	}
	start := s.i + 1
	j := start
	for {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return nil, errEOF
		}
		j += k
		// An odd run of backslashes before the quote escapes it.
		bs := 0
		for m := j - 1; m >= start && s.b[m] == '\\'; m-- {
			bs++
		}
		if bs%2 == 0 {
			s.i = j + 1
			return s.b[start:j], nil
		}
		j++
	}
}

// scalar consumes a number or a literal.
func (s *scanner) scalar() error {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' ||
			(c >= 'a' && c <= 'z') {
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		if s.i >= len(s.b) {
			return errEOF
		}
		return fmt.Errorf("unexpected %q at offset %d", s.b[s.i], s.i)
	}
	lit := s.b[start:s.i]
	switch lit[0] {
	case 't':
		if string(lit) != "true" {
			return fmt.Errorf("bad literal %q at offset %d", clip(lit), start)
		}
	case 'f':
		if string(lit) != "false" {
			return fmt.Errorf("bad literal %q at offset %d", clip(lit), start)
		}
	case 'n':
		if string(lit) != "null" {
			return fmt.Errorf("bad literal %q at offset %d", clip(lit), start)
		}
	default:
		if !(lit[0] == '-' || (lit[0] >= '0' && lit[0] <= '9')) {
			return fmt.Errorf("bad value %q at offset %d", clip(lit), start)
		}
	}
	return nil
}

// objectMembers iterates an object's members: fn gets the key and must consume
// the value. It returns after the closing brace.
func (s *scanner) objectMembers(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		k, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// clip shortens a value quoted in an error message.
func clip(b []byte) string {
	const max = 60
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
