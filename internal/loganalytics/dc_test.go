package loganalytics

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The expected value was computed outside Go with:
//
//	printf 'POST\n1234\napplication/json\nx-ms-date:Thu, 26 Nov 2026 01:00:00 GMT\n/api/logs' |
//	  openssl dgst -sha256 -mac HMAC -macopt hexkey:6e7367666c6f772d746573742d7368617265642d6b65792d30313233343536373839616263646566 -binary | base64
//
// where the hex key is the bytes of testSharedKey decoded.
func TestSignDataCollector(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString(testSharedKey)
	if err != nil {
		t.Fatal(err)
	}
	got := SignDataCollector(testWorkspace, key, 1234, "Thu, 26 Nov 2026 01:00:00 GMT")
	want := "SharedKey " + testWorkspace + ":enbO54/R58DbhcLDRFq2C1hyIurKj2V08JB3t++ZlnY="
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if SignDataCollector(testWorkspace, key, 1235, "Thu, 26 Nov 2026 01:00:00 GMT") == want {
		t.Fatal("length not signed")
	}
}

func TestDataCollectorRequestShape(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(testSharedKey)
	now := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	rec := newRecorder(t, http.StatusOK, nil)
	clk := &fakeClock{}
	cfg := dcConfig(rec.srv.URL, clk, nil)
	cfg.AzureResourceID = true
	cfg.Now = func() time.Time { return now }
	s, err := NewDataCollector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := &Events{}
	for i, rid := range []string{"/subscriptions/a/nsg1", "/subscriptions/a/nsg1", "/subscriptions/a/nsg2"} {
		ev.Append(fmt.Appendf(nil, `{"EventId":"%d","FlowTime":"2026-11-26T01:00:00Z"}`, i))
		ev.SetResourceID(rid)
	}
	bs := s.Cut(ev)
	rep := s.Send(context.Background(), ev, bs)
	if !rep.OK() || rep.Requests != 2 || len(bs) != 2 {
		t.Fatalf("report %+v batches %+v", rep, bs)
	}
	for _, r := range rec.requests() {
		date := r.Header.Get("x-ms-date")
		if date != "Thu, 26 Nov 2026 01:02:03 GMT" {
			t.Errorf("x-ms-date %q", date)
		}
		if r.Path != "/api/logs" || r.Query != "api-version=2016-04-01" {
			t.Errorf("url %s?%s", r.Path, r.Query)
		}
		if want := SignDataCollector(testWorkspace, key, len(r.Raw), date); r.Header.Get("Authorization") != want {
			t.Errorf("Authorization %q, want %q", r.Header.Get("Authorization"), want)
		}
		if got := r.Header.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
			t.Errorf("Content-Type %q", got)
		}
		if r.Header.Get("Log-Type") != "NsgFlow" || r.Header.Get("time-generated-field") != "FlowTime" {
			t.Errorf("Log-Type %q time-generated-field %q", r.Header.Get("Log-Type"), r.Header.Get("time-generated-field"))
		}
		if r.Header.Get("Content-Encoding") != "" {
			t.Error("Data Collector body must not be compressed")
		}
		rid := r.Header.Get("x-ms-AzureResourceId")
		switch len(r.IDs) {
		case 2:
			if rid != "/subscriptions/a/nsg1" {
				t.Errorf("resource %q for 2 events", rid)
			}
		case 1:
			if rid != "/subscriptions/a/nsg2" {
				t.Errorf("resource %q for 1 event", rid)
			}
		}
	}
}

// The signature is recomputed on every attempt (the date moves on).
func TestDataCollectorResignsRetries(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(testSharedKey)
	rec := newRecorder(t, http.StatusOK, func(n int, r *request, w http.ResponseWriter) bool {
		if n < 2 {
			w.WriteHeader(503)
			return true
		}
		return false
	})
	clk := &fakeClock{}
	cfg := dcConfig(rec.srv.URL, clk, nil)
	tick := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { tick = tick.Add(time.Second); return tick }
	s, _ := NewDataCollector(cfg)
	ev := synthEvents(5, 5)
	if rep := s.Send(context.Background(), ev, s.Cut(ev)); !rep.OK() || rep.Retries != 2 {
		t.Fatalf("report %+v", rep)
	}
	seen := map[string]bool{}
	for _, r := range rec.requests() {
		d := r.Header.Get("x-ms-date")
		if seen[d] {
			t.Errorf("date %s reused", d)
		}
		seen[d] = true
		if r.Header.Get("Authorization") != SignDataCollector(testWorkspace, key, len(r.Raw), d) {
			t.Error("stale signature")
		}
	}
}

func TestDataCollectorStatusPaths(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		body      string
		accepted  bool
		permanent bool
		requests  int
		errHas    []string
	}{
		{"200", 200, "", true, false, 1, nil},
		{"403 signature", 403, `{"Error":"InvalidAuthorization","Message":"An invalid scheme was specified"}`, false, true, 1, []string{"HTTP 403", "InvalidAuthorization", "SharedKey", "clock"}},
		{"400 bad log type", 400, `{"Error":"InvalidLogType","Message":"bad"}`, false, true, 1, []string{"HTTP 400", "InvalidLogType"}},
		{"404 wrong url", 404, "Not Found", false, true, 1, []string{"HTTP 404", "WorkspaceID"}},
		{"404 too large splits", 404, `{"Error":"RequestEntityTooLarge","Message":"The request is too large"}`, true, false, 3, nil},
		{"413 splits", 413, "", true, false, 3, nil},
		{"500 retried", 500, "", true, false, 2, nil},
		{"503 retried", 503, "", true, false, 2, nil},
		{"429 retried", 429, "", true, false, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, 200, func(n int, r *request, w http.ResponseWriter) bool {
				if n == 0 && tc.code != 200 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(tc.code)
					fmt.Fprint(w, tc.body)
					return true
				}
				return false
			})
			s, err := NewDataCollector(dcConfig(rec.srv.URL, &fakeClock{}, nil))
			if err != nil {
				t.Fatal(err)
			}
			ev := synthEvents(4, 4)
			rep := s.Send(context.Background(), ev, s.Cut(ev))
			if rep.Accepted[0] != tc.accepted || rep.Permanent != tc.permanent || rep.Requests != tc.requests {
				t.Fatalf("accepted %v permanent %v requests %d, want %v %v %d: %v", rep.Accepted[0], rep.Permanent, rep.Requests, tc.accepted, tc.permanent, tc.requests, rep.Err)
			}
			for _, s := range tc.errHas {
				if rep.Err == nil || !strings.Contains(rep.Err.Error(), s) {
					t.Errorf("error %v lacks %q", rep.Err, s)
				}
			}
		})
	}
}

func TestDataCollectorBodyCap(t *testing.T) {
	rec := newRecorder(t, 200, nil)
	cfg := dcConfig(rec.srv.URL, &fakeClock{}, nil)
	cfg.MaxBodyBytes = 100_000
	s, _ := NewDataCollector(cfg)
	ev := synthEvents(5000, 100)
	rep := s.Send(context.Background(), ev, s.Cut(ev))
	max := 0
	for _, r := range rec.requests() {
		max = maxInt(max, len(r.Raw))
		if cl, _ := strconv.Atoi(r.Header.Get("Content-Length")); cl != len(r.Raw) {
			t.Errorf("Content-Length %d for %d bytes", cl, len(r.Raw))
		}
	}
	if !rep.OK() || max > 100_000 || max < 90_000 || rep.Requests < 5 {
		t.Fatalf("ok %v, largest body %d, %d requests", rep.OK(), max, rep.Requests)
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
