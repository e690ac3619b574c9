package emulator_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

// errCode extracts the error code from either API's error body.
func errCode(body string) string {
	var v struct {
		Error any `json:"error"`
		Err2  any `json:"Error"`
	}
	if json.Unmarshal([]byte(body), &v) != nil {
		return ""
	}
	switch e := v.Error.(type) {
	case map[string]any:
		s, _ := e["code"].(string)
		return s
	case string:
		return e
	}
	s, _ := v.Err2.(string)
	return s
}

func TestDataCollectorAuth(t *testing.T) {
	srv := start(t, baseConfig())
	body := `[{"A":"1"}]`
	otherKey := "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXk="
	tests := []struct {
		name string
		req  dcReq
		want int
	}{
		{"valid", dcReq{}, 200},
		{"wrong key", dcReq{key: otherKey}, 403},
		{"wrong workspace", dcReq{workspace: "99999999-2222-3333-4444-555555555555"}, 403},
		{"length not signed", dcReq{signLen: len(body) + 1}, 403},
		{"missing authorization", dcReq{auth: " "}, 403},
		{"bearer scheme", dcReq{auth: "Bearer abc"}, 403},
		{"no colon", dcReq{auth: "SharedKey " + testWorkspace}, 403},
		{"signature not base64", dcReq{auth: "SharedKey " + testWorkspace + ":***"}, 403},
		{"missing date", dcReq{noDate: true}, 403},
		{"date 16 min old", dcReq{date: testNow.Add(-16 * time.Minute)}, 403},
		{"date 16 min ahead", dcReq{date: testNow.Add(16 * time.Minute)}, 403},
		{"date 14 min old", dcReq{date: testNow.Add(-14 * time.Minute)}, 200},
		{"date 14 min ahead", dcReq{date: testNow.Add(14 * time.Minute)}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.body = body
			code, resp := postDC(t, srv, tc.req)
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, resp, tc.want)
			}
			if code == 403 && errCode(resp) != "InvalidAuthorization" {
				t.Errorf("error code %q, want InvalidAuthorization", errCode(resp))
			}
			if strings.Contains(resp, testKey) {
				t.Errorf("answer leaks the key: %s", resp)
			}
		})
	}
}

func TestDataCollectorNoKeyRefuses(t *testing.T) {
	cfg := baseConfig()
	cfg.SharedKey = ""
	srv := start(t, cfg)
	if code, resp := postDC(t, srv, dcReq{body: `[]`}); code != 403 {
		t.Fatalf("got %d %s, want 403", code, resp)
	}
}

