package flowparse_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// decodeRecords decodes a sample's records as encoding/json would for a
// pipeline stage: the "records" array of a blob, or each NDJSON line.
func decodeRecords(t testing.TB, data []byte, useNumber bool) []map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	if useNumber {
		d.UseNumber()
	}
	var out []map[string]any
	for d.More() {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if recs, ok := m["records"].([]any); ok {
			for _, r := range recs {
				out = append(out, r.(map[string]any))
			}
			continue
		}
		out = append(out, m)
	}
	return out
}

// fluentBitShape converts a decoded value to what a msgpack decoder hands a
// Fluent Bit output: nested map[any]any, string values as []byte, integers as
// int64 or uint64.
func fluentBitShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, e := range x {
			m[k] = fluentBitShape(e) // keys stay strings: []byte is not hashable
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fluentBitShape(e)
		}
		return out
	case string:
		return []byte(x)
	case float64:
		if x >= 0 {
			return uint64(x)
		}
		return int64(x)
	}
	return v
}

// fluentBitRecord is a record in Fluent Bit shape: the top level stays
// map[string]any as RecordMap takes it.
func fluentBitRecord(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = fluentBitShape(v)
	}
	return out
}

// TestRecordMap feeds every sample's records as decoded maps, in three
// shapes, and expects exactly the rows of the JSON path.
func TestRecordMap(t *testing.T) {
	shapes := []struct {
		name    string
		records func(t testing.TB, data []byte) []map[string]any
	}{
		{"encoding/json float64", func(t testing.TB, d []byte) []map[string]any { return decodeRecords(t, d, false) }},
		{"encoding/json Number", func(t testing.TB, d []byte) []map[string]any { return decodeRecords(t, d, true) }},
		{"fluent-bit msgpack", func(t testing.TB, d []byte) []map[string]any {
			recs := decodeRecords(t, d, false)
			for i := range recs {
				recs[i] = fluentBitRecord(recs[i])
			}
			return recs
		}},
	}
	for _, sc := range sampleCases {
		data := readSample(t, sc.file)
		want := run(data, nil, sc.parse)
		for _, sh := range shapes {
			t.Run(sc.file+"/"+sh.name, func(t *testing.T) {
				recs := sh.records(t, data)
				got := run(nil, nil, func(p *flowparse.Parser, _ []byte) error {
					for _, r := range recs {
						if err := p.RecordMap(r); err != nil {
							return err
						}
					}
					return nil
				})
				if got.err != nil || len(got.skips) != 0 {
					t.Fatalf("error %v, skips %+v", got.err, got.skips)
				}
				equalRows(t, got.rows, want.rows)
				if got.stats != want.stats {
					t.Errorf("stats %+v, want %+v", got.stats, want.stats)
				}
			})
		}
	}
}

// TestRecordMapBad checks skips on map-shaped records that are not flow logs
// or carry bad tuples; each call is one record, so Skip.Record is 0.
func TestRecordMapBad(t *testing.T) {
	cases := []struct {
		name                                           string
		json                                           string
		records, recordsSkipped, tuples, tuplesSkipped int64
		skips                                          []wantSkip
	}{
		{name: "empty map", json: `{}`, recordsSkipped: 1,
			skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, `record 0: no "properties" or "flowRecords"`}}},
		{name: "nested blob", json: `{"records":[{"properties":{}}]}`, recordsSkipped: 1,
			skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, `record 0: a "records" array inside a record (nested blob)`}}},
		{name: "properties is a string", json: `{"properties":"x"}`, recordsSkipped: 1,
			skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, "not a flow-log record"}}},
		{name: "properties without flows", json: `{"properties":{"Version":2}}`, records: 1,
			skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, `record 0: properties has no "flows" array`}}},
		{name: "flowRecords without flows", json: `{"flowRecords":{}}`, records: 1,
			skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, `record 0: flowRecords has no "flows" array`}}},
		{name: "bad tuples", records: 1, tuples: 1, tuplesSkipped: 3,
			json: `{"resourceId":"` + testNSG + `","properties":{"Version":2,"flows":[{"rule":"r1","flows":[{"mac":"m","flowTuples":[` +
				`7,"1795683600,10.0.0.4,203.0.113.9,50009,443,T,O,A","1795683600,10.0.0.4,203.0.113.9,x,443,T,O,A,E,,,,",` +
				`"1795683600,10.0.0.4,203.0.113.9,50009,443,T,O,A,E,,,,"]}]},"not a group",{"rule":"r2","flows":"x"}]}}`,
			skips: []wantSkip{
				{flowparse.SkipBadField, 0, 0, `record 0, rule "r1", tuple 0: not a string`},
				{flowparse.SkipFieldCount, 0, 1, `record 0, rule "r1", tuple 1 "1795683600,10.0.0.4,203.0.113.9,50009,443,T,O,A": has 8 fields, want 13`},
				{flowparse.SkipBadField, 0, 2, "port is not a number"},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(tc.json), &m); err != nil {
				t.Fatal(err)
			}
			for _, rec := range []map[string]any{m, fluentBitRecord(m)} {
				r := run(nil, nil, func(p *flowparse.Parser, _ []byte) error { return p.RecordMap(rec) })
				st := r.stats
				if r.err != nil {
					t.Errorf("error %v", r.err)
				}
				if st.Records != tc.records || st.RecordsSkipped != tc.recordsSkipped || st.Tuples != tc.tuples || st.TuplesSkipped != tc.tuplesSkipped {
					t.Errorf("records %d (skipped %d), tuples %d (skipped %d); want %d (%d), %d (%d)",
						st.Records, st.RecordsSkipped, st.Tuples, st.TuplesSkipped,
						tc.records, tc.recordsSkipped, tc.tuples, tc.tuplesSkipped)
				}
				checkSkips(t, r.skips, tc.skips)
				decodeRows(t, r.rows)
			}
		})
	}
}
