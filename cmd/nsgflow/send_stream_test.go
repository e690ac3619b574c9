package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// countingDestination answers both APIs after a short wait and counts the
// rows it receives without keeping them: slower than the encoder, so bodies
// would pile up if nothing bounded them.
func countingDestination(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var rows atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, "bad gzip", http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		time.Sleep(time.Millisecond)
		rows.Add(int64(bytes.Count(b, []byte(`"EventId":`))))
		if strings.HasSuffix(r.URL.Path, "/api/logs") {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &rows
}

// generatedInput writes about size bytes of generated NSG flow logs as
// concatenated blobs or as NDJSON records, and returns the path and the
// tuple count.
func generatedInput(t *testing.T, dir string, ndjson bool, size int) (string, int) {
	t.Helper()
	var buf bytes.Buffer
	tuples := 0
	stop := fmt.Errorf("big enough")
	opts := flowgen.Options{Format: flowgen.FormatNSGv2, Seed: 3, Resources: 20, Hours: 24, TuplesPerRecord: 40}
	err := flowgen.Generate(opts, func(b *flowgen.Blob) error {
		if ndjson {
			for i := 0; i < b.Records; i++ {
				buf.Write(b.Record(i))
				buf.WriteByte('\n')
			}
		} else {
			buf.Write(b.Bytes())
			buf.WriteByte('\n')
		}
		tuples += b.Tuples
		if buf.Len() >= size {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("generated %d bytes: %v", buf.Len(), err)
	}
	name := "blobs.json"
	if ndjson {
		name = "records.ndjson"
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, tuples
}

// TestSendStreamsLargeInput: a file (blobs or NDJSON, or standard input) of
// many bodies, to a destination slower than the encoder, through both APIs:
// every event arrives once and send never has more than `concurrency`
// request bodies alive (counted by the stream's body hook).
func TestSendStreamsLargeInput(t *testing.T) {
	dir := t.TempDir()
	blobs, blobTuples := generatedInput(t, dir, false, 2<<20)
	lines, lineTuples := generatedInput(t, dir, true, 2<<20)
	token := writeFile(t, dir, "token", sendTestToken)
	key := writeFile(t, dir, "key", sendTestKey)
	const conc = 2
	apis := map[string]func(url string) []string{
		"logs_ingestion": func(url string) []string {
			return []string{"--destination", "logs_ingestion", "--endpoint", url, "--dcr-id", "dcr-00000000000000000000000000000000",
				"--stream", "Custom-NsgFlow", "--credential", "static", "--token-file", token, "--max-body-bytes", "65536"}
		},
		"data_collector": func(url string) []string {
			return []string{"--destination", "data_collector", "--endpoint", url, "--workspace-id", sendTestWorkspace,
				"--shared-key-file", key, "--log-type", "NsgFlow", "--max-body-bytes", "131072"}
		},
	}
	inputs := []struct {
		name   string
		file   string // "-": standard input, from stdinOf
		stdin  string
		tuples int
	}{
		{"blobs", blobs, "", blobTuples},
		{"ndjson", lines, "", lineTuples},
		{"stdin", "-", lines, lineTuples},
	}
	for api, flags := range apis {
		for _, in := range inputs {
			t.Run(api+"/"+in.name, func(t *testing.T) {
				srv, rows := countingDestination(t)
				var mu sync.Mutex
				peak, sealed := 0, 0
				loganalytics.SetBodyHook(func(stream int, process int64) {
					mu.Lock()
					defer mu.Unlock()
					peak = max(peak, stream, int(process))
					sealed++
				})
				defer loganalytics.SetBodyHook(nil)
				stdinText := ""
				if in.file == "-" {
					b, err := os.ReadFile(in.stdin)
					if err != nil {
						t.Fatal(err)
					}
					stdinText = string(b)
				}
				args := append([]string{"send", "--quiet", "--concurrency", fmt.Sprint(conc)}, flags(srv.URL)...)
				code, _, errs := runNsgflow(t, stdinText, append(args, in.file)...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errs)
				}
				if got := rows.Load(); got != int64(in.tuples) {
					t.Fatalf("destination got %d rows, want %d", got, in.tuples)
				}
				mu.Lock()
				defer mu.Unlock()
				if peak > conc {
					t.Fatalf("%d bodies alive at once, concurrency %d", peak, conc)
				}
				if peak < conc || sealed < 50 {
					t.Fatalf("peak %d, %d bodies sealed: the bound was not exercised", peak, sealed)
				}
				t.Logf("%d events in %d bodies, at most %d alive", in.tuples, sealed, peak)
			})
		}
	}
}
