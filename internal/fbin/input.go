package fbin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fblog"
)

// Source is what the input needs of a blob reader: blobsource.Source, or a
// fake in tests.
type Source interface {
	// Run hands every new range to fn until ctx ends (see blobsource.Handler).
	Run(ctx context.Context, fn blobsource.Handler) error
	Stats() blobsource.Stats
}

// batchTarget is the size at which a chunk's entries are cut into queue
// batches; whole records only.
const batchTarget = 256 << 10

// Input is the input plugin's core: it runs a blob Source in the background,
// turns each range into Fluent Bit entries (raw records or expanded events,
// with provenance), queues them in a bounded queue, and hands them to Fluent
// Bit through Collect. In handover mode it acknowledges what Fluent Bit took
// (Handed); in ack mode the output plugin acknowledges delivered ranges in
// the shared checkpoint store. Data-less ranges (the blob head, records that
// give nothing to deliver) are acknowledged by the Input itself in both modes.
//
// Collect and Handed are called from Fluent Bit's input thread, one at a
// time; everything else runs on the Input's goroutines.
type Input struct {
	cfg   Config
	log   *fblog.Logger
	src   Source
	store checkpoint.Store
	q     *queue
	encs  sync.Pool

	acker *acker

	ctx    context.Context
	cancel context.CancelFunc
	runErr chan error

	// Collect state (Fluent Bit's input thread).
	buf    []byte
	handed []checkpoint.Range

	stats inputCounters
}

type inputCounters struct {
	chunks, records, entries, badRecords, selfAcked atomic.Int64
	collects, buffers, handedEntries, handedBytes   atomic.Int64
	tuplesSkipped                                   atomic.Int64
}

// NewInput builds an Input reading src and acknowledging in store. It
// starts nothing; call Start.
func NewInput(cfg Config, src Source, store checkpoint.Store, log *fblog.Logger) *Input {
	in := &Input{cfg: cfg, log: log, src: src, store: store, q: newQueue(cfg.MaxQueueBytes)}
	in.encs.New = func() any { return NewEncoder(cfg.Expand, cfg.Schema, cfg.TimeField) }
	in.acker = newAcker(store, log)
	return in
}

// Start runs the source in the background.
func (in *Input) Start() {
	in.ctx, in.cancel = context.WithCancel(context.Background())
	in.runErr = make(chan error, 1)
	go in.acker.run()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				in.log.Errorf("blob reader stopped by an internal error: %v", r)
				in.runErr <- fmt.Errorf("internal error: %v", r)
			}
		}()
		err := in.src.Run(in.ctx, in.handle)
		if err != nil {
			in.log.Errorf("blob reader stopped: %v", err)
		}
		in.runErr <- err
	}()
}

// handle turns one chunk into queued batches. It blocks while the queue is
// full (back-pressure on the reader). An error means the chunk was not
// (wholly) taken; the source reads it again later.
func (in *Input) handle(ctx context.Context, c blobsource.Chunk) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error on %s [%d,%d): %v", c.Blob.Name, c.Start, c.End, r)
			in.log.Errorf("%v", err)
		}
	}()
	in.stats.chunks.Add(1)
	if c.End <= c.Start {
		return nil
	}
	spans, _ := Split(nil, c.Data, c.Start)
	if len(spans) == 0 {
		// The head alone, or bytes that hold no complete record (a record
		// over the source's MaxRecord): nothing to deliver.
		if c.Start > 0 || int64(len(c.Data)) > int64(len(blobHeadJSON)) {
			in.log.Warnf("%s: bytes [%d,%d) hold no complete record; skipped", c.Blob.Name, c.Start, c.End)
		}
		in.acker.add(checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End})
		in.stats.selfAcked.Add(1)
		return nil
	}
	// The chunk's bytes after its last record (nothing, or an incomplete
	// record the source will not hand again) belong to the last record.
	spans[len(spans)-1].End = c.End
	enc := in.encs.Get().(*Encoder)
	defer in.encs.Put(enc)
	o := Origin{Key: c.Key, Gen: c.Gen}
	b := &batch{}
	for _, sp := range spans {
		var n int
		var err error
		before := enc.Stats
		b.data, n, err = enc.Append(b.data, o, sp)
		in.stats.tuplesSkipped.Add(enc.Stats.TuplesSkipped - before.TuplesSkipped)
		in.stats.records.Add(1)
		if err != nil {
			in.stats.badRecords.Add(1)
			in.log.Warnf("%s: record [%d,%d) skipped: %v", c.Blob.Name, sp.Off, sp.End, err)
		}
		if n == 0 {
			in.acker.add(checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: sp.Off, End: sp.End})
			in.stats.selfAcked.Add(1)
			continue
		}
		b.acks = append(b.acks, checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: sp.Off, End: sp.End})
		b.entries += n
		in.stats.entries.Add(int64(n))
		if len(b.data) >= batchTarget {
			if err := in.q.put(ctx, b); err != nil {
				return fmt.Errorf("queue: %w", err)
			}
			b = &batch{}
		}
	}
	if b.entries > 0 {
		if err := in.q.put(ctx, b); err != nil {
			return fmt.Errorf("queue: %w", err)
		}
	}
	return nil
}

var blobHeadJSON = []byte(`{"records":[`)

