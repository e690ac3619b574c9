package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowgen"
)

// sharedSamplesDir is the shared samples folder beside the repository.
var sharedSamplesDir = filepath.Join("..", "..", "..", "shared", "samples")

// runNsgflow runs the CLI with args and optional standard input.
func runNsgflow(t *testing.T, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// decodeNDJSON decodes every output line, failing on a line that is not one
// JSON object.
func decodeNDJSON(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %.200s", len(rows)+1, err, sc.Text())
		}
		rows = append(rows, m)
	}
	return rows
}

func TestParseSamples(t *testing.T) {
	// Tuple counts from shared/samples/SOURCES.md.
	cases := []struct {
		file   string
		tuples int
	}{
		{"msdocs-nsg-v1-fabrikam-2017.json", 9},
		{"msdocs-nsg-v2-fabrikam-2018.json", 11},
		{"elastic-nsg-v2-testdata.json", 11},
		{"elastic-nsg-v2-single-record.ndjson", 1},
		{"elastic-vnet-v4-testdata.json", 19},
		{"elastic-vnet-v4-single-record.ndjson", 2},
		{"sumologic-blob_fixtures.json", 153},
		{"sumologic-blob_fixtures_vnetflowlogs.json", 166},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			code, out, errs := runNsgflow(t, "", "parse", filepath.Join(sharedSamplesDir, tc.file))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			rows := decodeNDJSON(t, out)
			if len(rows) != tc.tuples {
				t.Fatalf("%d rows, want %d", len(rows), tc.tuples)
			}
			for _, r := range rows {
				if _, ok := r["TimeGenerated"].(string); !ok {
					t.Fatalf("row without TimeGenerated: %v", r)
				}
			}
			if want := "events; skipped 0 records, 0 tuples"; !strings.Contains(errs, want) {
				t.Errorf("summary %q does not contain %q", errs, want)
			}
		})
	}
}

func TestParseOptionsAndInputs(t *testing.T) {
	v1 := filepath.Join(sharedSamplesDir, "msdocs-nsg-v1-fabrikam-2017.json")
	v4 := filepath.Join(sharedSamplesDir, "elastic-vnet-v4-testdata.json")
	single, err := os.ReadFile(filepath.Join(sharedSamplesDir, "elastic-vnet-v4-single-record.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		stdin    string
		args     []string
		rows     int
		column   string // present in every row
		absent   string // in no row
		inStderr string
	}{
		{"seed schema", "", []string{"parse", "--schema", "seed", v1}, 9, "DateTime", "TimeGenerated", "9 events"},
		{"time field", "", []string{"parse", "--time-field", "EventTime", v1}, 9, "EventTime", "TimeGenerated", "9 events"},
		{"flags after files", "", []string{"parse", v1, "-schema=seed"}, 9, "AllowOrDeny", "FlowStatus", "9 events"},
		{"two files", "", []string{"parse", v1, v4}, 28, "EventId", "DateTime", "2 file(s), 3 records, 28 events"},
		{"stdin", string(single), []string{"parse", "-"}, 2, "AclId", "NsgName", "1 file(s), 1 records, 2 events"},
		{"quiet", "", []string{"parse", "--quiet", v1}, 9, "EventId", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runNsgflow(t, tc.stdin, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			rows := decodeNDJSON(t, out)
			if len(rows) != tc.rows {
				t.Fatalf("%d rows, want %d", len(rows), tc.rows)
			}
			for _, r := range rows {
				if _, ok := r[tc.column]; !ok {
					t.Fatalf("row without %s: %v", tc.column, r)
				}
				if _, ok := r[tc.absent]; ok && tc.absent != "" {
					t.Fatalf("row with %s: %v", tc.absent, r)
				}
			}
			if tc.inStderr == "" && errs != "" {
				t.Errorf("stderr not empty: %q", errs)
			}
			if !strings.Contains(errs, tc.inStderr) {
				t.Errorf("stderr %q does not contain %q", errs, tc.inStderr)
			}
		})
	}
}

func TestParseSkipsAndErrors(t *testing.T) {
	td := func(name string) string { return filepath.Join("testdata", name) }
	v1 := filepath.Join(sharedSamplesDir, "msdocs-nsg-v1-fabrikam-2017.json")
	cases := []struct {
		name     string
		args     []string
		code     int
		rows     int
		inStderr []string
	}{
		{"bad tuples are skipped", []string{"parse", td("parse-bad-tuple.ndjson")}, 0, 3,
			[]string{"2 records, 3 events; skipped 0 records, 2 tuples", "tuple-field-count=1", "tuple-bad-field=1", "port is not a number", "notaport"}},
		{"missing file", []string{"parse", td("no-such-file.json")}, 1, 0,
			[]string{"no-such-file.json: no such file", "nothing parsed"}},
		{"not json", []string{"parse", td("parse-not-json.csv")}, 1, 0,
			[]string{"parse-not-json.csv: input is not flow-log JSON", "nothing parsed"}},
		{"zero records", []string{"parse", td("parse-empty-records.json")}, 1, 0,
			[]string{"parse-empty-records.json: no flow-log records found", "nothing parsed"}},
		{"one good one missing", []string{"parse", v1, td("no-such-file.json")}, 1, 9,
			[]string{"no such file", "2 file(s) (1 failed), 2 records, 9 events"}},
		{"no files", []string{"parse"}, 2, 0, []string{"no input", "usage: nsgflow parse"}},
		{"bad schema", []string{"parse", "--schema", "wide", v1}, 2, 0, []string{`unknown schema "wide"`}},
		{"bad flag", []string{"parse", "--frobnicate", v1}, 2, 0, []string{"flag provided but not defined: -frobnicate", "-time-field"}},
		{"help", []string{"parse", "-h"}, 0, 0, []string{"usage: nsgflow parse", "-schema"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runNsgflow(t, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, errs)
			}
			if rows := decodeNDJSON(t, out); len(rows) != tc.rows {
				t.Errorf("%d rows, want %d", len(rows), tc.rows)
			}
			for _, s := range tc.inStderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr %q does not contain %q", errs, s)
				}
			}
		})
	}
}

func TestTopLevel(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		inStderr string
	}{
		{nil, 2, "commands:"},
		{[]string{"help"}, 0, "parse"},
		{[]string{"help", "gen"}, 0, "usage: nsgflow gen"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
	}
	for _, tc := range cases {
		code, _, errs := runNsgflow(t, "", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.inStderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.inStderr)
		}
	}
}

// BenchmarkParseCommand measures the whole parse command on a generated VNet
// blob (60 records of 500 tuples), output discarded: MB/s of input and
// allocations per run (constant, not per event).
func BenchmarkParseCommand(b *testing.B) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{Seed: 1, RecordsPerHour: 60, TuplesPerRecord: 500, IPv6Share: 0.1}, 0)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "PT1H.json")
	data := blob.Bytes()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if code := runParse([]string{"--quiet", path}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64(blob.Tuples), "events/op")
}
