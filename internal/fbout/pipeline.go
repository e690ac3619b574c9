package fbout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fbconf"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// Result is a flush's outcome; the values are Fluent Bit's return codes.
type Result int

const (
	Error Result = 0 // drop the chunk (permanent failure or unreadable chunk)
	OK    Result = 1 // every event accepted
	Retry Result = 2 // try the chunk again later
)

func (r Result) String() string {
	switch r {
	case Error:
		return "ERROR"
	case OK:
		return "OK"
	case Retry:
		return "RETRY"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Provenance says where a record came from, as the blob input plugin wrote
// it (the checkpoint.Field* names). N and Total are set (N >= 1) when the
// record is one flat event of a record the input expanded: the range is
// complete once all Total are acked.
type Provenance struct {
	checkpoint.Range
	N, Total int64
}

// Acker is told which records' events were all accepted, so a checkpoint
// store can advance. Ack must be safe for concurrent use.
type Acker interface {
	Ack(ctx context.Context, ranges []checkpoint.Range) error
}

// Options configure a Pipeline.
type Options struct {
	// Sink delivers the events (required).
	Sink loganalytics.Sink
	// Schema is the row layout (default flowparse.DefaultSchema).
	Schema *flowparse.Schema
	// TimeField renames the schema's time column ("" keeps it).
	TimeField string
	// RecordField is the record key that may hold flow-log JSON as a string
	// (default "log").
	RecordField string
	// FlushDeadline bounds one Flush (default DefaultFlushDeadline).
	FlushDeadline time.Duration
	// MaxRememberedChunks bounds the retry memory (0 disables it).
	MaxRememberedChunks int
	// AzureResourceID tags each event with its flow-log resource ID.
	AzureResourceID bool
	// Acker, if set, receives the provenance of fully accepted records.
	Acker Acker
	// Log receives the pipeline's lines (nil: discarded).
	Log *fblog.Logger
}

// Pipeline turns Fluent Bit chunks into delivered events. Flush may be called
// from several goroutines at once.
type Pipeline struct {
	o    Options
	mem  *memory
	pool sync.Pool

	root   context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	inflight int
	closing  bool
	idle     chan struct{} // closed when closing and inflight reaches 0

	logged [numKinds]atomic.Bool
	stats  counters
}

// New checks o and returns a Pipeline.
func New(o Options) (*Pipeline, error) {
	if o.Sink == nil {
		return nil, errors.New("pipeline: no sink")
	}
	if o.Schema == nil {
		o.Schema = flowparse.DefaultSchema
	}
	if o.RecordField == "" {
		o.RecordField = DefaultRecordField
	}
	if o.FlushDeadline <= 0 {
		o.FlushDeadline = DefaultFlushDeadline
	}
	if o.Log == nil {
		o.Log = &fblog.Logger{W: io.Discard, Level: fblog.LevelError + 1}
	}
	p := &Pipeline{o: o, mem: newMemory(o.MaxRememberedChunks), idle: make(chan struct{})}
	p.root, p.cancel = context.WithCancel(context.Background())
	p.pool.New = func() any { return p.newWorker() }
	return p, nil
}

// Flush delivers the records of one chunk. It returns OK when every event
// was accepted (or there was none), Retry when some were not accepted for a
// transient reason (the accepted batches are remembered, so the retried chunk
// sends only the rest), and Error when the destination refused them
// permanently or the chunk cannot be read at all. It never runs longer than
// the flush deadline. chunk and tag are not kept after Flush returns.
func (p *Pipeline) Flush(chunk []byte, tag string) Result {
	if !p.enter() {
		p.o.Log.Warnf("flush after exit started: returning RETRY")
		return Retry
	}
	defer p.leave()
	p.stats.flushes.Add(1)
	w := p.pool.Get().(*worker)
	defer p.pool.Put(w)
	// The chunk's memory from earlier attempts, then decode and send at once:
	// the stream cuts the events into bodies as they are encoded and sends
	// each while the next is encoded, so a flush holds at most concurrency
	// bodies whatever the chunk's size.
	key := chunkKey(chunk, tag)
	seen := p.mem.seen(key)
	var seenFn func(uint64) bool
	if len(seen) > 0 {
		seenFn = func(k uint64) bool { _, ok := seen[k]; return ok }
	}
	ctx, cancel := context.WithTimeout(p.root, p.o.FlushDeadline)
	w.reset(ctx, seenFn)
	decodeErr := w.decode(chunk)
	rep := w.st.Close()
	cancel()
	if decodeErr != nil {
		p.stats.badChunks.Add(1)
		p.o.Log.Errorf("tag %q: chunk of %d bytes is not valid msgpack after %d records: %v; the rest of the chunk is dropped", fbconf.Clip(tag), len(chunk), w.records, decodeErr)
	}
	p.stats.records.Add(int64(w.records))
	p.stats.peakBodies(rep.PeakBodies)
	events := w.st.Len()
	if events == 0 {
		p.ack(w, nil, nil)
		if decodeErr != nil {
			return p.result(Error)
		}
		return p.result(OK)
	}
	if seen != nil {
		p.o.Log.Infof("tag %q: retried chunk of %d batches: parts accepted earlier were skipped, %d pieces sent now", fbconf.Clip(tag), rep.Batches, len(rep.Sent))
	}
	p.stats.requests.Add(int64(rep.Requests))
	p.stats.eventsAccepted.Add(int64(rep.EventsAccepted))
	p.stats.eventsRefused.Add(int64(rep.EventsRefused))
	if rep.OK() {
		p.mem.forget(key)
		p.ack(w, nil, retried(seen, rep.Sent))
		p.o.Log.Debugf("tag %q: %d records, %d events in %d batches (%d sent now, %d requests): all accepted", fbconf.Clip(tag), w.records, events, rep.Batches, len(rep.Sent), rep.Requests)
		if decodeErr != nil {
			return p.result(Error)
		}
		return p.result(OK)
	}
	// Remember what was accepted; rep.Left is what was not.
	left := rep.Left
	p.ack(w, left, retried(seen, rep.Sent))
	if rep.Permanent {
		p.mem.forget(key)
		p.stats.eventsRejected.Add(int64(rep.EventsRejected))
		p.o.Log.Errorf("tag %q: destination refused %d events permanently, dropping the chunk (fix the cause, the data will not be retried): %v", fbconf.Clip(tag), rep.EventsRejected, rep.Err)
		return p.result(Error)
	}
	p.mem.remember(key, rep.Remember)
	n := 0
	for _, b := range left {
		n += b.Count
	}
	p.o.Log.Warnf("tag %q: %d of %d events not accepted yet (%d batches), returning RETRY: %v", fbconf.Clip(tag), n, events, len(left), rep.Err)
	return p.result(Retry)
}

func (p *Pipeline) result(r Result) Result {
	switch r {
	case OK:
		p.stats.ok.Add(1)
	case Retry:
		p.stats.retry.Add(1)
	case Error:
		p.stats.errors.Add(1)
	}
	return r
}

// retried returns the pieces sent in this attempt when the chunk is a retry
// (records outside them were acknowledged by an earlier attempt), else nil.
func retried(seen map[uint64]struct{}, todo []loganalytics.Batch) []loganalytics.Batch {
	if len(seen) == 0 {
		return nil
	}
	if todo == nil {
		return []loganalytics.Batch{}
	}
	return todo
}

// ack passes to the Acker the range of every record none of whose events are
// in left (not accepted). On a retry (sentNow not nil) only records with
// events in sentNow are new: the others were acknowledged by the attempt
// that delivered them.
//
// The flat events of one expanded record (N of Total) are grouped by their
// range and acknowledged as the whole record once every one of them in this
// chunk was accepted: the input writes all events of a record into one
// callback buffer, hence one chunk, so the chunk holds all of them (minus
// any a filter dropped on purpose). Counting pieces across attempts instead
// could complete a record whose last event was never delivered.
func (p *Pipeline) ack(w *worker, left, sentNow []loganalytics.Batch) {
	if p.o.Acker == nil || len(w.prov) == 0 {
		return
	}
	out := w.ackBuf[:0]
	type group struct {
		blocked, fresh bool
		at             int // index in out, or -1
	}
	var groups map[checkpoint.Range]*group
	for _, r := range w.prov {
		blocked := overlaps(left, r.first, r.first+r.count)
		fresh := sentNow == nil || overlaps(sentNow, r.first, r.first+r.count)
		if r.p.N == 0 {
			if !blocked && fresh {
				out = append(out, r.p.Range)
			}
			continue
		}
		whole := r.p.Range
		if groups == nil {
			groups = map[checkpoint.Range]*group{}
		}
		g := groups[whole]
		if g == nil {
			g = &group{at: -1}
			groups[whole] = g
		}
		g.blocked = g.blocked || blocked
		g.fresh = g.fresh || fresh
		if g.at < 0 {
			g.at = len(out)
			out = append(out, whole)
		}
	}
	if groups != nil {
		// Drop groups with an event not accepted, or nothing new, in order.
		kept := out[:0]
		for _, pr := range out {
			if g, ok := groups[pr]; ok && (g.blocked || !g.fresh) {
				continue
			}
			kept = append(kept, pr)
		}
		out = kept
	}
	w.ackBuf = out[:0]
	if len(out) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(p.root, 5*time.Second)
	defer cancel()
	if err := p.o.Acker.Ack(ctx, out); err != nil {
		p.o.Log.Warnf("checkpoint of %d delivered records failed (they may be read and sent again): %v", len(out), err)
	}
}

func overlaps(bs []loganalytics.Batch, first, end int) bool {
	if end <= first {
		return false
	}
	for _, b := range bs {
		if b.First < end && first < b.First+b.Count {
			return true
		}
	}
	return false
}

func (p *Pipeline) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.inflight++
	return true
}

func (p *Pipeline) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if p.closing && p.inflight == 0 {
		close(p.idle)
	}
}

