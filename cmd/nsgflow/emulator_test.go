package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEmulatorUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	if err := os.WriteFile(tok, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envEmulatorKey, "")
	t.Setenv(envEmulatorToken, "")
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"help", []string{"-h"}, 0, "usage: nsgflow emulator"},
		{"no secrets", []string{}, 2, "give a bearer token"},
		{"positional", []string{"--token-file", tok, "extra"}, 2, "unexpected argument"},
		{"missing token file", []string{"--token-file", filepath.Join(dir, "none")}, 2, "token:"},
		{"empty token file", []string{"--token-file", empty}, 2, "is empty"},
		{"share above 1", []string{"--token-file", tok, "--fail-500", "2"}, 2, "want 0..1"},
		{"shares above 1", []string{"--token-file", tok, "--fail-500", "0.6", "--fail-503", "0.6"}, 2, "sum"},
		{"bad fail-first kind", []string{"--token-file", tok, "--fail-first", "2", "--fail-first-kind", "404"}, 2, "fail-first kind"},
		{"key not base64", []string{"--shared-key-file", tok}, 2, "base64"},
		{"bad dcr id", []string{"--token-file", tok, "--dcr-id", "dcr-1"}, 2, "immutable ID"},
		{"unknown flag", []string{"--nope"}, 2, "not defined"},
		{"not loopback", []string{"--token-file", tok, "--addr", "0.0.0.0:8088"}, 2, "not loopback"},
		{"rows file in a missing folder", []string{"--token-file", tok, "--out", filepath.Join(dir, "no", "rows.ndjson")}, 1, "rows file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			got := runEmulator(context.Background(), tc.args, &out, &errb, nil)
			if got != tc.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, tc.want, errb.String())
			}
			if !strings.Contains(errb.String(), tc.msg) {
				t.Errorf("stderr %q does not mention %q", errb.String(), tc.msg)
			}
		})
	}
}

// waitFor polls cond (no timing assertion: it only bounds a hang).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestEmulatorCommand(t *testing.T) {
	dir := t.TempDir()
	key := base64.StdEncoding.EncodeToString([]byte("emulator-command-test-key-32byte"))
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "command-test-token"
	t.Setenv(envEmulatorToken, token)
	ready := filepath.Join(dir, "ready")
	rowsFile := filepath.Join(dir, "rows.ndjson")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- runEmulator(ctx, []string{"--addr", "127.0.0.1:0", "--shared-key-file", keyFile,
			"--ready-file", ready, "--out", rowsFile, "--workspace-id", "ws1", "--fail-first", "1"}, &stdout, &stderr, sigs)
	}()
	var base string
	waitFor(t, "the ready file", func() bool {
		b, err := os.ReadFile(ready)
		base = strings.TrimSpace(string(b))
		return err == nil && strings.HasPrefix(base, "http://127.0.0.1:")
	})

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	li := func() (int, error) {
		req, _ := http.NewRequest("POST", base+"/dataCollectionRules/"+emulator.DefaultDCRImmutableID+"/streams/"+emulator.DefaultStream+"?api-version=2023-01-01",
			strings.NewReader(`[{"EventId":"e1","TimeGenerated":"2026-11-26T00:00:00Z"}]`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := li(); err != nil || code != 503 {
		t.Fatalf("first request (--fail-first 1): %d %v, want 503", code, err)
	}
	if code, err := li(); err != nil || code != 204 {
		t.Fatalf("logs ingestion: %d %v, want 204", code, err)
	}
	body := `[{"EventId":"e2"}]`
	date := time.Now().UTC().Format(http.TimeFormat)
	k, _ := base64.StdEncoding.DecodeString(key)
	m := hmac.New(sha256.New, k)
	fmt.Fprintf(m, "POST\n%d\napplication/json\nx-ms-date:%s\n/api/logs", len(body), date)
	req, _ := http.NewRequest("POST", base+"/api/logs?api-version=2016-04-01", strings.NewReader(body))
	req.Header.Set("Authorization", "SharedKey ws1:"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	req.Header.Set("x-ms-date", date)
	req.Header.Set("Log-Type", "Legacy")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("data collector: %v %v", resp, err)
	}
	resp.Body.Close()

	healthy := func() bool {
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	sigs <- syscall.SIGUSR1
	waitFor(t, "down", func() bool { return !healthy() })
	sigs <- syscall.SIGUSR2
	waitFor(t, "up again", healthy)
	if code, err := li(); err != nil || code != 204 {
		t.Fatalf("logs ingestion after up: %d %v, want 204", code, err)
	}

	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"nsgflow emulator listening on " + base,
		"streams/Custom-NsgFlow?api-version=2023-01-01 -> NsgFlow_CL (28 columns)",
		"streams/Custom-NsgFlowSeed?api-version=2023-01-01 -> NsgFlowSeed_CL (13 columns)",
		"data collector: POST " + base + "/api/logs?api-version=2016-04-01 (workspace ws1)",
		"emulator down", "emulator up",
		"rows accepted: 3", "NsgFlow_CL               2", "Legacy_CL                1",
		"answers: 200=1 204=2 503=1", "faults: 503=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr.String(), token) || strings.Contains(out+stderr.String(), key) {
		t.Error("output shows a secret")
	}
	rows, err := emulator.ReadRowsFile(rowsFile)
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows file: %d rows, %v; want 3", len(rows), err)
	}
	if ids := emulator.CountIDs(rows, "EventId"); ids.Unique != 2 || ids.Duplicates != 1 {
		t.Errorf("EventIds %+v: want e1 twice and e2 once", ids)
	}
}
