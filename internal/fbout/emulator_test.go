package fbout

import (
	"encoding/base64"
	"io"
	"testing"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/fblog"
)

// TestAgainstEmulator runs config → sink → pipeline against the in-process
// emulator for both APIs: all events once, RETRY while it is down, and the
// retried chunk adds no duplicates.
func TestAgainstEmulator(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("emulator-test-key-0123456789abcd"))
	srv, err := emulator.New(emulator.Config{SharedKey: key, BearerToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	tokFile := dir + "/tok"
	if err := writeFile(tokFile, "tok"); err != nil {
		t.Fatal(err)
	}
	chunk, events := bigChunk(t)
	tests := []struct {
		name  string
		cfg   MapConfig
		table string
		id    string // the column holding nsgflow's EventId; "EventId" when empty
	}{
		{"logs ingestion", MapConfig{"endpoint": srv.URL(), "dcr_id": emulator.DefaultDCRImmutableID, "stream": emulator.DefaultStream,
			"credential": "static", "token_file": tokFile, "max_retries": "0", "max_body_bytes": "8192"}, "NsgFlow_CL", ""},
		{"data collector", MapConfig{"destination": "data_collector", "endpoint": srv.URL(), "workspace_id": emulator.DefaultWorkspaceID,
			"shared_key": key, "log_type": "PipeTest", "max_retries": "0", "azure_resource_id": "on"}, "PipeTest_CL", ""},
		{"logs ingestion asim", MapConfig{"schema": "asim", "endpoint": srv.URL(), "dcr_id": emulator.DefaultDCRImmutableID, "stream": emulator.AsimStream,
			"credential": "static", "token_file": tokFile, "max_retries": "0", "max_body_bytes": "8192"}, "ASimNetworkSessionLogs", "EventOriginalUid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			log := &fblog.Logger{W: io.Discard, Level: cfg.LogLevel, Prefix: LogPrefix("nsgflow.0")}
			sink, err := cfg.NewSink(log)
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(cfg.Options(sink, log, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(cfg.Grace)
			if err := srv.SetDown(true); err != nil {
				t.Fatal(err)
			}
			if got := p.Flush(chunk, "flow"); got != Retry {
				t.Fatalf("flush while down = %v, want RETRY", got)
			}
			if err := srv.SetDown(false); err != nil {
				t.Fatal(err)
			}
			if got := p.Flush(chunk, "flow"); got != OK {
				t.Fatalf("flush = %v, want OK", got)
			}
			rows, err := srv.Rows()
			if err != nil {
				t.Fatal(err)
			}
			var mine []emulator.Row
			for _, r := range rows {
				if r.Table() == tc.table {
					mine = append(mine, r)
				}
			}
			idCol := tc.id
			if idCol == "" {
				idCol = "EventId"
			}
			ids := emulator.CountIDs(mine, idCol)
			if ids.Rows != events || ids.Missing != 0 || ids.Duplicates != 0 {
				t.Fatalf("%d rows (%d without EventId, %d duplicates), want %d once each", ids.Rows, ids.Missing, ids.Duplicates, events)
			}
			for _, r := range mine {
				for k := range r {
					if len(k) > 9 && k[:9] == checkpoint.ProvenancePrefix {
						t.Fatalf("row carries %s", k)
					}
				}
			}
		})
	}
}
