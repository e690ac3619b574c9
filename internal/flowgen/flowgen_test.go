package flowgen

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

var formats = []Format{FormatNSGv1, FormatNSGv2, FormatVNetv4}

// parseBlob runs flowparse over data and returns its stats and the events'
// versions, failing on any skip.
func parseBlob(t *testing.T, data []byte) (flowparse.Stats, []flowparse.Event) {
	t.Helper()
	var evs []flowparse.Event
	p := flowparse.Parser{
		OnEvent: func(e *flowparse.Event) {
			c := *e
			c.Tuple = append([]byte(nil), e.Tuple...)
			c.State = append([]byte(nil), e.State...)
			c.Protocol = append([]byte(nil), e.Protocol...)
			c.MAC = append([]byte(nil), e.MAC...)
			c.Rule = append([]byte(nil), e.Rule...)
			c.SrcIP = append([]byte(nil), e.SrcIP...)
			c.RecordTime = append([]byte(nil), e.RecordTime...)
			evs = append(evs, c)
		},
		OnSkip: func(s flowparse.Skip) { t.Errorf("skip %s: %s", s.Kind, s.Reason) },
	}
	if err := p.Parse(data); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p.Stats, evs
}

func TestGenerateParsesCleanly(t *testing.T) {
	cases := []struct {
		name string
		opts Options
	}{
		{"nsg1", Options{Format: FormatNSGv1, Resources: 2, MACs: 2, Hours: 2, RecordsPerHour: 5, TuplesPerRecord: 7}},
		{"nsg2", Options{Format: FormatNSGv2, Resources: 2, Hours: 3, RecordsPerHour: 4, TuplesPerRecord: 9, IPv6Share: 0.3}},
		{"vnet4", Options{Format: FormatVNetv4, Resources: 3, Hours: 2, RecordsPerHour: 6, TuplesPerRecord: 11, Rules: 5, LongRuleNames: true, IPv6Share: 0.5}},
		{"vnet4-deny-only", Options{Format: FormatVNetv4, RecordsPerHour: 2, TuplesPerRecord: 4, StateMix: StateMix{Deny: 1}}},
		{"nsg2-begin-only", Options{Format: FormatNSGv2, RecordsPerHour: 2, TuplesPerRecord: 4, StateMix: StateMix{Begin: 1}}},
	}
	wantVersion := map[Format]int{FormatNSGv1: 1, FormatNSGv2: 2, FormatVNetv4: 4}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := tc.opts.withDefaults()
			blobs := 0
			err := Generate(tc.opts, func(b *Blob) error {
				blobs++
				if b.Tuples != o.RecordsPerHour*o.TuplesPerRecord {
					t.Errorf("%s: Tuples = %d, want %d", b.Name, b.Tuples, o.RecordsPerHour*o.TuplesPerRecord)
				}
				st, evs := parseBlob(t, b.Bytes())
				if st.Tuples != int64(b.Tuples) || int(st.Records) != b.Records || st.RecordsSkipped+st.TuplesSkipped != 0 {
					t.Errorf("%s: parsed %+v, want %d records %d tuples", b.Name, st, b.Records, b.Tuples)
				}
				hourMs := b.Hour.UnixMilli()
				for _, e := range evs {
					if e.Version != wantVersion[o.Format] {
						t.Fatalf("version %d, want %d", e.Version, wantVersion[o.Format])
					}
					// Tuples fall within the blob's hour, or the interval before it.
					if e.TimeMillis < hourMs-3600000/int64(o.RecordsPerHour) || e.TimeMillis >= hourMs+3600000 {
						t.Fatalf("tuple %s outside the hour %s", e.Tuple, b.Hour)
					}
					rt, err := time.Parse(time.RFC3339Nano, string(e.RecordTime))
					if err != nil || rt.UnixMilli() < e.TimeMillis {
						t.Fatalf("record time %s before tuple %s (%v)", e.RecordTime, e.Tuple, err)
					}
					if rt.Truncate(time.Hour) != b.Hour {
						t.Fatalf("record time %s not in blob hour %s", e.RecordTime, b.Hour)
					}
					if !bytes.Equal(e.MAC, []byte(b.MAC)) {
						t.Fatalf("MAC %s, want %s", e.MAC, b.MAC)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := o.Resources * o.MACs * o.Hours; blobs != want {
				t.Errorf("%d blobs, want %d", blobs, want)
			}
		})
	}
}

// TestManySeeds draws options from each seed and checks every blob parses
// with no skip: a cheap search for corner cases in the generator.
func TestManySeeds(t *testing.T) {
	for seed := uint64(0); seed < 60; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		o := Options{
			Format:          formats[seed%3],
			Seed:            seed,
			MACs:            1 + r.IntN(2),
			RecordsPerHour:  1 + r.IntN(8),
			TuplesPerRecord: 1 + r.IntN(40),
			Rules:           2 + r.IntN(5),
			LongRuleNames:   r.IntN(2) == 0,
			IPv6Share:       r.Float64(),
			StateMix:        StateMix{r.Float64(), r.Float64(), r.Float64(), r.Float64()},
			Start:           time.Unix(3600+r.Int64N(4e9), 0),
		}
		if seed%10 == 9 {
			o.RecordsPerHour = 7200 // records every 500 ms
			o.TuplesPerRecord = 1
		}
		err := Generate(o, func(b *Blob) error {
			st, _ := parseBlob(t, b.Bytes())
			if st.Tuples != int64(b.Tuples) || st.Records != int64(b.Records) {
				t.Errorf("seed %d (%s): parsed %d records %d tuples, want %d and %d", seed, o.Describe(), st.Records, st.Tuples, b.Records, b.Tuples)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func TestTupleContent(t *testing.T) {
	cases := []struct {
		format    Format
		fields    int
		protocols string // allowed protocol values
		states    string
	}{
		{FormatNSGv1, 8, "TU", ""},
		{FormatNSGv2, 13, "TU", "BCE"},
		{FormatVNetv4, 13, "6,17,1", "BCED"},
	}
	for _, tc := range cases {
		t.Run(tc.format.String(), func(t *testing.T) {
			b, err := GenerateBlob(Options{Format: tc.format, Seed: 7, RecordsPerHour: 20, TuplesPerRecord: 30, IPv6Share: 0.2}, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, evs := parseBlob(t, b.Bytes())
			seen := map[string]int{}
			for _, e := range evs {
				f := strings.Split(string(e.Tuple), ",")
				if len(f) != tc.fields {
					t.Fatalf("tuple %q has %d fields, want %d", e.Tuple, len(f), tc.fields)
				}
				if !strings.Contains(tc.protocols, f[5]) {
					t.Fatalf("tuple %q: protocol %q", e.Tuple, f[5])
				}
				if tc.states != "" {
					if !strings.Contains(tc.states, string(e.State)) {
						t.Fatalf("tuple %q: state %q", e.Tuple, e.State)
					}
					seen["state "+string(e.State)]++
				}
				if tc.format == FormatNSGv2 && string(e.State) == "B" && e.HasCounters {
					t.Fatalf("NSG v2 B tuple %q has counters", e.Tuple)
				}
				if (string(e.State) == "C" || string(e.State) == "E") && !e.HasCounters {
					t.Fatalf("tuple %q: no counters", e.Tuple)
				}
				if strings.Contains(string(e.SrcIP), ":") {
					seen["ipv6"]++
				}
				if e.Denied() {
					seen["denied"]++
					if string(e.Rule) != "DefaultRule_DenyAllInBound" {
						t.Fatalf("denied tuple %q under rule %q", e.Tuple, e.Rule)
					}
				}
			}
			for _, k := range []string{"ipv6", "denied"} {
				if seen[k] == 0 {
					t.Errorf("no %s tuples in %d", k, len(evs))
				}
			}
			for _, s := range tc.states {
				if seen["state "+string(s)] == 0 {
					t.Errorf("no tuples in state %c", s)
				}
			}
		})
	}
}

func TestBlockLayout(t *testing.T) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) {
			b, err := GenerateBlob(Options{Format: f, RecordsPerHour: 5, TuplesPerRecord: 3}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Blocks) != b.Records+2 {
				t.Fatalf("%d blocks for %d records", len(b.Blocks), b.Records)
			}
			if string(b.Blocks[0]) != `{"records":[` || len(b.Blocks[0]) != 12 {
				t.Errorf("head %q", b.Blocks[0])
			}
			if last := b.Blocks[len(b.Blocks)-1]; string(last) != "]}" {
				t.Errorf("tail %q", last)
			}
			for i, blk := range b.Blocks[1 : len(b.Blocks)-1] {
				if got, want := blk[0] == ',', i > 0; got != want {
					t.Errorf("data block %d starts with %q", i+1, blk[:1])
				}
				// Each data block is exactly one record.
				var rec map[string]any
				if err := json.Unmarshal(b.Record(i), &rec); err != nil {
					t.Errorf("data block %d is not one JSON record: %v", i+1, err)
				}
				if !bytes.HasSuffix(blk, b.Record(i)) || len(blk)-len(b.Record(i)) != min(i, 1) {
					t.Errorf("Record(%d) is not data block %d minus its comma", i, i+1)
				}
			}
			var whole struct{ Records []json.RawMessage }
			if err := json.Unmarshal(b.Bytes(), &whole); err != nil || len(whole.Records) != b.Records {
				t.Errorf("blob: %v, %d records", err, len(whole.Records))
			}
			var nd []byte
			for i := range b.Records {
				nd = append(append(nd, b.Record(i)...), '\n')
			}
			if st, _ := parseBlob(t, nd); st.Tuples != int64(b.Tuples) {
				t.Errorf("records as NDJSON: %d tuples, want %d", st.Tuples, b.Tuples)
			}
			if b.Size() != len(b.Bytes()) {
				t.Errorf("Size %d, len(Bytes) %d", b.Size(), len(b.Bytes()))
			}
			// A blob cut after k data blocks plus the tail is what a reader
			// sees mid-hour: it must parse into the first k records.
			grown := append(bytes.Join(b.Blocks[:3], nil), ']', '}')
			if st, _ := parseBlob(t, grown); st.Records != 2 {
				t.Errorf("partial blob: %d records, want 2", st.Records)
			}
		})
	}
}

func TestBlobNames(t *testing.T) {
	start := time.Date(2026, 11, 26, 9, 30, 0, 0, time.FixedZone("x", 3600))
	cases := []struct {
		format    Format
		container string
		prefix    string
		hour      string
	}{
		{FormatNSGv2, ContainerNSG, "resourceId=/SUBSCRIPTIONS/", "/y=2026/m=11/d=26/h=08/m=00/macAddress="},
		{FormatVNetv4, ContainerVNet, "flowLogResourceID=/SUBSCRIPTIONS/", "/y=2026/m=11/d=26/h=08/m=00/macAddress="},
	}
	for _, tc := range cases {
		var names []string
		err := Generate(Options{Format: tc.format, Resources: 2, MACs: 2, Hours: 2, Start: start, RecordsPerHour: 1, TuplesPerRecord: 1}, func(b *Blob) error {
			names = append(names, b.Name)
			if b.Container != tc.container {
				t.Errorf("container %q, want %q", b.Container, tc.container)
			}
			if !strings.HasPrefix(b.Name, tc.prefix) || !strings.HasSuffix(b.Name, "/macAddress="+b.MAC+"/PT1H.json") {
				t.Errorf("name %q", b.Name)
			}
			if b.ResourceID != strings.ToUpper(b.ResourceID) || b.MAC != strings.ToUpper(b.MAC) || len(b.MAC) != 12 {
				t.Errorf("resource %q, MAC %q: want upper case as Azure writes them", b.ResourceID, b.MAC)
			}
			if !strings.HasPrefix(b.Name, tc.prefix+strings.TrimPrefix(b.ResourceID, "/SUBSCRIPTIONS/")) {
				t.Errorf("name %q does not hold resource %q", b.Name, b.ResourceID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(names[0], tc.hour) || !strings.Contains(names[4], "/h=09/") {
			t.Errorf("hours: first %q, fifth %q", names[0], names[4])
		}
		uniq := map[string]bool{}
		for _, n := range names {
			uniq[n] = true
		}
		if len(uniq) != 8 {
			t.Errorf("%d distinct names of 8: %v", len(uniq), names)
		}
	}
}

func TestDeterminism(t *testing.T) {
	o := Options{Format: FormatVNetv4, Seed: 42, Resources: 3, Hours: 2, RecordsPerHour: 4, TuplesPerRecord: 6, IPv6Share: 0.2}
	all := func(o Options) [][]byte {
		var out [][]byte
		if err := Generate(o, func(b *Blob) error { out = append(out, b.Bytes()); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := all(o), all(o)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("blob %d differs between runs with the same seed", i)
		}
	}
	// A blob does not depend on how many others are generated.
	one, err := GenerateBlob(o, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one.Bytes(), a[4]) {
		t.Error("GenerateBlob(4) differs from Generate's fifth blob")
	}
	o2 := o
	o2.Seed = 43
	if c := all(o2); bytes.Equal(c[0], a[0]) {
		t.Error("seeds 42 and 43 give the same blob")
	}
}

func TestBlockStream(t *testing.T) {
	o := Options{Format: FormatNSGv2, Seed: 3, RecordsPerHour: 8, TuplesPerRecord: 5, Hours: 2}
	want, err := GenerateBlob(o, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewBlockStream(o, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != want.Name || s.Container() != want.Container || s.NumBlocks() != len(want.Blocks) {
		t.Fatalf("stream %s/%s %d blocks, blob %s/%s %d", s.Container(), s.Name(), s.NumBlocks(), want.Container, want.Name, len(want.Blocks))
	}
	for i := 0; ; i++ {
		blk, ok := s.Next()
		if !ok {
			if i != len(want.Blocks) {
				t.Fatalf("stream ended after %d blocks, want %d", i, len(want.Blocks))
			}
			break
		}
		if !bytes.Equal(blk, want.Blocks[i]) {
			t.Fatalf("block %d differs", i)
		}
	}
	if s.Tuples() != want.Tuples {
		t.Errorf("stream tuples %d, blob %d", s.Tuples(), want.Tuples)
	}

	// Read in odd-sized chunks and WriteTo give the same bytes.
	r, _ := NewBlockStream(o, 1)
	var got bytes.Buffer
	chunk := make([]byte, 37)
	for {
		n, err := r.Read(chunk)
		got.Write(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Error("Read output differs from Bytes")
	}
	w, _ := NewBlockStream(o, 1)
	var wt bytes.Buffer
	if n, err := w.WriteTo(&wt); err != nil || n != int64(want.Size()) || !bytes.Equal(wt.Bytes(), want.Bytes()) {
		t.Errorf("WriteTo: %d bytes, %v", n, err)
	}
}

func TestBlockIDs(t *testing.T) {
	b, err := GenerateBlob(Options{RecordsPerHour: 4, TuplesPerRecord: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := b.BlockIDs()
	seen := map[string]bool{}
	for i, id := range ids {
		raw, err := base64.StdEncoding.DecodeString(id)
		if err != nil || len(raw) != 33 {
			t.Fatalf("id %d %q: %v, %d bytes", i, id, err, len(raw))
		}
		if len(id) != len(ids[0]) || seen[id] {
			t.Errorf("id %d %q: length differs or repeated", i, id)
		}
		seen[id] = true
		want := byte('D')
		if i == 0 {
			want = 'A'
		} else if i == len(ids)-1 {
			want = 'Z'
		}
		if raw[0] != want {
			t.Errorf("id %d decodes to %q", i, raw)
		}
	}
	// A data block keeps its ID when the blob grows.
	if BlockID(b.Name, 2, 6) != BlockID(b.Name, 2, 60) {
		t.Error("data block ID depends on block count")
	}
}

func TestOptionErrors(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"format", Options{Format: 9}, "unknown format"},
		{"resources", Options{Resources: -1}, "Resources"},
		{"rules", Options{Rules: 1}, "Rules must be at least 2"},
		{"ipv6", Options{IPv6Share: 1.5}, "IPv6Share"},
		{"state", Options{StateMix: StateMix{Begin: -1, End: 2}}, "StateMix"},
		{"tuples", Options{TuplesPerRecord: -3}, "TuplesPerRecord"},
		{"start", Options{Start: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}, "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Generate(tc.opts, func(*Blob) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := NewBlockStream(Options{Hours: 2}, 2); err == nil {
		t.Error("index 2 of 2 blobs accepted")
	}
	stop := errors.New("stop")
	n := 0
	if err := Generate(Options{Hours: 5, RecordsPerHour: 1, TuplesPerRecord: 1}, func(*Blob) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("callback error: %v after %d blobs", err, n)
	}
}

func TestParseFormatAndStateMix(t *testing.T) {
	fcases := []struct {
		in   string
		want Format
		ok   bool
	}{{"nsg1", FormatNSGv1, true}, {"NSG2", FormatNSGv2, true}, {"vnet4", FormatVNetv4, true}, {"vnet", FormatVNetv4, true}, {"nsg3", 0, false}, {"", 0, false}}
	for _, tc := range fcases {
		got, err := ParseFormat(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFormat(%q) = %v, %v", tc.in, got, err)
		}
		if back, err := ParseFormat(got.String()); tc.ok && (err != nil || back != got) {
			t.Errorf("%v.String() = %q does not parse back", got, got.String())
		}
	}
	mcases := []struct {
		in   string
		want StateMix
		ok   bool
	}{{"3,2,3,2", StateMix{3, 2, 3, 2}, true}, {"1, 0, 0, 0.5", StateMix{1, 0, 0, 0.5}, true}, {"1,2,3", StateMix{}, false}, {"0,0,0,0", StateMix{}, false}, {"a,1,1,1", StateMix{}, false}, {"-1,1,1,1", StateMix{}, false}}
	for _, tc := range mcases {
		got, err := ParseStateMix(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseStateMix(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// BenchmarkBlockStream measures generation speed per byte of blob.
func BenchmarkBlockStream(b *testing.B) {
	for _, f := range formats {
		b.Run(f.String(), func(b *testing.B) {
			o := Options{Format: f, RecordsPerHour: 60, TuplesPerRecord: 100}
			first, err := GenerateBlob(o, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(first.Size()))
			for b.Loop() {
				s, err := NewBlockStream(o, 0)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, ok := s.Next(); !ok {
						break
					}
				}
			}
		})
	}
}
