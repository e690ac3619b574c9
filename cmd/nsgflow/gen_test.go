package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowgen"
)

// genBlobFiles lists the PT1H.json files under dir/container, sorted.
func genBlobFiles(t *testing.T, dir, container string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, container), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "PT1H.json" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return files
}

var genSummaryRE = regexp.MustCompile(`wrote (\d+) blobs under .*: (\d+) records, (\d+) tuples, (\d+) bytes`)

// genNumbers returns blobs, records, tuples and bytes from gen's summary.
func genNumbers(t *testing.T, out string) [4]int {
	t.Helper()
	m := genSummaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n
}

func TestGenWritesParsableBlobs(t *testing.T) {
	cases := []struct {
		format, container string
		args              []string
		blobs, tuples     int
	}{
		{"nsg1", flowgen.ContainerNSG, []string{"--resources", "2", "--hours", "2", "--records-per-hour", "3", "--tuples-per-record", "4"}, 4, 48},
		{"nsg2", flowgen.ContainerNSG, []string{"--macs", "3", "--records-per-hour", "5", "--tuples-per-record", "2", "--state-mix", "1,1,1,0"}, 3, 30},
		{"vnet4", flowgen.ContainerVNet, []string{"--hours", "3", "--records-per-hour", "2", "--tuples-per-record", "7", "--ipv6-share", "0.5", "--rules", "4", "--long-rule-names"}, 3, 42},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"gen", "--out", dir, "--format", tc.format, "--start", "2026-11-26T09:00:00Z"}, tc.args...)
			code, out, errs := runNsgflow(t, "", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			n := genNumbers(t, out)
			if n[0] != tc.blobs || n[2] != tc.tuples {
				t.Errorf("summary says %d blobs %d tuples, want %d and %d", n[0], n[2], tc.blobs, tc.tuples)
			}
			files := genBlobFiles(t, dir, tc.container)
			if len(files) != tc.blobs {
				t.Fatalf("%d blob files under %s, want %d", len(files), tc.container, tc.blobs)
			}
			total := 0
			for _, f := range files {
				if !strings.Contains(filepath.ToSlash(f), "/y=2026/m=11/d=26/h=") {
					t.Errorf("blob path %s has no hour segments", f)
				}
				st, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				total += int(st.Size())
			}
			if total != n[3] {
				t.Errorf("files hold %d bytes, summary says %d", total, n[3])
			}
			// The parse command reads them all back, one row per tuple.
			code, rows, perrs := runNsgflow(t, "", append([]string{"parse"}, files...)...)
			if code != 0 || len(decodeNDJSON(t, rows)) != tc.tuples {
				t.Errorf("parse: exit %d, %d rows, want %d: %s", code, len(decodeNDJSON(t, rows)), tc.tuples, perrs)
			}
			if !strings.Contains(perrs, "skipped 0 records, 0 tuples") {
				t.Errorf("parse summary: %s", perrs)
			}
		})
	}
}

func TestGenBlocks(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runNsgflow(t, "", "gen", "--out", dir, "--format", "nsg2", "--records-per-hour", "4", "--tuples-per-record", "3", "--blocks")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "(+6 block files)") {
		t.Errorf("summary %q does not count 6 block files", out)
	}
	files := genBlobFiles(t, dir, flowgen.ContainerNSG)
	if len(files) != 1 {
		t.Fatalf("%d blobs", len(files))
	}
	blob, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, files[0])
	bdir := filepath.Join(dir, "blocks", strings.TrimSuffix(rel, ".json")+".blocks")
	raw, err := os.ReadFile(filepath.Join(bdir, "blocklist.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list genBlockList
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("blocklist.json: %v", err)
	}
	if len(list.CommittedBlocks) != 6 || list.TotalSize != int64(len(blob)) || list.Tuples != 12 {
		t.Fatalf("blocklist: %d blocks, size %d (blob %d), %d tuples", len(list.CommittedBlocks), list.TotalSize, len(blob), list.Tuples)
	}
	if list.Source != filepath.ToSlash(rel) {
		t.Errorf("source %q, want %q", list.Source, filepath.ToSlash(rel))
	}
	var joined []byte
	for i, b := range list.CommittedBlocks {
		data, err := os.ReadFile(filepath.Join(bdir, b.File))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != b.Size || b.Index != i {
			t.Errorf("block %d: file %s has %d bytes, list says %d", i, b.File, len(data), b.Size)
		}
		if len(b.BlockIDDecoded) != 33 || len(b.BlockID) != len(list.CommittedBlocks[0].BlockID) {
			t.Errorf("block %d id %q (%q)", i, b.BlockID, b.BlockIDDecoded)
		}
		joined = append(joined, data...)
	}
	if !bytes.Equal(joined, blob) {
		t.Error("blocks concatenated differ from the blob")
	}
	if string(joined[:12]) != `{"records":[` {
		t.Errorf("first block %q", joined[:12])
	}
}

func TestGenDeterministic(t *testing.T) {
	read := func(seed string) []byte {
		dir := t.TempDir()
		if code, _, errs := runNsgflow(t, "", "gen", "--out", dir, "--seed", seed, "--records-per-hour", "3"); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		files := genBlobFiles(t, dir, flowgen.ContainerVNet)
		if len(files) != 1 {
			t.Fatalf("%d blobs", len(files))
		}
		b, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := read("9"), read("9"), read("10")
	if !bytes.Equal(a, b) {
		t.Error("same seed, different bytes")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same bytes")
	}
}

func TestGenStartNow(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runNsgflow(t, "", "gen", "--out", dir, "--start", "now", "--hours", "2", "--records-per-hour", "1", "--tuples-per-record", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := genNumbers(t, out); n[0] != 2 {
		t.Errorf("%d blobs, want 2", n[0])
	}
}

func TestGenBadArguments(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"no out", []string{"gen"}, 2, "--out DIR is required"},
		{"format", []string{"gen", "--out", dir, "--format", "nsg3"}, 2, `unknown format "nsg3"`},
		{"state mix", []string{"gen", "--out", dir, "--state-mix", "1,2,3"}, 2, "want 4 comma-separated weights"},
		{"start", []string{"gen", "--out", dir, "--start", "yesterday"}, 2, "want RFC 3339"},
		{"hours", []string{"gen", "--out", dir, "--hours", "0"}, 2, "--hours must be at least 1"},
		{"rules", []string{"gen", "--out", dir, "--rules", "1"}, 2, "--rules must be at least 2"},
		{"ipv6", []string{"gen", "--out", dir, "--ipv6-share", "2"}, 2, "IPv6Share must be in [0,1]"},
		{"positional", []string{"gen", "--out", dir, "extra"}, 2, `unexpected argument "extra"`},
		{"bad int", []string{"gen", "--out", dir, "--resources", "many"}, 2, "invalid value"},
		{"unwritable", []string{"gen", "--out", filepath.Join("testdata", "parse-empty-records.json", "x")}, 1, "creating folder for blob"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runNsgflow(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.inStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.inStderr)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad arguments wrote %d entries into %s", len(entries), dir)
	}
}
