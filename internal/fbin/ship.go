package fbin

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// ShipperOptions configure a Shipper.
type ShipperOptions struct {
	Sink  loganalytics.Sink // required
	Store checkpoint.Store  // required: where delivered ranges are acknowledged
	Log   *fblog.Logger
	// Schema and TimeField shape the events (default schema, its time column).
	Schema    *flowparse.Schema
	TimeField string
	// AzureResourceID tags each event with its flow-log resource ID (Data
	// Collector's x-ms-AzureResourceId).
	AzureResourceID bool
	// FlushBytes: send when this many bytes of events are waiting (default
	// 4 MiB); Linger: or when the oldest waited this long (default 1s).
	FlushBytes int
	Linger     time.Duration
	// MaxPendingBytes bounds the events waiting to be sent; the blob reader
	// waits while more are pending (default 16 MiB).
	MaxPendingBytes int
	// SendTimeout bounds one Send call (default 2m); a batch not accepted
	// then is sent again after a backoff.
	SendTimeout time.Duration
	// SendWindow is the number of batches per Send call (default 8): the
	// records of a window are acknowledged when it completes, so it bounds
	// what a crash sends twice.
	SendWindow int
	// RetryBackoff is the first wait before a window's failed batches are
	// sent again (doubling, at most 30s, with jitter); default 1s. The sink
	// has already retried them itself.
	RetryBackoff time.Duration
}

// Shipper is the delivery half of `nsgflow run`: it expands every range the
// blob source hands it into flat events (flowparse), sends them through an
// loganalytics.Sink in batches that may span several blobs, and acknowledges each
// range in the checkpoint store once all of its events were accepted.
// Batches that fail transiently are retried (only the pieces not accepted,
// via loganalytics.Remaining) until they are accepted or the Shipper is stopped;
// ranges with events refused permanently are not acknowledged and counted.
type Shipper struct {
	o ShipperOptions

	parsers sync.Pool

	mu       sync.Mutex
	cond     *sync.Cond // signalled when pending shrinks or grows
	pend     loganalytics.Events
	items    []shipItem
	oldest   time.Time
	inflight bool
	closing  bool

	abort   context.Context // cancelled when Close gives up on sends
	abortFn context.CancelFunc

	acker *acker
	done  chan struct{}

	st shipCounters
}

// shipItem is one range and its events in a pending buffer.
type shipItem struct {
	ack          checkpoint.Range
	first, count int
}

type shipCounters struct {
	chunks, records, events, tuplesSkipped, badRecords atomic.Int64
	sends, requests, accepted, rejected, retries       atomic.Int64
	refused                                            atomic.Int64 // refused alone with 400: settled
	rangesAcked, rangesFailed                          atomic.Int64
}

