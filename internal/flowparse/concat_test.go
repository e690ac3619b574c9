package flowparse_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// Two blobs back to back (cat a/PT1H.json b/PT1H.json) expand fully, with no
// skip for the second blob's wrapper; a nested blob inside records still is one.
func TestConcatenatedBlobs(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "samples")
	a, err := os.ReadFile(filepath.Join(dir, "msdocs-nsg-v1-fabrikam-2017.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "elastic-vnet-v4-testdata.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		in         []byte
		tuples     int64
		notRecords int64
	}{
		{"two blobs", append(append([]byte{}, a...), b...), 9 + 19, 0},
		{"blob, newline, blob", append(append(append([]byte{}, a...), '\n'), b...), 9 + 19, 0},
		{"nested blob stays a skip", []byte(`{"records":[{"records":[]}]}`), 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p flowparse.Parser
			p.OnEvent = func(*flowparse.Event) {}
			if err := p.Parse(c.in); err != nil {
				t.Fatal(err)
			}
			if p.Stats.Tuples != c.tuples || p.Stats.Skipped(flowparse.SkipNotRecord) != c.notRecords {
				t.Fatalf("tuples %d, not-a-record skips %d; want %d, %d", p.Stats.Tuples, p.Stats.Skipped(flowparse.SkipNotRecord), c.tuples, c.notRecords)
			}
		})
	}
}

// A TimeField that needs escaping still yields valid JSON.
func TestTimeFieldEscaped(t *testing.T) {
	rec := []byte(`{"time":"2017-02-16T22:00:32Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/R/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N","properties":{"Version":1,"flows":[{"rule":"r","flows":[{"mac":"00-0D-3A-F8-80-1A","flowTuples":["1487282421,1.2.3.4,10.1.0.4,51529,5358,T,I,D"]}]}]}}`)
	for _, s := range flowparse.Schemas {
		enc := flowparse.NewEncoder(s)
		enc.TimeField = `Time"Of\Flow`
		var out []byte
		p := flowparse.Parser{OnEvent: func(e *flowparse.Event) { out = enc.Append(out, e) }}
		if err := p.Record(rec); err != nil {
			t.Fatal(err)
		}
		var row map[string]any
		if err := json.Unmarshal(out, &row); err != nil {
			t.Fatalf("%s: invalid JSON %s: %v", s.Name, out, err)
		}
		if _, ok := row[`Time"Of\Flow`]; !ok {
			t.Fatalf("%s: time column missing in %s", s.Name, out)
		}
	}
}
