// Command genchunks writes the msgpack chunks the C plugin harness flushes
// (from the shared flow-log samples, in every record shape the plugin
// accepts) and checks the rows the emulator stored against the events
// expected. Plain Go, no cgo.
//
//	genchunks gen   -samples DIR -out DIR
//	genchunks lines -samples DIR -out FILE.ndjson -expected FILE.txt
//	genchunks check -rows ROWS.ndjson -expected EXPECTED.ndjson -table T [-group NAME]
//	genchunks flow  -tuples N -chunk-bytes B -out DIR
//
// gen writes, per destination group (li, dc), chunks holding each sample
// record exactly once: raw records as msgpack maps ([[ts, meta], record],
// group markers around them), records and whole blobs as JSON strings in a
// "log" field ([ts, record] with float timestamps), provenance fields
// (_nsgflow_*), flat events, and records the plugin must skip; plus garbage
// chunks. manifest.tsv lists "group<TAB>file<TAB>events". expected.txt names
// the inputs whose `nsgflow parse` output is the expected event set.
//
// lines writes every sample record as one compact JSON line (what Fluent
// Bit's tail reads into a "log" field without a parser) for make e2e.
//
// flow writes generated NSG v2 records, each as a JSON string in a "log"
// field (tail without a parser), into "big" chunks of about B bytes holding N
// tuples in all: the memory benchmark's input (make bench-memory).
//
// check compares EventId multisets: every expected event must be stored
// exactly as often as expected, no other row may exist in the table, and no
// row may carry a _nsgflow_ field. The "big" group (bench only) holds
// larger chunks of the two real captures.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fbpack"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

