package flowparse_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// sampleCase is one shared sample file with the counts worked out from its
// text (see ../shared/samples/SOURCES.md).
type sampleCase struct {
	file    string
	parse   parseFunc
	records int64
	tuples  int64
	version int // FlowLogVersion of every row
}

var sampleCases = []sampleCase{
	{"sumologic-blob_fixtures.json", viaBlob, 8, 153, 2},
	{"sumologic-blob_fixtures_vnetflowlogs.json", viaBlob, 8, 166, 4},
	{"elastic-nsg-v2-testdata.json", viaBlob, 2, 11, 2},
	{"elastic-vnet-v4-testdata.json", viaBlob, 1, 19, 4},
	{"msdocs-nsg-v1-fabrikam-2017.json", viaBlob, 2, 9, 1},
	{"msdocs-nsg-v2-fabrikam-2018.json", viaBlob, 2, 11, 2},
	{"elastic-nsg-v2-single-record.ndjson", viaNDJSON, 1, 1, 2},
	{"elastic-vnet-v4-single-record.ndjson", viaNDJSON, 1, 2, 4},
}

// TestSampleCounts checks exact record and tuple counts, zero skips, and that
// every entry point that accepts the shape gives the same rows.
func TestSampleCounts(t *testing.T) {
	for _, tc := range sampleCases {
		t.Run(tc.file, func(t *testing.T) {
			data := readSample(t, tc.file)
			for _, s := range flowparse.Schemas {
				r := run(data, s, tc.parse)
				if r.err != nil {
					t.Fatalf("schema %s: error %v", s.Name, r.err)
				}
				st := r.stats
				if st.Records != tc.records || st.Tuples != tc.tuples {
					t.Errorf("schema %s: records/tuples = %d/%d, want %d/%d", s.Name, st.Records, st.Tuples, tc.records, tc.tuples)
				}
				if st.RecordsSkipped != 0 || st.TuplesSkipped != 0 || len(r.skips) != 0 {
					t.Errorf("schema %s: skips %+v (stats %+v), want none", s.Name, r.skips, st)
				}
				for _, k := range flowparse.Kinds() {
					if n := st.Skipped(k); n != 0 {
						t.Errorf("schema %s: %d skips of kind %s", s.Name, n, k)
					}
				}
				if int64(len(r.rows)) != tc.tuples {
					t.Errorf("schema %s: %d rows, want %d", s.Name, len(r.rows), tc.tuples)
				}
			}
			// Blob, Range, Record, NDJSON and Parse all accept every shape.
			want := run(data, nil, tc.parse).rows
			for name, fn := range map[string]parseFunc{
				"Blob": viaBlob, "Range": viaRange, "Record": viaRecord, "NDJSON": viaNDJSON,
				"Parse": func(p *flowparse.Parser, b []byte) error { return p.Parse(b) },
			} {
				t.Run(name, func(t *testing.T) {
					r := run(data, nil, fn)
					if r.err != nil || len(r.skips) != 0 {
						t.Fatalf("error %v, skips %+v", r.err, r.skips)
					}
					equalRows(t, r.rows, want)
				})
			}
			// Every row carries the file's version.
			for i, row := range decodeRows(t, want) {
				if got := row["FlowLogVersion"]; got != json.Number(fmt.Sprint(tc.version)) {
					t.Fatalf("row %d: FlowLogVersion %v, want %d", i, got, tc.version)
				}
			}
		})
	}
}

// n is a JSON number as decodeRows returns it.
func n(v int64) json.Number { return json.Number(fmt.Sprint(v)) }

// pattern matches a column's value (as text) instead of comparing it.
type pattern struct{ re *regexp.Regexp }

// hexID is what every EventId looks like: 16 lower-case hex digits. Its exact
// value is pinned by the golden files and its properties by TestEventID.
var hexID = pattern{regexp.MustCompile(`^[0-9a-f]{16}$`)}

