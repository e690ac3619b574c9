package fbin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fbout"
	"github.com/nsgflow/nsgflow/internal/fbpack"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// entry is one decoded Fluent Bit entry.
type entry struct {
	ts   time.Time
	rec  map[string]any // record without provenance, from JSON
	prov map[string]any // the _nsgflow_ fields
}

func decodeEntries(t *testing.T, buf []byte) []entry {
	t.Helper()
	var out []entry
	r := fbpack.NewReader(buf)
	var e fbpack.Entry
	for {
		err := r.Next(&e)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("entry %d: %v", len(out), err)
		}
		js, err := fbpack.AppendJSON(nil, e.Record)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(js))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		en := entry{ts: time.Unix(e.Sec, e.Nsec).UTC(), rec: map[string]any{}, prov: map[string]any{}}
		for k, v := range m {
			if len(k) > len(checkpoint.ProvenancePrefix) && k[:len(checkpoint.ProvenancePrefix)] == checkpoint.ProvenancePrefix {
				en.prov[k] = v
			} else {
				en.rec[k] = v
			}
		}
		out = append(out, en)
	}
}

func num(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

func jsonMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEncoder(t *testing.T) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 4, TuplesPerRecord: 5, Seed: 11, Format: flowgen.FormatNSGv2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	data := blob.Bytes()
	spans, _ := Split(nil, data, 0)
	o := Origin{Key: "c/" + blob.Name, Gen: 3}
	for _, mode := range []struct {
		name   string
		expand bool
		want   int
	}{{"raw", false, blob.Records}, {"expand", true, blob.Tuples}} {
		t.Run(mode.name, func(t *testing.T) {
			enc := NewEncoder(mode.expand, nil, "")
			var buf []byte
			perRec := make([]int, len(spans))
			for i, sp := range spans {
				var n int
				buf, n, err = enc.Append(buf, o, sp)
				if err != nil {
					t.Fatal(err)
				}
				perRec[i] = n
			}
			ents := decodeEntries(t, buf)
			if len(ents) != mode.want || enc.Stats.Entries != int64(mode.want) {
				t.Fatalf("%d entries (stats %d), want %d", len(ents), enc.Stats.Entries, mode.want)
			}
			k := 0
			for i, sp := range spans {
				// The expected records: the JSON itself, or flowparse's events.
				var want [][]byte
				if mode.expand {
					p := flowparse.Parser{}
					fe := flowparse.NewEncoder(nil)
					p.OnEvent = func(ev *flowparse.Event) { want = append(want, fe.Append(nil, ev)) }
					if err := p.Record(sp.JSON); err != nil {
						t.Fatal(err)
					}
				} else {
					want = [][]byte{sp.JSON}
				}
				if perRec[i] != len(want) {
					t.Fatalf("record %d: %d entries, want %d", i, perRec[i], len(want))
				}
				for j, w := range want {
					e := ents[k]
					k++
					if !reflect.DeepEqual(e.rec, jsonMap(t, w)) {
						t.Fatalf("record %d entry %d differs:\n got %v\nwant %s", i, j, e.rec, w)
					}
					if e.prov[checkpoint.FieldSource] != o.Key || num(e.prov[checkpoint.FieldGen]) != o.Gen ||
						num(e.prov[checkpoint.FieldOffset]) != sp.Off || num(e.prov[checkpoint.FieldEnd]) != sp.End {
						t.Fatalf("record %d entry %d: provenance %v, want %s gen %d [%d,%d)", i, j, e.prov, o.Key, o.Gen, sp.Off, sp.End)
					}
					if mode.expand {
						if num(e.prov[checkpoint.FieldN]) != int64(j+1) || num(e.prov[checkpoint.FieldTotal]) != int64(len(want)) {
							t.Fatalf("record %d entry %d: n/total %v/%v, want %d/%d", i, j, e.prov[checkpoint.FieldN], e.prov[checkpoint.FieldTotal], j+1, len(want))
						}
					} else if len(e.prov) != 4 {
						t.Fatalf("raw entry has provenance %v, want 4 fields", e.prov)
					}
				}
			}
		})
	}
}

