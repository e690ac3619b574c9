package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/testkit/asimcheck"
)

// TestSendAsim: `nsgflow send` with schema asim and stream Custom-NsgFlowAsim
// delivers every tuple of every sample into the emulator's strict
// ASimNetworkSessionLogs, each stored row a valid ASIM NetworkSession row,
// and EventOriginalUid carries the same IDs `nsgflow parse` gives as EventId.
func TestSendAsim(t *testing.T) {
	srv := startSendEmulator(t, emulator.Faults{})
	dir := t.TempDir()
	s := liSettings(t, srv, dir)
	s["schema"], s["stream"] = "asim", emulator.AsimStream
	cfg := writeJSON(t, dir, "send.json", s)
	files, total := allSamples(t)
	code, _, errs := runNsgflow(t, "", append([]string{"send", "--config", cfg}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "372 events parsed, 372 accepted, 0 rejected,") || !strings.Contains(errs, " 0 not delivered;") {
		t.Fatalf("summary: %s", errs)
	}
	code, out, perr := runNsgflow(t, "", append([]string{"parse", "--quiet"}, files...)...)
	if code != 0 {
		t.Fatalf("parse: %s", perr)
	}
	want := map[string]int{}
	for _, r := range decodeNDJSON(t, out) {
		want[r["EventId"].(string)]++
	}
	raw, err := srv.RawRows()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	n := 0
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
			t.Fatalf("row in %v", row["_table"])
		}
		for _, err := range asimcheck.Row(row, true) {
			t.Errorf("row %d: %v", n, err)
		}
		id, _ := row["EventOriginalUid"].(string)
		got[id]++
		n++
	}
	if n != total {
		t.Fatalf("%d rows stored, want %d", n, total)
	}
	for id, c := range want {
		if got[id] != c {
			t.Errorf("EventId %s: %d rows with that EventOriginalUid, want %d", id, got[id], c)
		}
	}
}

// TestSendAsimDataCollectorRefused: the Data Collector API writes custom
// tables only, so schema asim with it is a configuration error naming both
// flags, and nothing is sent.
func TestSendAsimDataCollectorRefused(t *testing.T) {
	srv := startSendEmulator(t, emulator.Faults{})
	t.Setenv(envSharedKey, sendTestKey)
	files, _ := allSamples(t)
	code, _, errs := runNsgflow(t, "", append([]string{"send", "--destination", "data_collector", "--workspace-id", sendTestWorkspace,
		"--log-type", "NsgFlowAsim", "--endpoint", srv.URL(), "--schema", "asim"}, files[:1]...)...)
	if code != 2 || !strings.Contains(errs, "--schema asim writes the standard table ASimNetworkSessionLogs") || !strings.Contains(errs, "set --destination logs_ingestion") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if rows, _ := srv.Rows(); len(rows) != 0 {
		t.Errorf("%d rows sent", len(rows))
	}
}
