package flowparse_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// wantSkip is one expected skip: kind, record and tuple index, and a piece
// of the reason.
type wantSkip struct {
	kind   flowparse.SkipKind
	record int
	tuple  int
	reason string
}

// badCase is one awkward input with every count it must produce.
type badCase struct {
	name    string
	file    string // in testdata/input; or
	text    string // an inline input when file is empty
	parse   parseFunc
	wantErr error

	records, recordsSkipped, tuples, tuplesSkipped int64
	skips                                          []wantSkip
	// rows holds columns to check on chosen rows (by index); a nil value
	// means the column must be absent.
	rows map[int]map[string]any
}

const (
	testNSG  = "/SUBSCRIPTIONS/11111111-1111-1111-1111-111111111111/RESOURCEGROUPS/RG-TEST/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-TEST"
	bomBytes = "\xEF\xBB\xBF"
)

var badCases = []badCase{
	{name: "not JSON", text: "flow logs are not here\n", parse: viaBlob, wantErr: flowparse.ErrNotFlowLog,
		skips: []wantSkip{{flowparse.SkipMalformed, -1, -1, "does not start with"}}},
	{name: "JSON null", text: "null", parse: viaBlob, wantErr: flowparse.ErrNotFlowLog,
		skips: []wantSkip{{flowparse.SkipMalformed, -1, -1, "does not start with"}}},
	{name: "JSON string", text: `"records"`, parse: viaRecord, wantErr: flowparse.ErrNotFlowLog,
		skips: []wantSkip{{flowparse.SkipMalformed, -1, -1, "does not start with"}}},
	{name: "empty", text: "", parse: viaBlob},
	{name: "blank lines", text: "\n\r\n  \n", parse: viaNDJSON},
	{name: "BOM only", text: bomBytes, parse: viaBlob},
	{name: "empty blob", text: `{"records":[]}`, parse: viaBlob},
	{name: "empty array", text: `[ ]`, parse: viaBlob},
	{name: "tail-only range", text: `]}`, parse: viaRange},
	{name: "empty object", text: `{}`, parse: viaRecord, recordsSkipped: 1,
		skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, "record 0 at offset 0: no \"properties\" or \"flowRecords\""}}},
	{name: "properties without flows", parse: viaRecord, recordsSkipped: 0, records: 1,
		text:  `{"time":"t","category":"NetworkSecurityGroupFlowEvent","resourceId":"` + testNSG + `","properties":{"Version":2,"flows":{}}}`,
		skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, `record 0 at offset 0: properties has no "flows" array`}}},
	{name: "flowRecords without flows", parse: viaRecord, records: 1,
		text:  `{"time":"t","flowLogVersion":4,"flowRecords":{"flow":[]}}`,
		skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, `record 0 at offset 0: flowRecords has no "flows" array`}}},
	{name: "record without properties", file: "bad-not-a-record.json", parse: viaBlob,
		records: 1, recordsSkipped: 1, tuples: 2,
		skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, "record 0 at offset 13: no \"properties\""}},
		rows:  map[int]map[string]any{0: {"TimeGenerated": "2026-11-26T09:00:01.000Z", "NsgName": "NSG-TEST"}}},
	{name: "malformed record then a good one", file: "bad-malformed-record.json", parse: viaBlob,
		records: 1, recordsSkipped: 1, tuples: 2,
		skips: []wantSkip{{flowparse.SkipMalformed, 0, -1, `record 0 at offset 13: bad literal "nope"`}}},
	{name: "nested blob inside records", file: "nested-blob.json", parse: viaBlob,
		// The wrapper is skipped; the parser resynchronises on the first
		// complete record inside it, so no flow is lost.
		records: 2, recordsSkipped: 1, tuples: 3,
		skips: []wantSkip{{flowparse.SkipNotRecord, 0, -1, "record 0 at offset 13: a \"records\" array inside a record (nested blob)"}},
		rows: map[int]map[string]any{
			0: {"DestIp": "203.0.113.1"},
			2: {"DestIp": "203.0.113.3"},
		}},
	{name: "tuples with the wrong field count", file: "tuple-field-count.json", parse: viaBlob,
		records: 3, tuples: 6, tuplesSkipped: 5,
		skips: []wantSkip{
			{flowparse.SkipFieldCount, 0, 1, `record 0, rule "UserRule_allow-https", tuple 1 "1795683600,10.0.0.4,203.0.113.9,50009,443,T,O,A,E,3,180,2": has 12 fields, want 13`},
			{flowparse.SkipFieldCount, 0, 3, `tuple 3 "1795683600,10.0.0.4,203.0.113.9,50009,443,T,O,A": has 8 fields, want 13`},
			{flowparse.SkipFieldCount, 0, 5, `record 0, rule "UserRule_allow-https", tuple 5 "1795683604,`},
			{flowparse.SkipFieldCount, 1, 0, `record 1, rule "UserRule_allow-https", tuple 0 "1795683600,10.0.0.4,203.0.113.9,50009,443,T,O,A,E": has 9 fields, want 8`},
			{flowparse.SkipFieldCount, 2, 1, `record 2, rule "DefaultRule_AllowInternetOutBound", tuple 1 "1795683600000,10.0.0.4,203.0.113.9,50009,443,6,O,E,X,3,180,2": has 12 fields, want 13`},
		},
		rows: map[int]map[string]any{
			// record 0 keeps tuples 0, 2 and 4; record 1 keeps its 8-field one.
			1: {"DestIp": "203.0.113.2"},
			2: {"DestIp": "203.0.113.3"},
			3: {"DestIp": "203.0.113.8", "FlowLogVersion": n(1), "FlowState": nil},
			4: {"DestIp": "203.0.113.1", "FlowLogVersion": n(4)},
		}},
	{name: "tuples with bad fields", file: "tuple-bad-fields.json", parse: viaBlob,
		records: 1, tuples: 2, tuplesSkipped: 8,
		skips: []wantSkip{
			{flowparse.SkipBadField, 0, 0, `record 0, rule "UserRule_allow-https", tuple 0: not a string`},
			{flowparse.SkipBadField, 0, 2, `tuple 2 "1795683600,10.0.0.4,203.0.113.9,http,443,`},
			{flowparse.SkipBadField, 0, 2, "port is not a number"},
			{flowparse.SkipBadField, 0, 3, "port is not a number"},
			{flowparse.SkipBadField, 0, 4, "port is not a number"},
			{flowparse.SkipBadField, 0, 5, "time is not a number"},
			{flowparse.SkipBadField, 0, 6, "empty IP address"},
			{flowparse.SkipBadField, 0, 7, "empty protocol"},
			{flowparse.SkipBadField, 0, 8, `record 0, rule "UserRule_allow-https", tuple 8 "1795683600,10.0.0.4,203.0.113.9,50009,443,T,O,A,E,3,many,`},
			{flowparse.SkipBadField, 0, 8, "counter is not a number"},
		},
		rows: map[int]map[string]any{0: {"DestIp": "203.0.113.1"}, 1: {"DestIp": "203.0.113.2"}}},
	{name: "record cut in the middle, more records after", file: "truncated-middle.json", parse: viaRange,
		records: 3, recordsSkipped: 1, tuples: 5,
		skips: []wantSkip{{flowparse.SkipMalformed, 1, -1, "record 1 at offset 616: expected ',' or ']'"}},
		rows: map[int]map[string]any{
			1: {"DestIp": "203.0.113.2", "RecordTime": "2026-11-26T09:01:00.0000000Z"},
			2: {"DestIp": "203.0.113.6", "RecordTime": "2026-11-26T09:03:00.0000000Z"},
			4: {"DestIp": "203.0.113.8", "RecordTime": "2026-11-26T09:04:00.0000000Z"},
		}},
	{name: "blob cut inside its last record", file: "truncated-end.json", parse: viaBlob,
		records: 1, recordsSkipped: 1, tuples: 2,
		skips: []wantSkip{{flowparse.SkipTruncated, 1, -1, "record 1 at offset 616: unexpected end of input"}}},
	{name: "unknown enum values kept raw", file: "unknown-values.json", parse: viaBlob,
		records: 2, tuples: 5,
		rows: map[int]map[string]any{
			0: {"FlowDirection": "Z", "FlowStatus": "B", "FlowState": "X", "Protocol": "TCP", "PacketsSrcToDest": n(1), "BytesDestToSrc": n(4)},
			1: {"Protocol": "X", "ProtocolNumber": nil, "FlowDirection": "Inbound", "FlowStatus": "Allowed", "FlowState": "Begin", "PacketsSrcToDest": nil},
			2: {"FlowDirection": "Z", "FlowStatus": "Allowed", "FlowState": "X", "Encryption": "NX_SOMETHING_NEW", "MacAddress": "000D3AF87856"},
			3: {"Protocol": "ICMP", "ProtocolNumber": n(1), "SrcPort": nil, "DestPort": nil, "FlowState": "Begin", "PacketsSrcToDest": n(0)},
			4: {"Protocol": "47", "ProtocolNumber": n(47), "SrcPort": nil, "Encryption": "X", "PacketsSrcToDest": nil, "TimeGenerated": "2026-11-26T09:00:00.002Z"},
		}},
	{name: "IPv6", file: "ipv6.json", parse: viaBlob,
		records: 2, tuples: 2,
		rows: map[int]map[string]any{
			0: {"SrcIp": "2001:db8::4", "DestIp": "2001:db8:ffff::1", "SrcPort": n(50001), "DestPort": n(443)},
			1: {"SrcIp": "fe80::20d:3aff:fef8:7856", "DestIp": "2606:4700:4700::1111", "Protocol": "UDP", "DestPort": n(53)},
		}},
	{name: "escaped strings", file: "escaped.json", parse: viaBlob,
		records: 1, tuples: 1,
		rows: map[int]map[string]any{0: {
			"Rule":              "UserRule_Allow-\"quoted\"-back\\slash-café-😀-/x",
			"FlowLogResourceId": testNSG,
			"SubscriptionId":    "11111111-1111-1111-1111-111111111111",
			"NsgName":           "NSG-TEST",
			"TimeGenerated":     "2026-11-26T09:00:00.000Z",
			"EventId":           hexID,
		}}},
	{name: "NDJSON with CRLF, a blank line and a bad line", file: "records.ndjson", parse: viaNDJSON,
		records: 3, recordsSkipped: 1, tuples: 4,
		skips: []wantSkip{{flowparse.SkipMalformed, 1, -1, "record 1 at offset 543"}},
		rows: map[int]map[string]any{
			0: {"FlowLogVersion": n(2)},
			1: {"FlowLogVersion": n(4), "MacAddress": "000D3AF87856"},
			3: {"FlowLogVersion": n(2), "RecordTime": "2026-11-26T09:03:00.0000000Z"},
		}},
	{name: "ports with leading zeros", parse: viaRecord, records: 1, tuples: 2,
		// JSON numbers cannot start with 0: the ports must be written 443 and 0.
		text: `{"time":"t","category":"NetworkSecurityGroupFlowEvent","resourceId":"` + testNSG + `","properties":{"Version":2,"flows":[{"rule":"r","flows":[{"mac":"m","flowTuples":[` +
			`"1795683600,10.0.0.4,203.0.113.1,0050001,0443,T,O,A,E,3,180,2,120","1795683600,10.0.0.4,203.0.113.1,00,0,T,O,A,E,3,180,2,120"]}]}]}}`,
		rows: map[int]map[string]any{
			0: {"SrcPort": n(50001), "DestPort": n(443)},
			1: {"SrcPort": n(0), "DestPort": n(0)},
		}},
	{name: "tuple times out of range", parse: viaNDJSON, records: 4, tuples: 2, tuplesSkipped: 2,
		// NSG seconds that overflow when made milliseconds, and VNet
		// milliseconds past year 9999, must not become a wrong TimeGenerated.
		text: nsgRecord(testNSG, "m", "r", "9223372036854775807,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,3,180,2,120") + "\n" +
			nsgRecord(testNSG, "m", "r", "253402300799,10.0.0.4,203.0.113.2,50001,443,T,O,A,E,3,180,2,120") + "\n" +
			vnetRecord("fl", "m", "r", "253402300800000,10.0.0.4,203.0.113.3,50001,443,6,O,E,X,3,180,2,120") + "\n" +
			vnetRecord("fl", "m", "r", "253402300799999,10.0.0.4,203.0.113.4,50001,443,6,O,E,X,3,180,2,120") + "\n",
		skips: []wantSkip{
			{flowparse.SkipBadField, 0, 0, `record 0, rule "r", tuple 0 "9223372036854775807,`},
			{flowparse.SkipBadField, 0, 0, "time"},
			{flowparse.SkipBadField, 2, 0, `record 2, rule "r", tuple 0 "253402300800000,`},
			{flowparse.SkipBadField, 2, 0, "time"},
		},
		rows: map[int]map[string]any{
			0: {"TimeGenerated": "9999-12-31T23:59:59.000Z", "DestIp": "203.0.113.2"},
			1: {"TimeGenerated": "9999-12-31T23:59:59.999Z", "DestIp": "203.0.113.4"},
		}},
	{name: "NSG record without a version", parse: viaRecord, records: 1, tuples: 2,
		// The version is inferred from each tuple: 8 fields is v1, 13 is v2.
		text: `{"time":"t","category":"NetworkSecurityGroupFlowEvent","resourceId":"` + testNSG + `","properties":{"flows":[{"rule":"r","flows":[{"mac":"m","flowTuples":[` +
			`"1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A","1795683600,10.0.0.4,203.0.113.2,50001,443,T,O,A,E,3,180,2,120"]}]}]}}`,
		rows: map[int]map[string]any{
			0: {"FlowLogVersion": n(1), "FlowState": nil, "PacketsSrcToDest": nil},
			1: {"FlowLogVersion": n(2), "FlowState": "End", "PacketsSrcToDest": n(3)},
		}},
	{name: "stray value between records", parse: viaBlob, records: 1, recordsSkipped: 1, tuples: 1,
		text:  `{"records":[42,{"time":"t","category":"NetworkSecurityGroupFlowEvent","resourceId":"` + testNSG + `","properties":{"Version":2,"flows":[{"rule":"r","flows":[{"mac":"m","flowTuples":["1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,3,180,2,120"]}]}]}}]}`,
		skips: []wantSkip{{flowparse.SkipMalformed, 0, -1, "record 0: unexpected '4'"}}},
}

