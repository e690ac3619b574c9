package fbin

import (
	"bytes"
	"fmt"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fbpack"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// Origin says which blob, and which generation of it, records come from.
type Origin struct {
	Key string // checkpoint key of the blob
	Gen int64
}

// Encoder turns flow-log records into Fluent Bit entries ([ts, record]
// msgpack pairs): in raw mode one entry per record, its JSON transcoded; in
// expand mode one entry per flow tuple, the flat event of flowparse's
// Encoder. Every entry carries the record's provenance fields. An Encoder is
// not safe for concurrent use.
type Encoder struct {
	expand bool
	enc    *flowparse.Encoder
	parser flowparse.Parser

	evBuf  []byte  // expand: encoded events of the current record
	evEnds []int   // end of each event in evBuf
	evTime []int64 // event time, Unix ns
	fields [6]fbpack.Field

	// Now is the clock for records without a readable time (default time.Now).
	Now func() time.Time

	Stats EncodeStats
}

// EncodeStats counts what an Encoder produced and skipped.
type EncodeStats struct {
	Records        int64 // records encoded (raw) or expanded (expand)
	Entries        int64 // entries written
	BadRecords     int64 // records that are not valid JSON objects (dropped)
	EmptyRecords   int64 // expand: records that gave no event
	TuplesSkipped  int64 // expand: tuples flowparse could not read
	RecordsSkipped int64 // expand: records flowparse could not read
}

// NewEncoder returns an encoder; schema applies to expand mode (nil: the
// default schema) and timeField renames its time column ("" keeps it).
func NewEncoder(expand bool, schema *flowparse.Schema, timeField string) *Encoder {
	e := &Encoder{expand: expand, enc: flowparse.NewEncoder(schema)}
	e.enc.TimeField = timeField
	e.parser.OnEvent = e.onEvent
	return e
}

func (e *Encoder) onEvent(ev *flowparse.Event) {
	e.evBuf = e.enc.Append(e.evBuf, ev)
	e.evEnds = append(e.evEnds, len(e.evBuf))
	e.evTime = append(e.evTime, ev.TimeMillis*int64(time.Millisecond))
}

// Append appends the entries of the record sp to dst. It returns the longer
// slice and the number of entries written (0 for a record that is not a JSON
// object, or, in expand mode, gives no event: nothing to deliver, so the
// caller acknowledges its range itself). On error dst comes back unchanged.
func (e *Encoder) Append(dst []byte, o Origin, sp Span) ([]byte, int, error) {
	e.fields = [6]fbpack.Field{
		{Key: checkpoint.FieldSource, Str: o.Key},
		{Key: checkpoint.FieldGen, Int: o.Gen, IsInt: true},
		{Key: checkpoint.FieldOffset, Int: sp.Off, IsInt: true},
		{Key: checkpoint.FieldEnd, Int: sp.End, IsInt: true},
		{Key: checkpoint.FieldN, IsInt: true},
		{Key: checkpoint.FieldTotal, IsInt: true},
	}
	if !e.expand {
		out, err := fbpack.AppendEntry(dst, e.recordTime(sp.JSON), sp.JSON, e.fields[:4]...)
		if err != nil {
			e.Stats.BadRecords++
			return dst, 0, fmt.Errorf("record at blob offset %d: %w", sp.Off, err)
		}
		e.Stats.Records++
		e.Stats.Entries++
		return out, 1, nil
	}
	e.evBuf, e.evEnds, e.evTime = e.evBuf[:0], e.evEnds[:0], e.evTime[:0]
	before := e.parser.Stats
	err := e.parser.Record(sp.JSON)
	e.Stats.TuplesSkipped += e.parser.Stats.TuplesSkipped - before.TuplesSkipped
	e.Stats.RecordsSkipped += e.parser.Stats.RecordsSkipped - before.RecordsSkipped
	if err != nil {
		e.Stats.BadRecords++
		return dst, 0, fmt.Errorf("record at blob offset %d: %w", sp.Off, err)
	}
	e.Stats.Records++
	n := len(e.evEnds)
	if n == 0 {
		e.Stats.EmptyRecords++
		return dst, 0, nil
	}
	start := len(dst)
	e.fields[5].Int = int64(n)
	from := 0
	for i, to := range e.evEnds {
		e.fields[4].Int = int64(i + 1)
		var err error
		dst, err = fbpack.AppendEntry(dst, e.evTime[i], e.evBuf[from:to], e.fields[:]...)
		if err != nil {
			// The flowparse encoder writes valid JSON; this is a bug.
			e.Stats.BadRecords++
			return dst[:start], 0, fmt.Errorf("event %d of the record at blob offset %d: %w", i+1, sp.Off, err)
		}
		from = to
	}
	e.Stats.Entries += int64(n)
	return dst, n, nil
}

// recordTime returns the record's "time" in Unix ns, or now.
func (e *Encoder) recordTime(rec []byte) int64 {
	if v := topLevelString(rec, "time"); v != nil {
		if t, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
			return t.UnixNano()
		}
	}
	if e.Now != nil {
		return e.Now().UnixNano()
	}
	return time.Now().UnixNano()
}

// topLevelString returns the raw (unescaped-free) string value of key in the
// JSON object obj, looking only at its top level, or nil. Values with escapes
// are returned as written (a time never has any).
func topLevelString(obj []byte, key string) []byte {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipWS(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil
		}
		kEnd, ok := stringEnd(obj, i)
		if !ok {
			return nil
		}
		k := obj[i+1 : kEnd-1]
		i = skipWS(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		i = skipWS(obj, i+1)
		if i >= len(obj) {
			return nil
		}
		vStart := i
		switch obj[i] {
		case '"':
			end, ok := stringEnd(obj, i)
			if !ok {
				return nil
			}
			if string(k) == key {
				return obj[vStart+1 : end-1]
			}
			i = end
		case '{', '[':
			end, ok := objectEnd(obj, i)
			if !ok {
				return nil
			}
			i = end
		default:
			k := bytes.IndexAny(obj[i:], ",}")
			if k < 0 {
				return nil
			}
			i += k
		}
		i = skipWS(obj, i)
		if i >= len(obj) || obj[i] != ',' {
			return nil
		}
		i++
	}
}

// stringEnd returns the index after the closing quote of the string opening
// at b[i].
func stringEnd(b []byte, i int) (int, bool) {
	j := i + 1
	for {
		k := bytes.IndexAny(b[j:], "\"\\")
		if k < 0 {
			return 0, false
		}
		j += k
		if b[j] == '\\' {
			j += 2
			if j > len(b) {
				return 0, false
			}
			continue
		}
		return j + 1, true
	}
}
