package loganalytics

import (
	"context"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// startEmulator runs an in-process emulator with the test secrets.
func startEmulator(t testing.TB, f emulator.Faults) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{SharedKey: testSharedKey, BearerToken: testToken, WorkspaceID: testWorkspace, Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// emulatorSink builds a sink of kind api ("li" or "dc") aimed at srv.
func emulatorSink(t testing.TB, api string, srv *emulator.Server, d Delivery) Sink {
	t.Helper()
	var (
		s   Sink
		err error
	)
	if api == "li" {
		s, err = NewLogsIngestion(LogsIngestionConfig{Endpoint: srv.URL(), DCRImmutableID: emulator.DefaultDCRImmutableID, Stream: emulator.DefaultStream,
			Credential: CredentialConfig{Kind: CredStatic, Token: testToken}, Delivery: d})
	} else {
		s, err = NewDataCollector(DataCollectorConfig{WorkspaceID: testWorkspace, SharedKey: testSharedKey, LogType: "NsgFlow", TimeGeneratedField: "FlowTime",
			AzureResourceID: true, Endpoint: srv.URL(), Delivery: d})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func encoderFor(api string) *flowparse.Encoder {
	enc := flowparse.NewEncoder(nil)
	if api == "dc" {
		enc.TimeField = "FlowTime" // TimeGenerated is reserved in the Data Collector API
	}
	return enc
}

// TestEmulatorFaults sends 50,000 real events through the emulator with 30%
// of requests failing, for both APIs.
//
// "exactly once": the faults are 429 (Retry-After), 500, 503, connection
// resets and slow answers within the request timeout. None of them stores
// rows, so every event must arrive exactly once.
//
// "at least once": drop-after-accept (rows stored, connection closed
// unanswered) is added. The client cannot tell it from a lost request,
// retries, and the rows are stored twice: no event may be missing, and the
// duplicates are bounded by the events of the dropped requests. The count is
// logged (see docs/oms.md). The request timeout stays at its default so that
// a slow machine cannot add timeouts of its own (see
// TestEmulatorSlowBeyondTimeout for answers later than the timeout).
func TestEmulatorFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 events through the emulator")
	}
	const n = 50_000
	scenarios := []struct {
		name        string
		faults      emulator.Faults
		timeout     time.Duration
		exactlyOnce bool
	}{
		{"exactly once", emulator.Faults{TooManyRequests: 0.075, InternalError: 0.075, Unavailable: 0.075, Reset: 0.075,
			Slow: 0.05, SlowDelay: 5 * time.Millisecond, RetryAfter: time.Second, Seed: 11}, 30 * time.Second, true},
		{"at least once", emulator.Faults{TooManyRequests: 0.06, InternalError: 0.06, Unavailable: 0.06, Reset: 0.06, DropAfterAccept: 0.06,
			Slow: 0.05, SlowDelay: 5 * time.Millisecond, RetryAfter: time.Second, Seed: 12}, 30 * time.Second, false},
	}
	for _, api := range []string{"li", "dc"} {
		ev := genEvents(t, flowgen.Options{Format: flowgen.FormatVNetv4, Seed: 3, Resources: 9, TuplesPerRecord: 100, IPv6Share: 0.2}, encoderFor(api), n, api == "dc")
		ids := eventIDs(ev)
		for _, sc := range scenarios {
			t.Run(api+"/"+sc.name, func(t *testing.T) {
				srv := startEmulator(t, sc.faults)
				clk := &fakeClock{}
				s := emulatorSink(t, api, srv, Delivery{MaxBodyBytes: 64 << 10, Concurrency: 4, MaxRetries: 40, RequestTimeout: sc.timeout, Sleep: clk.sleep})
				bs := s.Cut(ev)
				rep := s.Send(context.Background(), ev, bs)
				if !rep.OK() || rep.EventsAccepted != n || rep.Err != nil {
					t.Fatalf("accepted %d of %d, err %v", rep.EventsAccepted, n, rep.Err)
				}
				rows, err := srv.Rows()
				if err != nil {
					t.Fatal(err)
				}
				counts := map[string]int{}
				for _, r := range rows {
					id, _ := r["EventId"].(string)
					counts[id]++
				}
				for _, id := range ids {
					if counts[id] == 0 {
						t.Fatalf("event %s missing", id)
					}
				}
				c := emulator.CountIDs(rows, "EventId")
				st := srv.Stats()
				failed := st.Faults[emulator.Fault429] + st.Faults[emulator.Fault500] + st.Faults[emulator.Fault503] + st.Faults[emulator.FaultReset] + st.Faults[emulator.FaultDropAfterAccept]
				share := float64(failed) / float64(rep.Requests)
				t.Logf("%d batches, %d requests, %d retries, faults %v (%.0f%% failed), rows %d, unique %d, duplicates %d",
					len(bs), rep.Requests, rep.Retries, st.Faults, 100*share, c.Rows, c.Unique, c.Duplicates)
				if share < 0.2 {
					t.Fatalf("only %.0f%% of requests failed: the test did not exercise faults", 100*share)
				}
				if c.Missing != 0 || c.Unique != n {
					t.Fatalf("unique %d missing %d", c.Unique, c.Missing)
				}
				if sc.exactlyOnce {
					if c.Duplicates != 0 || c.Rows != n {
						t.Fatalf("%d duplicates", c.Duplicates)
					}
					return
				}
				// At least once: duplicates only from requests stored without an answer.
				unanswered := st.Faults[emulator.FaultDropAfterAccept]
				maxPer := 0
				for _, b := range bs {
					maxPer = max(maxPer, b.Count)
				}
				if int64(c.Duplicates) > unanswered*int64(maxPer) {
					t.Fatalf("%d duplicates, more than %d unanswered requests x %d events", c.Duplicates, unanswered, maxPer)
				}
				if st.Faults[emulator.FaultDropAfterAccept] > 0 && c.Duplicates == 0 {
					t.Fatal("drop-after-accept faults left no duplicate: the fault did not happen as described")
				}
				t.Logf("at least once: %d duplicate rows for %d events (%.1f%%) after %d drop-after-accept faults",
					c.Duplicates, n, 100*float64(c.Duplicates)/n, st.Faults[emulator.FaultDropAfterAccept])
			})
		}
	}
}

// TestEmulatorSlowBeyondTimeout: answers later than RequestTimeout. The
// client gives up on the attempt and retries; the emulator may still store
// the first body (it reads it after the delay), so rows can repeat. Asserted:
// every event arrives, the Report says all were accepted, and timeouts were
// retried. Duplicates are logged, not bounded: on a loaded machine ordinary
// answers can pass a short timeout too.
func TestEmulatorSlowBeyondTimeout(t *testing.T) {
	for _, api := range []string{"li", "dc"} {
		t.Run(api, func(t *testing.T) {
			ev := genEvents(t, flowgen.Options{Format: flowgen.FormatNSGv2, Seed: 9, TuplesPerRecord: 40}, encoderFor(api), 2000, api == "dc")
			srv := startEmulator(t, emulator.Faults{Slow: 0.3, SlowDelay: 600 * time.Millisecond, Seed: 5})
			s := emulatorSink(t, api, srv, Delivery{MaxBodyBytes: 64 << 10, MaxRetries: 40, RequestTimeout: 200 * time.Millisecond, Sleep: (&fakeClock{}).sleep})
			rep := s.Send(context.Background(), ev, s.Cut(ev))
			if !rep.OK() || rep.EventsAccepted != ev.Len() || rep.Retries == 0 {
				t.Fatalf("accepted %d of %d, %d retries, err %v", rep.EventsAccepted, ev.Len(), rep.Retries, rep.Err)
			}
			rows, err := srv.Rows()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, r := range rows {
				id, _ := r["EventId"].(string)
				got[id] = true
			}
			for _, id := range eventIDs(ev) {
				if !got[id] {
					t.Fatalf("event %s missing", id)
				}
			}
			c := emulator.CountIDs(rows, "EventId")
			t.Logf("%d requests, %d retries, %d slow faults: %d rows for %d events (%d duplicates)",
				rep.Requests, rep.Retries, srv.Stats().Faults[emulator.FaultSlow], c.Rows, ev.Len(), c.Duplicates)
		})
	}
}
