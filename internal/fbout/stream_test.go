package fbout

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// slowSink accepts every batch after a short wait per body, counting events:
// a destination slower than the encoder, so bodies pile up if nothing
// bounds them.
type slowSink struct {
	*fakeSink
	delay  time.Duration
	events atomic.Int64
	bodies atomic.Int64
}

func (s *slowSink) Send(_ context.Context, _ *loganalytics.Events, batches []loganalytics.Batch) loganalytics.Report {
	time.Sleep(s.delay)
	s.bodies.Add(1)
	rep := loganalytics.Report{Accepted: make([]bool, len(batches)), Rejected: make([]bool, len(batches))}
	for i, b := range batches {
		rep.Accepted[i] = true
		rep.Remember = append(rep.Remember, b.Key)
		rep.EventsAccepted += b.Count
		s.events.Add(int64(b.Count))
	}
	return rep
}

// generatedChunk is a Fluent Bit chunk of at least size bytes of generated
// raw records (tail without a parser: each in the log field), and its events.
func generatedChunk(t testing.TB, size int) ([]byte, int) {
	t.Helper()
	var chunk []byte
	events := 0
	stop := errors.New("big enough")
	opts := flowgen.Options{Format: flowgen.FormatNSGv2, Seed: 11, Resources: 50, Hours: 24, TuplesPerRecord: 60}
	err := flowgen.Generate(opts, func(b *flowgen.Blob) error {
		for i := 0; i < b.Records; i++ {
			r := b.Record(i)
			chunk = entry(t, chunk, map[string]any{"log": string(r)})
			events += countEvents(r)
			if len(chunk) >= size {
				return stop
			}
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("generated only %d bytes: %v", len(chunk), err)
	}
	return chunk, events
}

// TestBigChunkKeepsConcurrencyBodies: one 32 MB chunk (hundreds of MB of
// rows) against a destination slower than the encoder: the flush never has
// more than `concurrency` bodies alive (counted by the body hook), every
// event is accepted once, and the flush returns OK.
func TestBigChunkKeepsConcurrencyBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("32 MB chunk: skipped in -short")
	}
	chunk, events := generatedChunk(t, 32<<20)
	const conc = 3
	fs := newFakeSink(t, 0)
	cut, err := loganalytics.NewLogsIngestion(loganalytics.LogsIngestionConfig{
		Endpoint: "http://127.0.0.1:9", DCRImmutableID: "dcr-00000000000000000000000000000000", Stream: "Custom-NsgFlow",
		Credential: loganalytics.CredentialConfig{Kind: loganalytics.CredStatic, Token: "t"}, Delivery: loganalytics.Delivery{Concurrency: conc},
	})
	if err != nil {
		t.Fatal(err)
	}
	fs.cut = cut
	sink := &slowSink{fakeSink: fs, delay: 2 * time.Millisecond}
	var mu sync.Mutex
	peak, sealed := 0, 0
	loganalytics.SetBodyHook(func(stream int, process int64) {
		mu.Lock()
		defer mu.Unlock()
		peak = max(peak, stream, int(process))
		sealed++
	})
	defer loganalytics.SetBodyHook(nil)
	p := newTestPipeline(t, sink, Options{FlushDeadline: 5 * time.Minute})
	if got := p.Flush(chunk, "flow"); got != OK {
		t.Fatalf("Flush = %v, want OK", got)
	}
	if got := sink.events.Load(); got != int64(events) {
		t.Fatalf("%d events accepted, want %d", got, events)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > conc || p.Stats().PeakBodies > conc {
		t.Fatalf("%d bodies alive at once (stats %d), concurrency %d", peak, p.Stats().PeakBodies, conc)
	}
	if peak < conc || sealed < 100 {
		t.Fatalf("peak %d bodies, %d sealed: the destination never lagged, the bound was not exercised", peak, sealed)
	}
	t.Logf("chunk %d bytes, %d events in %d bodies, at most %d alive", len(chunk), events, sealed, peak)
}