func runFlow(args []string) error {
	fs := flag.NewFlagSet("flow", flag.ExitOnError)
	tuples := fs.Int("tuples", 2000000, "tuples in all")
	size := fs.Int("chunk-bytes", 2<<20, "chunk size")
	out := fs.String("out", "", "output folder")
	_ = fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("flow: -out is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var manifest bytes.Buffer
	w := &chunkWriter{dir: *out, group: "big", manifest: &manifest}
	left := *tuples
	done := fmt.Errorf("done")
	opts := flowgen.Options{Format: flowgen.FormatNSGv2, Seed: 12, Resources: 100, Hours: 10000, TuplesPerRecord: 50}
	err := flowgen.Generate(opts, func(b *flowgen.Blob) error {
		for i := 0; i < b.Records && left > 0; i++ {
			r := b.Record(i)
			n := countEvents(r)
			rec := fbpack.AppendMapHeader(nil, 1)
			rec = fbpack.AppendStr(rec, "log")
			rec = fbpack.AppendStr(rec, string(r))
			w.add(rec, n)
			left -= n
			if len(w.cur) >= *size {
				if err := w.endChunk(); err != nil {
					return err
				}
			}
		}
		if left <= 0 {
			return done
		}
		return nil
	})
	if err != nil && err != done {
		return err
	}
	if err := w.endChunk(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "manifest.tsv"), manifest.Bytes(), 0o644)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: genchunks gen|check [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = runGen(os.Args[2:])
	case "check":
		err = runCheck(os.Args[2:])
	case "lines":
		err = runLines(os.Args[2:])
	case "flow":
		err = runFlow(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genchunks:", err)
		os.Exit(1)
	}
}

// blobSamples are expanded record by record; the first two are also sent as
// whole blobs in one log field.
var blobSamples = []string{
	"msdocs-nsg-v1-fabrikam-2017.json",
	"msdocs-nsg-v2-fabrikam-2018.json",
	"elastic-nsg-v2-testdata.json",
	"elastic-vnet-v4-testdata.json",
	"sumologic-blob_fixtures.json",
	"sumologic-blob_fixtures_vnetflowlogs.json",
}

const (
	ndjsonLogSample = "elastic-vnet-v4-single-record.ndjson" // sent as a log line
	flatSample      = "elastic-nsg-v2-single-record.ndjson"  // sent as flat events
	perChunk        = 2                                      // records per chunk
)

type chunkWriter struct {
	dir      string
	group    string
	n        int
	manifest *bytes.Buffer
	cur      []byte
	events   int
	v1       bool // next chunk uses the old [ts, record] layout
}

func (w *chunkWriter) flush() error {
	if len(w.cur) == 0 {
		return nil
	}
	name := fmt.Sprintf("%s-%03d.chunk", w.group, w.n)
	w.n++
	if err := os.WriteFile(filepath.Join(w.dir, name), w.cur, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w.manifest, "%s\t%s\t%d\n", w.group, name, w.events)
	w.cur, w.events = nil, 0
	w.v1 = !w.v1
	return nil
}

var ts int64 = 1764147600

// add appends one record (given as a msgpack map) as an entry.
func (w *chunkWriter) add(rec []byte, events int) {
	ts++
	if w.v1 {
		// [float ts, record]
		w.cur = append(w.cur, 0x92)
		w.cur = fbpack.AppendFloat(w.cur, float64(ts)+0.25)
	} else {
		if len(w.cur) == 0 {
			w.cur = fbpack.AppendEntryHeader(w.cur, -1, 0) // group start
			w.cur = append(w.cur, 0x81)
			w.cur = fbpack.AppendStr(w.cur, "resource")
			w.cur = fbpack.AppendStr(w.cur, "harness")
		}
		w.cur = fbpack.AppendEntryHeader(w.cur, ts, 123)
	}
	w.cur = append(w.cur, rec...)
	w.events += events
}

func (w *chunkWriter) endChunk() error {
	if !w.v1 && len(w.cur) > 0 {
		w.cur = fbpack.AppendEntryHeader(w.cur, -2, 0) // group end
		w.cur = append(w.cur, 0x80)
	}
	return w.flush()
}

func runGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	samples := fs.String("samples", filepath.Join("..", "shared", "samples"), "shared samples folder")
	out := fs.String("out", "", "output folder")
	_ = fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("gen: -out is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var manifest bytes.Buffer
	for _, group := range []string{"li", "dc"} {
		w := &chunkWriter{dir: *out, group: group, manifest: &manifest}
		timeField := ""
		if group == "dc" {
			timeField = "FlowTime"
		}
		if err := genGroup(w, *samples, timeField); err != nil {
			return err
		}
	}
	if err := genBig(*out, *samples, &manifest); err != nil {
		return err
	}
	if err := genGarbage(*out, &manifest); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "manifest.tsv"), manifest.Bytes(), 0o644); err != nil {
		return err
	}
	var exp bytes.Buffer
	for _, s := range blobSamples {
		fmt.Fprintln(&exp, filepath.Join(*samples, s))
	}
	fmt.Fprintln(&exp, filepath.Join(*samples, ndjsonLogSample))
	fmt.Fprintln(&exp, filepath.Join(*samples, flatSample))
	return os.WriteFile(filepath.Join(*out, "expected.txt"), exp.Bytes(), 0o644)
}

func countEvents(data []byte) int {
	n := 0
	p := flowparse.Parser{OnEvent: func(*flowparse.Event) { n++ }}
	_ = p.Parse(data)
	return n
}