const (
	fabrikamV1NSG  = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG"
	fabrikamV2NSG  = "/SUBSCRIPTIONS/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG"
	elasticFlowLog = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS2EUAP/FLOWLOGS/VNETFLOWLOG"
	elasticVNet    = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myResourceGroup/providers/Microsoft.Network/virtualNetworks/myVNet"
	sumoFlowLog    = "/SUBSCRIPTIONS/C088DC46-D692-42AD-A4B6-9A542D28AD2A/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTUS/FLOWLOGS/LABSVM1-VNET-AZURE-LABS-001-FLOWLOG"
	sumoVNet       = "/subscriptions/c088dc46-d692-42ad-a4b6-9a542d28ad2a/resourceGroups/azure-labs-001/providers/Microsoft.Network/virtualNetworks/labsvm1-vnet"
	sumoNSG        = "/subscriptions/c088dc46-d692-42ad-a4b6-9a542d28ad2a/resourceGroups/azure-labs-001/providers/Microsoft.Network/networkSecurityGroups/labsvm1-nsg"
)

// rowCase is one row of a sample with every column worked out by hand from
// the sample text. Absent keys must be absent.
type rowCase struct {
	name   string
	file   string
	parse  parseFunc
	schema *flowparse.Schema
	row    int
	want   map[string]any
}

