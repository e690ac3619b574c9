package emulator_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

// outcome is what a client saw: the status, or "error" when the connection
// failed without an answer.
func send(client *http.Client, srv *emulator.Server, body []byte) (string, http.Header) {
	req, _ := http.NewRequest("POST", srv.IngestionURL(emulator.DefaultDCRImmutableID, emulator.DefaultStream), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		return "error", nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return fmt.Sprint(resp.StatusCode), resp.Header
}

func TestFaultShares(t *testing.T) {
	const n = 400
	tests := []struct {
		name   string
		faults emulator.Faults
		kind   emulator.FaultKind
		seen   string // what the client sees
		stored bool   // rows of faulted requests are stored
	}{
		{"429", emulator.Faults{TooManyRequests: 0.2, RetryAfter: 3 * time.Second}, emulator.Fault429, "429", false},
		{"500", emulator.Faults{InternalError: 0.2}, emulator.Fault500, "500", false},
		{"503", emulator.Faults{Unavailable: 0.2}, emulator.Fault503, "503", false},
		{"reset", emulator.Faults{Reset: 0.2}, emulator.FaultReset, "error", false},
		{"drop after accept", emulator.Faults{DropAfterAccept: 0.2}, emulator.FaultDropAfterAccept, "error", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Faults = tc.faults
			cfg.Faults.Seed = 7
			srv := start(t, cfg)
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			counts := map[string]int{}
			for i := 0; i < n; i++ {
				got, h := send(client, srv, []byte(fmt.Sprintf(`[{"EventId":"%d"}]`, i)))
				counts[got]++
				if got == "429" && h.Get("Retry-After") != "3" {
					t.Fatalf("429 with Retry-After %q, want 3", h.Get("Retry-After"))
				}
			}
			t.Logf("client saw %v", counts)
			faulted := counts[tc.seen]
			// 20% of 400 is 80; a fixed seed makes the count exact run to run.
			if faulted < 50 || faulted > 110 || counts["204"] != n-faulted {
				t.Fatalf("client saw %v: want about 80 %s and the rest 204", counts, tc.seen)
			}
			st := srv.Stats()
			if st.Faults[tc.kind] != int64(faulted) {
				t.Errorf("Stats.Faults[%s] = %d, client saw %d", tc.kind, st.Faults[tc.kind], faulted)
			}
			wantRows := int64(counts["204"])
			if tc.stored {
				wantRows += int64(faulted)
			}
			if st.RowsTotal != wantRows {
				t.Errorf("stored %d rows, want %d", st.RowsTotal, wantRows)
			}
		})
	}
}

func faultSequence(t *testing.T, seed int64) []string {
	cfg := baseConfig()
	cfg.Faults = emulator.Faults{TooManyRequests: 0.1, InternalError: 0.1, Unavailable: 0.1, Reset: 0.1, DropAfterAccept: 0.1, Seed: seed}
	srv := start(t, cfg)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	var seq []string
	for i := 0; i < 60; i++ {
		got, _ := send(client, srv, []byte(`[]`))
		seq = append(seq, got)
	}
	return seq
}

func TestFaultsDeterministic(t *testing.T) {
	a, b, c := faultSequence(t, 1), faultSequence(t, 1), faultSequence(t, 2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatalf("seeds 1 and 2 gave the same faults: %v", a)
	}
	kinds := map[string]bool{}
	for _, s := range a {
		kinds[s] = true
	}
	for _, k := range []string{"204", "429", "500", "503", "error"} {
		if !kinds[k] {
			t.Errorf("60 requests at 10%% each never saw %s: %v", k, a)
		}
	}
}

func TestSlowShare(t *testing.T) {
	cfg := baseConfig()
	cfg.Faults = emulator.Faults{Slow: 0.5, SlowDelay: time.Millisecond, Seed: 3}
	srv := start(t, cfg)
	for i := 0; i < 100; i++ {
		if got, _ := send(http.DefaultClient, srv, []byte(`[]`)); got != "204" {
			t.Fatalf("request %d: %s, want 204 (slow only delays)", i, got)
		}
	}
	if n := srv.Stats().Faults[emulator.FaultSlow]; n < 30 || n > 70 {
		t.Errorf("%d of 100 requests slowed, want about 50", n)
	}
}

func TestFailFirst(t *testing.T) {
	tests := []struct {
		kind emulator.FaultKind
		seen string
	}{
		{"", "503"},
		{emulator.Fault429, "429"},
		{emulator.Fault500, "500"},
		{emulator.FaultReset, "error"},
		{emulator.FaultDropAfterAccept, "error"},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			cfg := baseConfig()
			cfg.Faults = emulator.Faults{FailFirst: 3, FailFirstKind: tc.kind}
			srv := start(t, cfg)
			var seq []string
			for i := 0; i < 5; i++ {
				got, _ := send(http.DefaultClient, srv, []byte(`[{"EventId":"e"}]`))
				seq = append(seq, got)
			}
			want := fmt.Sprint([]string{tc.seen, tc.seen, tc.seen, "204", "204"})
			if fmt.Sprint(seq) != want {
				t.Fatalf("got %v, want %v", seq, want)
			}
		})
	}
}