func TestDataCollectorValidation(t *testing.T) {
	srv := start(t, baseConfig())
	manyCols := func(n int) string {
		var b strings.Builder
		b.WriteString("[{")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"c%d":%d`, i, i)
		}
		b.WriteString("}]")
		return b.String()
	}
	tests := []struct {
		name     string
		req      dcReq
		want     int
		wantCode string
		wantRows int
	}{
		{"array", dcReq{body: `[{"A":"x","B":1,"C":true,"D":null},{"A":"y"}]`}, 200, "", 2},
		{"one object", dcReq{body: `{"A":"x"}`}, 200, "", 1},
		{"empty array", dcReq{body: `[]`}, 200, "", 0},
		{"log type with dash", dcReq{body: `[]`, logType: "Nsg-Flow"}, 400, "InvalidLogType", 0},
		{"log type 100 chars", dcReq{body: `[]`, logType: strings.Repeat("a", 100)}, 200, "", 0},
		{"log type 101 chars", dcReq{body: `[]`, logType: strings.Repeat("a", 101)}, 400, "InvalidLogType", 0},
		{"content type with charset", dcReq{body: `[]`, ctype: "application/json; charset=utf-8"}, 400, "UnsupportedContentType", 0},
		{"reserved tenant", dcReq{body: `[{"tenant":"x"}]`}, 400, "InvalidDataFormat", 0},
		{"reserved TimeGenerated", dcReq{body: `[{"TimeGenerated":"2026-11-26T00:00:00Z"}]`}, 400, "InvalidDataFormat", 0},
		{"reserved RawData", dcReq{body: `[{"RawData":"x"}]`}, 400, "InvalidDataFormat", 0},
		{"column name 45", dcReq{body: `[{"` + strings.Repeat("n", 45) + `":1}]`}, 200, "", 1},
		{"column name 46", dcReq{body: `[{"` + strings.Repeat("n", 46) + `":1}]`}, 400, "InvalidDataFormat", 0},
		{"500 columns", dcReq{body: manyCols(500)}, 200, "", 1},
		{"501 columns", dcReq{body: manyCols(501)}, 400, "InvalidDataFormat", 0},
		{"nested object", dcReq{body: `[{"A":{"b":1}}]`}, 400, "InvalidDataFormat", 0},
		{"nested array", dcReq{body: `[{"A":[1]}]`}, 400, "InvalidDataFormat", 0},
		{"array of numbers", dcReq{body: `[1,2]`}, 400, "InvalidDataFormat", 0},
		{"not json", dcReq{body: `[{"A":`}, 400, "InvalidDataFormat", 0},
		{"trailing garbage", dcReq{body: `[{"A":1}] x`}, 400, "InvalidDataFormat", 0},
		{"string body", dcReq{body: `"x"`}, 400, "InvalidDataFormat", 0},
		{"time field ok", dcReq{body: `[{"T":"2026-11-26T01:02:03.456Z"}]`, timeField: "T"}, 200, "", 1},
		{"time field missing in a row", dcReq{body: `[{"T":"2026-11-26T01:02:03Z"},{"U":"x"}]`, timeField: "T"}, 400, "InvalidTimeGeneratedField", 0},
		{"time field not a time", dcReq{body: `[{"T":"yesterday"}]`, timeField: "T"}, 400, "InvalidTimeGeneratedField", 0},
		{"time field a number", dcReq{body: `[{"T":12}]`, timeField: "T"}, 400, "InvalidTimeGeneratedField", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().RowsTotal
			code, resp := postDC(t, srv, tc.req)
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, resp, tc.want)
			}
			if tc.wantCode != "" && errCode(resp) != tc.wantCode {
				t.Errorf("error code %q (%s), want %s", errCode(resp), resp, tc.wantCode)
			}
			if got := srv.Stats().RowsTotal - before; got != int64(tc.wantRows) {
				t.Errorf("stored %d rows, want %d", got, tc.wantRows)
			}
		})
	}
}

func TestDataCollectorTooLarge(t *testing.T) {
	srv := start(t, baseConfig())
	body := `[{"A":"` + strings.Repeat("x", 30*1024*1024) + `"}]`
	code, resp := postDC(t, srv, dcReq{body: body})
	if code != 404 || errCode(resp) != "RequestTooLarge" {
		t.Fatalf("got %d %s, want 404 RequestTooLarge", code, resp)
	}
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLogsIngestionValidation(t *testing.T) {
	srv := start(t, baseConfig())
	row := []byte(`[{"TimeGenerated":"2026-11-26T01:00:00Z","EventId":"x"}]`)
	empty, wrong := "", "other-token"
	// exactly 1 MiB: a valid array padded with spaces.
	exact := append([]byte(`[{"EventId":"pad"}`), bytes.Repeat([]byte(" "), 1<<20-19)...)
	exact = append(exact, ']')
	over := append(bytes.Repeat([]byte(" "), 1<<20), row...)
	noise := make([]byte, 1<<20+100)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	noisyJSON := []byte(`[{"EventId":"` + fmt.Sprintf("%x", noise[:600*1024]) + `"}]`)
	tests := []struct {
		name     string
		req      liReq
		want     int
		wantCode string
		wantRows int
	}{
		{"valid", liReq{body: row}, 204, "", 1},
		{"empty array", liReq{body: []byte(`[]`)}, 204, "", 0},
		{"gzip", liReq{body: gz(t, row), gzip: true}, 204, "", 1},
		{"seed stream", liReq{body: []byte(`[{"DateTime":"2026-11-26T01:00:00Z","NSG":"n"}]`), stream: emulator.SeedStream}, 204, "", 1},
		{"no token", liReq{body: row, token: &empty}, 401, "AuthenticationFailed", 0},
		{"wrong token", liReq{body: row, token: &wrong}, 403, "OperationFailed", 0},
		{"unknown dcr", liReq{body: row, dcr: "dcr-11111111111111111111111111111111"}, 404, "NotFound", 0},
		{"unknown stream", liReq{body: row, stream: "Custom-Other"}, 400, "InvalidStream", 0},
		{"text content type", liReq{body: row, ctype: "text/plain"}, 415, "UnsupportedMediaType", 0},
		{"json with charset", liReq{body: row, ctype: "application/json; charset=utf-8"}, 204, "", 1},
		{"one object", liReq{body: []byte(`{"EventId":"x"}`)}, 400, "InvalidPayload", 0},
		{"array of strings", liReq{body: []byte(`["x"]`)}, 400, "InvalidPayload", 0},
		{"not json", liReq{body: []byte(`[{"EventId":}]`)}, 400, "InvalidPayload", 0},
		{"empty body", liReq{body: nil}, 400, "InvalidPayload", 0},
		{"escaped field name", liReq{body: []byte(`[{"Ev\u0065ntId":"x"}]`)}, 204, "", 1},
		{"dropped nested value", liReq{body: []byte(`[{"Deep":{"a":[1,{"b":null}]},"EventId":"x"}]`)}, 204, "", 1},
		{"kept nested value", liReq{body: []byte(`[{"Rule":{"a":[1,2]}}]`)}, 204, "", 1},
		{"missing colon", liReq{body: []byte(`[{"EventId" "x"}]`)}, 400, "InvalidPayload", 0},
		{"trailing comma in object", liReq{body: []byte(`[{"EventId":"x",}]`)}, 400, "InvalidPayload", 0},
		{"trailing comma in array", liReq{body: []byte(`[{"EventId":"x"},]`)}, 400, "InvalidPayload", 0},
		{"unclosed array", liReq{body: []byte(`[{"EventId":"x"}`)}, 400, "InvalidPayload", 0},
		{"unclosed string", liReq{body: []byte(`[{"EventId":"x}]`)}, 400, "InvalidPayload", 0},
		{"raw control character", liReq{body: []byte("[{\"EventId\":\"a\x01b\"}]")}, 400, "InvalidPayload", 0},
		{"bad literal", liReq{body: []byte(`[{"EventId":tru}]`)}, 400, "InvalidPayload", 0},
		{"bad literal in dropped field", liReq{body: []byte(`[{"Junk":nul,"EventId":"x"}]`)}, 400, "InvalidPayload", 0},
		{"missing comma between rows", liReq{body: []byte(`[{"EventId":"x"} {"EventId":"y"}]`)}, 400, "InvalidPayload", 0},
		{"unquoted key", liReq{body: []byte(`[{EventId:"x"}]`)}, 400, "InvalidPayload", 0},
		{"value missing", liReq{body: []byte(`[{"EventId":}]`)}, 400, "InvalidPayload", 0},
		{"gzip header but plain body", liReq{body: row, gzip: true}, 400, "InvalidContentEncoding", 0},
		{"exactly 1 MiB", liReq{body: exact}, 204, "", 1},
		{"1 MiB + 57 plain", liReq{body: over}, 413, "ContentLengthLimitExceeded", 0},
		{"small gzip inflating over 1 MiB", liReq{body: gz(t, over), gzip: true}, 413, "ContentLengthLimitExceeded", 0},
		{"gzip over 1 MiB compressed", liReq{body: gz(t, noisyJSON), gzip: true}, 413, "ContentLengthLimitExceeded", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().RowsTotal
			code, resp := postLI(t, srv, tc.req)
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, resp, tc.want)
			}
			if tc.wantCode != "" && errCode(resp) != tc.wantCode {
				t.Errorf("error code %q (%s), want %s", errCode(resp), resp, tc.wantCode)
			}
			if strings.Contains(resp, testToken) {
				t.Errorf("answer leaks the token: %s", resp)
			}
			if got := srv.Stats().RowsTotal - before; got != int64(tc.wantRows) {
				t.Errorf("stored %d rows, want %d", got, tc.wantRows)
			}
		})
	}
}

func TestExactRows(t *testing.T) {
	srv := start(t, baseConfig())
	// Undeclared fields (Extra, nested) vanish; declared ones keep their
	// bytes; a row without TimeGenerated gets the ingestion time.
	li := `[{"TimeGenerated":"2026-11-26T01:00:00.123Z","Extra":"dropped","SrcPort":443,"Rule":"a\"b\u00e9","nested":{"x":1}, "Fl\u006fwState" : "B" },` +
		`{"EventId":"00ff","BytesSrcToDest":12345678901}]`
	code, body, h1 := postLIH(t, srv, liReq{body: []byte(li)})
	if code != 204 {
		t.Fatalf("logs ingestion: %d %s", code, body)
	}
	seed := `[{"DateTime":"2017-02-16T22:00:21Z","NSG":"nsg1","Bogus":1}]`
	code, body, h2 := postLIH(t, srv, liReq{body: []byte(seed), stream: emulator.SeedStream})
	if code != 204 {
		t.Fatalf("seed stream: %d %s", code, body)
	}
	code, body, h3 := postDCH(t, srv, dcReq{body: `{"Any_Name":"v","n":1.5}`, logType: "Legacy", resourceID: "/subscriptions/s/resourceGroups/g"})
	if code != 200 {
		t.Fatalf("data collector: %d %s", code, body)
	}
	id1, id2, id3 := h1.Get("x-ms-request-id"), h2.Get("x-ms-request-id"), h3.Get("x-ms-request-id")
	if id1 == "" || id1 == id2 || id2 == id3 {
		t.Fatalf("request ids %q %q %q: want distinct and set", id1, id2, id3)
	}
	want := `{"_table":"NsgFlow_CL","_api":"logs-ingestion","_request_id":"` + id1 + `","TimeGenerated":"2026-11-26T01:00:00.123Z","SrcPort":443,"Rule":"a\"b\u00e9","FlowState":"B"}` + "\n" +
		`{"_table":"NsgFlow_CL","_api":"logs-ingestion","_request_id":"` + id1 + `","EventId":"00ff","BytesSrcToDest":12345678901,"TimeGenerated":"2026-11-26T02:00:00Z"}` + "\n" +
		`{"_table":"NsgFlowSeed_CL","_api":"logs-ingestion","_request_id":"` + id2 + `","DateTime":"2017-02-16T22:00:21Z","NSG":"nsg1","TimeGenerated":"2017-02-16T22:00:21Z"}` + "\n" +
		`{"_table":"Legacy_CL","_api":"data-collector","_request_id":"` + id3 + `","_resource_id":"/subscriptions/s/resourceGroups/g","Any_Name":"v","n":1.5}` + "\n"
	got, err := srv.RawRows()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("rows:\n%s\nwant:\n%s", got, want)
	}
	st := srv.Stats()
	if st.DroppedFields != 3 || st.FilledTimeGenerated != 2 {
		t.Errorf("dropped %d fields, filled %d TimeGenerated; want 3 and 2", st.DroppedFields, st.FilledTimeGenerated)
	}
	if st.Rows["NsgFlow_CL"] != 2 || st.Rows["NsgFlowSeed_CL"] != 1 || st.Rows["Legacy_CL"] != 1 {
		t.Errorf("rows per table %v", st.Rows)
	}
}

func TestLongValuesTruncated(t *testing.T) {
	srv := start(t, baseConfig())
	long := strings.Repeat("é", 40*1024) // 80 KB of two-byte runes
	code, body := postLI(t, srv, liReq{body: []byte(`[{"Rule":"` + long + `"}]`)})
	if code != 204 {
		t.Fatalf("logs ingestion: %d %s", code, body)
	}
	code, body = postDC(t, srv, dcReq{body: `[{"Rule":"` + long + `"}]`})
	if code != 200 {
		t.Fatalf("data collector: %d %s", code, body)
	}
	rows, err := srv.Rows()
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows: %d, %v", len(rows), err)
	}
	for i, limit := range []int{64 * 1024, 32 * 1024} {
		got := rows[i]["Rule"].(string)
		if len(got) != limit || got != long[:limit] {
			t.Errorf("row %d: %d bytes kept, want the first %d", i, len(got), limit)
		}
	}
	if n := srv.Stats().TruncatedFields; n != 2 {
		t.Errorf("TruncatedFields = %d, want 2", n)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*emulator.Config)
	}{
		{"key not base64", func(c *emulator.Config) { c.SharedKey = "***" }},
		{"all interfaces", func(c *emulator.Config) { c.Addr = ":8088" }},
		{"non-loopback address", func(c *emulator.Config) { c.Addr = "10.1.2.3:0" }},
		{"no port", func(c *emulator.Config) { c.Addr = "127.0.0.1" }},
		{"bad dcr id", func(c *emulator.Config) {
			c.DCRs = []emulator.DCR{{ImmutableID: "dcr-xyz", Streams: []emulator.Stream{{Name: "Custom-A", Columns: []string{"A"}}}}}
		}},
		{"bad stream name", func(c *emulator.Config) {
			c.DCRs = []emulator.DCR{{ImmutableID: emulator.DefaultDCRImmutableID, Streams: []emulator.Stream{{Name: "A", Columns: []string{"A"}}}}}
		}},
		{"no columns", func(c *emulator.Config) {
			c.DCRs = []emulator.DCR{{ImmutableID: emulator.DefaultDCRImmutableID, Streams: []emulator.Stream{{Name: "Custom-A"}}}}
		}},
		{"share above 1", func(c *emulator.Config) { c.Faults.Slow = 1.5 }},
		{"negative share", func(c *emulator.Config) { c.Faults.InternalError = -0.1 }},
		{"shares sum above 1", func(c *emulator.Config) { c.Faults.Unavailable, c.Faults.Reset = 0.6, 0.6 }},
		{"bad fail-first kind", func(c *emulator.Config) { c.Faults.FailFirst, c.Faults.FailFirstKind = 1, "slow" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.mod(&cfg)
			srv, err := emulator.New(cfg)
			if err == nil {
				srv.Close()
				t.Fatal("New succeeded, want an error")
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

// rawRequest sends req as written on a fresh connection and returns the
// status line.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestProtocolEdges(t *testing.T) {
	srv := start(t, baseConfig())
	date := testNow.Format(http.TimeFormat)
	tests := []struct {
		name string
		req  string
		want string
	}{
		{"data collector without Content-Length (chunked)",
			"POST /api/logs?api-version=2016-04-01 HTTP/1.1\r\nHost: ws.ods.opinsights.azure.com\r\nContent-Type: application/json\r\nLog-Type: T\r\n" +
				"x-ms-date: " + date + "\r\nAuthorization: SharedKey " + testWorkspace + ":" + sign(testKey, 2, date) + "\r\n" +
				"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n[]\r\n0\r\n\r\n",
			"HTTP/1.1 411 Length Required"},
		{"data collector GET",
			"GET /api/logs?api-version=2016-04-01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 405 Method Not Allowed"},
		{"logs ingestion GET",
			"GET /dataCollectionRules/" + emulator.DefaultDCRImmutableID + "/streams/" + emulator.DefaultStream + "?api-version=2023-01-01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 405 Method Not Allowed"},
		{"logs ingestion without api-version",
			"POST /dataCollectionRules/" + emulator.DefaultDCRImmutableID + "/streams/" + emulator.DefaultStream + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 400 Bad Request"},
		{"logs ingestion path without stream",
			"POST /dataCollectionRules/" + emulator.DefaultDCRImmutableID + "?api-version=2023-01-01 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			"HTTP/1.1 404 Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawRequest(t, srv.Addr(), tc.req); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRetryAfterZero(t *testing.T) {
	cfg := baseConfig()
	cfg.Faults = emulator.Faults{TooManyRequests: 1, RetryAfter: -1}
	srv := start(t, cfg)
	req, _ := http.NewRequest("POST", srv.IngestionURL(emulator.DefaultDCRImmutableID, emulator.DefaultStream), strings.NewReader(`[]`))
	code, _, h := do(t, req)
	if code != 429 || h.Get("Retry-After") != "0" {
		t.Fatalf("got %d with Retry-After %q, want 429 with 0", code, h.Get("Retry-After"))
	}
}

func TestTypeMismatchesCounted(t *testing.T) {
	tests := []struct {
		field, value string
		fits         bool
	}{
		{"SrcPort", `443`, true},
		{"SrcPort", `null`, true},
		{"SrcPort", `"443"`, false},
		{"SrcPort", `4.5`, false},
		{"SrcPort", `2147483647`, true},
		{"SrcPort", `2147483648`, false},
		{"SrcPort", `-2147483648`, true},
		{"BytesSrcToDest", `9223372036854775807`, true},
		{"BytesSrcToDest", `9223372036854775808`, false},
		{"BytesSrcToDest", `12345678901`, true},
		{"Rule", `"r"`, true},
		{"Rule", `12`, false},
		{"Rule", `{"a":1}`, false},
		{"TimeGenerated", `"2026-11-26T01:00:00.123Z"`, true},
		{"TimeGenerated", `"2026-11-26T01:00:00+01:00"`, true},
		{"TimeGenerated", `"2026-11-26 01:00"`, false},
		{"TimeGenerated", `1764118800`, false},
	}
	for _, tc := range tests {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			srv := start(t, baseConfig())
			code, body := postLI(t, srv, liReq{body: []byte(`[{"` + tc.field + `":` + tc.value + `}]`)})
			if code != 204 {
				t.Fatalf("got %d %s: a type mismatch is stored, not refused", code, body)
			}
			got := srv.Stats().TypeMismatches["NsgFlow_CL."+tc.field]
			if want := map[bool]int64{true: 0, false: 1}[tc.fits]; got != want {
				t.Fatalf("TypeMismatches = %d, want %d", got, want)
			}
		})
	}
}

// TestParsedRowsFitTheStream sends rows made by `nsgflow parse` from the
// shared samples (testdata/rows.ndjson): every column must be declared by
// the default stream and hold its declared type.
func TestParsedRowsFitTheStream(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "rows.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	srv := start(t, baseConfig())
	code, body := postLI(t, srv, liReq{body: []byte("[" + strings.Join(lines, ",") + "]")})
	if code != 204 {
		t.Fatalf("got %d %s", code, body)
	}
	st := srv.Stats()
	if st.RowsTotal != int64(len(lines)) || st.DroppedFields != 0 || len(st.TypeMismatches) != 0 || st.FilledTimeGenerated != 0 {
		t.Fatalf("rows %d of %d, dropped %d, mismatches %v, filled %d", st.RowsTotal, len(lines), st.DroppedFields, st.TypeMismatches, st.FilledTimeGenerated)
	}
}