var rowCases = []rowCase{
	{
		name: "nsg-v1 deny", file: "msdocs-nsg-v1-fabrikam-2017.json", parse: viaBlob, schema: flowparse.DefaultSchema, row: 0,
		// "1487282421,42.119.146.95,10.1.0.4,51529,5358,T,I,D" under DefaultRule_DenyAllInBound, mac 000D3AF8801A
		want: map[string]any{
			"TimeGenerated":     "2017-02-16T22:00:21.000Z", // 1487282421 s
			"RecordTime":        "2017-02-16T22:00:32.8950000Z",
			"FlowLogVersion":    n(1),
			"Category":          "NetworkSecurityGroupFlowEvent",
			"FlowLogResourceId": fabrikamV1NSG,
			"TargetResourceId":  fabrikamV1NSG,
			"SubscriptionId":    "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":     "FABRIKAMRG",
			"NsgName":           "FABRIAKMVM1-NSG",
			"Rule":              "DefaultRule_DenyAllInBound",
			"MacAddress":        "000D3AF8801A",
			"SrcIp":             "42.119.146.95",
			"DestIp":            "10.1.0.4",
			"SrcPort":           n(51529),
			"DestPort":          n(5358),
			"Protocol":          "TCP",
			"ProtocolNumber":    n(6),
			"FlowDirection":     "Inbound",
			"FlowStatus":        "Denied",
			"EventId":           hexID,
		},
	},
	{
		name: "nsg-v1 udp second record", file: "msdocs-nsg-v1-fabrikam-2017.json", parse: viaBlob, schema: flowparse.DefaultSchema, row: 5,
		// record 1, "1487282481,195.78.210.194,10.1.0.4,53,1732,U,I,D"
		want: map[string]any{
			"TimeGenerated":     "2017-02-16T22:01:21.000Z",
			"RecordTime":        "2017-02-16T22:01:32.8960000Z",
			"FlowLogVersion":    n(1),
			"Category":          "NetworkSecurityGroupFlowEvent",
			"FlowLogResourceId": fabrikamV1NSG,
			"TargetResourceId":  fabrikamV1NSG,
			"SubscriptionId":    "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":     "FABRIKAMRG",
			"NsgName":           "FABRIAKMVM1-NSG",
			"Rule":              "DefaultRule_DenyAllInBound",
			"MacAddress":        "000D3AF8801A",
			"SrcIp":             "195.78.210.194",
			"DestIp":            "10.1.0.4",
			"SrcPort":           n(53),
			"DestPort":          n(1732),
			"Protocol":          "UDP",
			"ProtocolNumber":    n(17),
			"FlowDirection":     "Inbound",
			"FlowStatus":        "Denied",
			"EventId":           hexID,
		},
	},
	{
		name: "nsg-v2 continuing with counters", file: "msdocs-nsg-v2-fabrikam-2018.json", parse: viaBlob, schema: flowparse.DefaultSchema, row: 5,
		// "1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,24,14008"
		want: map[string]any{
			"TimeGenerated":     "2018-11-13T11:59:39.000Z",
			"RecordTime":        "2018-11-13T12:00:35.3899262Z",
			"FlowLogVersion":    n(2),
			"Category":          "NetworkSecurityGroupFlowEvent",
			"FlowLogResourceId": fabrikamV2NSG,
			"TargetResourceId":  fabrikamV2NSG,
			"SubscriptionId":    "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
			"ResourceGroup":     "FABRIKAMRG",
			"NsgName":           "FABRIAKMVM1-NSG",
			"Rule":              "DefaultRule_AllowInternetOutBound",
			"MacAddress":        "000D3AF87856",
			"SrcIp":             "10.5.16.4",
			"DestIp":            "203.0.113.115",
			"SrcPort":           n(44931),
			"DestPort":          n(443),
			"Protocol":          "TCP",
			"ProtocolNumber":    n(6),
			"FlowDirection":     "Outbound",
			"FlowStatus":        "Allowed",
			"FlowState":         "Continuing",
			"PacketsSrcToDest":  n(30),
			"BytesSrcToDest":    n(16978),
			"PacketsDestToSrc":  n(24),
			"BytesDestToSrc":    n(14008),
			"EventId":           hexID,
		},
	},
	{
		name: "nsg-v2 begin without counters", file: "msdocs-nsg-v2-fabrikam-2018.json", parse: viaBlob, schema: flowparse.DefaultSchema, row: 0,
		// "1542110402,192.0.2.190,10.5.16.4,28746,443,U,I,D,B,,,,"
		want: map[string]any{
			"TimeGenerated":     "2018-11-13T12:00:02.000Z",
			"RecordTime":        "2018-11-13T12:00:35.3899262Z",
			"FlowLogVersion":    n(2),
			"Category":          "NetworkSecurityGroupFlowEvent",
			"FlowLogResourceId": fabrikamV2NSG,
			"TargetResourceId":  fabrikamV2NSG,
			"SubscriptionId":    "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
			"ResourceGroup":     "FABRIKAMRG",
			"NsgName":           "FABRIAKMVM1-NSG",
			"Rule":              "DefaultRule_DenyAllInBound",
			"MacAddress":        "000D3AF87856",
			"SrcIp":             "192.0.2.190",
			"DestIp":            "10.5.16.4",
			"SrcPort":           n(28746),
			"DestPort":          n(443),
			"Protocol":          "UDP",
			"ProtocolNumber":    n(17),
			"FlowDirection":     "Inbound",
			"FlowStatus":        "Denied",
			"FlowState":         "Begin",
			"EventId":           hexID,
		},
	},
	{
		name: "nsg-v2 bare record", file: "elastic-nsg-v2-single-record.ndjson", parse: viaRecord, schema: flowparse.DefaultSchema, row: 0,
		// "1542110379,1.128.0.0,1.128.0.1,59932,443,T,O,A,E,1,66,1,66"
		want: map[string]any{
			"TimeGenerated":     "2018-11-13T11:59:39.000Z",
			"RecordTime":        "2018-11-13T12:00:35.3899262Z",
			"FlowLogVersion":    n(2),
			"Category":          "NetworkSecurityGroupFlowEvent",
			"FlowLogResourceId": fabrikamV1NSG,
			"TargetResourceId":  fabrikamV1NSG,
			"SubscriptionId":    "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":     "FABRIKAMRG",
			"NsgName":           "FABRIAKMVM1-NSG",
			"Rule":              "DefaultRule_AllowInternetOutBound",
			"MacAddress":        "000D3AF87856",
			"SrcIp":             "1.128.0.0",
			"DestIp":            "1.128.0.1",
			"SrcPort":           n(59932),
			"DestPort":          n(443),
			"Protocol":          "TCP",
			"ProtocolNumber":    n(6),
			"FlowDirection":     "Outbound",
			"FlowStatus":        "Allowed",
			"FlowState":         "End",
			"PacketsSrcToDest":  n(1),
			"BytesSrcToDest":    n(66),
			"PacketsDestToSrc":  n(1),
			"BytesDestToSrc":    n(66),
			"EventId":           hexID,
		},
	},
	{
		name: "vnet-v4 end with counters", file: "elastic-vnet-v4-testdata.json", parse: viaBlob, schema: flowparse.DefaultSchema, row: 1,
		// "1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,E,NX,3,767,2,1580"
		want: map[string]any{
			"TimeGenerated":     "2022-09-14T09:00:03.606Z",
			"RecordTime":        "2022-09-14T09:00:52.5625085Z",
			"FlowLogVersion":    n(4),
			"Category":          "FlowLogFlowEvent",
			"FlowLogResourceId": elasticFlowLog,
			"TargetResourceId":  elasticVNet,
			"SubscriptionId":    "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":     "myResourceGroup",
			"FlowLogName":       "VNETFLOWLOG",
			"AclId":             "00000000-1234-abcd-ef00-c1c2c3c4c5c6",
			"Rule":              "DefaultRule_AllowInternetOutBound",
			"MacAddress":        "00224871C205",
			"SrcIp":             "10.0.0.6",
			"DestIp":            "52.239.184.180",
			"SrcPort":           n(23956),
			"DestPort":          n(443),
			"Protocol":          "TCP",
			"ProtocolNumber":    n(6),
			"FlowDirection":     "Outbound",
			"FlowStatus":        "Allowed",
			"FlowState":         "End",
			"Encryption":        "NX",
			"PacketsSrcToDest":  n(3),
			"BytesSrcToDest":    n(767),
			"PacketsDestToSrc":  n(2),
			"BytesDestToSrc":    n(1580),
			"EventId":           hexID,
		},
	},
	{
		name: "vnet-v4 deny", file: "elastic-vnet-v4-testdata.json", parse: viaBlob, schema: flowparse.DefaultSchema, row: 10,
		// second aclID, "1663145998065,101.33.218.153,10.0.0.6,55188,22,6,I,D,NX,0,0,0,0"
		want: map[string]any{
			"TimeGenerated":     "2022-09-14T08:59:58.065Z",
			"RecordTime":        "2022-09-14T09:00:52.5625085Z",
			"FlowLogVersion":    n(4),
			"Category":          "FlowLogFlowEvent",
			"FlowLogResourceId": elasticFlowLog,
			"TargetResourceId":  elasticVNet,
			"SubscriptionId":    "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":     "myResourceGroup",
			"FlowLogName":       "VNETFLOWLOG",
			"AclId":             "01020304-abcd-ef00-1234-102030405060",
			"Rule":              "BlockHighRiskTCPPortsFromInternet",
			"MacAddress":        "00224871C205",
			"SrcIp":             "101.33.218.153",
			"DestIp":            "10.0.0.6",
			"SrcPort":           n(55188),
			"DestPort":          n(22),
			"Protocol":          "TCP",
			"ProtocolNumber":    n(6),
			"FlowDirection":     "Inbound",
			"FlowStatus":        "Denied",
			"FlowState":         "Deny",
			"Encryption":        "NX",
			"PacketsSrcToDest":  n(0),
			"BytesSrcToDest":    n(0),
			"PacketsDestToSrc":  n(0),
			"BytesDestToSrc":    n(0),
			"EventId":           hexID,
		},
	},
	{
		name: "vnet-v4 udp, nsg-path aclID, keys out of order", file: "sumologic-blob_fixtures_vnetflowlogs.json", parse: viaBlob, schema: flowparse.DefaultSchema, row: 0,
		// "1733975962447,10.1.0.4,40.119.6.228,123,123,17,O,C,NX,4,360,4,528"
		want: map[string]any{
			"TimeGenerated":     "2024-12-12T03:59:22.447Z",
			"RecordTime":        "2024-12-12T04:00:24.7385180Z",
			"FlowLogVersion":    n(4),
			"Category":          "FlowLogFlowEvent",
			"FlowLogResourceId": sumoFlowLog,
			"TargetResourceId":  sumoVNet,
			"SubscriptionId":    "c088dc46-d692-42ad-a4b6-9a542d28ad2a",
			"ResourceGroup":     "azure-labs-001",
			"FlowLogName":       "LABSVM1-VNET-AZURE-LABS-001-FLOWLOG",
			"AclId":             sumoNSG,
			"Rule":              "DefaultRule_AllowInternetOutBound",
			"MacAddress":        "000D3A359573",
			"SrcIp":             "10.1.0.4",
			"DestIp":            "40.119.6.228",
			"SrcPort":           n(123),
			"DestPort":          n(123),
			"Protocol":          "UDP",
			"ProtocolNumber":    n(17),
			"FlowDirection":     "Outbound",
			"FlowStatus":        "Allowed",
			"FlowState":         "Continuing",
			"Encryption":        "NX",
			"PacketsSrcToDest":  n(4),
			"BytesSrcToDest":    n(360),
			"PacketsDestToSrc":  n(4),
			"BytesDestToSrc":    n(528),
			"EventId":           hexID,
		},
	},
	{
		name: "vnet-v4 lower-case mac", file: "elastic-vnet-v4-single-record.ndjson", parse: viaRecord, schema: flowparse.DefaultSchema, row: 1,
		// macAddress "0022487bC205"; "1663146003606,216.160.83.56,81.2.69.142,36776,443,6,O,E,NX,22,2217,33,0"
		want: map[string]any{
			"TimeGenerated":     "2022-09-14T09:00:03.606Z",
			"RecordTime":        "2022-09-14T09:00:52.5625085Z",
			"FlowLogVersion":    n(4),
			"Category":          "FlowLogFlowEvent",
			"FlowLogResourceId": elasticFlowLog,
			"TargetResourceId":  elasticVNet,
			"SubscriptionId":    "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":     "myResourceGroup",
			"FlowLogName":       "VNETFLOWLOG",
			"AclId":             "00000000-1234-abcd-ef00-c1c2c3c4c5c6",
			"Rule":              "DefaultRule_AllowInternetOutBound",
			"MacAddress":        "0022487BC205",
			"SrcIp":             "216.160.83.56",
			"DestIp":            "81.2.69.142",
			"SrcPort":           n(36776),
			"DestPort":          n(443),
			"Protocol":          "TCP",
			"ProtocolNumber":    n(6),
			"FlowDirection":     "Outbound",
			"FlowStatus":        "Allowed",
			"FlowState":         "End",
			"Encryption":        "NX",
			"PacketsSrcToDest":  n(22),
			"BytesSrcToDest":    n(2217),
			"PacketsDestToSrc":  n(33),
			"BytesDestToSrc":    n(0),
			"EventId":           hexID,
		},
	},
	// Seed schema: the 2017 script's columns, all strings.
	{
		name: "seed nsg-v1", file: "msdocs-nsg-v1-fabrikam-2017.json", parse: viaBlob, schema: flowparse.SeedSchema, row: 0,
		want: map[string]any{
			"SubscriptionId":  "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":   "FABRIKAMRG",
			"NSG":             "FABRIAKMVM1-NSG",
			"Rule":            "DefaultRule_DenyAllInBound",
			"MAC":             "000D3AF8801A",
			"DateTime":        "2017-02-16T22:00:21Z",
			"SourceIp":        "42.119.146.95",
			"DestinationIp":   "10.1.0.4",
			"SourcePort":      "51529",
			"DestinationPort": "5358",
			"TcpOrUdp":        "T",
			"InOrOut":         "I",
			"AllowOrDeny":     "D",
		},
	},
	{
		name: "seed nsg-v2", file: "msdocs-nsg-v2-fabrikam-2018.json", parse: viaBlob, schema: flowparse.SeedSchema, row: 5,
		want: map[string]any{
			"SubscriptionId":  "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
			"ResourceGroup":   "FABRIKAMRG",
			"NSG":             "FABRIAKMVM1-NSG",
			"Rule":            "DefaultRule_AllowInternetOutBound",
			"MAC":             "000D3AF87856",
			"DateTime":        "2018-11-13T11:59:39Z",
			"SourceIp":        "10.5.16.4",
			"DestinationIp":   "203.0.113.115",
			"SourcePort":      "44931",
			"DestinationPort": "443",
			"TcpOrUdp":        "T",
			"InOrOut":         "O",
			"AllowOrDeny":     "A",
		},
	},
	{
		name: "seed vnet-v4 deny", file: "elastic-vnet-v4-testdata.json", parse: viaBlob, schema: flowparse.SeedSchema, row: 10,
		want: map[string]any{
			"SubscriptionId":  "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":   "myResourceGroup",
			"NSG":             "VNETFLOWLOG",
			"Rule":            "BlockHighRiskTCPPortsFromInternet",
			"MAC":             "00224871C205",
			"DateTime":        "2022-09-14T08:59:58.065Z",
			"SourceIp":        "101.33.218.153",
			"DestinationIp":   "10.0.0.6",
			"SourcePort":      "55188",
			"DestinationPort": "22",
			"TcpOrUdp":        "6",
			"InOrOut":         "I",
			"AllowOrDeny":     "D",
		},
	},
	{
		name: "seed vnet-v4 mac as written", file: "elastic-vnet-v4-single-record.ndjson", parse: viaRecord, schema: flowparse.SeedSchema, row: 0,
		// "1663146003599,1.128.0.0,175.16.199.0,23956,443,6,O,B,NX,0,0,0,0"
		want: map[string]any{
			"SubscriptionId":  "00000000-0000-0000-0000-000000000000",
			"ResourceGroup":   "myResourceGroup",
			"NSG":             "VNETFLOWLOG",
			"Rule":            "DefaultRule_AllowInternetOutBound",
			"MAC":             "0022487bC205",
			"DateTime":        "2022-09-14T09:00:03.599Z",
			"SourceIp":        "1.128.0.0",
			"DestinationIp":   "175.16.199.0",
			"SourcePort":      "23956",
			"DestinationPort": "443",
			"TcpOrUdp":        "6",
			"InOrOut":         "O",
			"AllowOrDeny":     "A",
		},
	},
}