// NewShipper checks o and starts the sending goroutine.
func NewShipper(o ShipperOptions) (*Shipper, error) {
	if o.Sink == nil || o.Store == nil {
		return nil, errors.New("blobinput: shipper needs a Sink and a Store")
	}
	if o.Log == nil {
		o.Log = &fblog.Logger{}
	}
	if o.FlushBytes <= 0 {
		o.FlushBytes = 4 << 20
	}
	if o.Linger <= 0 {
		o.Linger = time.Second
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = 16 << 20
	}
	if o.MaxPendingBytes < o.FlushBytes {
		o.MaxPendingBytes = o.FlushBytes
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 2 * time.Minute
	}
	if o.SendWindow <= 0 {
		o.SendWindow = 8
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = time.Second
	}
	s := &Shipper{o: o, acker: newAcker(o.Store, o.Log), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	s.parsers.New = func() any { return newChunkParser(o.Schema, o.TimeField, o.AzureResourceID) }
	go s.acker.run()
	go s.loop()
	return s, nil
}

// chunkParser expands one chunk into events.
type chunkParser struct {
	p      flowparse.Parser
	enc    *flowparse.Encoder
	ev     loganalytics.Events
	cur    *flowparse.Event
	encode func([]byte) []byte
	rid    bool
	ridStr string
	spans  []Span
	items  []shipItem
}

func newChunkParser(schema *flowparse.Schema, timeField string, rid bool) *chunkParser {
	c := &chunkParser{enc: flowparse.NewEncoder(schema), rid: rid}
	c.enc.TimeField = timeField
	c.encode = func(b []byte) []byte { return c.enc.Append(b, c.cur) }
	c.p.OnEvent = func(e *flowparse.Event) {
		c.cur = e
		c.ev.AppendWith(c.encode)
		if c.rid {
			if c.ridStr != string(e.FlowLogResource) {
				c.ridStr = string(e.FlowLogResource)
			}
			c.ev.SetResourceID(c.ridStr)
		}
	}
	return c
}

// Handle is the blobsource.Handler: it expands the chunk and queues its
// events, waiting while too much is pending. A chunk with no event is
// acknowledged at once.
func (s *Shipper) Handle(ctx context.Context, c blobsource.Chunk) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error on %s [%d,%d): %v", c.Blob.Name, c.Start, c.End, r)
			s.o.Log.Errorf("%v", err)
		}
	}()
	s.st.chunks.Add(1)
	if c.End <= c.Start {
		return nil
	}
	cp := s.parsers.Get().(*chunkParser)
	defer s.parsers.Put(cp)
	cp.ev.Reset()
	cp.p.Reset()
	// Parse record by record (not the whole range at once) so that each
	// record's events are known: a record's range is acknowledged as soon
	// as all of its events were accepted, which keeps what a crash sends
	// twice down to the records in flight.
	cp.spans, _ = Split(cp.spans[:0], c.Data, c.Start)
	cp.items = cp.items[:0]
	var empty []checkpoint.Range
	if len(cp.spans) == 0 {
		empty = append(empty, checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End})
	} else {
		cp.spans[len(cp.spans)-1].End = c.End
	}
	for _, sp := range cp.spans {
		first := cp.ev.Len()
		if err := cp.p.Record(sp.JSON); err != nil {
			s.st.badRecords.Add(1)
			s.o.Log.Warnf("%s: record [%d,%d) is not flow-log JSON; skipped", c.Blob.Name, sp.Off, sp.End)
		}
		a := checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: sp.Off, End: sp.End}
		if n := cp.ev.Len() - first; n > 0 {
			cp.items = append(cp.items, shipItem{ack: a, first: first, count: n})
		} else {
			empty = append(empty, a)
		}
	}
	s.st.records.Add(int64(len(cp.spans)))
	s.st.tuplesSkipped.Add(cp.p.Stats.TuplesSkipped)
	if len(empty) > 0 {
		// Nothing to deliver in these ranges.
		s.acker.add(empty...)
		s.st.rangesAcked.Add(int64(len(empty)))
	}
	if cp.ev.Len() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.pend.Buf) > 0 && len(s.pend.Buf)+len(cp.ev.Buf) > s.o.MaxPendingBytes && !s.closing {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.cond.Wait()
	}
	if s.closing {
		return errors.New("shipper closed")
	}
	base := s.pend.Len()
	for i := 0; i < cp.ev.Len(); i++ {
		s.pend.Append(cp.ev.Event(i))
		if cp.rid {
			s.pend.SetResourceID(cp.ev.ResourceIDs[i])
		}
	}
	if len(s.items) == 0 {
		s.oldest = time.Now()
	}
	for _, it := range cp.items {
		it.first += base
		s.items = append(s.items, it)
	}
	s.st.events.Add(int64(cp.ev.Len()))
	s.cond.Broadcast()
	return nil
}

