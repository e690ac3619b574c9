package loganalytics

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Limits is implemented by sinks that know their body cap and how many
// requests they keep in flight; both sinks of this package do. A Stream over
// a sink without it assumes the Logs Ingestion cap and DefaultConcurrency.
type Limits interface {
	Limits() (maxBody, concurrency int)
}

// DefaultConcurrency is Delivery.Concurrency's default.
const DefaultConcurrency = 4

// Limits returns the body cap and the concurrency.
func (e *engine) Limits() (maxBody, concurrency int) { return e.cut.maxBody, e.d.Concurrency }

func limitsOf(s Sink) (maxBody, conc int) {
	maxBody, conc = LogsIngestionMaxBody, DefaultConcurrency
	if l, ok := s.(Limits); ok {
		if b, c := l.Limits(); b > 0 && c > 0 {
			maxBody, conc = b, c
		}
	}
	return maxBody, conc
}

// liveBodies counts the bodies of every Stream in the process that are
// sealed and not yet settled (being compressed, sent or retried).
var liveBodies atomic.Int64

// LiveBodies returns how many bodies are sealed and not yet settled, over
// every Stream of the process.
func LiveBodies() int64 { return liveBodies.Load() }

var bodyHook atomic.Pointer[func(stream int, process int64)]

// SetBodyHook installs a test hook called each time a stream seals a body,
// with that stream's and the process's live body counts including it (nil
// removes it). Tests use it to show that a stream keeps at most concurrency
// bodies alive whatever its input's size.
func SetBodyHook(f func(stream int, process int64)) {
	if f == nil {
		bodyHook.Store(nil)
		return
	}
	bodyHook.Store(&f)
}

// Stream cuts and sends events as they are appended, so a caller never holds
// more than Concurrency sealed bodies plus the one being filled, whatever the
// input's size: a body is compressed and sent while the next is encoded.
//
// The batches are exactly those Cut would make of all the events at once
// (same First, Count, Bytes and Key, in any timing): Cut is greedy, so every
// batch but the last one of a prefix of the events is final. The stream
// cuts its buffer each time it reaches the body cap, hands every batch but
// the last to a sender (waiting while Concurrency are in flight) and keeps
// the last batch's events as the start of the next buffer.
//
// Seen, when not nil, is the caller's memory of earlier attempts (see
// Remaining): a sealed batch is sent only in the pieces it still needs.
//
// A Stream is used by one goroutine (the senders are its own); Close waits for
// every send. After Close, Reset makes it ready for the next stream.
type Stream struct {
	sink    Sink
	ctx     context.Context
	seen    func(uint64) bool
	maxBody int
	conc    int

	cur   *Events
	base  int // stream index of cur's first event
	slots chan struct{}
	wg    sync.WaitGroup

	mu   sync.Mutex
	rep  StreamReport
	live int
	free []*Events
}

// StreamReport is the outcome of a Stream. Batch indices (First) are stream
// indices: event i is the i-th event appended.
type StreamReport struct {
	Batches int     // batches cut
	Sent    []Batch // pieces handed to Send, in stream order
	Left    []Batch // pieces not accepted, in stream order (empty: all accepted)
	// Remember lists the keys to keep for a later attempt, as Report.Remember.
	Remember []uint64

	Requests, Retries, Splits      int
	EventsAccepted, EventsRejected int
	// EventsRefused counts events refused alone with 400 and settled (see
	// Report.Refused); their batches count as accepted.
	EventsRefused int
	// Err is the first permanent error, else the last transient one.
	Err       error
	Permanent bool
	// PeakBodies is the most sealed bodies alive at once (at most the
	// sink's concurrency).
	PeakBodies int
}

// OK reports whether every event was accepted.
func (r *StreamReport) OK() bool { return len(r.Left) == 0 }

// NewStream returns a stream sending to sink under ctx.
func NewStream(ctx context.Context, sink Sink, seen func(uint64) bool) *Stream {
	s := &Stream{}
	s.Reset(ctx, sink, seen)
	return s
}

// Reset readies s for a new stream, keeping its buffers. It must not be
// called while a stream is open (before Close).
func (s *Stream) Reset(ctx context.Context, sink Sink, seen func(uint64) bool) {
	s.sink, s.ctx, s.seen = sink, ctx, seen
	s.maxBody, s.conc = limitsOf(sink)
	if cap(s.slots) != s.conc {
		s.slots = make(chan struct{}, s.conc)
	}
	s.base = 0
	// Keep the lists' memory: a report is read before the next Reset.
	s.rep = StreamReport{Sent: s.rep.Sent[:0], Left: s.rep.Left[:0], Remember: s.rep.Remember[:0]}
	s.live = 0
	if s.cur == nil {
		s.cur = s.get()
	}
	s.cur.Reset()
}

// Len is the number of events appended.
func (s *Stream) Len() int { return s.base + s.cur.Len() }

// Append appends one encoded event (see Events.Append).
func (s *Stream) Append(encoded []byte) {
	s.check()
	s.cur.Append(encoded)
}

// AppendWith appends the event f appends (see Events.AppendWith).
func (s *Stream) AppendWith(f func(dst []byte) []byte) {
	s.check()
	s.cur.AppendWith(f)
}

// SetResourceID sets the last appended event's resource ID.
func (s *Stream) SetResourceID(id string) { s.cur.SetResourceID(id) }

// check seals what is final before the next event is appended (the last
// event's resource ID is set by then).
func (s *Stream) check() {
	if len(s.cur.Buf) >= s.maxBody {
		s.seal(false)
	}
}

