package loganalytics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogsIngestionRequestShape(t *testing.T) {
	for _, gz := range []bool{true, false} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			rec := newRecorder(t, http.StatusNoContent, nil)
			clk := &fakeClock{}
			cfg := liConfig(rec.srv.URL, clk, nil)
			cfg.DisableGzip = !gz
			s, err := NewLogsIngestion(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ev := synthEvents(100, 50)
			bs := s.Cut(ev)
			rep := s.Send(context.Background(), ev, bs)
			if !rep.OK() || rep.Err != nil || rep.EventsAccepted != 100 || rep.Requests != 1 || rep.Retries != 0 {
				t.Fatalf("report %+v", rep)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if want := "/dataCollectionRules/" + testDCR + "/streams/" + testStream; r.Path != want {
				t.Errorf("path %q, want %q", r.Path, want)
			}
			if r.Query != "api-version=2023-01-01" {
				t.Errorf("query %q", r.Query)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
				t.Errorf("Authorization %q", got)
			}
			if got := r.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if got := r.Header.Get("Content-Encoding"); (got == "gzip") != gz {
				t.Errorf("Content-Encoding %q with gzip=%v", got, gz)
			}
			if id := r.Header.Get("x-ms-client-request-id"); len(id) != 36 || strings.Count(id, "-") != 4 {
				t.Errorf("request id %q", id)
			}
			// The decoded body is exactly the JSON array of the events.
			if want := buildBody(nil, ev, bs[0]); string(r.Body) != string(want) {
				t.Errorf("body differs from the JSON array (%d vs %d bytes)", len(r.Body), len(want))
			}
			if gz && len(r.Raw) >= len(r.Body)/2 {
				t.Errorf("gzip body %d bytes for %d raw", len(r.Raw), len(r.Body))
			}
			if len(rep.Remember) != 1 || rep.Remember[0] != bs[0].Key {
				t.Errorf("Remember %v, want the batch key", rep.Remember)
			}
		})
	}
}

func TestLogsIngestionStatusPaths(t *testing.T) {
	type step func(w http.ResponseWriter) bool // true: answered
	status := func(code int, body string, hdr ...string) step {
		return func(w http.ResponseWriter) bool {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(code)
			fmt.Fprint(w, body)
			return true
		}
	}
	reset := func(w http.ResponseWriter) bool { resetConn(w); return true }
	tests := []struct {
		name      string
		steps     []step // answers to successive requests; then success
		accepted  bool
		permanent bool
		requests  int
		waits     []time.Duration // exact waits (Retry-After); nil: only count
		nwaits    int
		errHas    []string
	}{
		{"204", nil, true, false, 1, nil, 0, nil},
		{"429 Retry-After seconds", []step{status(429, "", "Retry-After", "3")}, true, false, 2, []time.Duration{3 * time.Second}, 1, nil},
		{"429 Retry-After date", []step{status(429, "", "Retry-After", "Thu, 26 Nov 2026 01:00:07 GMT")}, true, false, 2, []time.Duration{7 * time.Second}, 1, nil},
		{"429 without Retry-After backs off", []step{status(429, ""), status(429, "")}, true, false, 3, nil, 2, nil},
		{"500 502 503 504 408 retried", []step{status(500, "x"), status(502, "x"), status(503, "x"), status(504, "x"), status(408, "x")}, true, false, 6, nil, 5, nil},
		{"connection reset retried", []step{reset, reset}, true, false, 3, nil, 2, nil},
		{"400 not retried", []step{status(400, `{"error":{"code":"InvalidStream","message":"Stream Custom-Bad is not declared in the DCR"}}`)}, false, true, 1, nil, 0,
			[]string{"HTTP 400", "InvalidStream", "Stream Custom-Bad is not declared", "request "}},
		{"403 role", []step{status(403, `{"error":{"code":"OperationFailed","message":"denied"}}`)}, false, true, 1, nil, 0,
			[]string{"HTTP 403", "Monitoring Metrics Publisher role on the DCR", "30 minutes"}},
		{"404 ids", []step{status(404, `{"error":{"code":"NotFound","message":"no such rule"}}`)}, false, true, 1, nil, 0,
			[]string{"HTTP 404", "DCR immutable ID", "stream"}},
		{"401 twice permanent", []step{status(401, ""), status(401, "")}, false, true, 2, nil, 1, []string{"refused twice"}},
		{"retries exhausted", []step{status(503, "busy"), status(503, "busy"), status(503, "busy"), status(503, "busy"), status(503, "busy"), status(503, "busy")}, false, false, 6, nil, 5,
			[]string{"HTTP 503", "gave up after 6 attempts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, http.StatusNoContent, func(n int, r *request, w http.ResponseWriter) bool {
				if n < len(tc.steps) {
					return tc.steps[n](w)
				}
				return false
			})
			clk := &fakeClock{}
			cfg := liConfig(rec.srv.URL, clk, nil)
			cfg.Now = func() time.Time { return time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC) }
			s, err := NewLogsIngestion(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ev := synthEvents(20, 10)
			rep := s.Send(context.Background(), ev, s.Cut(ev))
			if rep.Accepted[0] != tc.accepted || rep.Rejected[0] != tc.permanent || rep.Permanent != tc.permanent {
				t.Fatalf("accepted %v rejected %v permanent %v, want %v %v: %v", rep.Accepted[0], rep.Rejected[0], rep.Permanent, tc.accepted, tc.permanent, rep.Err)
			}
			if got := len(rec.requests()); got != tc.requests || rep.Requests != tc.requests || rep.Retries != tc.requests-1 {
				t.Fatalf("server saw %d requests, report %d/%d retries, want %d", got, rep.Requests, rep.Retries, tc.requests)
			}
			w := clk.Waits()
			if len(w) != tc.nwaits {
				t.Fatalf("waits %v, want %d", w, tc.nwaits)
			}
			if tc.waits != nil && fmt.Sprint(w) != fmt.Sprint(tc.waits) {
				t.Fatalf("waits %v, want %v", w, tc.waits)
			}
			for _, d := range w {
				if d <= 0 || d > 30*time.Second {
					t.Fatalf("wait %v out of range", d)
				}
			}
			if tc.accepted {
				if rep.Err != nil || rep.EventsAccepted != 20 {
					t.Fatalf("err %v accepted %d", rep.Err, rep.EventsAccepted)
				}
				return
			}
			if rep.Err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.errHas {
				if !strings.Contains(rep.Err.Error(), s) {
					t.Errorf("error %q lacks %q", rep.Err, s)
				}
			}
			// Every request ID the server saw for a failed answer is in the error chain's last request.
			last := rec.requests()[len(rec.requests())-1].Header.Get("x-ms-client-request-id")
			if !strings.Contains(rep.Err.Error(), last) {
				t.Errorf("error %q lacks the request id %s", rep.Err, last)
			}
			if tc.permanent && rep.EventsRejected != 20 {
				t.Errorf("EventsRejected %d", rep.EventsRejected)
			}
		})
	}
}