// Close stops taking flushes, lets in-flight ones finish for up to grace,
// then cancels them (their sends stop and they return RETRY) and waits a
// little for them to return. It returns the number of flushes still running
// when it gave up, and closes the sink.
func (p *Pipeline) Close(grace time.Duration) int {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return 0
	}
	p.closing = true
	if p.inflight == 0 {
		close(p.idle)
	}
	p.mu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.idle:
	case <-t.C:
		p.o.Log.Warnf("exit: flushes still running after grace %v: abandoning them (their chunks will be retried)", grace)
		p.cancel()
		select {
		case <-p.idle:
		case <-time.After(250 * time.Millisecond):
		}
	}
	p.cancel()
	p.mu.Lock()
	left := p.inflight
	p.mu.Unlock()
	if left == 0 {
		_ = p.o.Sink.Close()
	}
	return left
}

// maxParseKinds reserves room for flowparse's skip kinds.
const maxParseKinds = 16

// numKinds counts the record skip kinds: flowparse's plus the pipeline's.
const (
	kindNotMap       = int(iota) + maxParseKinds // after flowparse's kinds
	kindUnrecognised                             // a map that is neither flow log nor event
	kindFieldNotFlow                             // record_field holds something that is not flow-log JSON
	kindBadRecord                                // msgpack error inside a record
	numKinds
)

var kindNames = map[int]string{
	kindNotMap:       "record is not a map",
	kindUnrecognised: "record is neither a flow-log record nor a flat event (no properties, flowRecords, records, EventId, or record_field)",
	kindFieldNotFlow: "record_field does not hold flow-log JSON",
	kindBadRecord:    "record is not valid msgpack",
}

// skipped counts a skip and logs the first one of each kind.
func (p *Pipeline) skipped(kind int, detail string) {
	if kind >= 0 && kind < numKinds {
		p.stats.skipped[kind].Add(1)
		if !p.logged[kind].Swap(true) {
			name := kindNames[kind]
			if kind < maxParseKinds {
				name = flowparse.SkipKind(kind).String()
			}
			p.o.Log.Warnf("skipping input: %s (%s); further skips of this kind are only counted", name, detail)
		}
	}
}
