package loganalytics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

const (
	testDCR       = "dcr-0123456789abcdef0123456789abcdef"
	testStream    = "Custom-NsgFlow"
	testToken     = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.test-bearer-token-value.sig"
	testWorkspace = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
	// base64 of "nsgflow-test-shared-key-0123456789abcdef"
	testSharedKey = "bnNnZmxvdy10ZXN0LXNoYXJlZC1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="
)

// fakeClock records the waits the engine asks for instead of sleeping.
type fakeClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// logSink collects log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) Logf(level Level, format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, level.String()+": "+fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logSink) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// synthEvents builds n small distinct events, each with an EventId.
func synthEvents(n, pad int) *Events {
	ev := &Events{}
	p := strings.Repeat("x", pad)
	for i := 0; i < n; i++ {
		ev.Append(fmt.Appendf(nil, `{"EventId":"%016x","N":%d,"Pad":"%s"}`, uint64(i)*0x9E3779B97F4A7C15, i, p))
	}
	return ev
}

// request is what a test server saw.
type request struct {
	Header http.Header
	Path   string
	Query  string
	Raw    []byte // body as sent
	Body   []byte // body decoded (gunzipped when Content-Encoding: gzip)
	IDs    []string
}

// recorder is an httptest server whose responses a test scripts.
type recorder struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []request
	// respond decides the answer to request n (0-based); nil answers ok.
	respond func(n int, r *request, w http.ResponseWriter) bool
	ok      int // success status
	stored  map[string]int
}

func newRecorder(t *testing.T, ok int, respond func(n int, r *request, w http.ResponseWriter) bool) *recorder {
	rec := &recorder{t: t, respond: respond, ok: ok, stored: map[string]int{}}
	rec.srv = httptest.NewServer(http.HandlerFunc(rec.handle))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) handle(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
	}
	req := request{Header: r.Header.Clone(), Path: r.URL.Path, Query: r.URL.RawQuery, Raw: raw, Body: body}
	var rows []map[string]any
	if err := json.Unmarshal(body, &rows); err != nil {
		http.Error(w, `{"error":{"code":"InvalidJson","message":"not a JSON array"}}`, 400)
		return
	}
	for _, row := range rows {
		id, _ := row["EventId"].(string)
		req.IDs = append(req.IDs, id)
	}
	rec.mu.Lock()
	n := len(rec.reqs)
	rec.reqs = append(rec.reqs, req)
	rec.mu.Unlock()
	if rec.respond != nil && rec.respond(n, &req, w) {
		return
	}
	rec.mu.Lock()
	for _, id := range req.IDs {
		rec.stored[id]++
	}
	rec.mu.Unlock()
	w.WriteHeader(rec.ok)
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

func (rec *recorder) storedCopy() map[string]int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	m := make(map[string]int, len(rec.stored))
	for k, v := range rec.stored {
		m[k] = v
	}
	return m
}

// resetConn drops the connection without an answer.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	c, _, err := hj.Hijack()
	if err == nil {
		c.Close()
	}
}

func liConfig(url string, clk *fakeClock, log Logger) LogsIngestionConfig {
	return LogsIngestionConfig{
		Endpoint:       url,
		DCRImmutableID: testDCR,
		Stream:         testStream,
		Credential:     CredentialConfig{Kind: CredStatic, Token: testToken},
		Delivery:       Delivery{Sleep: clk.sleep, Logger: log, MaxRetries: 5},
	}
}

func dcConfig(url string, clk *fakeClock, log Logger) DataCollectorConfig {
	return DataCollectorConfig{
		WorkspaceID:        testWorkspace,
		SharedKey:          testSharedKey,
		LogType:            "NsgFlow",
		TimeGeneratedField: "FlowTime",
		Endpoint:           url,
		Delivery:           Delivery{Sleep: clk.sleep, Logger: log, MaxRetries: 5},
	}
}

func eventIDs(ev *Events) []string {
	ids := make([]string, ev.Len())
	for i := range ids {
		var row struct{ EventId string }
		if err := json.Unmarshal(ev.Event(i), &row); err != nil {
			panic(err)
		}
		ids[i] = row.EventId
	}
	return ids
}

func mustTime(s string) time.Time {
	t, err := http.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}
