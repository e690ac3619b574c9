package loganalytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingSink cuts with a real sink and accepts every batch, keeping what
// it was sent in stream indices (Events.Base).
type recordingSink struct {
	Sink
	mu      sync.Mutex
	batches []Batch
	events  map[int]string // stream index → event bytes
}

func (r *recordingSink) Send(_ context.Context, ev *Events, bs []Batch) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{Accepted: make([]bool, len(bs)), Rejected: make([]bool, len(bs))}
	for i, b := range bs {
		for k := b.First; k < b.First+b.Count; k++ {
			r.events[ev.Base+k] = string(ev.Event(k))
		}
		b.First += ev.Base
		r.batches = append(r.batches, b)
		rep.Accepted[i] = true
		rep.Remember = append(rep.Remember, b.Key)
		rep.EventsAccepted += b.Count
	}
	return rep
}

// streamEvents is a deterministic mix of event sizes (some over the cap) and
// resource IDs.
func streamEvents(n, maxBody int, seed uint64) (events []string, rids []string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; i++ {
		pad := rng.IntN(maxBody / 4)
		switch rng.IntN(40) {
		case 0:
			pad = maxBody + rng.IntN(maxBody) // oversize: truncated or refused
		case 1:
			pad = maxBody - 40 // nearly the cap alone
		}
		events = append(events, fmt.Sprintf(`{"EventId":"%016x","N":%d,"Pad":"%s"}`, rng.Uint64(), i, strings.Repeat("p", pad)))
		rids = append(rids, fmt.Sprintf("/r/%d", rng.IntN(3)/2)) // runs of one resource
	}
	return events, rids
}

// TestStreamCutsLikeCut: whatever the timing, a stream makes exactly the
// batches Cut makes of all the events at once (same ranges, sizes, keys and
// reasons), for both cutters, and delivers every event once.
func TestStreamCutsLikeCut(t *testing.T) {
	li := func(maxBody int) Sink {
		c := liConfig("http://127.0.0.1:9", &fakeClock{}, nil)
		c.MaxBodyBytes = maxBody
		c.Concurrency = 3
		s, err := NewLogsIngestion(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dc := func(maxBody int) Sink {
		c := dcConfig("http://127.0.0.1:9", &fakeClock{}, nil)
		c.MaxBodyBytes = maxBody
		c.AzureResourceID = true
		s, err := NewDataCollector(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name    string
		sink    func(int) Sink
		maxBody int
		n       int
		rid     bool
	}{
		{"logs ingestion 4 KiB", li, 4096, 3000, false},
		{"logs ingestion 1 MiB", li, LogsIngestionMaxBody, 400, false},
		{"data collector by resource", dc, 8192, 3000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events, rids := streamEvents(tc.n, min(tc.maxBody, 64<<10), 7)
			// All at once.
			var all Events
			for i, e := range events {
				all.Append([]byte(e))
				if tc.rid {
					all.SetResourceID(rids[i])
				}
			}
			sink := tc.sink(tc.maxBody)
			want := sink.Cut(&all)
			// Streamed.
			rs := &recordingSink{Sink: sink, events: map[int]string{}}
			st := NewStream(context.Background(), rs, nil)
			for i, e := range events {
				st.Append([]byte(e))
				if tc.rid {
					st.SetResourceID(rids[i])
				}
			}
			if st.Len() != len(events) {
				t.Fatalf("Len %d, want %d", st.Len(), len(events))
			}
			rep := st.Close()
			got := append([]Batch(nil), rs.batches...)
			sortBatches(got)
			if len(got) != len(want) || rep.Batches != len(want) {
				t.Fatalf("%d batches sent (report %d), Cut makes %d", len(got), rep.Batches, len(want))
			}
			reasons := 0
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("batch %d: stream %+v, Cut %+v", i, got[i], want[i])
				}
				if want[i].Reason != "" {
					reasons++
				}
			}
			for i := 0; i < all.Len(); i++ {
				if rs.events[i] != string(all.Event(i)) {
					t.Fatalf("event %d differs from Cut's (truncation)", i)
				}
			}
			if rep.EventsAccepted != len(events) || !rep.OK() || len(rep.Sent) != len(want) {
				t.Fatalf("report %+v", rep)
			}
			t.Logf("%d events, %d batches (%d refused as oversize), peak %d bodies", len(events), len(want), reasons, rep.PeakBodies)
		})
	}
}

