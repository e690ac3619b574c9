package loganalytics

import (
	"context"
	"net/http"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// TestLogsIngestionBodySizes: real wide events (long rule names, IPv6) cut
// with the default cap: no request body over 1,048,576 bytes uncompressed
// (nor compressed), batches well filled, every event delivered once.
func TestLogsIngestionBodySizes(t *testing.T) {
	for _, f := range []flowgen.Format{flowgen.FormatVNetv4, flowgen.FormatNSGv2} {
		t.Run(f.String(), func(t *testing.T) {
			ev := genEvents(t, bigOpts(f), flowparse.NewEncoder(nil), 12000, false)
			rec := newRecorder(t, http.StatusNoContent, nil)
			s, err := NewLogsIngestion(liConfig(rec.srv.URL, &fakeClock{}, nil))
			if err != nil {
				t.Fatal(err)
			}
			bs := s.Cut(ev)
			rep := s.Send(context.Background(), ev, bs)
			if !rep.OK() || rep.EventsAccepted != ev.Len() {
				t.Fatalf("report: accepted %d of %d, err %v", rep.EventsAccepted, ev.Len(), rep.Err)
			}
			reqs := rec.requests()
			if len(reqs) != len(bs) || len(reqs) < 3 {
				t.Fatalf("%d requests for %d batches", len(reqs), len(bs))
			}
			largestEvent := 0
			for i := 0; i < ev.Len(); i++ {
				largestEvent = max(largestEvent, len(ev.Event(i)))
			}
			for _, r := range reqs {
				if len(r.Body) > LogsIngestionMaxBody || len(r.Raw) > LogsIngestionMaxBody {
					t.Fatalf("body %d bytes (%d sent) over %d", len(r.Body), len(r.Raw), LogsIngestionMaxBody)
				}
			}
			for _, b := range bs[:len(bs)-1] {
				if b.Bytes+largestEvent+1 <= LogsIngestionMaxBody {
					t.Fatalf("batch of %d bytes could have taken the next event (largest %d)", b.Bytes, largestEvent)
				}
			}
			stored := rec.storedCopy()
			ids := eventIDs(ev)
			for _, id := range ids {
				if stored[id] != 1 {
					t.Fatalf("event %s stored %d times", id, stored[id])
				}
			}
			t.Logf("%d events, largest %d bytes, %d requests", ev.Len(), largestEvent, len(reqs))
		})
	}
}

// TestDataCollectorBodySizes: the same with the Data Collector's default cap
// (checked by Cut on 40 MB of events) and a lower configured cap (sent).
func TestDataCollectorBodySizes(t *testing.T) {
	enc := flowparse.NewEncoder(nil)
	enc.TimeField = "FlowTime"
	ev := genEvents(t, bigOpts(flowgen.FormatVNetv4), enc, 12000, true)
	rec := newRecorder(t, http.StatusOK, nil)
	cfg := dcConfig(rec.srv.URL, &fakeClock{}, nil)
	cfg.MaxBodyBytes = 1_500_000
	cfg.AzureResourceID = true
	s, err := NewDataCollector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bs := s.Cut(ev)
	rep := s.Send(context.Background(), ev, bs)
	if !rep.OK() || rep.EventsAccepted != ev.Len() {
		t.Fatalf("accepted %d of %d: %v", rep.EventsAccepted, ev.Len(), rep.Err)
	}
	for _, r := range rec.requests() {
		if len(r.Raw) > 1_500_000 {
			t.Fatalf("body %d over the cap", len(r.Raw))
		}
		rid := r.Header.Get("x-ms-AzureResourceId")
		if rid == "" {
			t.Fatal("no resource ID")
		}
	}
	// Each batch holds one resource.
	for _, b := range bs {
		for i := b.First; i < b.First+b.Count; i++ {
			if ev.ResourceIDs[i] != b.ResourceID {
				t.Fatalf("batch %+v mixes resources", b)
			}
		}
	}
	// Default cap on a large volume: Cut only.
	big := synthEvents(60000, 650)
	d, _ := NewDataCollector(DataCollectorConfig{WorkspaceID: testWorkspace, SharedKey: testSharedKey, LogType: "X"})
	cut := d.Cut(big)
	if len(cut) < 2 {
		t.Fatalf("%d batches for %d bytes", len(cut), len(big.Buf))
	}
	for _, b := range cut {
		if b.Bytes > DataCollectorDefaultBody || b.Bytes > DataCollectorMaxBody {
			t.Fatalf("batch %d bytes", b.Bytes)
		}
	}
}
