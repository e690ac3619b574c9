package fbin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowgen"
)

func TestSplit(t *testing.T) {
	rec1 := `{"time":"2026-11-26T09:00:00Z","a":"}{\"]","b":[1,{"c":2}]}`
	rec2 := `{"time":"2026-11-26T09:01:00Z"}`
	tests := []struct {
		name string
		data string
		base int64
		want []string // JSON of each span
		// offs lists Off,End pairs of each span
		offs []int64
		used int64
	}{
		{"whole blob", `{"records":[` + rec1 + "," + rec2 + `]}`, 0,
			[]string{rec1, rec2}, []int64{0, 12 + int64(len(rec1)), 12 + int64(len(rec1)), 12 + int64(len(rec1)) + 1 + int64(len(rec2)) + 2}, int64(12 + len(rec1) + 1 + len(rec2) + 2)},
		{"head only", `{"records":[`, 0, nil, nil, 12},
		{"head and tail", `{"records":[]}`, 0, nil, nil, 14},
		{"head with spaces and BOM", "\xEF\xBB\xBF{ \"records\" : [\n" + rec2 + "\n]}", 0,
			[]string{rec2}, []int64{0, int64(3 + 16 + len(rec2) + 3)}, int64(3 + 16 + len(rec2) + 3)},
		{"appended block", "," + rec2, 100, []string{rec2}, []int64{100, 101 + int64(len(rec2))}, 101 + int64(len(rec2))},
		{"two blocks", "," + rec1 + "," + rec2, 50, []string{rec1, rec2},
			[]int64{50, 51 + int64(len(rec1)), 51 + int64(len(rec1)), 52 + int64(len(rec1)+len(rec2))}, 52 + int64(len(rec1)+len(rec2))},
		{"cut inside the second record", "," + rec1 + "," + rec2[:10], 0, []string{rec1},
			[]int64{0, 1 + int64(len(rec1))}, 1 + int64(len(rec1))},
		{"cut inside a string", "," + `{"a":"x\"`, 7, nil, nil, 7},
		{"cut after a backslash", "," + `{"a":"x\`, 7, nil, nil, 7},
		{"garbage between records", "," + rec2 + ",xx," + rec2, 0, []string{rec2, rec2},
			[]int64{0, 1 + int64(len(rec2)), 1 + int64(len(rec2)), 5 + 2*int64(len(rec2))}, 5 + 2*int64(len(rec2))},
		{"tail only", `]}`, 300, nil, nil, 302},
		{"empty", ``, 9, nil, nil, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spans, used := Split(nil, []byte(tc.data), tc.base)
			if used != tc.used {
				t.Errorf("used = %d, want %d", used, tc.used)
			}
			if len(spans) != len(tc.want) {
				t.Fatalf("got %d spans, want %d: %+v", len(spans), len(tc.want), spans)
			}
			for i, sp := range spans {
				if string(sp.JSON) != tc.want[i] {
					t.Errorf("span %d JSON = %s, want %s", i, sp.JSON, tc.want[i])
				}
				if sp.Off != tc.offs[2*i] || sp.End != tc.offs[2*i+1] {
					t.Errorf("span %d = [%d,%d), want [%d,%d)", i, sp.Off, sp.End, tc.offs[2*i], tc.offs[2*i+1])
				}
			}
		})
	}
}

// TestSplitSamples splits every shared sample blob: as many spans as the
// blob has records, contiguous from 0 to the end.
func TestSplitSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "shared", "samples", "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("no shared samples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			spans, used := Split(nil, data, 0)
			if used != int64(len(data)) {
				t.Errorf("used %d of %d bytes", used, len(data))
			}
			if len(spans) == 0 {
				t.Fatal("no records")
			}
			checkContiguous(t, spans, 0, int64(len(data)))
		})
	}
}

func checkContiguous(t *testing.T, spans []Span, from, to int64) {
	t.Helper()
	at := from
	for i, sp := range spans {
		if sp.Off != at || sp.End <= sp.Off {
			t.Fatalf("span %d = [%d,%d), want it to start at %d", i, sp.Off, sp.End, at)
		}
		if !bytes.HasPrefix(sp.JSON, []byte("{")) || !bytes.HasSuffix(sp.JSON, []byte("}")) {
			t.Fatalf("span %d JSON is not an object: %.40s", i, sp.JSON)
		}
		at = sp.End
	}
	if at != to {
		t.Fatalf("spans end at %d, want %d", at, to)
	}
}

// TestSplitGrowing reads a generated blob the way a poller does, commit by
// commit ([L-2, L'-2) after a read at length L): every record appears once,
// and the spans of all reads, with the data-less reads (the head alone), tile
// [0, size-2).
func TestSplitGrowing(t *testing.T) {
	b, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 7, TuplesPerRecord: 3, Seed: 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var tiles []Span
	records := 0
	read := int64(0)
	for k := 1; k < len(b.Blocks); k++ {
		// The blob after k commits: blocks[:k] + tail.
		blob := append(bytes.Join(b.Blocks[:k], nil), flowgen.Tail...)
		end := int64(len(blob)) - 2
		spans, used := Split(nil, blob[read:end], read)
		if used != end {
			t.Fatalf("commit %d: used %d, want %d", k, used, end)
		}
		if len(spans) == 0 {
			tiles = append(tiles, Span{Off: read, End: used, JSON: []byte("{}")})
		}
		tiles = append(tiles, spans...)
		records += len(spans)
		read = used
	}
	if records != b.Records {
		t.Fatalf("%d spans, want %d records", records, b.Records)
	}
	checkContiguous(t, tiles, 0, int64(b.Size())-2)
}

func BenchmarkSplit(b *testing.B) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 60, TuplesPerRecord: 50, Seed: 1}, 0)
	if err != nil {
		b.Fatal(err)
	}
	data := blob.Bytes()
	spans := make([]Span, 0, 64)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		spans, _ = Split(spans[:0], data, 0)
	}
}
