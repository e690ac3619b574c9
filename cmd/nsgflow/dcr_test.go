package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDCRCommand(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		status     int
		sameAsFile string // committed template the output must equal
		contains   []string
		stderr     string
	}{
		{name: "default", args: nil, sameAsFile: "nsgflow-default.json"},
		{name: "default explicit", args: []string{"--schema", "default", "--format", "arm"}, sameAsFile: "nsgflow-default.json"},
		{name: "seed", args: []string{"--schema", "seed"}, sameAsFile: "nsgflow-seed.json"},
		{name: "bicep", args: []string{"--format", "bicep"}, sameAsFile: "nsgflow-default.bicep"},
		{name: "seed bicep", args: []string{"--schema", "seed", "--format", "bicep"}, sameAsFile: "nsgflow-seed.bicep"},
		{name: "custom table", args: []string{"--table", "Flows_CL"},
			contains: []string{`"Custom-Flows"`, `"Custom-Flows_CL"`, `"tableName": "Flows_CL"`}},
		{name: "asim", args: []string{"--schema", "asim"}, sameAsFile: "nsgflow-asim.json",
			contains: []string{`"outputStream": "Microsoft-ASimNetworkSessionLogs"`, `"Custom-NsgFlowAsim"`}},
		{name: "asim bicep", args: []string{"--schema", "asim", "--format", "bicep"}, sameAsFile: "nsgflow-asim.bicep"},
		{name: "asim with table", args: []string{"--schema", "asim", "--table", "Flows"}, status: 2, stderr: "--table does not apply to schema asim"},
		{name: "bad schema", args: []string{"--schema", "nope"}, status: 2, stderr: "unknown schema"},
		{name: "bad table", args: []string{"--table", "no spaces"}, status: 2, stderr: "table name"},
		{name: "bad format", args: []string{"--format", "terraform"}, status: 2, stderr: "--format"},
		{name: "stray argument", args: []string{"extra"}, status: 2, stderr: "unexpected argument"},
		{name: "help", args: []string{"-h"}, status: 0, stderr: "usage: nsgflow dcr"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(append([]string{"dcr"}, c.args...), &stdout, &stderr)
			if status != c.status {
				t.Fatalf("status %d, want %d; stderr: %s", status, c.status, stderr.String())
			}
			if c.stderr != "" && !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), c.stderr)
			}
			if c.status != 0 && stdout.Len() != 0 {
				t.Errorf("failed command wrote to stdout: %q", stdout.String())
			}
			if c.status != 0 || c.stderr != "" { // errors and -h print no template
				return
			}
			if !strings.HasSuffix(c.sameAsFile, ".bicep") && !json.Valid(stdout.Bytes()) {
				t.Fatalf("output is not JSON:\n%s", stdout.String())
			}
			if c.sameAsFile != "" {
				want, err := os.ReadFile(filepath.Join("..", "..", "deploy", c.sameAsFile))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(stdout.Bytes(), want) {
					t.Errorf("output differs from deploy/%s", c.sameAsFile)
				}
			}
			for _, s := range c.contains {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("output lacks %s", s)
				}
			}
		})
	}
}

func TestDCRCommandWritesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.json")
	var stdout, stderr bytes.Buffer
	if status := run([]string{"dcr", "--schema", "seed", "-o", path}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("-o still wrote to stdout")
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nsgflow-seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("file differs from deploy/nsgflow-seed.json")
	}
	if status := run([]string{"dcr", "-o", filepath.Join(path, "not-a-dir", "x.json")}, &stdout, &stderr); status != 1 {
		t.Errorf("unwritable -o: status %d, want 1", status)
	}
}