func genGroup(w *chunkWriter, samples, timeField string) error {
	inChunk := 0
	next := func() error {
		inChunk++
		if inChunk == perChunk {
			inChunk = 0
			return w.endChunk()
		}
		return nil
	}
	for i, s := range blobSamples {
		data, err := os.ReadFile(filepath.Join(samples, s))
		if err != nil {
			return err
		}
		if i < 2 {
			// The whole blob as one JSON string (tail of a whole file, no parser).
			w.add(logRecord(string(data), nil), countEvents(data))
			if err := next(); err != nil {
				return err
			}
			continue
		}
		var blob struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(data, &blob); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		for j, raw := range blob.Records {
			ev := countEvents(raw)
			var prov map[string]any
			if j%2 == 1 {
				prov = map[string]any{checkpoint.FieldSource: s, checkpoint.FieldOffset: j * 1000, checkpoint.FieldEnd: j*1000 + len(raw)}
			}
			if (i+j)%2 == 0 {
				// A raw record decoded into a map (e.g. a parser upstream).
				var m map[string]any
				d := json.NewDecoder(bytes.NewReader(raw))
				d.UseNumber()
				if err := d.Decode(&m); err != nil {
					return err
				}
				for k, v := range prov {
					m[k] = v
				}
				rec, err := fbpack.AppendJSONValue(nil, m)
				if err != nil {
					return err
				}
				w.add(rec, ev)
			} else {
				w.add(logRecord(string(raw), prov), ev)
			}
			if err := next(); err != nil {
				return err
			}
		}
	}
	// One NDJSON line in a log field.
	line, err := os.ReadFile(filepath.Join(samples, ndjsonLogSample))
	if err != nil {
		return err
	}
	w.add(logRecord(string(line), nil), countEvents(line))
	// Records the plugin must skip (counted, one log line per kind).
	w.add(mustMap(map[string]any{"message": "not a flow log"}), 0)
	w.add(fbpack.AppendArrayHeader(nil, 0), 0)
	w.add(logRecord("plain text line", nil), 0)
	if err := w.endChunk(); err != nil {
		return err
	}
	// Flat events, already encoded (e.g. from `nsgflow parse` read by tail).
	flat, err := os.ReadFile(filepath.Join(samples, flatSample))
	if err != nil {
		return err
	}
	enc := flowparse.NewEncoder(flowparse.DefaultSchema)
	enc.TimeField = timeField
	var rows [][]byte
	p := flowparse.Parser{OnEvent: func(e *flowparse.Event) { rows = append(rows, enc.Append(nil, e)) }}
	if err := p.Parse(flat); err != nil {
		return err
	}
	for _, r := range rows {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			return err
		}
		m[checkpoint.FieldSource] = flatSample
		w.add(mustMap(m), 1)
	}
	return w.endChunk()
}

func logRecord(s string, extra map[string]any) []byte {
	m := map[string]any{"log": s}
	for k, v := range extra {
		m[k] = v
	}
	return mustMap(m)
}

func mustMap(m map[string]any) []byte {
	b, err := fbpack.AppendJSONValue(nil, m)
	if err != nil {
		panic(err)
	}
	return b
}

// genBig writes the bench chunks: every record of the two real captures
// (319 events) as raw maps in one chunk of about 100 KB, the size class of a
// busy Fluent Bit chunk; 4 variants differing only in their timestamps.
func genBig(dir, samples string, manifest *bytes.Buffer) error {
	for v := 0; v < 4; v++ {
		w := &chunkWriter{dir: dir, group: "big", manifest: manifest, n: v}
		for _, s := range blobSamples[4:] {
			data, err := os.ReadFile(filepath.Join(samples, s))
			if err != nil {
				return err
			}
			var blob struct {
				Records []json.RawMessage `json:"records"`
			}
			if err := json.Unmarshal(data, &blob); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
			for _, raw := range blob.Records {
				var m map[string]any
				d := json.NewDecoder(bytes.NewReader(raw))
				d.UseNumber()
				if err := d.Decode(&m); err != nil {
					return err
				}
				w.add(mustMap(m), countEvents(raw))
			}
		}
		if err := w.endChunk(); err != nil {
			return err
		}
	}
	return nil
}

