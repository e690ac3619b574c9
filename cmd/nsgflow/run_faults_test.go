package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowgen"
)

// startRunEmulatorWith starts an emulator with the given faults.
func startRunEmulatorWith(t *testing.T, f emulator.Faults) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{BearerToken: runTestToken, Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestRunPoisonRow: the destination refuses one chosen row with 400 each
// time it sees it. Every other row is stored once, the refused row is in
// the dead-letter file with Azure's reason, its range is acknowledged (the
// blobs are marked done) and a second run sends nothing.
func TestRunPoisonRow(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 4, TuplesPerRecord: 500,
		Seed: 1010, Start: time.Now().UTC().Add(-4 * time.Hour)}
	datas, blobs := uploadSet(t, svc, o)
	want := expectedIDs(t, datas...)
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	poison := ids[len(ids)/2]
	delete(want, poison)
	em := startRunEmulatorWith(t, emulator.Faults{RefuseRowsWith: poison})
	cp := t.TempDir()
	dead := filepath.Join(t.TempDir(), "dead.ndjson")
	args := append(runArgs(t, az, em, cp, blobs...), "--once", "--done-marker", "--dead-letter-file", dead)
	var errb bytes.Buffer
	code := runRun(context.Background(), args, &bytes.Buffer{}, &errb)
	t.Logf("nsgflow run: %s", errb.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	compareIDs(t, want, gotIDs(t, em))
	if !strings.Contains(errb.String(), " 1 refused alone,") {
		t.Errorf("summary does not count the refused row")
	}
	f, err := os.Open(dead)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	f.Close()
	if len(lines) != 1 {
		t.Fatalf("%d dead-letter lines, want 1", len(lines))
	}
	row, _ := lines[0]["row"].(map[string]any)
	if row["EventId"] != poison || lines[0]["status"] != 400.0 || !strings.Contains(lines[0]["reason"].(string), "InvalidPayload") {
		t.Errorf("dead-letter line %v", lines[0])
	}
	for _, b := range blobs {
		if !hasDoneMarker(t, svc, b.Container, b.Name) {
			t.Errorf("blob %s has no done marker", b.Name)
		}
	}
	before := em.Stats().RowsTotal
	errb.Reset()
	if code := runRun(context.Background(), args, &bytes.Buffer{}, &errb); code != 0 {
		t.Fatalf("second run exit %d: %s", code, errb.String())
	}
	if after := em.Stats().RowsTotal; after != before || !strings.Contains(errb.String(), " 0 events;") {
		t.Errorf("second run stored %d more rows: %s", after-before, errb.String())
	}
}
