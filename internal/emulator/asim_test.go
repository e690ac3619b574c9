package emulator_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/testkit/asimcheck"
)

// TestAsimSamplesThroughEmulator sends every tuple of every sample in
// ../shared/samples in the asim layout to the emulator's ASimNetworkSessionLogs
// stream (strict: a value that does not fit its column refuses the request)
// and checks every stored row against the ASIM NetworkSession rules.
func TestAsimSamplesThroughEmulator(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "shared", "samples", "*json"))
	if err != nil || len(files) < 8 {
		t.Fatalf("samples: %v (%d files)", err, len(files))
	}
	srv := start(t, baseConfig())
	sent := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		enc := flowparse.NewEncoder(flowparse.AsimSchema)
		body := []byte{'['}
		n := 0
		p := flowparse.Parser{OnEvent: func(ev *flowparse.Event) {
			if n > 0 {
				body = append(body, ',')
			}
			body = enc.Append(body, ev)
			n++
		}}
		if err := p.Parse(data); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if n == 0 || p.Stats.TuplesSkipped != 0 {
			t.Fatalf("%s: %d tuples, %d skipped", f, n, p.Stats.TuplesSkipped)
		}
		body = append(body, ']')
		code, resp := postLI(t, srv, liReq{body: body, stream: emulator.AsimStream})
		if code != 204 {
			t.Fatalf("%s: %d %s", f, code, resp)
		}
		sent += n
	}
	raw, err := srv.RawRows()
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&row); err != nil {
			t.Fatal(err)
		}
		if row["_table"] != "ASimNetworkSessionLogs" {
			t.Fatalf("row in table %v", row["_table"])
		}
		for _, err := range asimcheck.Row(row, true) {
			t.Errorf("stored row %d: %v", stored, err)
		}
		stored++
	}
	if stored != sent || sent < 370 {
		t.Errorf("stored %d rows, sent %d (the samples hold 372 tuples)", stored, sent)
	}
	st := srv.Stats()
	if st.Rows["ASimNetworkSessionLogs"] != int64(sent) || len(st.TypeMismatches) != 0 {
		t.Errorf("stats: rows %v, type mismatches %v", st.Rows, st.TypeMismatches)
	}
}

// TestAsimStreamStrict: the ASimNetworkSessionLogs stream refuses a row whose
// value does not fit its column (Azure would store null and lose it),
// drops EventSchema (the DCR transformation does) after checking it, and
// drops undeclared fields as every stream does.
func TestAsimStreamStrict(t *testing.T) {
	srv := start(t, baseConfig())
	const good = `"TimeGenerated":"2026-11-26T01:00:00.000Z","EventCount":1,"EventType":"Flow","DvcAction":"Allow"`
	cases := []struct {
		name, row string
		code      int
		msg       string
	}{
		{"fits", `{` + good + `,"EventSchema":"NetworkSession","Unknown":"x"}`, 204, ""},
		{"int as string", `{"EventCount":"1","EventType":"Flow"}`, 400, "field EventCount does not fit type int of column EventCount in table ASimNetworkSessionLogs"},
		{"string as number", `{"EventCount":1,"DvcAction":7}`, 400, "field DvcAction does not fit type string"},
		{"bad datetime", `{"EventStartTime":"yesterday"}`, 400, "field EventStartTime does not fit type datetime"},
		{"long overflow", `{"SrcBytes":9223372036854775808}`, 400, "field SrcBytes does not fit type long"},
		{"second row", `{` + good + `},{"NetworkSessionId":1}`, 400, "row 1: the value of field NetworkSessionId does not fit type string"},
		{"dropped column checked", `{"EventSchema":5}`, 400, "field EventSchema does not fit its declared type string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postLI(t, srv, liReq{body: []byte("[" + tc.row + "]"), stream: emulator.AsimStream})
			if code != tc.code || !strings.Contains(body, tc.msg) {
				t.Errorf("got %d %s, want %d containing %q", code, body, tc.code, tc.msg)
			}
			if code == 400 && errCode(body) != "InvalidPayload" {
				t.Errorf("error code %q, want InvalidPayload", errCode(body))
			}
		})
	}
	rows, err := srv.Rows()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows stored, want 1 (refused requests store nothing)", len(rows))
	}
	raw, _ := srv.RawRows()
	for _, k := range []string{`"EventSchema"`, `"Unknown"`} {
		if bytes.Contains(raw, []byte(k)) {
			t.Errorf("stored row has %s: %s", k, raw)
		}
	}
	if !bytes.Contains(raw, []byte(`"DvcAction":"Allow"`)) {
		t.Errorf("stored row lost DvcAction: %s", raw)
	}
}

// TestAsimStreamMustFitTable: a stream that declares a column the table
// lacks, or with another type, is refused when the emulator starts, as
// Azure refuses such a DCR.
func TestAsimStreamMustFitTable(t *testing.T) {
	for name, mod := range map[string]func(*emulator.Stream){
		"unknown column": func(s *emulator.Stream) { s.Columns = append(s.Columns, "FlowState") },
		"other type":     func(s *emulator.Stream) { s.Types = map[string]string{"EventCount": "string"} },
		"not dropped":    func(s *emulator.Stream) { s.Drop = nil },
	} {
		t.Run(name, func(t *testing.T) {
			st := emulator.AsimStreamDef()
			mod(&st)
			cfg := baseConfig()
			cfg.DCRs = []emulator.DCR{{ImmutableID: emulator.DefaultDCRImmutableID, Streams: []emulator.Stream{st}}}
			if _, err := emulator.New(cfg); err == nil || !strings.Contains(err.Error(), "does not fit table ASimNetworkSessionLogs") {
				t.Errorf("New: %v, want a does-not-fit error", err)
			}
		})
	}
	// Every asim column but the dropped ones is a table column with the same type.
	for _, c := range flowparse.AsimSchema.Columns {
		tt, ok := emulator.ASimNetworkSessionLogsColumns[c.Name]
		dropped := false
		for _, d := range flowparse.AsimSchema.Dropped {
			dropped = dropped || d == c.Name
		}
		if dropped {
			if ok {
				t.Errorf("%s is dropped but is a table column", c.Name)
			}
			continue
		}
		if !ok || tt != c.Type {
			t.Errorf("asim column %s (%s): table has %q", c.Name, c.Type, tt)
		}
	}
}
