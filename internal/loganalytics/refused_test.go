package loganalytics

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// refuseIDs answers 400 (with body) to any request holding one of the IDs,
// as Azure does for a row it cannot take.
func refuseIDs(body string, ids ...string) func(int, *request, http.ResponseWriter) bool {
	return func(_ int, r *request, w http.ResponseWriter) bool {
		for _, id := range r.IDs {
			if slices.Contains(ids, id) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				w.Write([]byte(body))
				return true
			}
		}
		return false
	}
}

// TestPoisonRows: a 400 that one row causes is isolated like a 413: the
// other rows of the batch are stored once, the refused row is reported (and
// written to the dead-letter file), its batch counts as done; a 400 that
// refuses everything, or one about the request, stays a permanent refusal
// after a bounded number of requests.
func TestPoisonRows(t *testing.T) {
	const rowBody = `{"error":{"code":"InvalidPayload","message":"row 3: field FlowTime is not a datetime"}}`
	for _, tc := range []struct {
		name       string
		dc         bool
		n          int
		poison     []int // event indexes refused
		all        bool  // every request refused
		body       string
		deadLetter bool
		// want
		ok          bool
		refused     int
		rejected    int
		maxRequests int
	}{
		{name: "one row of 1000, logs ingestion", n: 1000, poison: []int{417}, body: rowBody, deadLetter: true, ok: true, refused: 1, maxRequests: 25},
		{name: "three rows, no dead-letter file", n: 1000, poison: []int{0, 500, 999}, body: rowBody, ok: true, refused: 3, maxRequests: 70},
		{name: "one row, data collector", dc: true, n: 300, poison: []int{42}, body: `{"Error":"InvalidDataFormat","Message":"row 42 has a field that is not flat"}`, deadLetter: true, ok: true, refused: 1, maxRequests: 25},
		{name: "everything refused", n: 1000, all: true, body: rowBody, deadLetter: true, rejected: 1000, maxRequests: 3*MaxRefusedRows + 12},
		{name: "request-level 400", n: 1000, all: true, body: `{"error":{"code":"InvalidStream","message":"Stream Custom-X is not declared"}}`, deadLetter: true, rejected: 1000, maxRequests: 1},
		{name: "data collector log type", dc: true, n: 100, all: true, body: `{"Error":"InvalidLogType","Message":"bad"}`, deadLetter: true, rejected: 100, maxRequests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := synthEvents(tc.n, 900)
			ids := eventIDs(ev)
			var bad []string
			for _, i := range tc.poison {
				bad = append(bad, ids[i])
			}
			respond := refuseIDs(tc.body, bad...)
			if tc.all {
				respond = refuseIDs(tc.body, ids...)
			}
			okStatus := http.StatusNoContent
			if tc.dc {
				okStatus = http.StatusOK
			}
			rec := newRecorder(t, okStatus, respond)
			clk := &fakeClock{}
			logs := &logSink{}
			dl := filepath.Join(t.TempDir(), "dead.ndjson")
			var s Sink
			var err error
			if tc.dc {
				cfg := dcConfig(rec.srv.URL, clk, logs)
				cfg.MaxBodyBytes = 1 << 20
				if tc.deadLetter {
					cfg.DeadLetterFile = dl
				}
				s, err = NewDataCollector(cfg)
			} else {
				cfg := liConfig(rec.srv.URL, clk, logs)
				if tc.deadLetter {
					cfg.DeadLetterFile = dl
				}
				s, err = NewLogsIngestion(cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			bs := s.Cut(ev)
			if len(bs) < 1 {
				t.Fatal("no batch")
			}
			rep := s.Send(context.Background(), ev, bs)
			s.Close()
			if rep.OK() != tc.ok || len(rep.Refused) != tc.refused || rep.EventsRejected != tc.rejected {
				t.Fatalf("OK %v, %d refused, %d rejected; want %v, %d, %d (err %v)", rep.OK(), len(rep.Refused), rep.EventsRejected, tc.ok, tc.refused, tc.rejected, rep.Err)
			}
			if n := len(rec.requests()); n > tc.maxRequests {
				t.Errorf("%d requests, want at most %d", n, tc.maxRequests)
			}
			stored := rec.storedCopy()
			if tc.ok {
				if rep.EventsAccepted != tc.n-tc.refused || rep.Permanent {
					t.Errorf("accepted %d of %d (permanent %v)", rep.EventsAccepted, tc.n, rep.Permanent)
				}
				for i, id := range ids {
					want := 1
					if slices.Contains(tc.poison, i) {
						want = 0
					}
					if stored[id] != want {
						t.Fatalf("event %d stored %d times, want %d", i, stored[id], want)
					}
				}
				var gotRefused []int
				for _, r := range rep.Refused {
					gotRefused = append(gotRefused, r.Event)
					if r.Status != 400 || !strings.Contains(r.Reason, "Invalid") || r.RequestID == "" {
						t.Errorf("refused row %+v", r)
					}
				}
				slices.Sort(gotRefused)
				if !slices.Equal(gotRefused, tc.poison) {
					t.Errorf("refused %v, want %v", gotRefused, tc.poison)
				}
				if !strings.Contains(logs.text(), "refused alone") {
					t.Errorf("no log line for the refused rows:\n%s", logs.text())
				}
			} else {
				if !rep.Permanent || rep.Err == nil || len(stored) != 0 {
					t.Errorf("permanent %v, err %v, %d stored", rep.Permanent, rep.Err, len(stored))
				}
			}
			f, err := os.Open(dl)
			if !tc.deadLetter || !tc.ok {
				if err == nil {
					t.Errorf("dead-letter file written although nothing was settled as refused")
					f.Close()
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var lines []deadLetterLine
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var l deadLetterLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
				}
				lines = append(lines, l)
			}
			if len(lines) != tc.refused {
				t.Fatalf("%d dead-letter lines, want %d", len(lines), tc.refused)
			}
			var row struct{ EventId string }
			if err := json.Unmarshal(lines[0].Row, &row); err != nil || row.EventId != bad[0] || lines[0].Status != 400 || lines[0].Time == "" || !strings.Contains(lines[0].Reason, "Invalid") {
				t.Errorf("dead-letter line %+v (row %s)", lines[0], lines[0].Row)
			}
		})
	}
}

// TestPoisonRowDeadLetterUnwritable: a refused row that cannot be written to
// the dead-letter file is not settled: its batch is rejected, so the caller
// does not acknowledge it.
func TestPoisonRowDeadLetterUnwritable(t *testing.T) {
	ev := synthEvents(200, 100)
	ids := eventIDs(ev)
	rec := newRecorder(t, http.StatusNoContent, refuseIDs(`{"error":{"code":"InvalidPayload","message":"bad row"}}`, ids[7]))
	cfg := liConfig(rec.srv.URL, &fakeClock{}, nil)
	cfg.DeadLetterFile = filepath.Join(t.TempDir(), "missing-dir", "dead.ndjson")
	s, err := NewLogsIngestion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep := s.Send(context.Background(), ev, s.Cut(ev))
	if rep.OK() || !rep.Permanent || len(rep.Refused) != 0 || rep.EventsRejected != 1 || !strings.Contains(rep.Err.Error(), "dead-letter file") {
		t.Fatalf("report OK %v permanent %v refused %d rejected %d err %v", rep.OK(), rep.Permanent, len(rep.Refused), rep.EventsRejected, rep.Err)
	}
}