func TestLogsIngestion413Split(t *testing.T) {
	// The server takes at most 7 events per request: 413 above that.
	rec := newRecorder(t, http.StatusNoContent, func(n int, r *request, w http.ResponseWriter) bool {
		if len(r.IDs) > 7 {
			w.WriteHeader(413)
			fmt.Fprint(w, `{"error":{"code":"ContentLengthLimitExceeded","message":"too big"}}`)
			return true
		}
		return false
	})
	clk := &fakeClock{}
	s, err := NewLogsIngestion(liConfig(rec.srv.URL, clk, nil))
	if err != nil {
		t.Fatal(err)
	}
	ev := synthEvents(50, 10)
	bs := s.Cut(ev)
	rep := s.Send(context.Background(), ev, bs)
	if !rep.OK() || rep.EventsAccepted != 50 || rep.Err != nil {
		t.Fatalf("report %+v", rep)
	}
	// 50 -> 25+25 -> 12+13 each -> 6+6, 6+7 each: 1+2+4 splits, 8 accepted pieces.
	if rep.Splits != 7 || rep.Requests != 15 {
		t.Fatalf("splits %d requests %d, want 7 and 15", rep.Splits, rep.Requests)
	}
	stored := rec.storedCopy()
	for _, id := range eventIDs(ev) {
		if stored[id] != 1 {
			t.Fatalf("event %s stored %d times", id, stored[id])
		}
	}
	// Wholly accepted: only the batch key is remembered.
	if len(rep.Remember) != 1 || rep.Remember[0] != bs[0].Key || len(rep.Parts) != 0 {
		t.Fatalf("remember %v parts %v", rep.Remember, rep.Parts)
	}
}

