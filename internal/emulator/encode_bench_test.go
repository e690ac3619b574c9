package emulator

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkEncodeRows measures the per-row hot path alone (checks, dropping
// undeclared fields, building NDJSON lines) on about 1 MiB of default-schema
// rows, without HTTP or file I/O.
func BenchmarkEncodeRows(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "rows.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	var body bytes.Buffer
	body.WriteByte('[')
	rows := 0
	for i := 0; body.Len()+len(lines[i%len(lines)])+2 < 1<<20; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(lines[i%len(lines)])
		rows++
	}
	body.WriteByte(']')
	s, err := New(Config{BearerToken: "t", DiscardRows: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	si := s.dcrs[DefaultDCRImmutableID][DefaultStream]
	rules := rowRules{
		prefix:   []byte(si.prefix + `,"_request_id":"00000000-0000-4000-8000-000000000000"`),
		declared: si.declared, fillTime: true, now: []byte(`"2026-11-26T00:00:00Z"`),
		maxField: liMaxField, errCode: "InvalidPayload",
	}
	out := make([]byte, 0, 2<<20)
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		var n rowCounts
		var aerr *apiError
		out, n, aerr = encodeRows(body.Bytes(), &rules, out[:0])
		if aerr != nil || n.rows != rows || len(n.mismatched) != 0 {
			b.Fatalf("%v, %d rows, want %d", aerr, n.rows, rows)
		}
	}
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows*b.N)/cpu.Seconds(), "rows/cpu-s")
}

// processCPU is the process's user plus system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
