package flowparse

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jaggedReader returns data in pieces of random sizes (1 byte to 64 KiB).
type jaggedReader struct {
	data []byte
	rng  *rand.Rand
}

func (r *jaggedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rng.IntN(64<<10))
	if r.rng.IntN(8) == 0 {
		n = min(n, 1+r.rng.IntN(16))
	}
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// collect expands input with parse and returns the encoded rows.
func collect(t *testing.T, parse func(*Parser) error) ([]byte, Stats, error) {
	t.Helper()
	enc := NewEncoder(nil)
	var out []byte
	p := Parser{OnEvent: func(e *Event) { out = append(enc.Append(out, e), '\n') }}
	err := parse(&p)
	return out, p.Stats, err
}

// TestParseReaderMatchesParse: every accepted shape read in jagged pieces
// gives the same rows, counts and error as Parse of the whole input.
func TestParseReaderMatchesParse(t *testing.T) {
	sample := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(readerSamples, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	vnet := sample("elastic-vnet-v4-testdata.json")
	nsg := sample("msdocs-nsg-v2-fabrikam-2018.json")
	line := bytes.TrimSpace(sample("elastic-nsg-v2-single-record.ndjson"))
	inputs := map[string][]byte{
		"concatenated blobs":       append(append(append([]byte{}, vnet...), '\n'), nsg...),
		"blob with BOM":            append([]byte("\xEF\xBB\xBF"), nsg...),
		"NDJSON":                   bytes.Repeat(append(append([]byte{}, line...), '\n'), 50),
		"NDJSON with garbage line": []byte(string(line) + "\nnot json at all\n" + string(line) + "\n"),
		"array of records":         []byte("[" + string(line) + ", " + string(line) + "]"),
		"range of blocks":          []byte("," + string(line) + "," + string(line) + "]}"),
		"truncated tail":           nsg[:len(nsg)-300],
		"braces inside strings":    []byte(`{"records":[{"time":"x{[}]\"{","category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[]}},` + string(line) + "]}"),
		"not flow-log JSON":        []byte("hello"),
		"empty":                    nil,
	}
	for _, name := range []string{"elastic-nsg-v2-testdata.json", "msdocs-nsg-v1-fabrikam-2017.json", "sumologic-blob_fixtures.json", "sumologic-blob_fixtures_vnetflowlogs.json", "elastic-vnet-v4-single-record.ndjson"} {
		inputs[name] = sample(name)
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			wantRows, wantStats, wantErr := collect(t, func(p *Parser) error { return p.Parse(data) })
			for seed := uint64(1); seed <= 5; seed++ {
				rows, stats, err := collect(t, func(p *Parser) error {
					return p.ParseReader(&jaggedReader{data: data, rng: rand.New(rand.NewPCG(seed, 2))})
				})
				if !errors.Is(err, wantErr) && err != wantErr {
					t.Fatalf("seed %d: error %v, Parse gives %v", seed, err, wantErr)
				}
				if stats != wantStats {
					t.Fatalf("seed %d: stats %+v, Parse gives %+v", seed, stats, wantStats)
				}
				if !bytes.Equal(rows, wantRows) {
					t.Fatalf("seed %d: %d bytes of rows, Parse gives %d", seed, len(rows), len(wantRows))
				}
			}
			if wantStats.Tuples == 0 && len(data) > 100 && !strings.Contains(name, "not") {
				t.Fatalf("no events from %s: the case tests nothing", name)
			}
		})
	}
}

// TestParseReaderSkipsHugeRecord: a record over the size limit is skipped
// whole and counted; the records around it are expanded; the reader never
// holds much more than the limit.
func TestParseReaderSkipsHugeRecord(t *testing.T) {
	line := bytes.TrimSpace(func() []byte {
		b, err := os.ReadFile(filepath.Join(readerSamples, "elastic-nsg-v2-single-record.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}())
	_, one, _ := collect(t, func(p *Parser) error { return p.Parse(line) })
	huge := `{"time":"2026-01-01T00:00:00Z","category":"NetworkSecurityGroupFlowEvent","pad":"` + strings.Repeat("x{", 3<<20) + `","properties":{"Version":2,"flows":[]}}`
	for _, shape := range []string{"ndjson", "blob"} {
		t.Run(shape, func(t *testing.T) {
			var data string
			if shape == "ndjson" {
				data = string(line) + "\n" + huge + "\n" + string(line) + "\n"
			} else {
				data = `{"records":[` + string(line) + "," + huge + "," + string(line) + "]}"
			}
			var p Parser
			events := 0
			p.OnEvent = func(*Event) { events++ }
			var reasons []string
			p.OnSkip = func(s Skip) { reasons = append(reasons, s.Reason) }
			if err := p.parseReader(strings.NewReader(data), 1<<20); err != nil {
				t.Fatal(err)
			}
			if p.Stats.Records != 2 || p.Stats.RecordsSkipped != 1 || events != int(2*one.Tuples) {
				t.Fatalf("stats %+v, %d events (want 2 records, 1 skipped, %d events); skips %q", p.Stats, events, 2*one.Tuples, reasons)
			}
			if len(reasons) != 1 || !strings.Contains(reasons[0], "larger than 1048576 bytes") {
				t.Fatalf("skip reasons %q", reasons)
			}
		})
	}
}

// readerSamples is ../shared/samples beside the repository.
var readerSamples = filepath.Join("..", "..", "..", "shared", "samples")