func TestDropAfterAcceptStoresRows(t *testing.T) {
	cfg := baseConfig()
	cfg.Faults = emulator.Faults{DropAfterAccept: 1}
	srv := start(t, cfg)
	got, _ := send(http.DefaultClient, srv, []byte(`[{"EventId":"x1"},{"EventId":"x2"}]`))
	if got != "error" {
		t.Fatalf("client saw %s, want a connection error", got)
	}
	rows, err := srv.Rows()
	if err != nil || len(rows) != 2 || rows[1]["EventId"] != "x2" {
		t.Fatalf("rows %v, %v: want both stored", rows, err)
	}
	// An invalid request is refused normally, not dropped.
	req, _ := http.NewRequest("POST", srv.IngestionURL(emulator.DefaultDCRImmutableID, emulator.DefaultStream), bytes.NewReader([]byte(`{}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	if code, body, _ := do(t, req); code != 400 {
		t.Fatalf("invalid body under drop-after-accept: %d %s, want 400", code, body)
	}
}

func TestSetDown(t *testing.T) {
	srv := start(t, baseConfig())
	client := &http.Client{Transport: &http.Transport{}} // keeps a connection open
	defer client.CloseIdleConnections()
	url := srv.URL()
	if got, _ := send(client, srv, []byte(`[]`)); got != "204" {
		t.Fatalf("before down: %s", got)
	}
	if err := srv.SetDown(true); err != nil {
		t.Fatal(err)
	}
	if !srv.Stats().Down {
		t.Error("Stats.Down false while down")
	}
	// The kept-alive connection was closed: the client sees an error.
	if got, _ := send(client, srv, []byte(`[]`)); got != "error" {
		t.Fatalf("while down, old connection: %s, want an error", got)
	}
	// A new connection is refused.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := fresh.Post(url+"/healthz", "text/plain", nil)
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("while down, new connection: err %v, want connection refused", err)
	}
	if err := srv.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if srv.URL() != url {
		t.Fatalf("URL changed from %s to %s", url, srv.URL())
	}
	if got, _ := send(client, srv, []byte(`[{"EventId":"after"}]`)); got != "204" {
		t.Fatalf("after up: %s", got)
	}
	if srv.Stats().RowsTotal != 1 {
		t.Errorf("rows %d, want 1", srv.Stats().RowsTotal)
	}
}

func TestAdminDown(t *testing.T) {
	srv := start(t, baseConfig())
	resp, err := http.Post(srv.URL()+"/admin/down?for=100ms", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("admin/down: %d", resp.StatusCode)
	}
	// Poll (no timing assertions): it must go down, then come back.
	sawDown := false
	for i := 0; i < 1000; i++ {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		r, err := c.Get(srv.URL() + "/healthz")
		if err != nil {
			sawDown = true
		} else {
			r.Body.Close()
			if sawDown {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("never saw down then up (saw down: %v)", sawDown)
}

func TestConcurrentClients(t *testing.T) {
	srv := start(t, baseConfig())
	const workers, perWorker, rowsPer = 8, 40, 25
	var wg sync.WaitGroup
	errs := make(chan string, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for i := 0; i < perWorker; i++ {
				var b bytes.Buffer
				b.WriteByte('[')
				for r := 0; r < rowsPer; r++ {
					if r > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"EventId":"w%d-%d-%d"}`, w, i, r)
				}
				b.WriteByte(']')
				if got, _ := send(client, srv, b.Bytes()); got != "204" {
					errs <- got
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a request got %s", e)
	}
	rows, err := srv.Rows()
	if err != nil {
		t.Fatal(err)
	}
	ids := emulator.CountIDs(rows, "EventId")
	if ids.Rows != workers*perWorker*rowsPer || ids.Unique != ids.Rows || ids.Duplicates != 0 {
		t.Fatalf("ids %+v: want %d unique rows", ids, workers*perWorker*rowsPer)
	}
	if st := srv.Stats(); st.Requests[204] != workers*perWorker {
		t.Errorf("204 answers %d, want %d", st.Requests[204], workers*perWorker)
	}
}

func TestCountIDs(t *testing.T) {
	rows := []emulator.Row{
		{"EventId": "a"}, {"EventId": "b"}, {"EventId": "a"}, {"EventId": "a"}, {"Other": 1}, {"EventId": nil},
	}
	got := emulator.CountIDs(rows, "EventId")
	if got.Rows != 6 || got.Missing != 2 || got.Unique != 2 || got.Duplicates != 2 || got.Counts["a"] != 3 || len(got.Counts) != 1 {
		t.Fatalf("CountIDs = %+v", got)
	}
}

func TestHealthAndStatsEndpoints(t *testing.T) {
	srv := start(t, baseConfig())
	send(http.DefaultClient, srv, []byte(`[{"EventId":"1"}]`))
	code, body, _ := do(t, mustReq(t, "GET", srv.URL()+"/healthz"))
	if code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	code, body, _ = do(t, mustReq(t, "GET", srv.URL()+"/stats"))
	var st emulator.Stats
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("stats: %d %s", code, body)
	}
	if st.Rows["NsgFlow_CL"] != 1 || st.Requests[204] != 1 || st.RowsTotal != 1 {
		t.Errorf("stats %+v", st)
	}
	if code, _, _ := do(t, mustReq(t, "GET", srv.URL()+"/nothing")); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
}

func mustReq(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