func TestEncoderTimes(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		rec  string
		want time.Time
	}{
		{"time first", `{"time":"2026-11-26T09:01:02.1234567Z","x":1}`, time.Date(2026, 11, 26, 9, 1, 2, 123456700, time.UTC)},
		{"time after nested values", `{"a":{"time":"1999-01-01T00:00:00Z"},"b":[1,"]"],"n":-1.5,"time":"2026-11-26T10:00:00Z"}`, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{"no time", `{"a":1}`, now},
		{"time not a date", `{"time":"yesterday"}`, now},
		{"time a number", `{"time":5}`, now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := NewEncoder(false, nil, "")
			enc.Now = func() time.Time { return now }
			buf, n, err := enc.Append(nil, Origin{Key: "k"}, Span{Off: 0, End: 5, JSON: []byte(tc.rec)})
			if err != nil || n != 1 {
				t.Fatalf("n %d err %v", n, err)
			}
			if got := decodeEntries(t, buf)[0].ts; !got.Equal(tc.want) {
				t.Errorf("ts %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEncoderBadInput(t *testing.T) {
	tests := []struct {
		name    string
		expand  bool
		rec     string
		wantErr bool
		stats   EncodeStats
	}{
		{"raw not json", false, `{"a":tru}`, true, EncodeStats{BadRecords: 1}},
		{"raw array", false, `[1]`, true, EncodeStats{BadRecords: 1}},
		{"expand not a flow record", true, `{"a":1}`, false, EncodeStats{Records: 1, EmptyRecords: 1, RecordsSkipped: 1}},
		{"expand bad tuples", true, `{"time":"2026-11-26T09:00:00Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/R/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N","properties":{"Version":2,"flows":[{"rule":"r","flows":[{"mac":"000D3A000000","flowTuples":["x,y"]}]}]}}`,
			false, EncodeStats{Records: 1, EmptyRecords: 1, TuplesSkipped: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := NewEncoder(tc.expand, nil, "")
			dst := []byte("keep")
			out, n, err := enc.Append(dst, Origin{Key: "k"}, Span{JSON: []byte(tc.rec)})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if n != 0 || string(out) != "keep" {
				t.Fatalf("n %d, out %q: want nothing appended", n, out)
			}
			if enc.Stats != tc.stats {
				t.Errorf("stats %+v, want %+v", enc.Stats, tc.stats)
			}
		})
	}
}

// recordingSink accepts everything and keeps the events.
type recordingSink struct {
	mu   sync.Mutex
	rows [][]byte
}

func (s *recordingSink) Cut(ev *loganalytics.Events) []loganalytics.Batch {
	bs := make([]loganalytics.Batch, 0, ev.Len())
	for i := 0; i < ev.Len(); i++ {
		bs = append(bs, loganalytics.Batch{First: i, Count: 1, Key: uint64(i)})
	}
	return bs
}

func (s *recordingSink) Send(ctx context.Context, ev *loganalytics.Events, batches []loganalytics.Batch) loganalytics.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := loganalytics.Report{Accepted: make([]bool, len(batches)), Rejected: make([]bool, len(batches))}
	for i, b := range batches {
		for j := b.First; j < b.First+b.Count; j++ {
			s.rows = append(s.rows, append([]byte(nil), ev.Event(j)...))
		}
		rep.Accepted[i] = true
		rep.EventsAccepted += b.Count
	}
	return rep
}

func (s *recordingSink) Close() error { return nil }

type recordingAcker struct {
	mu   sync.Mutex
	recs []checkpoint.Range
}

func (a *recordingAcker) Ack(ctx context.Context, recs []checkpoint.Range) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, recs...)
	return nil
}

// TestThroughOutputPipeline hands the encoder's entries, as one chunk, to
// the output plugin's pipeline: every tuple arrives as a row with no
// provenance field left, and the acknowledged ranges are the records'.
func TestThroughOutputPipeline(t *testing.T) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 5, TuplesPerRecord: 4, Seed: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	spans, _ := Split(nil, blob.Bytes(), 0)
	for _, expand := range []bool{false, true} {
		sink := &recordingSink{}
		acker := &recordingAcker{}
		p, err := fbout.New(fbout.Options{Sink: sink, Acker: acker})
		if err != nil {
			t.Fatal(err)
		}
		enc := NewEncoder(expand, nil, "")
		var chunk []byte
		for _, sp := range spans {
			if chunk, _, err = enc.Append(chunk, Origin{Key: blob.Name, Gen: 1}, sp); err != nil {
				t.Fatal(err)
			}
		}
		if r := p.Flush(chunk, "nsgflow"); r != fbout.OK {
			t.Fatalf("expand %v: flush %v", expand, r)
		}
		p.Close(time.Second)
		if len(sink.rows) != blob.Tuples {
			t.Fatalf("expand %v: %d rows, want %d", expand, len(sink.rows), blob.Tuples)
		}
		for _, r := range sink.rows {
			if bytes.Contains(r, []byte(checkpoint.ProvenancePrefix)) {
				t.Fatalf("expand %v: row keeps provenance: %s", expand, r)
			}
		}
		got := map[[2]int64]bool{}
		for _, pv := range acker.recs {
			if pv.Key != blob.Name {
				t.Fatalf("acked source %q", pv.Key)
			}
			got[[2]int64{pv.Off, pv.End}] = true
		}
		var keys [][2]int64
		for k := range got {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][0] < keys[j][0] })
		if len(keys) != len(spans) {
			t.Fatalf("expand %v: %d ranges acknowledged, want %d", expand, len(keys), len(spans))
		}
		for i, sp := range spans {
			if keys[i] != [2]int64{sp.Off, sp.End} {
				t.Fatalf("expand %v: ack %d = %v, want [%d,%d)", expand, i, keys[i], sp.Off, sp.End)
			}
		}
	}
}

func BenchmarkEncoder(b *testing.B) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 60, TuplesPerRecord: 20, Seed: 1}, 0)
	if err != nil {
		b.Fatal(err)
	}
	data := blob.Bytes()
	spans, _ := Split(nil, data, 0)
	for _, expand := range []bool{false, true} {
		name := map[bool]string{false: "raw", true: "expand"}[expand]
		b.Run(name, func(b *testing.B) {
			enc := NewEncoder(expand, nil, "")
			var buf []byte
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				buf = buf[:0]
				for _, sp := range spans {
					buf, _, _ = enc.Append(buf, Origin{Key: blob.Name}, sp)
				}
			}
			b.ReportMetric(float64(blob.Tuples)*float64(b.N)/b.Elapsed().Seconds(), "tuples/s")
		})
	}
}
