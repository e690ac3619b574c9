package flowparse_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/testkit/asimcheck"
)

// asimCases are tuples worked out by hand, field by field, from the sample
// text: one NSG v1, one NSG v2 (with counters) and one VNet v4 tuple. pick
// finds the tuple's row among the sample's rows. NetworkSessionId is a
// frozen golden value (a hash cannot be worked out by hand; it is checked
// for its properties in TestAsimSessionID); EventOriginalUid must equal the
// default layout's EventId of the same tuple.
var asimCases = []struct {
	name, file string
	parse      parseFunc
	pick       func(row map[string]any) bool
	want       string
}{
	{
		// "1487282421,42.119.146.95,10.1.0.4,51529,5358,T,I,D", rule
		// DefaultRule_DenyAllInBound, MAC 000D3AF8801A, NSG
		// /SUBSCRIPTIONS/00000000-.../NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG.
		// 1487282421 s = 2017-02-16 22:00:21 UTC; D = Deny -> Failure, Low;
		// I = Inbound, so the NIC is the destination (DstMacAddr); version
		// 1 has no state and no counters.
		name: "NSG v1", file: "msdocs-nsg-v1-fabrikam-2017.json", parse: viaBlob,
		pick: func(r map[string]any) bool { return r["SrcIpAddr"] == "42.119.146.95" },
		want: `{
			"TimeGenerated": "2017-02-16T22:00:21.000Z",
			"EventStartTime": "2017-02-16T22:00:21.000Z",
			"EventEndTime": "2017-02-16T22:00:21.000Z",
			"EventCount": 1,
			"EventType": "Flow",
			"EventResult": "Failure",
			"EventSeverity": "Low",
			"EventVendor": "Microsoft",
			"EventProduct": "Azure NSG flows",
			"EventProductVersion": "1",
			"EventSchema": "NetworkSession",
			"EventSchemaVersion": "0.2.6",
			"EventOriginalType": "NetworkSecurityGroupFlowEvent",
			"Dvc": "FABRIAKMVM1-NSG",
			"DvcHostname": "FABRIAKMVM1-NSG",
			"DvcId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/fabrikamrg/providers/microsoft.network/networksecuritygroups/fabriakmvm1-nsg",
			"DvcIdType": "AzureResourceId",
			"DvcSubscriptionId": "00000000-0000-0000-0000-000000000000",
			"DvcAction": "Deny",
			"DvcOriginalAction": "D",
			"NetworkRuleName": "DefaultRule_DenyAllInBound",
			"SrcIpAddr": "42.119.146.95",
			"DstIpAddr": "10.1.0.4",
			"SrcPortNumber": 51529,
			"DstPortNumber": 5358,
			"NetworkProtocol": "TCP",
			"NetworkProtocolVersion": "IPv4",
			"NetworkDirection": "Inbound",
			"DstMacAddr": "00:0D:3A:F8:80:1A",
			"NetworkSessionId": "e4fb35ab5b6909d5"
		}`,
	},
	{
		// "1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,24,14008",
		// rule DefaultRule_AllowInternetOutBound, MAC 000D3AF87856.
		// 1542110379 s = 2018-11-13 11:59:39 UTC; A = Allow -> Success,
		// Informational; O = Outbound, so the NIC is the source
		// (SrcMacAddr); C = continuing; packets/bytes source to destination
		// 30/16978, destination to source 24/14008.
		name: "NSG v2", file: "msdocs-nsg-v2-fabrikam-2018.json", parse: viaBlob,
		pick: func(r map[string]any) bool { return r["SrcPortNumber"] == json.Number("44931") },
		want: `{
			"TimeGenerated": "2018-11-13T11:59:39.000Z",
			"EventStartTime": "2018-11-13T11:59:39.000Z",
			"EventEndTime": "2018-11-13T11:59:39.000Z",
			"EventCount": 1,
			"EventType": "Flow",
			"EventResult": "Success",
			"EventSeverity": "Informational",
			"EventVendor": "Microsoft",
			"EventProduct": "Azure NSG flows",
			"EventProductVersion": "2",
			"EventSchema": "NetworkSession",
			"EventSchemaVersion": "0.2.6",
			"EventOriginalType": "NetworkSecurityGroupFlowEvent",
			"EventOriginalSubType": "C",
			"Dvc": "FABRIAKMVM1-NSG",
			"DvcHostname": "FABRIAKMVM1-NSG",
			"DvcId": "/subscriptions/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/resourcegroups/fabrikamrg/providers/microsoft.network/networksecuritygroups/fabriakmvm1-nsg",
			"DvcIdType": "AzureResourceId",
			"DvcSubscriptionId": "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
			"DvcAction": "Allow",
			"DvcOriginalAction": "A",
			"NetworkRuleName": "DefaultRule_AllowInternetOutBound",
			"SrcIpAddr": "10.5.16.4",
			"DstIpAddr": "203.0.113.115",
			"SrcPortNumber": 44931,
			"DstPortNumber": 443,
			"NetworkProtocol": "TCP",
			"NetworkProtocolVersion": "IPv4",
			"NetworkDirection": "Outbound",
			"SrcMacAddr": "00:0D:3A:F8:78:56",
			"SrcPackets": 30,
			"SrcBytes": 16978,
			"DstPackets": 24,
			"DstBytes": 14008,
			"NetworkSessionId": "55835ee1fd68c25d"
		}`,
	},
	{
		// "1663146003606,216.160.83.56,81.2.69.142,36776,443,6,O,E,NX,22,2217,33,0",
		// rule DefaultRule_AllowInternetOutBound, aclID
		// 00000000-1234-abcd-ef00-c1c2c3c4c5c6, MAC 0022487bC205, flow log
		// .../FLOWLOGS/VNETFLOWLOG watching .../virtualNetworks/myVNet.
		// 1663146003606 ms = 2022-09-14 09:00:03.606 UTC; protocol 6 = TCP;
		// state E = end of an allowed flow -> Allow (VNet logs have no
		// decision field, so no DvcOriginalAction); encryption NX;
		// packets/bytes 22/2217 one way, 33/0 the other.
		name: "VNet v4", file: "elastic-vnet-v4-single-record.ndjson", parse: viaNDJSON,
		pick: func(r map[string]any) bool { return r["SrcIpAddr"] == "216.160.83.56" },
		want: `{
			"TimeGenerated": "2022-09-14T09:00:03.606Z",
			"EventStartTime": "2022-09-14T09:00:03.606Z",
			"EventEndTime": "2022-09-14T09:00:03.606Z",
			"EventCount": 1,
			"EventType": "Flow",
			"EventResult": "Success",
			"EventSeverity": "Informational",
			"EventVendor": "Microsoft",
			"EventProduct": "Azure NSG flows",
			"EventProductVersion": "4",
			"EventSchema": "NetworkSession",
			"EventSchemaVersion": "0.2.6",
			"EventOriginalType": "FlowLogFlowEvent",
			"EventOriginalSubType": "E",
			"Dvc": "VNETFLOWLOG",
			"DvcHostname": "VNETFLOWLOG",
			"DvcId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/networkwatcherrg/providers/microsoft.network/networkwatchers/networkwatcher_eastus2euap/flowlogs/vnetflowlog",
			"DvcIdType": "AzureResourceId",
			"DvcSubscriptionId": "00000000-0000-0000-0000-000000000000",
			"DvcAction": "Allow",
			"NetworkRuleName": "DefaultRule_AllowInternetOutBound",
			"SrcIpAddr": "216.160.83.56",
			"DstIpAddr": "81.2.69.142",
			"SrcPortNumber": 36776,
			"DstPortNumber": 443,
			"NetworkProtocol": "TCP",
			"NetworkProtocolVersion": "IPv4",
			"NetworkDirection": "Outbound",
			"SrcMacAddr": "00:22:48:7B:C2:05",
			"SrcPackets": 22,
			"SrcBytes": 2217,
			"DstPackets": 33,
			"DstBytes": 0,
			"NetworkSessionId": "19e52a0b634e4c3a",
			"AdditionalFields": {
				"Encryption": "NX",
				"AclId": "00000000-1234-abcd-ef00-c1c2c3c4c5c6",
				"TargetResourceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myResourceGroup/providers/Microsoft.Network/virtualNetworks/myVNet"
			}
		}`,
	},
}

