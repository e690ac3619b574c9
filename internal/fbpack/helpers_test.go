package fbpack_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsgflow/nsgflow/internal/fbpack"
)

// samplesDir is the shared sample folder beside the repository checkout.
var samplesDir = filepath.Join("..", "..", "..", "shared", "samples")

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatalf("read sample %s: %v", name, err)
	}
	return b
}

// sampleRecords returns the records of a sample blob decoded with encoding/json.
func sampleRecords(t testing.TB, name string) []any {
	t.Helper()
	var blob struct {
		Records []any `json:"records"`
	}
	d := json.NewDecoder(bytes.NewReader(readSample(t, name)))
	d.UseNumber()
	if err := d.Decode(&blob); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return blob.Records
}

// chunkOf builds a Fluent Bit >= 2.1 chunk with one entry per record.
func chunkOf(t testing.TB, recs []any) []byte {
	t.Helper()
	var b []byte
	for i, r := range recs {
		b = fbpack.AppendEntryHeader(b, int64(1700000000+i), 5)
		var err error
		if b, err = fbpack.AppendJSONValue(b, r); err != nil {
			t.Fatal(err)
		}
	}
	return b
}