// TestBadInput checks that every awkward input gives counted skips with
// reasons naming the record and tuple, and that the rest is still expanded.
func TestBadInput(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.text)
			if tc.file != "" {
				data = readTestdata(t, "input/"+tc.file)
			}
			r := run(data, nil, tc.parse)
			if !errors.Is(r.err, tc.wantErr) || (tc.wantErr == nil && r.err != nil) {
				t.Errorf("error %v, want %v", r.err, tc.wantErr)
			}
			st := r.stats
			if st.Records != tc.records || st.RecordsSkipped != tc.recordsSkipped || st.Tuples != tc.tuples || st.TuplesSkipped != tc.tuplesSkipped {
				t.Errorf("records %d (skipped %d), tuples %d (skipped %d); want %d (%d), %d (%d)",
					st.Records, st.RecordsSkipped, st.Tuples, st.TuplesSkipped,
					tc.records, tc.recordsSkipped, tc.tuples, tc.tuplesSkipped)
			}
			if int64(len(r.rows)) != st.Tuples {
				t.Errorf("%d rows, Stats.Tuples %d", len(r.rows), st.Tuples)
			}
			checkSkips(t, r.skips, tc.skips)
			var total int64
			for _, k := range flowparse.Kinds() {
				total += st.Skipped(k)
			}
			if total != int64(len(r.skips)) {
				t.Errorf("Stats.ByKind sums to %d, OnSkip called %d times", total, len(r.skips))
			}
			decoded := decodeRows(t, r.rows)
			for i, cols := range tc.rows {
				if i >= len(decoded) {
					t.Errorf("row %d: only %d rows", i, len(decoded))
					continue
				}
				for k, want := range cols {
					got, ok := decoded[i][k]
					switch {
					case want == nil && ok:
						t.Errorf("row %d: %s = %#v, want absent", i, k, got)
					case isPattern(want):
						if gs, _ := got.(string); !want.(pattern).re.MatchString(gs) {
							t.Errorf("row %d: %s = %#v, want a match for %s", i, k, got, want.(pattern).re)
						}
					case want != nil && got != want:
						t.Errorf("row %d: %s = %#v, want %#v", i, k, got, want)
					}
				}
			}
		})
	}
}

// checkSkips matches skips in order; several wants may describe one skip
// (same kind, record and tuple) with different reason pieces.
func checkSkips(t *testing.T, got []flowparse.Skip, want []wantSkip) {
	t.Helper()
	g := -1
	for _, w := range want {
		// Advance to the next skip unless w describes the current one again.
		if g < 0 || !(got[g].Kind == w.kind && got[g].Record == w.record && got[g].Tuple == w.tuple) {
			g++
		}
		if g >= len(got) {
			t.Errorf("missing skip %s record %d tuple %d (%q)", w.kind, w.record, w.tuple, w.reason)
			return
		}
		s := got[g]
		if s.Kind != w.kind || s.Record != w.record || s.Tuple != w.tuple || !strings.Contains(s.Reason, w.reason) {
			t.Errorf("skip %d = %s record %d tuple %d %q;\n want %s record %d tuple %d containing %q",
				g, s.Kind, s.Record, s.Tuple, s.Reason, w.kind, w.record, w.tuple, w.reason)
		}
	}
	if extra := got[g+1:]; len(extra) > 0 {
		t.Errorf("%d unexpected skips, first %+v", len(extra), extra[0])
	}
}
