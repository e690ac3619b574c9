package fbin

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// faultySink cuts one event per batch and fails chosen events: transient
// ones on their first attempts, permanent ones always.
type faultySink struct {
	mu        sync.Mutex
	transient map[string]int // event JSON -> attempts to fail
	permanent map[string]bool
	accepted  map[string]int
	calls     int
}

func (s *faultySink) Cut(ev *loganalytics.Events) []loganalytics.Batch {
	bs := make([]loganalytics.Batch, ev.Len())
	for i := range bs {
		bs[i] = loganalytics.Batch{First: i, Count: 1, Key: uint64(i + 1)}
	}
	return bs
}

func (s *faultySink) Send(ctx context.Context, ev *loganalytics.Events, batches []loganalytics.Batch) loganalytics.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	rep := loganalytics.Report{Accepted: make([]bool, len(batches)), Rejected: make([]bool, len(batches))}
	for i, b := range batches {
		e := string(ev.Event(b.First))
		switch {
		case s.permanent[e]:
			rep.Rejected[i] = true
			rep.EventsRejected++
			rep.Permanent = true
			rep.Err = errors.New("400 bad data")
		case s.transient[e] > 0:
			s.transient[e]--
			if rep.Err == nil {
				rep.Err = errors.New("503")
			}
		default:
			rep.Accepted[i] = true
			rep.Remember = append(rep.Remember, b.Key)
			rep.EventsAccepted++
			s.accepted[e]++
		}
	}
	return rep
}

func (s *faultySink) Close() error { return nil }

func TestShipper(t *testing.T) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 12, TuplesPerRecord: 3, Seed: 6}, 0)
	if err != nil {
		t.Fatal(err)
	}
	chunks := growingChunks(t, blob, "acct/c/b")
	// The events of record 5 (0-based), to fail.
	var rec5 []string
	{
		cp := newChunkParser(nil, "", false)
		spans, _ := Split(nil, chunks[6].Data, chunks[6].Start)
		if err := cp.p.Record(spans[0].JSON); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < cp.ev.Len(); i++ {
			rec5 = append(rec5, string(cp.ev.Event(i)))
		}
	}
	size := int64(blob.Size())
	tests := []struct {
		name      string
		transient map[string]int
		permanent map[string]bool
		// committed is the checkpoint at the end: the tail, or the start of
		// record 5 when it was refused.
		committed func() int64
		accepted  int
		failed    int64
	}{
		{"all accepted", nil, nil, func() int64 { return size - 2 }, blob.Tuples, 0},
		{"transient failures are retried", map[string]int{rec5[0]: 2, rec5[2]: 1}, nil, func() int64 { return size - 2 }, blob.Tuples, 0},
		{"a refused event holds its record back", nil, map[string]bool{rec5[1]: true}, func() int64 { return chunks[6].Start }, blob.Tuples - 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, err := checkpoint.NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			sink := &faultySink{transient: map[string]int{}, permanent: tc.permanent, accepted: map[string]int{}}
			for k, v := range tc.transient {
				sink.transient[k] = v
			}
			sh, err := NewShipper(ShipperOptions{Sink: sink, Store: store, Log: &fblog.Logger{W: io.Discard}, Linger: 10 * time.Millisecond, SendWindow: 4, RetryBackoff: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range chunks {
				if err := sh.Handle(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(20 * time.Second)
			for !sh.Idle() {
				if time.Now().After(deadline) {
					t.Fatal("shipper never idle")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !sh.Close(5 * time.Second) {
				t.Fatal("close timed out")
			}
			c, err := store.Load(context.Background(), "acct/c/b")
			if err != nil {
				t.Fatal(err)
			}
			if c.Committed != tc.committed() {
				t.Errorf("committed %d, want %d", c.Committed, tc.committed())
			}
			n := 0
			for e, k := range sink.accepted {
				if k != 1 {
					t.Errorf("event accepted %d times: %.60s", k, e)
				}
				n += k
			}
			st := sh.Stats()
			if n != tc.accepted || st.Accepted != int64(tc.accepted) || st.RangesFailed != tc.failed {
				t.Errorf("accepted %d (stats %+v), want %d; ranges failed %d, want %d", n, st, tc.accepted, st.RangesFailed, tc.failed)
			}
		})
	}
}
