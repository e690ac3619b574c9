package emulator_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

const (
	testWorkspace = "11111111-2222-3333-4444-555555555555"
	testToken     = "test-token-not-secret"
)

// testKey is a made-up workspace key (64 bytes, base64).
var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))

var testNow = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func baseConfig() emulator.Config {
	return emulator.Config{
		WorkspaceID: testWorkspace,
		SharedKey:   testKey,
		BearerToken: testToken,
		Now:         func() time.Time { return testNow },
	}
}

func start(t *testing.T, cfg emulator.Config) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// sign computes the Data Collector signature from the documented recipe,
// independently of the emulator's code.
func sign(key string, length int, date string) string {
	k, _ := base64.StdEncoding.DecodeString(key)
	m := hmac.New(sha256.New, k)
	fmt.Fprintf(m, "POST\n%d\napplication/json\nx-ms-date:%s\n/api/logs", length, date)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type dcReq struct {
	body       string
	logType    string
	date       time.Time
	key        string // signing key; testKey when ""
	workspace  string
	auth       string // overrides Authorization when set
	ctype      string
	timeField  string
	noDate     bool
	resourceID string // x-ms-AzureResourceId
	signLen    int    // signs this length instead of the body's when > 0
}

func postDC(t *testing.T, srv *emulator.Server, r dcReq) (int, string) {
	t.Helper()
	code, body, _ := postDCH(t, srv, r)
	return code, body
}

func postDCH(t *testing.T, srv *emulator.Server, r dcReq) (int, string, http.Header) {
	t.Helper()
	if r.logType == "" {
		r.logType = "NsgFlow"
	}
	if r.date.IsZero() {
		r.date = testNow
	}
	if r.key == "" {
		r.key = testKey
	}
	if r.workspace == "" {
		r.workspace = testWorkspace
	}
	if r.ctype == "" {
		r.ctype = "application/json"
	}
	date := r.date.UTC().Format(http.TimeFormat)
	req, err := http.NewRequest("POST", srv.DataCollectorURL(), strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", r.ctype)
	req.Header.Set("Log-Type", r.logType)
	req.Header.Set("x-ms-date", date)
	if r.timeField != "" {
		req.Header.Set("time-generated-field", r.timeField)
	}
	if r.resourceID != "" {
		req.Header.Set("x-ms-AzureResourceId", r.resourceID)
	}
	if r.noDate {
		req.Header.Del("x-ms-date")
	}
	n := len(r.body)
	if r.signLen > 0 {
		n = r.signLen
	}
	auth := "SharedKey " + r.workspace + ":" + sign(r.key, n, date)
	if r.auth != "" {
		auth = r.auth
	}
	req.Header.Set("Authorization", auth)
	return do(t, req)
}

type liReq struct {
	body   []byte
	dcr    string
	stream string
	token  *string
	gzip   bool
	ctype  string
}

func postLI(t *testing.T, srv *emulator.Server, r liReq) (int, string) {
	t.Helper()
	code, body, _ := postLIH(t, srv, r)
	return code, body
}

func postLIH(t *testing.T, srv *emulator.Server, r liReq) (int, string, http.Header) {
	t.Helper()
	if r.dcr == "" {
		r.dcr = emulator.DefaultDCRImmutableID
	}
	if r.stream == "" {
		r.stream = emulator.DefaultStream
	}
	if r.ctype == "" {
		r.ctype = "application/json"
	}
	req, err := http.NewRequest("POST", srv.IngestionURL(r.dcr, r.stream), bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", r.ctype)
	if r.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	tok := testToken
	if r.token != nil {
		tok = *r.token
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestBothAPIsStoreRows(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rows.ndjson")
	cfg := baseConfig()
	cfg.OutFile = out
	srv := start(t, cfg)

	code, body := postLI(t, srv, liReq{body: []byte(`[{"TimeGenerated":"2026-11-26T01:00:00Z","EventId":"a1","SrcPort":80},{"TimeGenerated":"2026-11-26T01:00:01Z","EventId":"a2"}]`)})
	if code != 204 || body != "" {
		t.Fatalf("logs ingestion: got %d %q, want 204 and no body", code, body)
	}
	code, body = postDC(t, srv, dcReq{body: `[{"EventId":"b1","Rule":"r"}]`})
	if code != 200 || body != "" {
		t.Fatalf("data collector: got %d %q, want 200 and no body", code, body)
	}
	rows, err := srv.Rows()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3", len(rows))
	}
	if rows[0].Table() != "NsgFlow_CL" || rows[0]["_api"] != emulator.APILogsIngestion {
		t.Errorf("row 0 = %v", rows[0])
	}
	if rows[2].Table() != "NsgFlow_CL" || rows[2]["_api"] != emulator.APIDataCollector || rows[2]["Rule"] != "r" {
		t.Errorf("row 2 = %v", rows[2])
	}
	st := srv.Stats()
	if st.Rows["NsgFlow_CL"] != 3 || st.Requests[204] != 1 || st.Requests[200] != 1 {
		t.Errorf("stats = %+v", st)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	fromFile, err := emulator.ReadRowsFile(out)
	if err != nil || len(fromFile) != 3 {
		t.Fatalf("ReadRowsFile: %d rows, %v", len(fromFile), err)
	}
}

// TestOutFileAppends: a restarted emulator keeps the rows of earlier runs in
// its --out file (a Compose volume then shows repeats across a stack
// restart), and a last line cut short by a crash is cut off, not glued to
// the next row.
func TestOutFileAppends(t *testing.T) {
	tests := []struct {
		name     string
		existing string
		want     []string // EventIds in the file after one more row
	}{
		{"new file", "", []string{"n1"}},
		{"earlier rows kept", `{"_table":"NsgFlow_CL","EventId":"old1"}` + "\n" + `{"_table":"NsgFlow_CL","EventId":"old2"}` + "\n", []string{"old1", "old2", "n1"}},
		{"torn last line cut off", `{"_table":"NsgFlow_CL","EventId":"old1"}` + "\n" + `{"_table":"NsgFl`, []string{"old1", "n1"}},
		{"only a torn line", `{"_tab`, []string{"n1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rows.ndjson")
			if tt.existing != "" {
				if err := os.WriteFile(out, []byte(tt.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := baseConfig()
			cfg.OutFile = out
			srv := start(t, cfg)
			if code, body := postLI(t, srv, liReq{body: []byte(`[{"TimeGenerated":"2026-11-26T01:00:00Z","EventId":"n1"}]`)}); code != 204 {
				t.Fatalf("logs ingestion: %d %s", code, body)
			}
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			rows, err := emulator.ReadRowsFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				id, _ := r["EventId"].(string)
				got = append(got, id)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("rows in the file: %v, want %v", got, tt.want)
			}
		})
	}
}