// loop sends pending events: when FlushBytes are waiting, when the oldest
// waited Linger, or at once when closing.
func (s *Shipper) loop() {
	defer close(s.done)
	var ev loganalytics.Events
	var items []shipItem
	for {
		s.mu.Lock()
		for {
			if len(s.items) > 0 && (s.closing || len(s.pend.Buf) >= s.o.FlushBytes || time.Since(s.oldest) >= s.o.Linger) {
				break
			}
			if s.closing && len(s.items) == 0 {
				s.mu.Unlock()
				return
			}
			if len(s.items) > 0 {
				// Wake up when the linger ends.
				wait := s.o.Linger - time.Since(s.oldest)
				t := time.AfterFunc(wait, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
				s.cond.Wait()
				t.Stop()
				continue
			}
			s.cond.Wait()
		}
		// Take everything pending.
		ev, s.pend = s.pend, ev
		s.pend.Reset()
		items, s.items = s.items, items[:0]
		s.inflight = true
		s.cond.Broadcast()
		s.mu.Unlock()

		s.send(&ev, items)

		s.mu.Lock()
		s.inflight = false
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

// stopCtx ends when Close gave up waiting.
func (s *Shipper) stopCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abort == nil {
		s.abort, s.abortFn = context.WithCancel(context.Background())
	}
	return s.abort
}

// send delivers ev a window of batches at a time, retrying what was not
// accepted. After every attempt it acknowledges the records whose events
// were all accepted, so what a crash sends twice stays within about one
// window; records with an event refused permanently (or still unsent at
// exit) are not acknowledged.
func (s *Shipper) send(ev *loganalytics.Events, items []shipItem) {
	ctx := s.stopCtx()
	batches := s.o.Sink.Cut(ev)
	var failedB []loganalytics.Batch // rejected, or abandoned at exit
	acked := make([]bool, len(items))
	next := 0 // items before next are settled
	var acks []checkpoint.Range
	// settle acknowledges items whose events all lie before upTo and none in
	// pending or failedB.
	settle := func(upTo int, pending []loganalytics.Batch) {
		acks = acks[:0]
		for i := next; i < len(items); i++ {
			it := items[i]
			if it.first+it.count > upTo {
				break
			}
			if acked[i] || overlapsAny(pending, it.first, it.first+it.count) || overlapsAny(failedB, it.first, it.first+it.count) {
				continue
			}
			acked[i] = true
			acks = append(acks, it.ack)
		}
		for next < len(items) && (acked[next] || (items[next].first+items[next].count <= upTo && len(pending) == 0)) {
			next++
		}
		if len(acks) > 0 {
			s.st.rangesAcked.Add(int64(len(acks)))
			s.acker.add(acks...)
		}
	}
	for w := 0; w < len(batches); w += s.o.SendWindow {
		window := batches[w:min(w+s.o.SendWindow, len(batches))]
		last := window[len(window)-1]
		upTo := last.First + last.Count
		seen := map[uint64]struct{}{}
		todo := window
		for attempt := 0; ; attempt++ {
			sctx, cancel := context.WithTimeout(ctx, s.o.SendTimeout)
			rep := s.o.Sink.Send(sctx, ev, todo)
			cancel()
			s.st.sends.Add(1)
			s.st.requests.Add(int64(rep.Requests))
			s.st.accepted.Add(int64(rep.EventsAccepted))
			s.st.refused.Add(int64(len(rep.Refused)))
			for _, k := range rep.Remember {
				seen[k] = struct{}{}
			}
			for i, b := range todo {
				if i < len(rep.Rejected) && rep.Rejected[i] {
					failedB = append(failedB, b)
				}
			}
			if rep.Permanent || rep.EventsRejected > 0 {
				s.st.rejected.Add(int64(rep.EventsRejected))
				s.o.Log.Errorf("destination refused %d events permanently (their blob ranges stay unacknowledged and are read again after a restart): %v", rep.EventsRejected, rep.Err)
			}
			var left []loganalytics.Batch
			if !rep.OK() {
				left = loganalytics.Remaining(ev, window, func(k uint64) bool { _, ok := seen[k]; return ok })
			}
			// Rejected pieces are not retried.
			todo = todo[:0:0]
			for _, b := range left {
				if !overlapsAny(failedB, b.First, b.First+b.Count) {
					todo = append(todo, b)
				}
			}
			settle(upTo, todo)
			if len(todo) == 0 {
				break
			}
			if ctx.Err() != nil {
				n := 0
				for _, b := range todo {
					n += b.Count
				}
				s.o.Log.Warnf("exit: %d events not accepted yet; their blob ranges are read again at the next start", n)
				failedB = append(failedB, todo...)
				break
			}
			s.st.retries.Add(1)
			wait := min(s.o.RetryBackoff<<min(attempt, 5), 30*time.Second)
			wait = wait/2 + rand.N(wait/2+1)
			s.o.Log.Warnf("%d batches not accepted yet, sending them again in %v: %v", len(todo), wait.Round(time.Millisecond), rep.Err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if ctx.Err() != nil && w+s.o.SendWindow < len(batches) {
			// Abandon the windows not started.
			failedB = append(failedB, batches[w+s.o.SendWindow:]...)
			s.o.Log.Warnf("exit: %d batches not sent; their blob ranges are read again at the next start", len(batches)-w-s.o.SendWindow)
			break
		}
	}
	for i := range items {
		if !acked[i] {
			s.st.rangesFailed.Add(1)
		}
	}
}

func overlapsAny(bs []loganalytics.Batch, first, end int) bool {
	for _, b := range bs {
		if b.First < end && first < b.First+b.Count {
			return true
		}
	}
	return false
}

// Idle reports whether nothing is pending or being sent, and every
// acknowledgment was written.
func (s *Shipper) Idle() bool {
	s.mu.Lock()
	busy := len(s.items) > 0 || s.inflight
	s.mu.Unlock()
	if busy {
		return false
	}
	s.acker.mu.Lock()
	defer s.acker.mu.Unlock()
	return len(s.acker.pending) == 0 && !s.acker.busy
}

// Close sends what is pending, waiting up to grace (then abandons the sends:
// their ranges stay unacknowledged), writes the acknowledgments, and closes
// the sink. It reports whether everything finished in time.
func (s *Shipper) Close(grace time.Duration) bool {
	deadline := time.Now().Add(grace)
	s.stopCtx()
	s.mu.Lock()
	s.closing = true
	s.cond.Broadcast()
	s.mu.Unlock()
	ok := true
	t := time.NewTimer(max(time.Until(deadline)-500*time.Millisecond, 0))
	select {
	case <-s.done:
	case <-t.C:
		ok = false
		s.abortFn()
		<-s.done
	}
	t.Stop()
	if !s.acker.close(max(time.Until(deadline), 200*time.Millisecond)) {
		ok = false
	}
	_ = s.o.Sink.Close()
	return ok
}

// ShipStats is a snapshot of a Shipper's counters.
type ShipStats struct {
	Chunks, Records, Events, TuplesSkipped, BadRecords int64
	Sends, Requests, Accepted, Rejected, Retries       int64
	// Refused counts events the destination refused alone with 400; they
	// were logged (and written to the dead-letter file if one is set) and
	// their ranges acknowledged.
	Refused                                           int64
	RangesAcked, RangesFailed, AckWrites, AckFailures int64
	PendingBytes                                      int
}

// Stats returns the counters so far.
func (s *Shipper) Stats() ShipStats {
	s.mu.Lock()
	pb := len(s.pend.Buf)
	s.mu.Unlock()
	return ShipStats{
		Chunks: s.st.chunks.Load(), Records: s.st.records.Load(), Events: s.st.events.Load(),
		TuplesSkipped: s.st.tuplesSkipped.Load(), BadRecords: s.st.badRecords.Load(),
		Sends: s.st.sends.Load(), Requests: s.st.requests.Load(), Accepted: s.st.accepted.Load(),
		Rejected: s.st.rejected.Load(), Retries: s.st.retries.Load(), Refused: s.st.refused.Load(),
		RangesAcked: s.st.rangesAcked.Load(), RangesFailed: s.st.rangesFailed.Load(),
		AckWrites: s.acker.acked.Load(), AckFailures: s.acker.failed.Load(), PendingBytes: pb,
	}
}