func sortBatches(bs []Batch) {
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && bs[j].First < bs[j-1].First; j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

// TestStreamKeepsConcurrencyBodies: a slow destination and many bodies:
// the stream never has more than Concurrency sealed bodies alive (counted
// by the body hook), uses them all, and delivers every event once.
func TestStreamKeepsConcurrencyBodies(t *testing.T) {
	rec := newRecorder(t, http.StatusNoContent, func(int, *request, http.ResponseWriter) bool {
		time.Sleep(3 * time.Millisecond)
		return false
	})
	c := liConfig(rec.srv.URL, &fakeClock{}, nil)
	c.MaxBodyBytes = 16 << 10
	c.Concurrency = 3
	sink, err := NewLogsIngestion(c)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	peak := 0
	SetBodyHook(func(stream int, _ int64) {
		mu.Lock()
		peak = max(peak, stream)
		mu.Unlock()
	})
	defer SetBodyHook(nil)
	ev := synthEvents(6000, 200) // about 1.5 MB: ~90 bodies
	st := NewStream(context.Background(), sink, nil)
	for i := 0; i < ev.Len(); i++ {
		st.Append(ev.Event(i))
	}
	rep := st.Close()
	if !rep.OK() || rep.EventsAccepted != ev.Len() {
		t.Fatalf("accepted %d of %d: %v", rep.EventsAccepted, ev.Len(), rep.Err)
	}
	if peak > c.Concurrency || rep.PeakBodies > c.Concurrency {
		t.Fatalf("peak %d bodies alive (report %d), concurrency %d", peak, rep.PeakBodies, c.Concurrency)
	}
	if peak < 2 {
		t.Fatalf("peak %d bodies alive: sends did not overlap encoding", peak)
	}
	if LiveBodies() != 0 {
		t.Fatalf("%d bodies still counted alive after Close", LiveBodies())
	}
	stored := rec.storedCopy()
	for _, id := range eventIDs(ev) {
		if stored[id] != 1 {
			t.Fatalf("event %s stored %d times", id, stored[id])
		}
	}
	t.Logf("%d requests, peak %d bodies", len(rec.requests()), peak)
}

// TestStreamRetryWithMemory: a first stream where some requests fail and
// some bodies are split; its Left is what Remaining computes from all the
// events and the remembered keys; a second stream with that memory sends
// only the rest, and every event is stored exactly once.
func TestStreamRetryWithMemory(t *testing.T) {
	var failed sync.Map
	rec := newRecorder(t, http.StatusNoContent, func(n int, r *request, w http.ResponseWriter) bool {
		if _, again := failed.Load(r.IDs[0]); again {
			return false
		}
		switch {
		case len(r.IDs) > 8 && n%3 == 0:
			failed.Store(r.IDs[0], true)
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return true
		case n%4 == 1:
			failed.Store(r.IDs[0], true)
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	c := liConfig(rec.srv.URL, &fakeClock{}, nil)
	c.MaxBodyBytes = 8 << 10
	c.MaxRetries = -1 // none: a 503 leaves the piece for the next attempt
	sink, err := NewLogsIngestion(c)
	if err != nil {
		t.Fatal(err)
	}
	ev := synthEvents(3000, 150)
	seen := map[uint64]bool{}
	run := func() StreamReport {
		st := NewStream(context.Background(), sink, func(k uint64) bool { return seen[k] })
		if len(seen) == 0 {
			st.seen = nil
		}
		for i := 0; i < ev.Len(); i++ {
			st.Append(ev.Event(i))
		}
		rep := st.Close()
		for _, k := range rep.Remember {
			seen[k] = true
		}
		return rep
	}
	first := run()
	if first.OK() || first.Splits == 0 {
		t.Fatalf("first stream: ok %v, %d splits: the faults did not bite", first.OK(), first.Splits)
	}
	var all Events
	for i := 0; i < ev.Len(); i++ {
		all.Append(ev.Event(i))
	}
	want := Remaining(&all, sink.Cut(&all), func(k uint64) bool { return seen[k] })
	if len(want) != len(first.Left) {
		t.Fatalf("Left has %d pieces, Remaining %d", len(first.Left), len(want))
	}
	for i := range want {
		if want[i] != first.Left[i] {
			t.Fatalf("Left[%d] = %+v, Remaining %+v", i, first.Left[i], want[i])
		}
	}
	second := run()
	if !second.OK() {
		t.Fatalf("second stream left %d pieces: %v", len(second.Left), second.Err)
	}
	if got := countEvents(second.Sent); got != countEvents(first.Left) {
		t.Fatalf("second stream sent %d events, %d were left", got, countEvents(first.Left))
	}
	stored := rec.storedCopy()
	for _, id := range eventIDs(ev) {
		if stored[id] != 1 {
			t.Fatalf("event %s stored %d times", id, stored[id])
		}
	}
}

// TestStreamDeadline: once the context is done, sealed bodies are not sent
// and stay in Left with a transient error.
func TestStreamDeadline(t *testing.T) {
	rs := &recordingSink{Sink: func() Sink {
		s, err := NewLogsIngestion(liConfig("http://127.0.0.1:9", &fakeClock{}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}(), events: map[int]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev := synthEvents(20000, 100)
	st := NewStream(ctx, rs, nil)
	for i := 0; i < ev.Len(); i++ {
		st.Append(ev.Event(i))
	}
	rep := st.Close()
	if rep.OK() || rep.Permanent || rep.Err == nil || len(rs.batches) != 0 || countEvents(rep.Left) != ev.Len() {
		t.Fatalf("report %+v, %d batches sent", rep, len(rs.batches))
	}
}
