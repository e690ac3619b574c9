package flowparse_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// samplesDir is the shared sample folder that sits beside the repository
// checkout (../shared/samples from the repo root; CI has the same layout).
var samplesDir = filepath.Join("..", "..", "..", "shared", "samples")

// readSample returns the bytes of one shared sample file.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatalf("read sample %s: %v", name, err)
	}
	return b
}

// readTestdata returns the bytes of a fixture in flowparse/testdata.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata %s: %v", name, err)
	}
	return b
}

// result is everything one parse produced: encoded rows in order, skips and
// the parser's statistics.
type result struct {
	rows  [][]byte
	skips []flowparse.Skip
	stats flowparse.Stats
	err   error
}

// parseFunc picks a Parser entry point.
type parseFunc func(p *flowparse.Parser, data []byte) error

func viaBlob(p *flowparse.Parser, b []byte) error   { return p.Blob(b) }
func viaRange(p *flowparse.Parser, b []byte) error  { return p.Range(b) }
func viaRecord(p *flowparse.Parser, b []byte) error { return p.Record(b) }
func viaNDJSON(p *flowparse.Parser, b []byte) error { return p.NDJSON(b) }

// run parses data with a fresh parser through fn and encodes every event with
// a fresh encoder for schema s.
func run(data []byte, s *flowparse.Schema, fn parseFunc) result {
	var r result
	enc := flowparse.NewEncoder(s)
	p := flowparse.Parser{
		OnEvent: func(ev *flowparse.Event) { r.rows = append(r.rows, enc.Append(nil, ev)) },
		OnSkip:  func(sk flowparse.Skip) { r.skips = append(r.skips, sk) },
	}
	r.err = fn(&p, data)
	r.stats = p.Stats
	return r
}

// decodeRows decodes encoded rows with encoding/json, numbers kept as
// json.Number so integer columns compare exactly.
func decodeRows(t testing.TB, rows [][]byte) []map[string]any {
	t.Helper()
	out := make([]map[string]any, len(rows))
	for i, row := range rows {
		d := json.NewDecoder(bytes.NewReader(row))
		d.UseNumber()
		if err := d.Decode(&out[i]); err != nil {
			t.Fatalf("row %d is not valid JSON: %v\n%s", i, err, row)
		}
	}
	return out
}

// equalRows reports the first difference between two row lists.
func equalRows(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("row %d differs:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}
