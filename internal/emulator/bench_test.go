package emulator_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

// benchBatch repeats the default-schema rows of testdata/rows.ndjson (made
// by `nsgflow parse` from shared samples) into one JSON array just under
// limit bytes, as the delivery client batches them.
func benchBatch(b *testing.B, limit int) ([]byte, int) {
	raw, err := os.ReadFile(filepath.Join("testdata", "rows.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	var out bytes.Buffer
	out.WriteByte('[')
	n := 0
	for i := 0; ; i++ {
		l := lines[i%len(lines)]
		if out.Len()+len(l)+2 > limit {
			break
		}
		if n > 0 {
			out.WriteByte(',')
		}
		out.Write(l)
		n++
	}
	out.WriteByte(']')
	return out.Bytes(), n
}

// BenchmarkIngest measures rows/s the emulator takes over loopback from one
// keep-alive client (in the same process: they share the CPU), rows written
// to an NDJSON file, or only counted (-discard).
func BenchmarkIngest(b *testing.B) {
	cases := []struct {
		name    string
		api     string
		gzip    bool
		discard bool // count rows, store nothing: no disk in the way
	}{
		{"logs-ingestion", emulator.APILogsIngestion, false, false},
		{"logs-ingestion-gzip", emulator.APILogsIngestion, true, false},
		{"data-collector", emulator.APIDataCollector, false, false},
		{"logs-ingestion-discard", emulator.APILogsIngestion, false, true},
		{"logs-ingestion-gzip-discard", emulator.APILogsIngestion, true, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			cfg := baseConfig()
			cfg.OutFile = filepath.Join(b.TempDir(), "rows.ndjson")
			cfg.DiscardRows = bc.discard
			srv, err := emulator.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := srv.Start(); err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			body, rows := benchBatch(b, 1<<20)
			if bc.api == emulator.APIDataCollector {
				// TimeGenerated is reserved there: send the time as FlowTime.
				body = bytes.ReplaceAll(body, []byte(`"TimeGenerated":`), []byte(`"FlowTime":`))
			}
			payload := body
			if bc.gzip {
				payload = gz(b, body)
			}
			url := srv.IngestionURL(emulator.DefaultDCRImmutableID, emulator.DefaultStream)
			date := testNow.Format(http.TimeFormat)
			auth := "Bearer " + testToken
			if bc.api == emulator.APIDataCollector {
				url = srv.DataCollectorURL()
				auth = "SharedKey " + testWorkspace + ":" + sign(testKey, len(payload), date)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", auth)
				if bc.gzip {
					req.Header.Set("Content-Encoding", "gzip")
				}
				if bc.api == emulator.APIDataCollector {
					req.Header.Set("x-ms-date", date)
					req.Header.Set("Log-Type", "NsgFlow")
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
			// CPU time of client and server together: steadier than wall
			// time on a shared machine, and a lower bound on the server.
			b.ReportMetric(float64(rows*b.N)/cpu.Seconds(), "rows/cpu-s")
			b.ReportMetric(float64(rows), "rows/req")
			if got := srv.Stats().RowsTotal; got != int64(rows*b.N) {
				b.Fatalf("stored %d rows, want %d", got, rows*b.N)
			}
		})
	}
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