// TestAsimHandWorked compares one tuple per format with its row, field by
// field, and checks the row against the ASIM rules.
func TestAsimHandWorked(t *testing.T) {
	for _, tc := range asimCases {
		t.Run(tc.name, func(t *testing.T) {
			data := readSample(t, tc.file)
			asimRows := decodeRows(t, run(data, flowparse.AsimSchema, tc.parse).rows)
			defRows := decodeRows(t, run(data, flowparse.DefaultSchema, tc.parse).rows)
			idx := -1
			for i, r := range asimRows {
				if tc.pick(r) {
					if idx >= 0 {
						t.Fatalf("rows %d and %d both match", idx, i)
					}
					idx = i
				}
			}
			if idx < 0 {
				t.Fatal("no row matches")
			}
			got := asimRows[idx]
			var want map[string]any
			d := json.NewDecoder(strings.NewReader(tc.want))
			d.UseNumber()
			if err := d.Decode(&want); err != nil {
				t.Fatal(err)
			}
			want["EventOriginalUid"] = defRows[idx]["EventId"]
			if want["EventOriginalUid"] == nil {
				t.Fatal("default row has no EventId")
			}
			for _, k := range sortedKeys(want, got) {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want[k])
				}
			}
			for _, err := range asimcheck.Row(got, false) {
				t.Error(err)
			}
		})
	}
}