// genGarbage writes chunks that are not valid: cut, random bytes, forged lengths.
func genGarbage(dir string, manifest *bytes.Buffer) error {
	good := fbpack.AppendEntryHeader(nil, 1764147600, 0)
	good = append(good, logRecord(`{"time":"x","properties":{"flows":[]}}`, nil)...)
	cases := [][]byte{
		good[:len(good)/2],
		{0xc1, 0xc1, 0xc1},
		{0xdd, 0xff, 0xff, 0xff, 0xff},
		{0x92, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'},
		bytes.Repeat([]byte{0x91}, 5000),
		[]byte("this is not msgpack at all"),
	}
	for i, c := range cases {
		name := fmt.Sprintf("garbage-%03d.chunk", i)
		if err := os.WriteFile(filepath.Join(dir, name), c, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(manifest, "garbage\t%s\t0\n", name)
	}
	return nil
}

func runLines(args []string) error {
	fs := flag.NewFlagSet("lines", flag.ExitOnError)
	samples := fs.String("samples", filepath.Join("..", "shared", "samples"), "shared samples folder")
	out := fs.String("out", "", "NDJSON output file")
	expected := fs.String("expected", "", "file listing the inputs of the expected events")
	_ = fs.Parse(args)
	if *out == "" || *expected == "" {
		return fmt.Errorf("lines: -out and -expected are required")
	}
	var b, exp bytes.Buffer
	for _, s := range blobSamples {
		path := filepath.Join(*samples, s)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var blob struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(data, &blob); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		for _, r := range blob.Records {
			if err := json.Compact(&b, r); err != nil {
				return err
			}
			b.WriteByte('\n')
		}
		fmt.Fprintln(&exp, path)
	}
	for _, s := range []string{ndjsonLogSample, flatSample} {
		path := filepath.Join(*samples, s)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b.Write(bytes.TrimSpace(data))
		b.WriteByte('\n')
		fmt.Fprintln(&exp, path)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(*expected, exp.Bytes(), 0o644)
}

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	rowsPath := fs.String("rows", "", "emulator rows NDJSON")
	expPath := fs.String("expected", "", "expected events NDJSON (nsgflow parse output)")
	table := fs.String("table", "", "table to check")
	label := fs.String("label", "", "label for the output")
	_ = fs.Parse(args)
	want, err := countIDs(*expPath, "")
	if err != nil {
		return err
	}
	got, err := countIDs(*rowsPath, *table)
	if err != nil {
		return err
	}
	failed := 0
	check := func(ok bool, format string, a ...any) {
		status := "ok  "
		if !ok {
			status = "FAIL"
			failed++
		}
		fmt.Printf("%s %s: %s\n", status, *label, fmt.Sprintf(format, a...))
	}
	missing, dup, extra := 0, 0, 0
	var examples []string
	for id, n := range want.ids {
		switch g := got.ids[id]; {
		case g < n:
			missing += n - g
			examples = append(examples, fmt.Sprintf("%s %d/%d", id, g, n))
		case g > n:
			dup += g - n
			examples = append(examples, fmt.Sprintf("%s %d/%d", id, g, n))
		}
	}
	for id, g := range got.ids {
		if _, ok := want.ids[id]; !ok {
			extra += g
		}
	}
	sort.Strings(examples)
	if len(examples) > 5 {
		examples = examples[:5]
	}
	check(got.rows == want.rows, "%d rows stored in %s, %d expected", got.rows, *table, want.rows)
	check(missing == 0, "%d expected events missing %v", missing, examples)
	check(dup == 0, "%d duplicate events", dup)
	check(extra == 0 && got.noID == 0, "%d unexpected events, %d rows without EventId", extra, got.noID)
	check(got.prov == 0, "%d rows carry a _nsgflow_ field", got.prov)
	fmt.Printf("check %s: %d passed, %d failed\n", *label, 5-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d checks failed", failed)
	}
	return nil
}

type idCount struct {
	rows, noID, prov int
	ids              map[string]int
}

func countIDs(path, table string) (idCount, error) {
	c := idCount{ids: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
		if table != "" && m["_table"] != table {
			continue
		}
		c.rows++
		for k := range m {
			if strings.HasPrefix(k, checkpoint.ProvenancePrefix) {
				c.prov++
				break
			}
		}
		id, ok := m["EventId"].(string)
		if !ok {
			c.noID++
			continue
		}
		c.ids[id]++
	}
	return c, sc.Err()
}