// TestSampleRows compares every column of hand-checked rows.
func TestSampleRows(t *testing.T) {
	for _, tc := range rowCases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(readSample(t, tc.file), tc.schema, tc.parse)
			if r.err != nil || len(r.skips) != 0 {
				t.Fatalf("error %v, skips %+v", r.err, r.skips)
			}
			if tc.row >= len(r.rows) {
				t.Fatalf("only %d rows", len(r.rows))
			}
			got := decodeRows(t, r.rows[tc.row:tc.row+1])[0]
			diffRow(t, got, tc.want)
		})
	}
}

// diffRow reports every column that differs, is missing or is extra.
func diffRow(t *testing.T, got, want map[string]any) {
	t.Helper()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("%s: missing, want %#v", k, w)
		case !wok:
			t.Errorf("%s: unexpected column with value %#v", k, g)
		case isPattern(w):
			if gs, ok := g.(string); !ok || !w.(pattern).re.MatchString(gs) {
				t.Errorf("%s: got %#v, want a match for %s", k, g, w.(pattern).re)
			}
		case !reflect.DeepEqual(g, w):
			t.Errorf("%s: got %#v, want %#v", k, g, w)
		}
	}
}

func isPattern(v any) bool { _, ok := v.(pattern); return ok }

// TestTimeField renames the time column as the Data Collector API needs
// (TimeGenerated is reserved there) and keeps every other column.
func TestTimeField(t *testing.T) {
	data := readSample(t, "msdocs-nsg-v1-fabrikam-2017.json")
	for _, s := range flowparse.Schemas {
		t.Run(s.Name, func(t *testing.T) {
			plain := decodeRows(t, run(data, s, viaBlob).rows)
			enc := flowparse.NewEncoder(s)
			enc.TimeField = "FlowTime"
			if enc.TimeColumn() != "FlowTime" {
				t.Fatalf("TimeColumn() = %q", enc.TimeColumn())
			}
			var rows [][]byte
			p := flowparse.Parser{OnEvent: func(ev *flowparse.Event) { rows = append(rows, enc.Append(nil, ev)) }}
			if err := p.Blob(data); err != nil {
				t.Fatal(err)
			}
			renamed := decodeRows(t, rows)
			for i := range plain {
				want := plain[i]
				want["FlowTime"] = want[s.TimeColumn]
				delete(want, s.TimeColumn)
				diffRow(t, renamed[i], want)
			}
		})
	}
}