// TestPartialAcceptanceNoDuplicates: after a split, one half is accepted and
// the other fails for good in this Send; a second Send with Remaining sends
// only the missing piece.
func TestPartialAcceptanceNoDuplicates(t *testing.T) {
	failing := true
	rec := newRecorder(t, http.StatusNoContent, func(n int, r *request, w http.ResponseWriter) bool {
		switch {
		case len(r.IDs) > 10:
			w.WriteHeader(413)
			return true
		case failing && r.IDs[0] == eventIDs(synthEvents(20, 0))[10]: // the right half
			w.WriteHeader(503)
			return true
		}
		return false
	})
	clk := &fakeClock{}
	cfg := liConfig(rec.srv.URL, clk, nil)
	cfg.MaxRetries = 2
	s, err := NewLogsIngestion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := synthEvents(20, 0)
	bs := s.Cut(ev)
	rep := s.Send(context.Background(), ev, bs)
	if rep.Accepted[0] || rep.Rejected[0] || rep.Permanent || rep.EventsAccepted != 10 || rep.Splits != 1 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Parts) != 1 || rep.Parts[0].First != 0 || rep.Parts[0].Count != 10 {
		t.Fatalf("parts %+v", rep.Parts)
	}
	// 1 (413) + 1 left + 3 right attempts
	if rep.Requests != 5 {
		t.Fatalf("requests %d", rep.Requests)
	}
	mem := map[uint64]bool{}
	for _, k := range rep.Remember {
		mem[k] = true
	}
	// A new process re-reads the same events: same cut, same keys.
	ev2 := synthEvents(20, 0)
	rest := Remaining(ev2, s.Cut(ev2), func(k uint64) bool { return mem[k] })
	if len(rest) != 1 || rest[0].First != 10 || rest[0].Count != 10 {
		t.Fatalf("remaining %+v", rest)
	}
	failing = false
	rep2 := s.Send(context.Background(), ev2, rest)
	if !rep2.OK() || rep2.Requests != 1 {
		t.Fatalf("second send %+v", rep2)
	}
	stored := rec.storedCopy()
	for _, id := range eventIDs(ev) {
		if stored[id] != 1 {
			t.Fatalf("event %s stored %d times", id, stored[id])
		}
	}
}

func TestSendDeadline(t *testing.T) {
	rec := newRecorder(t, http.StatusNoContent, func(n int, r *request, w http.ResponseWriter) bool {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
		return true
	})
	clk := &fakeClock{}
	cfg := liConfig(rec.srv.URL, clk, nil)
	cfg.MaxBodyBytes = 2048
	s, err := NewLogsIngestion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := synthEvents(100, 100)
	bs := s.Cut(ev)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep := s.Send(ctx, ev, bs)
	if rep.EventsAccepted != 0 || rep.Permanent || rep.Err == nil || !strings.Contains(rep.Err.Error(), "would pass the deadline") {
		t.Fatalf("report %+v", rep)
	}
	for i := range bs {
		if rep.Accepted[i] || rep.Rejected[i] {
			t.Fatalf("batch %d settled", i)
		}
	}
	if len(clk.Waits()) != 0 || rep.Requests != len(bs) {
		t.Fatalf("waited %v, %d requests for %d batches", clk.Waits(), rep.Requests, len(bs))
	}
}

func TestOversizeEventRejectedWithoutRequest(t *testing.T) {
	rec := newRecorder(t, http.StatusNoContent, nil)
	cfg := liConfig(rec.srv.URL, &fakeClock{}, nil)
	cfg.MaxBodyBytes = 2048
	s, err := NewLogsIngestion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := synthEvents(3, 10)
	big := map[string]string{}
	for i := 0; i < 10; i++ {
		big[fmt.Sprint("f", i)] = strings.Repeat("v", 300)
	}
	b, _ := json.Marshal(big)
	ev.Append(b)
	bs := s.Cut(ev)
	rep := s.Send(context.Background(), ev, bs)
	if len(bs) != 2 || rep.Accepted[1] || !rep.Rejected[1] || !rep.Accepted[0] || rep.EventsRejected != 1 || rep.EventsAccepted != 3 || rep.Requests != 1 {
		t.Fatalf("batches %+v report %+v", bs, rep)
	}
	if !rep.Permanent || !strings.Contains(rep.Err.Error(), "2048-byte body cap") {
		t.Fatalf("err %v", rep.Err)
	}
}

func TestConcurrentBatches(t *testing.T) {
	// Every third batch (by its first event) fails its first attempt only:
	// failing every third request overall could, under concurrency, hit one
	// batch on each of its attempts and make the test flaky.
	var mu sync.Mutex
	failed := map[string]bool{}
	rec := newRecorder(t, http.StatusNoContent, func(n int, r *request, w http.ResponseWriter) bool {
		if len(r.IDs) == 0 {
			return false
		}
		first := r.IDs[0]
		mu.Lock()
		defer mu.Unlock()
		if h := fnvString(first); h%3 == 0 && !failed[first] {
			failed[first] = true
			w.WriteHeader(500)
			return true
		}
		return false
	})
	cfg := liConfig(rec.srv.URL, &fakeClock{}, nil)
	cfg.MaxBodyBytes = 4096
	cfg.Concurrency = 8
	s, err := NewLogsIngestion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := synthEvents(2000, 40)
	bs := s.Cut(ev)
	rep := s.Send(context.Background(), ev, bs)
	if !rep.OK() || rep.EventsAccepted != 2000 || rep.Retries == 0 {
		t.Fatalf("report %d batches: accepted %d retries %d err %v", len(bs), rep.EventsAccepted, rep.Retries, rep.Err)
	}
	stored := rec.storedCopy()
	for _, id := range eventIDs(ev) {
		if stored[id] != 1 {
			t.Fatalf("event %s stored %d times", id, stored[id])
		}
	}
}

func fnvString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
