package flowparse_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/schema.md from the current code")

// nsgRecord writes a one-tuple NSG v2 record.
func nsgRecord(resource, mac, rule, tuple string) string {
	return `{"time":"2026-11-26T09:01:00Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"` + resource +
		`","properties":{"Version":2,"flows":[{"rule":"` + rule + `","flows":[{"mac":"` + mac + `","flowTuples":["` + tuple + `"]}]}]}}`
}

// vnetRecord writes a one-tuple VNet record.
func vnetRecord(flowLog, mac, rule, tuple string) string {
	return `{"time":"2026-11-26T09:01:00Z","flowLogVersion":4,"macAddress":"` + mac + `","category":"FlowLogFlowEvent","flowLogResourceID":"` + flowLog +
		`","targetResourceID":"","flowRecords":{"flows":[{"aclID":"a","flowGroups":[{"rule":"` + rule + `","flowTuples":["` + tuple + `"]}]}]}}`
}

// eventIDOf returns the EventId of the only tuple in record.
func eventIDOf(t *testing.T, record string) string {
	t.Helper()
	r := run([]byte(record), nil, viaRecord)
	if len(r.rows) != 1 {
		t.Fatalf("%d rows (skips %+v) from %s", len(r.rows), r.skips, record)
	}
	return decodeRows(t, r.rows)[0]["EventId"].(string)
}

// TestEventID checks what EventId promises: equal for the same tuple however
// it is spelled (MAC case and separators, escapes), different when resource,
// MAC, rule or tuple differ, including shifts of bytes between fields.
func TestEventID(t *testing.T) {
	const (
		res  = testNSG
		mac  = "000D3AF87856"
		rule = "UserRule_allow-https"
		tup  = "1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,3,180,2,120"
		tup2 = "1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,3,180,2,121"
		vtup = "1795683600123,10.0.0.4,203.0.113.1,50001,443,6,O,E,X,3,180,2,120"
	)
	base := eventIDOf(t, nsgRecord(res, mac, rule, tup))
	same := map[string]string{
		"mac lower case with dashes": nsgRecord(res, "00-0d-3a-f8-78-56", rule, tup),
		"mac with colons":            nsgRecord(res, "00:0D:3A:F8:78:56", rule, tup),
		"escaped rule and tuple":     nsgRecord(res, mac, `UserRule_\u0061llow-https`, `\u0031795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,3,180,2,120`),
		"escaped slashes in id":      nsgRecord(strings.ReplaceAll(res, "/", `\/`), mac, rule, tup),
	}
	for name, rec := range same {
		if got := eventIDOf(t, rec); got != base {
			t.Errorf("%s: EventId %s, want %s", name, got, base)
		}
	}
	differ := map[string]string{
		"other resource":                nsgRecord(res+"2", mac, rule, tup),
		"other mac":                     nsgRecord(res, "000D3AF87857", rule, tup),
		"other rule":                    nsgRecord(res, mac, rule+"2", tup),
		"other tuple":                   nsgRecord(res, mac, rule, tup2),
		"byte moved from rule to tuple": nsgRecord(res, mac, rule+"1", tup[1:]),
		"byte moved from mac to rule":   nsgRecord(res, mac[:11], "6"+rule, tup),
		"resource case":                 nsgRecord(strings.ToLower(res), mac, rule, tup),
	}
	seen := map[string]string{base: "base"}
	for name, rec := range differ {
		got := eventIDOf(t, rec)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: EventId %s equals that of %s", name, got, prev)
		}
		seen[got] = name
	}
	// VNet: the record's MAC takes part the same way.
	fl := "/SUBSCRIPTIONS/22222222-2222-2222-2222-222222222222/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NW/FLOWLOGS/FL"
	v1 := eventIDOf(t, vnetRecord(fl, "00-0d-3a-f8-78-56", rule, vtup))
	if v2 := eventIDOf(t, vnetRecord(fl, mac, rule, vtup)); v1 != v2 {
		t.Errorf("VNet MAC spelling changes EventId: %s vs %s", v1, v2)
	}
	if v3 := eventIDOf(t, vnetRecord(fl, "000D3AF87857", rule, vtup)); v3 == v1 {
		t.Errorf("VNet MAC does not take part in EventId")
	}
}

// TestEventIDUnique checks that across all samples two rows share an EventId
// only when they come from the same resource, MAC, rule and tuple (the Sumo
// Logic VNet capture repeats records: those are the duplicates to drop).
func TestEventIDUnique(t *testing.T) {
	byID := map[string]string{}
	dups := 0
	for _, sc := range sampleCases {
		recs := decodeRecords(t, readSample(t, sc.file), false)
		for ri, rec := range recs {
			raw, _ := json.Marshal(rec)
			r := run(raw, nil, viaRecord)
			for i, row := range decodeRows(t, r.rows) {
				// What identifies a flow: everything but the record's own time.
				delete(row, "RecordTime")
				id := row["EventId"].(string)
				key := fmt.Sprint(row)
				if prev, ok := byID[id]; ok {
					if prev != key {
						t.Errorf("%s record %d row %d: EventId %s collides with a different row", sc.file, ri, i, id)
					}
					dups++
					continue
				}
				byID[id] = key
			}
		}
	}
	// 372 tuples, 287 distinct (resource, MAC, rule, tuple) keys, counted
	// from the sample text.
	if len(byID) != 287 || dups != 372-287 {
		t.Errorf("%d distinct EventIds and %d repeats, want 287 and 85", len(byID), dups)
	}
}

// goldenSamples are pinned byte for byte: any change to the encoder or to the
// (frozen) EventId hash shows up here. Run go test -update to accept one.
var goldenSamples = []string{
	"msdocs-nsg-v1-fabrikam-2017.json",
	"msdocs-nsg-v2-fabrikam-2018.json",
	"elastic-vnet-v4-testdata.json",
}

func TestGoldenRows(t *testing.T) {
	for _, f := range goldenSamples {
		for _, s := range flowparse.Schemas {
			name := strings.TrimSuffix(f, ".json") + "." + s.Name + ".ndjson"
			t.Run(name, func(t *testing.T) {
				r := run(readSample(t, f), s, viaBlob)
				got := append(bytes.Join(r.rows, []byte("\n")), '\n')
				path := filepath.Join("testdata", "golden", name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read golden file (run go test -update to create it): %v", err)
				}
				gotLines, wantLines := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
				equalRows(t, gotLines, wantLines)
			})
		}
	}
}
