package fbout

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

func TestCheckpointAcker(t *testing.T) {
	store, err := checkpoint.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := CheckpointAcker{Store: store}
	ctx := context.Background()
	tests := []struct {
		name          string
		recs          []checkpoint.Range
		key           string
		wantCommitted int64
	}{
		{"whole records in order", []checkpoint.Range{{Key: "b1", Off: 0, End: 12}, {Key: "b1", Off: 12, End: 100}}, "b1", 100},
		{"out of order then gap filled", []checkpoint.Range{{Key: "b2", Off: 50, End: 90}}, "b2", 0},
		{"gap filled", []checkpoint.Range{{Key: "b2", Off: 0, End: 50}}, "b2", 90},
		{"acked twice is harmless", []checkpoint.Range{{Key: "b1", Off: 0, End: 12}}, "b1", 100},
		{"other generation ignored", []checkpoint.Range{{Key: "b1", Gen: 5, Off: 100, End: 200}}, "b1", 100},
		{"no source ignored", []checkpoint.Range{{Off: 0, End: 10}}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.Ack(ctx, tc.recs); err != nil {
				t.Fatal(err)
			}
			if tc.key == "" {
				return
			}
			c, err := store.Load(ctx, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if c.Committed != tc.wantCommitted {
				t.Fatalf("committed %d, want %d", c.Committed, tc.wantCommitted)
			}
		})
	}
}

// TestFlushAcksProvenance checks the fields the blob input writes reach the
// Acker, once per record.
func TestFlushAcksProvenance(t *testing.T) {
	line := string(readSample(t, "elastic-nsg-v2-single-record.ndjson"))
	var chunk []byte
	chunk = entry(t, chunk, map[string]any{"log": line, "_nsgflow_src": "k", "_nsgflow_gen": 2, "_nsgflow_off": 12, "_nsgflow_end": 40})
	chunk = entry(t, chunk, map[string]any{"EventId": "a", "_nsgflow_src": "k", "_nsgflow_gen": 2, "_nsgflow_off": 40, "_nsgflow_end": 90, "_nsgflow_n": 1, "_nsgflow_total": 2})
	acker := &recordingAcker{}
	p := newTestPipeline(t, newFakeSink(t, 0), Options{Acker: acker})
	if got := p.Flush(chunk, "t"); got != OK {
		t.Fatalf("Flush = %v", got)
	}
	// The flat event stands for its whole record: it is the only one of the
	// record in the chunk (a filter may have dropped the other).
	want := []checkpoint.Range{{Key: "k", Gen: 2, Off: 12, End: 40}, {Key: "k", Gen: 2, Off: 40, End: 90}}
	if len(acker.recs) != 2 || acker.recs[0] != want[0] || acker.recs[1] != want[1] {
		t.Fatalf("acked %+v, want %+v", acker.recs, want)
	}
}

// TestFlushAcksExpandedRecordWhole: the flat events of one expanded record
// are acknowledged as the whole record, once, and only after every one of
// them was accepted, across a RETRY.
func TestFlushAcksExpandedRecordWhole(t *testing.T) {
	var chunk []byte
	for n := 1; n <= 2; n++ {
		chunk = entry(t, chunk, map[string]any{"EventId": fmt.Sprint("e", n), "Pad": strings.Repeat("x", 700), "_nsgflow_src": "k", "_nsgflow_gen": 1, "_nsgflow_off": 12, "_nsgflow_end": 90, "_nsgflow_n": n, "_nsgflow_total": 2})
	}
	sink := newFakeSink(t, 1024) // one event per batch
	sink.answer = func(call int, b loganalytics.Batch) string {
		if call == 1 && b.First == 1 {
			return "fail"
		}
		return "ok"
	}
	acker := &recordingAcker{}
	p := newTestPipeline(t, sink, Options{Acker: acker})
	if got := p.Flush(chunk, "t"); got != Retry {
		t.Fatalf("first Flush = %v, want Retry", got)
	}
	if len(acker.recs) != 0 {
		t.Fatalf("acked %+v before the record's second event was accepted", acker.recs)
	}
	if got := p.Flush(chunk, "t"); got != OK {
		t.Fatalf("retried Flush = %v, want OK", got)
	}
	want := checkpoint.Range{Key: "k", Gen: 1, Off: 12, End: 90}
	if len(acker.recs) != 1 || acker.recs[0] != want {
		t.Fatalf("acked %+v, want exactly %+v", acker.recs, want)
	}
}
