package fbout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/nsgflow/nsgflow/internal/checkpoint"

	"github.com/nsgflow/nsgflow/internal/fbpack"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// worker holds the reusable state of one flush: a pooled worker makes the
// steady-state flush allocate little.
type worker struct {
	p      *Pipeline
	reader fbpack.Reader
	parser flowparse.Parser
	enc    *flowparse.Encoder
	st     *loganalytics.Stream // the flush's events, cut and sent as they come
	json   []byte               // transcoded record
	cur    *flowparse.Event
	encode func([]byte) []byte

	records int
	prov    []recProv
	ackBuf  []checkpoint.Range
	lastRID []byte
	ridStr  string
}

// recProv is one record's provenance and the events it produced.
type recProv struct {
	p            Provenance
	first, count int
}

func (p *Pipeline) newWorker() any {
	w := &worker{p: p, enc: flowparse.NewEncoder(p.o.Schema)}
	w.enc.TimeField = p.o.TimeField
	w.encode = func(b []byte) []byte { return w.enc.Append(b, w.cur) }
	w.parser.OnEvent = w.onEvent
	w.parser.OnSkip = func(s flowparse.Skip) {
		if int(s.Kind) < maxParseKinds {
			p.skipped(int(s.Kind), s.Reason)
		}
	}
	return w
}

func (w *worker) reset(ctx context.Context, seen func(uint64) bool) {
	if w.st == nil {
		w.st = loganalytics.NewStream(ctx, w.p.o.Sink, seen)
	} else {
		w.st.Reset(ctx, w.p.o.Sink, seen)
	}
	w.records = 0
	w.prov = w.prov[:0]
	w.parser.Reset()
	if cap(w.json) > 4<<20 {
		w.json = nil // do not pin one huge record's buffer
	}
}

func (w *worker) onEvent(e *flowparse.Event) {
	w.cur = e
	w.st.AppendWith(w.encode)
	if w.p.o.AzureResourceID {
		if !bytes.Equal(e.FlowLogResource, w.lastRID) || w.ridStr == "" {
			w.lastRID = append(w.lastRID[:0], e.FlowLogResource...)
			w.ridStr = string(e.FlowLogResource)
		}
		w.st.SetResourceID(w.ridStr)
	}
}

// decode reads every entry of chunk into the stream, which sends the events
// body by body while the rest is decoded. It returns the error that
// stopped it when the chunk is not valid msgpack; the records before it are
// kept.
func (w *worker) decode(chunk []byte) error {
	w.reader.Reset(chunk)
	var e fbpack.Entry
	for {
		err := w.reader.Next(&e)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		w.records++
		w.record(e.Record)
	}
}

