package fbpack_test

import (
	"io"
	"testing"

	"github.com/nsgflow/nsgflow/internal/fbpack"
)

// BenchmarkReadAndTranscode reads a chunk of the VNet sample's records and
// transcodes each to JSON into one reused buffer: the plugin's per-flush work
// before flow-log expansion.
func BenchmarkReadAndTranscode(b *testing.B) {
	chunk := chunkOf(b, sampleRecords(b, "sumologic-blob_fixtures_vnetflowlogs.json"))
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	var buf []byte
	r := fbpack.NewReader(nil)
	var e fbpack.Entry
	for i := 0; i < b.N; i++ {
		r.Reset(chunk)
		for {
			err := r.Next(&e)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = fbpack.AppendJSON(buf[:0], e.Record); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLookup finds the last key of a sample record.
func BenchmarkLookup(b *testing.B) {
	chunk := chunkOf(b, sampleRecords(b, "sumologic-blob_fixtures.json")[:1])
	var e fbpack.Entry
	if err := fbpack.NewReader(chunk).Next(&e); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, found, err := fbpack.Lookup(e.Record, "time"); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}
