package flowparse

import (
	"bytes"
	"fmt"
	"io"
)

// MaxRecordBytes is the largest record ParseReader holds in memory. A larger
// one is skipped whole (counted as malformed-json, its bytes never kept) and
// the input goes on after it. Flow-log records are a few KB to a few MB.
const MaxRecordBytes = 64 << 20

// readerChunk is how much ParseReader reads at a time.
const readerChunk = 1 << 20

// ParseReader expands r as Parse expands its bytes (a blob, concatenated
// blobs, a range, an array of records, one record or NDJSON), reading it in
// pieces: memory is about one read (1 MiB) plus the largest record, never the
// whole input. It returns ErrNotFlowLog as Parse does, or the read error.
// Skip offsets and the numbers in skip reasons count from the start of the
// piece being parsed; record indices count over the whole input.
func (p *Parser) ParseReader(r io.Reader) error {
	return p.parseReader(r, MaxRecordBytes)
}

func (p *Parser) parseReader(r io.Reader, maxRecord int) error {
	var (
		sp    splitter
		buf   = make([]byte, 0, readerChunk)
		first = true
	)
	sp.reset()
	parse := func(b []byte) error {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		err := p.parse(b, !first)
		first = false
		return err
	}
	// drop removes buf[:k], keeping the splitter's positions right.
	drop := func(k int) {
		n := copy(buf, buf[k:])
		buf = buf[:n]
		sp.shift(k)
	}
	for {
		if cap(buf)-len(buf) < readerChunk/2 {
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = nb
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := rerr == io.EOF
		if rerr != nil && !eof {
			return rerr
		}
		sp.scan(buf, eof)
		switch {
		case sp.skipping:
			// Inside a record too large to keep: drop what was scanned.
			if sp.cut > 0 {
				drop(sp.cut)
				sp.skipping = false
				sp.scan(buf, eof)
			} else {
				drop(sp.pos)
			}
		case sp.start >= 0 && len(buf)-sp.start > maxRecord:
			if err := parse(buf[:sp.start]); err != nil {
				return err
			}
			p.skip(SkipMalformed, p.recIdx, 0, fmt.Sprintf("record %d: larger than %d bytes: skipped", p.recIdx, maxRecord))
			p.recIdx++
			p.Stats.RecordsSkipped++
			first = false
			drop(len(buf))
			sp.skipping = true
			continue
		}
		if !sp.skipping && sp.cut > 0 && (sp.cut >= readerChunk/2 || eof) {
			if err := parse(buf[:sp.cut]); err != nil {
				return err
			}
			drop(sp.cut)
		}
		if eof {
			if !sp.skipping {
				return parse(buf)
			}
			return nil
		}
		// Keep the buffer near one read once the big record is gone.
		if cap(buf) > 4*readerChunk && len(buf) < readerChunk {
			nb := make([]byte, len(buf), readerChunk*2)
			copy(nb, buf)
			buf = nb
		}
	}
}

// splitter finds, in a growing buffer, the places between complete top-level
// records where the input can be cut: after a record that closes at the
// records' depth (2 inside a blob's records array, 1 in a top-level array, 0
// for bare records and NDJSON).
type splitter struct {
	pos      int  // next byte to scan
	cut      int  // last cut point (0: none)
	start    int  // where the record being read began, or -1
	depth    int  // containers open
	level    int  // depth at which records sit
	inStr    bool // inside a string
	skipping bool // dropping a record too large to keep
}

func (s *splitter) reset() { *s = splitter{start: -1} }

// shift moves the positions after buf[:k] was removed.
func (s *splitter) shift(k int) {
	s.pos -= k
	s.cut = max(s.cut-k, 0)
	if s.start >= 0 {
		s.start -= k
		if s.start < 0 {
			s.start = -1
		}
	}
}

// scan advances over buf from pos. At depth 0 it stops before a '{' whose
// head ({"records":[) it cannot decide yet, unless eof.
func (s *splitter) scan(b []byte, eof bool) {
	for s.pos < len(b) {
		if s.inStr {
			k := bytes.IndexByte(b[s.pos:], '"')
			if k < 0 {
				s.pos = len(b)
				return
			}
			q := s.pos + k
			bs := 0
			for j := q - 1; j >= 0 && b[j] == '\\'; j-- {
				bs++
			}
			s.pos = q + 1
			if bs%2 == 0 {
				s.inStr = false
			}
			continue
		}
		if s.depth == 0 {
			c := b[s.pos]
			switch c {
			case '{':
				n, head, ok := blobHead(b[s.pos:], eof)
				if !ok {
					return // wait for more bytes
				}
				if head {
					s.pos += n
					s.depth, s.level = 2, 2
					continue
				}
				s.level, s.depth, s.start = 0, 1, s.pos
			case '[':
				s.level, s.depth = 1, 1
			}
			s.pos++
			continue
		}
		k := bytes.IndexAny(b[s.pos:], "\"{}[]")
		if k < 0 {
			s.pos = len(b)
			return
		}
		s.pos += k
		switch b[s.pos] {
		case '"':
			s.inStr = true
		case '{', '[':
			if s.depth == s.level {
				s.start = s.pos
			}
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth <= s.level {
				s.cut, s.start = s.pos+1, -1
			}
			if s.depth <= 0 {
				s.depth, s.level = 0, 0
			}
			if s.skipping && s.cut > 0 {
				s.pos++
				return // the skipped record ends here
			}
		}
		s.pos++
	}
}

// blobHead reports whether b starts with a blob head {"records":[ (any
// whitespace) and its length; ok is false when b ends before that is known.
func blobHead(b []byte, eof bool) (n int, head, ok bool) {
	const key = `"records"`
	i := skipSpace(b, 1)
	if i >= len(b) {
		return 0, false, eof
	}
	m := min(len(b)-i, len(key))
	if !bytes.Equal(b[i:i+m], []byte(key[:m])) {
		return 0, false, true
	}
	if m < len(key) {
		return 0, false, eof
	}
	i = skipSpace(b, i+len(key))
	if i >= len(b) {
		return 0, false, eof
	}
	if b[i] != ':' {
		return 0, false, true
	}
	i = skipSpace(b, i+1)
	if i >= len(b) {
		return 0, false, eof
	}
	if b[i] != '[' {
		return 0, false, true
	}
	return i + 1, true, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