// record classifies one record and appends its events.
func (w *worker) record(rec []byte) {
	p := w.p
	it, err := fbpack.NewMapIter(rec)
	if err != nil {
		p.skipped(kindNotMap, fmt.Sprintf("a %s", fbpack.TypeOf(rec)))
		return
	}
	var (
		raw, flat, hasProv bool
		field              []byte
		fieldSet           bool
		records            []byte // a whole blob's "records" array
		pv                 Provenance
	)
	for it.Next() {
		k, ok := it.KeyString()
		if !ok || len(k) == 0 {
			continue
		}
		switch {
		case string(k) == "properties" || string(k) == "flowRecords":
			raw = true
		case string(k) == "records":
			if fbpack.TypeOf(it.Value()) == fbpack.TypeArray {
				records = it.Value()
			}
		case string(k) == p.o.RecordField:
			field, fieldSet = fbpack.Str(it.Value())
		case string(k) == "EventId" || string(k) == "SrcIp" || string(k) == "SourceIp":
			flat = true
		case len(k) > len(checkpoint.ProvenancePrefix) && string(k[:len(checkpoint.ProvenancePrefix)]) == checkpoint.ProvenancePrefix:
			hasProv = true
			switch string(k) {
			case checkpoint.FieldSource:
				if s, ok := fbpack.Str(it.Value()); ok {
					pv.Key = string(s)
				}
			case checkpoint.FieldGen:
				pv.Gen, _ = fbpack.Int(it.Value())
			case checkpoint.FieldOffset:
				pv.Off, _ = fbpack.Int(it.Value())
			case checkpoint.FieldEnd:
				pv.End, _ = fbpack.Int(it.Value())
			case checkpoint.FieldN:
				pv.N, _ = fbpack.Int(it.Value())
			case checkpoint.FieldTotal:
				pv.Total, _ = fbpack.Int(it.Value())
			}
		}
	}
	if it.Err() != nil {
		p.skipped(kindBadRecord, it.Err().Error())
		return
	}
	first := w.st.Len()
	switch {
	case raw || records != nil:
		// A flow-log record decoded into a map; or a whole blob, of which
		// only the records array is transcoded (the parser takes an array of
		// records whatever keys came before it).
		src := rec
		if !raw {
			src = records
		}
		w.json, err = fbpack.AppendJSON(w.json[:0], src)
		if err != nil {
			p.skipped(kindBadRecord, err.Error())
			return
		}
		_ = w.parser.Parse(w.json) // problems inside are counted skips
	case fieldSet:
		before := w.parser.Stats.Records
		if err := w.parser.Parse(field); err != nil || w.parser.Stats.Records == before {
			p.skipped(kindFieldNotFlow, fmt.Sprintf("%q starts with %q", p.o.RecordField, clipBytes(field, 40)))
		}
	case flat:
		// Renamed time column (Data Collector): a flat event written with
		// the schema's own time column gets it renamed the same way.
		from, to := "", p.o.TimeField
		if to != "" && to != p.o.Schema.TimeColumn {
			from = p.o.Schema.TimeColumn
		}
		w.json, err = fbpack.AppendJSONRename(w.json[:0], rec, checkpoint.ProvenancePrefix, from, to)
		if err != nil {
			p.skipped(kindBadRecord, err.Error())
			return
		}
		w.st.Append(w.json)
	default:
		p.skipped(kindUnrecognised, fmt.Sprintf("a map of %d keys", it.Len()))
	}
	if hasProv {
		w.prov = append(w.prov, recProv{p: pv, first: first, count: w.st.Len() - first})
	}
}

func clipBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// counters are the pipeline's running totals.
type counters struct {
	flushes, ok, retry, errors     atomic.Int64
	records, badChunks, requests   atomic.Int64
	eventsAccepted, eventsRejected atomic.Int64
	eventsRefused                  atomic.Int64
	maxBodies                      atomic.Int64
	skipped                        [numKinds]atomic.Int64
}

// peakBodies keeps the most bodies one flush had alive.
func (c *counters) peakBodies(n int) {
	for {
		old := c.maxBodies.Load()
		if int64(n) <= old || c.maxBodies.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}

// Stats is a snapshot of the pipeline's totals.
type Stats struct {
	Flushes, OK, Retry, Error int64
	Records, BadChunks        int64
	Requests                  int64
	EventsAccepted            int64
	EventsRejected            int64
	Skipped                   map[string]int64
	RememberedChunks          int
	// EventsRefused: refused alone with 400 (logged, in dead_letter_file
	// if set, acknowledged).
	EventsRefused int64
	// PeakBodies is the most request bodies one flush had alive at once
	// (at most the concurrency setting).
	PeakBodies int
}

// Stats returns the totals so far.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Flushes: p.stats.flushes.Load(), OK: p.stats.ok.Load(), Retry: p.stats.retry.Load(), Error: p.stats.errors.Load(),
		Records: p.stats.records.Load(), BadChunks: p.stats.badChunks.Load(), Requests: p.stats.requests.Load(),
		EventsAccepted: p.stats.eventsAccepted.Load(), EventsRejected: p.stats.eventsRejected.Load(),
		Skipped: map[string]int64{}, RememberedChunks: p.mem.len(), PeakBodies: int(p.stats.maxBodies.Load()),
		EventsRefused: p.stats.eventsRefused.Load(),
	}
	for k := range p.stats.skipped {
		if n := p.stats.skipped[k].Load(); n > 0 {
			name := kindNames[k]
			if k < maxParseKinds {
				name = flowparse.SkipKind(k).String()
			}
			s.Skipped[name] = n
		}
	}
	return s
}
