package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

const (
	sendTestToken = "send-test-bearer-token-0123456789"
	// base64 of "send-test-shared-key-value-0123456789"
	sendTestKey       = "c2VuZC10ZXN0LXNoYXJlZC1rZXktdmFsdWUtMDEyMzQ1Njc4OQ=="
	sendTestWorkspace = "11111111-2222-4333-8444-555555555555"
)

// allSamples lists the shared samples and their total tuple count.
func allSamples(t *testing.T) ([]string, int) {
	t.Helper()
	names := []string{"msdocs-nsg-v1-fabrikam-2017.json", "msdocs-nsg-v2-fabrikam-2018.json", "elastic-nsg-v2-testdata.json",
		"elastic-nsg-v2-single-record.ndjson", "elastic-vnet-v4-testdata.json", "elastic-vnet-v4-single-record.ndjson",
		"sumologic-blob_fixtures.json", "sumologic-blob_fixtures_vnetflowlogs.json"}
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(sharedSamplesDir, n))
	}
	return paths, 9 + 11 + 11 + 1 + 19 + 2 + 153 + 166
}

func startSendEmulator(t *testing.T, f emulator.Faults) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{SharedKey: sendTestKey, BearerToken: sendTestToken, WorkspaceID: sendTestWorkspace, Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(b))
}

// liSettings is a config file for the emulator's Logs Ingestion API.
func liSettings(t *testing.T, srv *emulator.Server, dir string) map[string]any {
	return map[string]any{
		"destination": "logs_ingestion", "endpoint": srv.URL(), "dcr_id": emulator.DefaultDCRImmutableID,
		"stream": emulator.DefaultStream, "credential": "static", "token_file": writeFile(t, dir, "token", sendTestToken+"\n"),
		"max_body_bytes": 16384, "min_backoff": "1ms", "max_backoff": "5ms",
	}
}

// checkRows asserts the emulator holds exactly the events nsgflow parse
// prints for files (the samples share some tuples, so EventIds repeat across
// files: the multisets must match).
func checkRows(t *testing.T, srv *emulator.Server, files []string, table string) []emulator.Row {
	t.Helper()
	code, out, errs := runNsgflow(t, "", append([]string{"parse", "--quiet"}, files...)...)
	if code != 0 {
		t.Fatalf("parse: exit %d: %s", code, errs)
	}
	want := map[string]int{}
	n := 0
	for _, r := range decodeNDJSON(t, out) {
		want[r["EventId"].(string)]++
		n++
	}
	rows, err := srv.Rows()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		if r.Table() != table {
			t.Fatalf("row in table %q, want %q", r.Table(), table)
		}
		id, _ := r["EventId"].(string)
		got[id]++
	}
	if len(rows) != n || len(got) != len(want) {
		t.Fatalf("emulator holds %d rows (%d ids), parse printed %d (%d ids)", len(rows), len(got), n, len(want))
	}
	for id, c := range want {
		if got[id] != c {
			t.Fatalf("event %s: %d rows, want %d", id, got[id], c)
		}
	}
	return rows
}

