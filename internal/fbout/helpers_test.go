package fbout

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fbpack"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

var samplesDir = filepath.Join("..", "..", "..", "shared", "samples")

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatalf("read sample %s: %v", name, err)
	}
	return b
}

// sampleRecords returns a sample blob's records as raw JSON.
func sampleRecords(t testing.TB, name string) []json.RawMessage {
	t.Helper()
	var blob struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(readSample(t, name), &blob); err != nil {
		t.Fatal(err)
	}
	return blob.Records
}

// countEvents is what flowparse makes of data on its own.
func countEvents(data []byte) int {
	n := 0
	p := flowparse.Parser{OnEvent: func(*flowparse.Event) { n++ }}
	_ = p.Parse(data)
	return n
}

// entry appends one [[ts, {}], record] entry built from a Go value.
func entry(t testing.TB, chunk []byte, rec any) []byte {
	t.Helper()
	chunk = fbpack.AppendEntryHeader(chunk, 1764147600, 0)
	out, err := fbpack.AppendJSONValue(chunk, rec)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// asMap decodes raw JSON into a map with json.Number numbers.
func asMap(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeSink cuts with a real oms sink (so batches and keys are the real ones)
// and answers Send from a script. The flush streams its events in bodies, so
// Send is called once per body with that body's events: batches reach the
// script with First in flush-wide event indices (Events.Base added).
type fakeSink struct {
	cut loganalytics.Sink

	mu    sync.Mutex
	calls int
	sent  map[uint64]int // batch key → times sent
	rows  [][]byte       // events of accepted batches
	// answer decides a batch's fate on its n-th sending (1-based): "ok",
	// "fail", "reject".
	answer   func(n int, b loganalytics.Batch) string
	deadline time.Time
	block    bool // wait for ctx to end, then fail everything
}

func newFakeSink(t testing.TB, maxBody int) *fakeSink {
	t.Helper()
	cut, err := loganalytics.NewLogsIngestion(loganalytics.LogsIngestionConfig{
		Endpoint: "http://127.0.0.1:9", DCRImmutableID: "dcr-00000000000000000000000000000000", Stream: "Custom-NsgFlow",
		Credential: loganalytics.CredentialConfig{Kind: loganalytics.CredStatic, Token: "t"}, Delivery: loganalytics.Delivery{MaxBodyBytes: maxBody},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeSink{cut: cut, sent: map[uint64]int{}, answer: func(int, loganalytics.Batch) string { return "ok" }}
}

func (f *fakeSink) Cut(ev *loganalytics.Events) []loganalytics.Batch { return f.cut.Cut(ev) }
func (f *fakeSink) Limits() (int, int)                               { return f.cut.(loganalytics.Limits).Limits() }
func (f *fakeSink) Close() error                                     { return nil }

func (f *fakeSink) Send(ctx context.Context, ev *loganalytics.Events, batches []loganalytics.Batch) loganalytics.Report {
	f.mu.Lock()
	f.calls++
	f.deadline, _ = ctx.Deadline()
	block := f.block
	f.mu.Unlock()
	rep := loganalytics.Report{Accepted: make([]bool, len(batches)), Rejected: make([]bool, len(batches))}
	if block {
		<-ctx.Done()
		rep.Err = ctx.Err()
		return rep
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, b := range batches {
		f.sent[b.Key]++
		rep.Requests++
		global := b
		global.First += ev.Base
		switch f.answer(f.sent[b.Key], global) {
		case "ok":
			rep.Accepted[i] = true
			rep.Remember = append(rep.Remember, b.Key)
			rep.EventsAccepted += b.Count
			for k := b.First; k < b.First+b.Count; k++ {
				f.rows = append(f.rows, append([]byte(nil), ev.Event(k)...))
			}
		case "reject":
			rep.Rejected[i] = true
			rep.EventsRejected += b.Count
			rep.Err = context.Canceled
			rep.Permanent = true
		default:
			if rep.Err == nil {
				rep.Err = context.DeadlineExceeded
			}
		}
	}
	return rep
}

// recordingAcker keeps every provenance acknowledged.
type recordingAcker struct {
	mu   sync.Mutex
	recs []checkpoint.Range
}

func (a *recordingAcker) Ack(_ context.Context, recs []checkpoint.Range) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, recs...)
	return nil
}

func (a *recordingAcker) sources() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for _, r := range a.recs {
		out[r.Key]++
	}
	return out
}

func newTestPipeline(t testing.TB, s loganalytics.Sink, o Options) *Pipeline {
	t.Helper()
	o.Sink = s
	if o.MaxRememberedChunks == 0 {
		o.MaxRememberedChunks = 16
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