// Collect returns the next buffer of entries for Fluent Bit: whole records,
// at most MaxBufferBytes unless one record is larger, and nil when nothing
// is queued. The buffer is valid until the next Collect; its ranges are
// acknowledged (handover mode) when Handed is called.
func (in *Input) Collect() []byte {
	in.stats.collects.Add(1)
	var n int
	in.buf, in.handed, n = in.q.take(in.buf[:0], in.handed[:0], in.cfg.MaxBufferBytes)
	if len(in.buf) == 0 {
		return nil
	}
	in.stats.buffers.Add(1)
	in.stats.handedEntries.Add(int64(n))
	in.stats.handedBytes.Add(int64(len(in.buf)))
	if cap(in.buf) > 4*in.cfg.MaxBufferBytes && len(in.buf) <= in.cfg.MaxBufferBytes {
		// Do not keep a buffer grown by one huge record.
		out := in.buf
		in.buf = nil
		return out
	}
	return in.buf
}

// Handed tells the Input that Fluent Bit took the last Collect's buffer. In
// handover mode its ranges are acknowledged now.
func (in *Input) Handed() {
	if in.cfg.AckMode == AckHandover && len(in.handed) > 0 {
		in.acker.add(in.handed...)
	}
	in.handed = in.handed[:0]
}

// Close stops the reader, waits up to grace for it and for pending
// acknowledgments, and drops what is still queued (it was not acknowledged,
// so it is read again after a restart). It returns an error when something
// did not stop in time.
func (in *Input) Close(grace time.Duration) error {
	if in.cancel == nil {
		return nil
	}
	deadline := time.Now().Add(grace)
	in.cancel()
	in.q.close()
	var errs []error
	select {
	case <-in.runErr:
	case <-time.After(time.Until(deadline)):
		errs = append(errs, errors.New("blob reader did not stop in time"))
	}
	if b, n := in.q.drain(); n > 0 {
		in.log.Infof("exit: %d queued batches (%d bytes) not handed to Fluent Bit; they are read again at the next start", n, b)
	}
	if !in.acker.close(time.Until(deadline)) {
		errs = append(errs, errors.New("acknowledgments still pending at exit (those ranges are read again at the next start)"))
	}
	s := in.Stats()
	in.log.Infof("exit: %d chunks, %d records, %d entries handed to Fluent Bit in %d buffers (%d bytes); %d bad records, %d tuples skipped; %d ranges acknowledged, %d ack failures; %d storage refusals",
		s.Chunks, s.Records, s.HandedEntries, s.Buffers, s.HandedBytes, s.BadRecords, s.TuplesSkipped, s.Acked, s.AckFailures, s.Source.Refused)
	return errors.Join(errs...)
}

// InputStats is a snapshot of the Input's counters.
type InputStats struct {
	Chunks, Records, Entries, BadRecords, SelfAcked int64
	Collects, Buffers, HandedEntries, HandedBytes   int64
	TuplesSkipped                                   int64
	QueuedBytes, QueuedBatches                      int
	Acked, AckFailures                              int64
	Source                                          blobsource.Stats
}

// Stats returns the counters so far.
func (in *Input) Stats() InputStats {
	qb, qn := in.q.len()
	s := InputStats{
		Chunks: in.stats.chunks.Load(), Records: in.stats.records.Load(), Entries: in.stats.entries.Load(),
		BadRecords: in.stats.badRecords.Load(), SelfAcked: in.stats.selfAcked.Load(),
		Collects: in.stats.collects.Load(), Buffers: in.stats.buffers.Load(), HandedEntries: in.stats.handedEntries.Load(),
		HandedBytes: in.stats.handedBytes.Load(), TuplesSkipped: in.stats.tuplesSkipped.Load(),
		QueuedBytes: qb, QueuedBatches: qn,
		Acked: in.acker.acked.Load(), AckFailures: in.acker.failed.Load(),
	}
	if in.src != nil {
		s.Source = in.src.Stats()
	}
	return s
}

// acker writes acknowledgments to the checkpoint store in the background,
// merging adjacent ranges of one blob into one write.
type acker struct {
	store checkpoint.Store
	log   *fblog.Logger

	mu      sync.Mutex
	pending []checkpoint.Range
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	stopped bool
	busy    bool // a flush is writing

	acked, failed atomic.Int64
}

func newAcker(store checkpoint.Store, log *fblog.Logger) *acker {
	return &acker{store: store, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

func (a *acker) add(acks ...checkpoint.Range) {
	a.mu.Lock()
	a.pending = append(a.pending, acks...)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *acker) run() {
	defer close(a.done)
	for {
		select {
		case <-a.wake:
			a.flush(context.Background())
		case <-a.stop:
			a.flush(context.Background())
			return
		}
	}
}

// flush writes every pending acknowledgment.
func (a *acker) flush(ctx context.Context) {
	a.mu.Lock()
	acks := a.pending
	a.pending = nil
	a.busy = len(acks) > 0
	a.mu.Unlock()
	if len(acks) == 0 {
		return
	}
	defer func() {
		a.mu.Lock()
		a.busy = false
		a.mu.Unlock()
	}()
	for _, r := range checkpoint.Coalesce(acks) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := checkpoint.Ack(actx, a.store, checkpoint.Range{Key: r.Key, Gen: r.Gen, Off: r.Off, End: r.End})
		cancel()
		if err != nil {
			a.failed.Add(1)
			a.log.Warnf("checkpoint of [%d,%d) failed (the range will be read again after a restart): %v", r.Off, r.End, err)
			continue
		}
		a.acked.Add(1)
	}
}

// close flushes what is pending, waiting at most d; false if it timed out.
func (a *acker) close(d time.Duration) bool {
	a.mu.Lock()
	if !a.stopped {
		a.stopped = true
		close(a.stop)
	}
	a.mu.Unlock()
	select {
	case <-a.done:
		return true
	case <-time.After(d):
		return false
	}
}