// Close seals the last batch, waits for every send and returns the report
// (its lists are valid until the next Reset).
func (s *Stream) Close() StreamReport {
	if s.cur.Len() > 0 {
		s.seal(true)
	}
	s.wg.Wait()
	byFirst := func(a, b Batch) int { return a.First - b.First }
	slices.SortFunc(s.rep.Sent, byFirst)
	slices.SortFunc(s.rep.Left, byFirst)
	return s.rep
}

// seal cuts cur and dispatches its final batches: all of them when last,
// else all but the last, whose events start the next buffer.
func (s *Stream) seal(last bool) {
	bs := s.sink.Cut(s.cur)
	keep := 1
	if last {
		keep = 0
	}
	if len(bs) <= keep {
		return
	}
	seg := s.cur
	next := s.get()
	if keep == 1 {
		moveTail(next, seg, bs[len(bs)-1].First)
		bs = bs[:len(bs)-1]
	}
	s.cur = next
	segBase := s.base
	s.base += seg.Len()
	s.dispatch(seg, segBase, bs, last)
}

// moveTail moves the events of src from index from on to the empty dst.
func moveTail(dst, src *Events, from int) {
	st := src.start(from)
	dst.Buf = append(dst.Buf[:0], src.Buf[st:]...)
	dst.Ends = dst.Ends[:0]
	for _, e := range src.Ends[from:] {
		dst.Ends = append(dst.Ends, e-st)
	}
	if src.ResourceIDs != nil {
		dst.ResourceIDs = append(dst.ResourceIDs[:0], src.ResourceIDs[from:]...)
		src.ResourceIDs = src.ResourceIDs[:from]
	} else {
		dst.ResourceIDs = nil
	}
	src.Buf = src.Buf[:st]
	src.Ends = src.Ends[:from]
}

// dispatch sends the pieces of batches that still need sending, in a
// goroutine once a slot is free (in this one when inline: the last body,
// nothing to encode meanwhile), and then releases seg.
func (s *Stream) dispatch(seg *Events, base int, batches []Batch, inline bool) {
	todo := batches
	if s.seen != nil {
		todo = Remaining(seg, batches, s.seen)
	}
	s.mu.Lock()
	s.rep.Batches += len(batches)
	s.mu.Unlock()
	if len(todo) == 0 {
		s.put(seg)
		return
	}
	notSent := func() {
		// The deadline passed first: the pieces stay to do.
		err := fmt.Errorf("%d events not sent: %v before the request", countEvents(todo), s.ctx.Err())
		s.merge(base, todo, todo, Report{Err: err})
		s.put(seg)
	}
	if s.ctx.Err() != nil {
		notSent()
		return
	}
	select {
	case s.slots <- struct{}{}:
	case <-s.ctx.Done():
		notSent()
		return
	}
	seg.Base = base
	process := liveBodies.Add(1)
	s.mu.Lock()
	s.live++
	live := s.live
	s.rep.PeakBodies = max(s.rep.PeakBodies, live)
	s.mu.Unlock()
	if h := bodyHook.Load(); h != nil {
		(*h)(live, process)
	}
	send := func() {
		var (
			rep  Report
			left []Batch
		)
		func() {
			defer func() {
				if v := recover(); v != nil {
					rep, left = Report{Err: fmt.Errorf("internal error while sending %d events (they are kept for a retry): %v", countEvents(todo), v)}, todo
				}
			}()
			rep = s.sink.Send(s.ctx, seg, todo)
			if !rep.OK() {
				// As a caller of Send would: what neither this attempt
				// nor an earlier one accepted.
				left = Remaining(seg, batches, s.remembered(rep.Remember))
			}
		}()
		s.merge(base, todo, left, rep)
		liveBodies.Add(-1)
		s.mu.Lock()
		s.live--
		s.mu.Unlock()
		s.put(seg)
		<-s.slots
	}
	if inline {
		send()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		send()
	}()
}

// remembered is seen plus keys.
func (s *Stream) remembered(keys []uint64) func(uint64) bool {
	set := make(map[uint64]struct{}, len(keys))
	for _, k := range keys {
		set[k] = struct{}{}
	}
	return func(k uint64) bool {
		if _, ok := set[k]; ok {
			return true
		}
		return s.seen != nil && s.seen(k)
	}
}

func (s *Stream) merge(base int, sent, left []Batch, rep Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.rep
	for _, b := range sent {
		b.First += base
		r.Sent = append(r.Sent, b)
	}
	for _, b := range left {
		b.First += base
		r.Left = append(r.Left, b)
	}
	r.Remember = append(r.Remember, rep.Remember...)
	r.Requests += rep.Requests
	r.Retries += rep.Retries
	r.Splits += rep.Splits
	r.EventsAccepted += rep.EventsAccepted
	r.EventsRejected += rep.EventsRejected
	r.EventsRefused += len(rep.Refused)
	switch {
	case rep.Err != nil && rep.Permanent && !r.Permanent:
		r.Err, r.Permanent = rep.Err, true
	case rep.Err != nil && !r.Permanent:
		r.Err = rep.Err
	}
}

func countEvents(bs []Batch) int {
	n := 0
	for _, b := range bs {
		n += b.Count
	}
	return n
}

// get returns an empty Events from the free list.
func (s *Stream) get() *Events {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		e := s.free[n-1]
		s.free = s.free[:n-1]
		return e
	}
	return &Events{}
}

// put returns e to the free list, unless it grew far past the body cap (one
// huge event) or the list is full.
func (s *Stream) put(e *Events) {
	e.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cap(e.Buf) > 2*s.maxBody+(1<<20) || len(s.free) > s.conc {
		return
	}
	s.free = append(s.free, e)
}