func TestSendLogsIngestion(t *testing.T) {
	srv := startSendEmulator(t, emulator.Faults{})
	dir := t.TempDir()
	cfg := writeJSON(t, dir, "send.json", liSettings(t, srv, dir))
	files, _ := allSamples(t)
	code, out, errs := runNsgflow(t, "", append([]string{"send", "--config", cfg}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if out != "" {
		t.Errorf("stdout %q", out)
	}
	checkRows(t, srv, files, "NsgFlow_CL")
	want := "8 file(s) (0 failed), 372 events parsed, 372 accepted, 0 rejected, 0 refused alone, 0 not delivered;"
	if !strings.Contains(errs, want) {
		t.Fatalf("summary %q lacks %q", errs, want)
	}
	if strings.Contains(errs, "\r") {
		t.Error("progress line written to a non-terminal")
	}
}

func TestSendDataCollectorFlagsAndEnv(t *testing.T) {
	srv := startSendEmulator(t, emulator.Faults{})
	t.Setenv(envSharedKey, sendTestKey)
	files, n := allSamples(t)
	args := append([]string{"send", "--destination", "data_collector", "--workspace-id", sendTestWorkspace, "--log-type", "NsgFlowLegacy",
		"--endpoint", srv.URL(), "--azure-resource-id", "--schema", "seed"}, files...)
	code, _, errs := runNsgflow(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rows, err := srv.Rows()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for _, r := range rows {
		if r.Table() != "NsgFlowLegacy_CL" || r["DateTime"] == nil || r["SourceIp"] == nil {
			t.Fatalf("row %v", r)
		}
	}
}

func TestSendRetriesThroughFaults(t *testing.T) {
	srv := startSendEmulator(t, emulator.Faults{InternalError: 0.2, Unavailable: 0.1, Reset: 0.1, TooManyRequests: 0.1, RetryAfter: -1, Seed: 4})
	dir := t.TempDir()
	s := liSettings(t, srv, dir)
	s["max_retries"] = 30
	cfg := writeJSON(t, dir, "send.json", s)
	files, _ := allSamples(t)
	code, _, errs := runNsgflow(t, "", append([]string{"send", "--config", cfg}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	checkRows(t, srv, files, "NsgFlow_CL")
	if strings.Contains(errs, " 0 retries") {
		t.Fatalf("no retries with 50%% faults: %s", errs)
	}
}

func TestSendFailures(t *testing.T) {
	srv := startSendEmulator(t, emulator.Faults{})
	down := startSendEmulator(t, emulator.Faults{})
	downURL := down.URL()
	down.Close()
	dir := t.TempDir()
	files, _ := allSamples(t)
	tests := []struct {
		name    string
		mod     func(map[string]any)
		args    []string
		files   []string
		code    int
		errHas  []string
		summary string
	}{
		{"wrong token", func(s map[string]any) { s["token_file"] = writeFile(t, dir, "bad", "wrong-token-value-0987654321") }, nil, files[:1], 1,
			[]string{"HTTP 403", "Monitoring Metrics Publisher role"}, "9 events parsed, 0 accepted, 9 rejected"},
		{"unknown stream", func(s map[string]any) { s["stream"] = "Custom-Nope" }, nil, files[:1], 1, []string{"HTTP 400", "InvalidStream"}, "0 accepted"},
		{"unreachable", func(s map[string]any) { s["endpoint"] = downURL; s["max_retries"] = 1 }, nil, files[:1], 1,
			[]string{"gave up after 2 attempts"}, "0 accepted, 0 rejected, 0 refused alone, 9 not delivered"},
		{"deadline", func(s map[string]any) {
			s["endpoint"] = downURL
			s["max_retries"] = 50
			s["min_backoff"] = "1s"
			s["max_backoff"] = "10s"
		}, []string{"--timeout", "300ms"}, files[:1], 1,
			[]string{"deadline"}, "9 not delivered"},
		{"missing file still sends the rest", nil, nil, []string{filepath.Join(dir, "nope.json"), files[0]}, 1,
			[]string{"nope.json"}, "2 file(s) (1 failed), 9 events parsed, 9 accepted"},
		{"not flow log", nil, nil, []string{"testdata/parse-not-json.csv"}, 1, []string{"parse-not-json.csv"}, "(1 failed)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := liSettings(t, srv, dir)
			if tc.mod != nil {
				tc.mod(s)
			}
			cfg := writeJSON(t, dir, "send.json", s)
			args := append(append([]string{"send", "--config", cfg}, tc.args...), tc.files...)
			code, _, errs := runNsgflow(t, "", args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errs)
			}
			for _, h := range append(tc.errHas, tc.summary) {
				if !strings.Contains(errs, h) {
					t.Errorf("stderr lacks %q:\n%s", h, errs)
				}
			}
			for _, secret := range []string{sendTestToken, "wrong-token-value-0987654321", sendTestKey} {
				if strings.Contains(errs, secret) {
					t.Fatalf("stderr leaks a secret:\n%s", errs)
				}
			}
		})
	}
}

func TestSendUsage(t *testing.T) {
	srv := startSendEmulator(t, emulator.Faults{})
	dir := t.TempDir()
	files, _ := allSamples(t)
	good := liSettings(t, srv, dir)
	badStream := liSettings(t, srv, dir)
	badStream["stream"] = "NotCustom"
	unknown := liSettings(t, srv, dir)
	unknown["strem"] = "Custom-X"
	tests := []struct {
		name   string
		args   []string
		code   int
		errHas string
	}{
		{"no input", []string{"send", "--config", writeJSON(t, dir, "g.json", good)}, 2, "no input"},
		{"unknown key", []string{"send", "--config", writeJSON(t, dir, "u.json", unknown), files[0]}, 2, `unknown setting "strem"`},
		{"not json", []string{"send", "--config", writeFile(t, dir, "x.json", "stream = x"), files[0]}, 2, "not a JSON object"},
		{"bad stream", []string{"send", "--config", writeJSON(t, dir, "b.json", badStream), files[0]}, 2, "Custom-<Name>"},
		{"flag overrides file", []string{"send", "--config", writeJSON(t, dir, "b2.json", badStream), "--stream", emulator.DefaultStream, files[0]}, 0, "9 accepted"},
		{"bad destination", []string{"send", "--destination", "blob", files[0]}, 2, "destination"},
		{"dc flag with li", []string{"send", "--config", writeJSON(t, dir, "g2.json", good), "--log-type", "X", files[0]}, 2, "data_collector only"},
		{"reserved time field", []string{"send", "--destination", "data_collector", "--time-generated-field", "TimeGenerated", files[0]}, 2, "reserved"},
		{"bad duration", []string{"send", "--config", writeJSON(t, dir, "g3.json", good), "--request-timeout", "soon", files[0]}, 2, "--request-timeout \"soon\" is not a duration"},
		{"bad key never echoed", []string{"send", "--destination", "data_collector", "--workspace-id", sendTestWorkspace, "--log-type", "X", "--shared-key", "***" + sendTestKey, files[0]}, 2, "not valid base64"},
		{"missing key file", []string{"send", "--destination", "data_collector", "--shared-key-file", filepath.Join(dir, "none"), files[0]}, 2, "shared_key_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runNsgflow(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.errHas) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s", code, tc.code, tc.errHas, errs)
			}
			if strings.Contains(errs, sendTestKey) || strings.Contains(errs, sendTestToken) {
				t.Fatalf("secret in stderr:\n%s", errs)
			}
		})
	}
}

// Every setting has its flag documented in docs/cli.md.
func TestSendFlagsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "## nsgflow send")
	if i < 0 {
		t.Fatal("docs/cli.md has no ## nsgflow send section")
	}
	sec := doc[i:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	for _, k := range append(sendKeys(), "config", "quiet", "v") {
		flag := "`--" + strings.ReplaceAll(k, "_", "-")
		if !strings.Contains(sec, flag) {
			t.Errorf("docs/cli.md nsgflow send section lacks %s", flag)
		}
	}
	for _, env := range []string{envSharedKey, envClientSecret, envToken} {
		if !strings.Contains(sec, env) {
			t.Errorf("docs lack %s", env)
		}
	}
	_ = time.Second
}
