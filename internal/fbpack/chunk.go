package fbpack

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Entry is one record of a chunk. Meta and Record alias the chunk.
type Entry struct {
	Sec    int64  // event time, Unix seconds
	Nsec   int64  // nanoseconds within Sec
	Meta   []byte // metadata map span (2.1+ format); nil for the old format
	Record []byte // the record span (normally a map)
	Offset int    // where the entry starts in the chunk
}

// Reader iterates the entries of one chunk. The zero value reads nothing;
// use NewReader.
type Reader struct {
	b      []byte
	i      int
	groups int // group markers skipped so far
}

// NewReader returns a Reader over chunk. The chunk is not copied.
func NewReader(chunk []byte) *Reader { return &Reader{b: chunk} }

// Reset makes r read chunk from its start.
func (r *Reader) Reset(chunk []byte) { *r = Reader{b: chunk} }

// Offset is how far the reader has got.
func (r *Reader) Offset() int { return r.i }

// Groups is the number of group markers skipped so far.
func (r *Reader) Groups() int { return r.groups }

// Next fills e with the next record. It returns io.EOF after the last one,
// and an error (wrapping ErrTruncated for cut input) when the entry at the
// current offset is not a valid entry; the reader then stays at the end.
func (r *Reader) Next(e *Entry) error {
	for {
		if r.i >= len(r.b) {
			return io.EOF
		}
		start := r.i
		group, err := r.entry(e)
		if err != nil {
			r.i = len(r.b)
			return fmt.Errorf("chunk entry at offset %d: %w", start, err)
		}
		if group {
			r.groups++
			continue
		}
		e.Offset = start
		return nil
	}
}

func (r *Reader) entry(e *Entry) (group bool, err error) {
	b := r.b
	h, err := readHead(b, r.i)
	if err != nil {
		return false, err
	}
	if h.typ != TypeArray || h.n < 2 {
		return false, fmt.Errorf("expected an array of 2, found %s of %d", h.typ, h.n)
	}
	end, err := skip(b, r.i, 0)
	if err != nil {
		return false, err
	}
	first := h.payload
	fh, err := readHead(b, first)
	if err != nil {
		return false, err
	}
	*e = Entry{}
	var ts int
	if fh.typ == TypeArray {
		// [[ts, meta], record]
		if fh.n < 1 {
			return false, fmt.Errorf("empty header array")
		}
		ts = fh.payload
		afterTS, err := skip(b, ts, 1)
		if err != nil {
			return false, err
		}
		if fh.n >= 2 {
			metaEnd, err := skip(b, afterTS, 1)
			if err != nil {
				return false, err
			}
			e.Meta = b[afterTS:metaEnd]
		}
	} else {
		ts = first
	}
	th, err := readHead(b, ts)
	if err != nil {
		return false, err
	}
	e.Sec, e.Nsec = timestamp(b, th)
	if isMarker(b, th) {
		// -1 starts a group, -2 ends it: not records. Fluent Bit writes them
		// as an event-time extension whose seconds are int32 -1 / -2; older
		// writers used a plain negative integer.
		r.i = end
		return true, nil
	}
	recStart, err := skip(b, first, 1)
	if err != nil {
		return false, err
	}
	recEnd, err := skip(b, recStart, 1)
	if err != nil {
		return false, err
	}
	e.Record = b[recStart:recEnd]
	r.i = end
	return false, nil
}

// isMarker reports whether a timestamp is a group marker (-1 or -2). Other
// negative integers are treated the same way: Fluent Bit reserves them.
func isMarker(b []byte, h head) bool {
	switch h.typ {
	case TypeInt:
		return h.i < 0
	case TypeFloat:
		return h.f < 0
	case TypeExt:
		if h.ext == 0 && h.end-h.payload == 8 {
			s := int32(binary.BigEndian.Uint32(b[h.payload:]))
			return s == -1 || s == -2
		}
	}
	return false
}

// timestamp decodes an entry time; unknown encodings give zero.
func timestamp(b []byte, h head) (sec, nsec int64) {
	switch h.typ {
	case TypeInt:
		return h.i, 0
	case TypeUint:
		if h.u <= math.MaxInt64 {
			return int64(h.u), 0
		}
	case TypeFloat:
		if math.IsNaN(h.f) || math.IsInf(h.f, 0) || math.Abs(h.f) > 1e15 {
			return 0, 0
		}
		s := math.Floor(h.f)
		return int64(s), int64((h.f - s) * 1e9)
	case TypeExt:
		p := b[h.payload:h.end]
		switch {
		case h.ext == 0 && len(p) == 8:
			// Fluent Bit event time: seconds, nanoseconds.
			return int64(binary.BigEndian.Uint32(p)), int64(binary.BigEndian.Uint32(p[4:]))
		case h.ext == -1 && len(p) == 4:
			return int64(binary.BigEndian.Uint32(p)), 0
		case h.ext == -1 && len(p) == 8:
			v := binary.BigEndian.Uint64(p)
			return int64(v & (1<<34 - 1)), int64(v >> 34)
		case h.ext == -1 && len(p) == 12:
			return int64(binary.BigEndian.Uint64(p[4:])), int64(binary.BigEndian.Uint32(p))
		case len(p) == 8:
			// Other 8-byte extensions: read them the Fluent Bit way.
			return int64(binary.BigEndian.Uint32(p)), int64(binary.BigEndian.Uint32(p[4:]))
		}
	}
	return 0, 0
}
