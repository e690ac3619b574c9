package fbpack_test

import (
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/nsgflow/nsgflow/internal/fbpack"
)

// FuzzReader feeds arbitrary bytes through the reader, lookup and the JSON
// transcoder: they must return errors, never panic or loop, and whatever
// they transcode must be valid JSON. Seeds are real sample chunks, cut and
// flipped.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"sumologic-blob_fixtures.json", "elastic-vnet-v4-testdata.json", "msdocs-nsg-v1-fabrikam-2017.json"} {
		c := chunkOf(f, sampleRecords(f, name)[:1])
		f.Add(c)
		f.Add(c[:len(c)/2])
		g := append([]byte(nil), c...)
		g[len(g)/3] ^= 0xff
		f.Add(g)
	}
	f.Add(cat(v2Entry(fbpack.AppendEventTime(nil, -1, 0), rec("a", "b")), v1Entry(fbpack.AppendFloat(nil, 1.5), rec("log", `{"x":1}`))))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fbpack.NewReader(data)
		var e fbpack.Entry
		var buf []byte
		for n := 0; ; n++ {
			if n > len(data) {
				t.Fatalf("more entries than bytes")
			}
			err := r.Next(&e)
			if errors.Is(err, io.EOF) || err != nil {
				break
			}
			var jerr error
			buf, jerr = fbpack.AppendJSON(buf[:0], e.Record)
			if jerr == nil && !json.Valid(buf) {
				t.Fatalf("invalid JSON from record %x: %s", e.Record, buf)
			}
			_, _, _ = fbpack.Lookup(e.Record, "log")
			if out, err := fbpack.AppendJSONOmit(buf[:0], e.Record, "_nsgflow_"); err == nil && !json.Valid(out) {
				t.Fatalf("invalid JSON from omit: %s", out)
			}
		}
		// The raw bytes as one value, too.
		if out, err := fbpack.AppendJSON(nil, data); err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
	})
}
