package flowparse_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// Fuzz targets for the three entry points. Run one with
//
//	go test ./internal/flowparse/ -run '^$' -fuzz '^FuzzBlob$' -fuzztime 30s
//
// (make fuzz runs each for $(FUZZTIME)). Without -fuzz, go test runs every
// seed below plus any crasher saved in testdata/fuzz/<target>/.

// addSeeds adds every sample and fixture, whole.
func addSeeds(f *testing.F) {
	for _, sc := range sampleCases {
		f.Add(readSample(f, sc.file))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "input", "*"))
	for _, p := range files {
		f.Add(readTestdata(f, filepath.Join("input", filepath.Base(p))))
	}
	for _, s := range []string{"", "{", "[", ",", "]}", `{"records":[`, `{"records":[]}`, `{}`, bomBytes + "{}"} {
		f.Add([]byte(s))
	}
}

// rangeSeeds returns the ranges a blob reader reads from the derived blocks.
func rangeSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, dir := range []string{"nsg-v2-sumologic", "vnet-v4-sumologic"} {
		_, blocks := loadBlocks(f, dir)
		whole := bytes.Join(blocks, nil)
		prev := 2
		for _, l := range committedLengths(blocks) {
			out = append(out, whole[prev-2:l-2])
			prev = l
		}
		out = append(out, blocks[len(blocks)-2]) // a data block with its leading comma
	}
	return out
}

func FuzzBlob(f *testing.F) {
	addSeeds(f)
	for _, r := range rangeSeeds(f) {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data, viaBlob) })
}

func FuzzRange(f *testing.F) {
	for _, r := range rangeSeeds(f) {
		f.Add(r, uint16(len(r)/2))
	}
	f.Add(readSample(f, "sumologic-blob_fixtures.json"), uint16(12))
	f.Add([]byte(`,{"time":"t"},{"properties":{"flows":[]}}]}`), uint16(14))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		// The whole range, then the same bytes read as two ranges.
		checkParse(t, data, viaRange)
		c := int(cut)
		if c > len(data) {
			c = len(data)
		}
		checkParse(t, data[:c], viaRange)
		checkParse(t, data[c:], viaRange)
	})
}

func FuzzRecord(f *testing.F) {
	addSeeds(f)
	for _, sc := range sampleCases {
		for _, rec := range decodeRecords(f, readSample(f, sc.file), false) {
			b, err := json.Marshal(rec)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data, viaRecord)
		// The same record decoded into a map, as a Fluent Bit output sees it.
		var m map[string]any
		if json.Unmarshal(data, &m) == nil && m != nil {
			checkParse(t, nil, func(p *flowparse.Parser, _ []byte) error { return p.RecordMap(m) })
			fb := fluentBitRecord(m)
			checkParse(t, nil, func(p *flowparse.Parser, _ []byte) error { return p.RecordMap(fb) })
		}
	})
}

// rowSchemas is the schema of each of an event's three rows.
var rowSchemas = []*flowparse.Schema{flowparse.DefaultSchema, flowparse.SeedSchema, flowparse.DefaultSchema}

var eventIDRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

// pass is one parse with every row encoded in every schema.
type pass struct {
	rows   [][]byte // default rows, then seed rows, then renamed-time rows, per event
	skips  []flowparse.Skip
	stats  flowparse.Stats
	events int
	err    error
}

// parseOnce parses data; fresh encoders per event when freshEnc, else one
// reused encoder per schema (its per-second time cache must not leak).
func parseOnce(data []byte, fn parseFunc, freshEnc bool) pass {
	var ps pass
	encs := []*flowparse.Encoder{flowparse.NewEncoder(flowparse.DefaultSchema), flowparse.NewEncoder(flowparse.SeedSchema), flowparse.NewEncoder(flowparse.DefaultSchema)}
	p := flowparse.Parser{
		OnEvent: func(ev *flowparse.Event) {
			ps.events++
			if freshEnc {
				encs = []*flowparse.Encoder{flowparse.NewEncoder(flowparse.DefaultSchema), flowparse.NewEncoder(flowparse.SeedSchema), flowparse.NewEncoder(flowparse.DefaultSchema)}
			}
			encs[2].TimeField = "FlowTime"
			for _, e := range encs {
				ps.rows = append(ps.rows, e.Append(nil, ev))
			}
		},
		OnSkip: func(s flowparse.Skip) { ps.skips = append(ps.skips, s) },
	}
	ps.err = fn(&p, data)
	ps.stats = p.Stats
	return ps
}

// checkParse checks the invariants every input must keep, whatever it is.
func checkParse(t *testing.T, data []byte, fn parseFunc) {
	t.Helper()
	a := parseOnce(data, fn, false)
	st := a.stats
	if int64(a.events) != st.Tuples {
		t.Fatalf("OnEvent called %d times, Stats.Tuples = %d", a.events, st.Tuples)
	}
	var byKind, tupleSkips int64
	for _, k := range flowparse.Kinds() {
		byKind += st.Skipped(k)
	}
	for _, s := range a.skips {
		if s.Reason == "" || s.Record < -1 || s.Tuple < -1 {
			t.Fatalf("bad skip %+v", s)
		}
		if s.Tuple >= 0 {
			tupleSkips++
		}
	}
	if byKind != int64(len(a.skips)) || tupleSkips != st.TuplesSkipped {
		t.Fatalf("stats %+v do not match %d skips (%d of tuples)", st, len(a.skips), tupleSkips)
	}
	if st.Records < 0 || st.RecordsSkipped < 0 || st.Tuples < 0 || st.TuplesSkipped < 0 {
		t.Fatalf("negative stats %+v", st)
	}
	for i, row := range a.rows {
		if !json.Valid(row) || !utf8.Valid(row) {
			t.Fatalf("row %d is not valid UTF-8 JSON: %q", i, row)
		}
		s := rowSchemas[i%3]
		var m map[string]json.RawMessage
		if err := json.Unmarshal(row, &m); err != nil {
			t.Fatalf("row %d is not an object: %v", i, err)
		}
		for k := range m {
			if _, ok := s.Column(k); !ok && !(i%3 == 2 && k == "FlowTime") {
				t.Fatalf("row %d: key %q is not a column of %s: %s", i, k, s.Name, row)
			}
		}
		// The event time is always a real UTC time, whatever the tuple said.
		var ts string
		if json.Unmarshal(m[[]string{"TimeGenerated", "DateTime", "FlowTime"}[i%3]], &ts) != nil {
			t.Fatalf("row %d: no time column: %s", i, row)
		}
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Fatalf("row %d: time %q is not ISO 8601 UTC: %v", i, ts, err)
		}
		if i%3 == 0 {
			var id string
			if json.Unmarshal(m["EventId"], &id) != nil || !eventIDRe.MatchString(id) {
				t.Fatalf("row %d: bad EventId in %s", i, row)
			}
		}
	}
	// Deterministic: the same input gives the same rows, skips and stats,
	// whether encoders are reused or not.
	b := parseOnce(data, fn, true)
	if a.err != b.err || st != b.stats || !reflect.DeepEqual(a.skips, b.skips) {
		t.Fatalf("second parse differs: err %v/%v stats %+v/%+v skips %d/%d", a.err, b.err, st, b.stats, len(a.skips), len(b.skips))
	}
	if len(a.rows) != len(b.rows) {
		t.Fatalf("second parse: %d rows, first %d", len(b.rows), len(a.rows))
	}
	for i := range a.rows {
		if !bytes.Equal(a.rows[i], b.rows[i]) {
			t.Fatalf("row %d differs between encoders:\n%s\n%s", i, a.rows[i], b.rows[i])
		}
	}
}