func sortedKeys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestAsimAllInputs checks every row of every sample and fixture in the asim
// layout against the ASIM rules (mandatory fields, types, enumerations).
// The emulator test does the same with the rows it stored.
func TestAsimAllInputs(t *testing.T) {
	rows := 0
	for name, data := range allInputs(t) {
		r := run(data, flowparse.AsimSchema, func(p *flowparse.Parser, b []byte) error { return p.Parse(b) })
		for i, row := range decodeRows(t, r.rows) {
			rows++
			for _, err := range asimcheck.Row(row, false) {
				t.Errorf("%s row %d: %v", name, i, err)
			}
		}
	}
	if rows < 370 {
		t.Errorf("checked %d rows: the samples have at least 372 tuples", rows)
	}
}

// TestAsimUnknownValues: values the parser keeps raw (direction Z,
// decision X, state X, protocol X) give NA or no field, never a value
// outside the enumerations.
func TestAsimUnknownValues(t *testing.T) {
	rows := decodeRows(t, run(readTestdata(t, "input/unknown-values.json"), flowparse.AsimSchema, viaBlob).rows)
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	type want struct {
		result, direction, action, protocol, macKey string
	}
	wants := []want{
		{"NA", "NA", "", "TCP", "DvcMacAddr"},             // NSG: direction Z, decision X
		{"Success", "Inbound", "Allow", "", "DstMacAddr"}, // NSG: protocol X
		{"NA", "NA", "", "TCP", "DvcMacAddr"},             // VNet: direction Z, state X
		{"Success", "Outbound", "Allow", "ICMP", "SrcMacAddr"},
		{"Success", "Outbound", "Allow", "GRE", "SrcMacAddr"},
	}
	for i, w := range wants {
		r := rows[i]
		str := func(k string) string { s, _ := r[k].(string); return s }
		got := want{str("EventResult"), str("NetworkDirection"), str("DvcAction"), str("NetworkProtocol"), ""}
		for _, k := range []string{"SrcMacAddr", "DstMacAddr", "DvcMacAddr"} {
			if _, ok := r[k]; ok {
				got.macKey += k
			}
		}
		if got != w {
			t.Errorf("row %d: got %+v, want %+v", i, got, w)
		}
		for _, err := range asimcheck.Row(r, false) {
			t.Errorf("row %d: %v", i, err)
		}
	}
}

// TestAsimSessionID: the B, C and E tuples of one flow share
// NetworkSessionId; another port, another direction, another MAC or another
// flow log gives another one; and the MAC's spelling does not matter.
func TestAsimSessionID(t *testing.T) {
	rec := func(resource, mac string, tuples ...string) string {
		return fmt.Sprintf(`{"time":"2026-11-26T09:01:00Z","macAddress":%q,"category":"NetworkSecurityGroupFlowEvent","resourceId":%q,`+
			`"properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":%q,"flowTuples":["%s"]}]}]}}`,
			mac, resource, mac, strings.Join(tuples, `","`))
	}
	const nsg = "/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N"
	blob := `{"records":[` + strings.Join([]string{
		rec(nsg, "000D3AF87856",
			"1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,B,,,,",
			"1795683660,10.0.0.4,203.0.113.1,50001,443,T,O,A,C,5,500,4,400",
			"1795683720,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,1,60,1,60",
			"1795683600,10.0.0.4,203.0.113.1,50002,443,T,O,A,B,,,,", // other source port
			"1795683600,10.0.0.4,203.0.113.1,50001,443,T,I,A,B,,,,", // other direction
		),
		rec(nsg, "00-0d-3a-f8-78-56", "1795683780,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,1,60,1,60"), // same MAC, other spelling
		rec(nsg, "000D3AF80000", "1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,B,,,,"),            // other NIC
		rec(nsg+"2", "000D3AF87856", "1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,B,,,,"),        // other NSG
	}, ",") + `]}`
	rows := decodeRows(t, run([]byte(blob), flowparse.AsimSchema, viaBlob).rows)
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 8", len(rows))
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i], _ = r["NetworkSessionId"].(string)
		if len(ids[i]) != 16 {
			t.Fatalf("row %d: NetworkSessionId %q, want 16 hex digits", i, ids[i])
		}
	}
	same := [][]int{{0, 1, 2, 5}}
	for _, g := range same {
		for _, i := range g[1:] {
			if ids[i] != ids[g[0]] {
				t.Errorf("rows %d and %d are one flow but have NetworkSessionId %s and %s", g[0], i, ids[g[0]], ids[i])
			}
		}
	}
	for _, i := range []int{3, 4, 6, 7} {
		for j := range ids {
			if j != i && ids[j] == ids[i] {
				t.Errorf("rows %d and %d are different flows but share NetworkSessionId %s", i, j, ids[i])
			}
		}
	}
}
