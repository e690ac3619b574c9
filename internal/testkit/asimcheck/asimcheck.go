// Package asimcheck checks a row against the ASIM NetworkSession schema as
// Microsoft documents it (schema version 0.2.x): every mandatory field is
// present with its documented type and an allowed value, every enumerated
// field holds a listed value, conditional fields come in pairs, and every
// field is a column of the table ASimNetworkSessionLogs with a value that
// fits the column's type. Tests of the asim layout use it on encoded rows
// and on the rows the emulator stored.
//
// The lists below are transcribed from the schema reference (network
// session schema and common fields articles) and the Azure Monitor table
// reference; they are independent of the encoder's own constants.
package asimcheck

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

// Mandatory fields of every ASIM NetworkSession row (common fields
// article, "Mandatory" class, and the network session schema).
var Mandatory = []string{
	"EventCount", "EventStartTime", "EventEndTime", "EventType", "EventResult",
	"EventProduct", "EventVendor", "EventSchema", "EventSchemaVersion", "Dvc",
}

// NotInTable are mandatory fields the table ASimNetworkSessionLogs has no
// column for: the ASIM parsers add them at query time.
var NotInTable = map[string]bool{"EventSchema": true}

// Enumerations of the schema's enumerated fields.
var Enumerations = map[string][]string{
	"EventType":   {"EndpointNetworkSession", "NetworkSession", "L2NetworkSession", "IDS", "Flow"},
	"EventResult": {"Success", "Partial", "Failure", "NA"},
	"EventResultDetails": {"Failover", "Invalid TCP", "Invalid Tunnel", "Maximum Retry", "Reset",
		"Routing issue", "Simulation", "Terminated", "Timeout", "Transient error", "Unknown", "NA"},
	"EventSeverity":          {"Informational", "Low", "Medium", "High"},
	"EventSchema":            {"NetworkSession"},
	"EventSubType":           {"Start", "End"},
	"DvcAction":              {"Allow", "Deny", "Drop", "Drop ICMP", "Reset", "Reset Source", "Reset Destination", "Encrypt", "Decrypt", "VPNroute"},
	"DvcIdType":              {"AzureResourceId", "MDEid", "MD4IoTid", "VMConnectionId", "AwsVpcId", "VectraId", "AppGateId", "FQDN", "Other"},
	"NetworkProtocolVersion": {"IPv4", "IPv6"},
	// NetworkDirection for the event types NetworkSession, Flow and
	// L2NetworkSession (EndpointNetworkSession adds Listen).
	"NetworkDirection": {"Inbound", "Outbound", "Local", "External", "NA"},
	// NetworkProtocol: IANA protocol keywords (the ones flow logs can carry).
	"NetworkProtocol": {"ICMP", "IGMP", "IPv4", "TCP", "UDP", "IPv6", "GRE", "ESP", "AH", "IPv6-ICMP", "SCTP"},
	"EventVendor":     {"Microsoft"},
	// EventProduct: the products listed for vendor Microsoft.
	"EventProduct": {"Microsoft Entra ID", "Azure", "Azure Firewall", "Azure Blob Storage", "Azure File Storage",
		"Azure NSG flows", "Azure Queue Storage", "Azure Table Storage", "DNS Server",
		"Microsoft Defender XDR for Endpoint", "Microsoft Defender for IoT", "Security Events", "SharePoint",
		"OneDrive", "Sysmon", "Sysmon for Linux", "VMConnection", "Windows Firewall", "WireData"},
}

// denyActions are the DvcAction values for which EventResult must be
// Failure and EventSeverity Low when the source gives none.
var denyActions = map[string]bool{"Deny": true, "Drop": true, "Drop ICMP": true, "Reset": true, "Reset Source": true, "Reset Destination": true}

var (
	schemaVersionRE = regexp.MustCompile(`^0\.2\.[0-9]+$`)
	macRE           = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$`)
)

// Row checks one row decoded with json.Decoder.UseNumber. stored says the
// row was read back from the table: fields in NotInTable must then be
// absent (the table cannot hold them) instead of present. Keys starting
// with "_" (the emulator's own) are ignored. It returns every problem found.
func Row(row map[string]any, stored bool) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, f := range Mandatory {
		_, ok := row[f]
		switch {
		case stored && NotInTable[f]:
			if ok {
				bad("%s: stored, but ASimNetworkSessionLogs has no such column", f)
			}
		case !ok:
			bad("mandatory field %s is missing", f)
		}
	}
	keys := make([]string, 0, len(row))
	for k := range row {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := row[k]
		if strings.HasPrefix(k, "_") {
			continue
		}
		typ, ok := emulator.ASimNetworkSessionLogsColumns[k]
		if !ok && !NotInTable[k] {
			bad("%s is not a column of ASimNetworkSessionLogs", k)
			continue
		}
		if NotInTable[k] {
			typ = "string"
		}
		if err := fits(typ, v); err != nil {
			bad("%s: %v", k, err)
			continue
		}
		if allowed, ok := Enumerations[k]; ok && !contains(allowed, v.(string)) {
			bad("%s = %q is not one of %q", k, v, allowed)
		}
	}
	if len(errs) > 0 {
		return errs // the checks below assume well-typed fields
	}
	if v, ok := row["EventSchemaVersion"].(string); ok && !schemaVersionRE.MatchString(v) {
		bad("EventSchemaVersion = %q is not a 0.2.x version", v)
	}
	if n, _ := row["EventCount"].(json.Number).Int64(); n < 1 {
		bad("EventCount = %d, want at least 1", n)
	}
	if dvc, _ := row["Dvc"].(string); strings.TrimSpace(dvc) == "" {
		bad("Dvc is empty")
	}
	start, _ := time.Parse(time.RFC3339Nano, row["EventStartTime"].(string))
	end, _ := time.Parse(time.RFC3339Nano, row["EventEndTime"].(string))
	if end.Before(start) {
		bad("EventEndTime %s is before EventStartTime %s", row["EventEndTime"], row["EventStartTime"])
	}
	if action, ok := row["DvcAction"].(string); ok {
		wantResult, wantSev := "Success", "Informational"
		if denyActions[action] {
			wantResult, wantSev = "Failure", "Low"
		}
		if row["EventResult"] != wantResult {
			bad("EventResult = %v with DvcAction %s, want %s", row["EventResult"], action, wantResult)
		}
		if sev, ok := row["EventSeverity"]; ok && sev != wantSev {
			bad("EventSeverity = %v with DvcAction %s, want %s", sev, action, wantSev)
		}
	}
	for _, pair := range [][2]string{{"DvcId", "DvcIdType"}, {"DvcDomain", "DvcDomainType"}, {"SrcDvcId", "SrcDvcIdType"}, {"DstDvcId", "DstDvcIdType"}} {
		if _, ok := row[pair[0]]; ok {
			if _, ok := row[pair[1]]; !ok {
				bad("%s is set without %s", pair[0], pair[1])
			}
		}
	}
	for _, k := range []string{"SrcIpAddr", "DstIpAddr", "DvcIpAddr"} {
		if s, ok := row[k].(string); ok {
			if _, err := netip.ParseAddr(s); err != nil {
				bad("%s = %q is not an IP address", k, s)
			}
		}
	}
	if s, ok := row["SrcIpAddr"].(string); ok {
		if a, err := netip.ParseAddr(s); err == nil {
			want := "IPv4"
			if a.Is6() && !a.Is4In6() {
				want = "IPv6"
			}
			if v, ok := row["NetworkProtocolVersion"]; ok && v != want {
				bad("NetworkProtocolVersion = %v for source %s, want %s", v, s, want)
			}
		}
	}
	for _, k := range []string{"SrcPortNumber", "DstPortNumber"} {
		if n, ok := row[k].(json.Number); ok {
			if p, _ := n.Int64(); p < 0 || p > 65535 {
				bad("%s = %d is not a port", k, p)
			}
		}
	}
	for _, k := range []string{"SrcMacAddr", "DstMacAddr", "DvcMacAddr"} {
		if s, ok := row[k].(string); ok && !macRE.MatchString(s) {
			bad("%s = %q is not a MAC address (xx:xx:xx:xx:xx:xx)", k, s)
		}
	}
	return errs
}

// fits checks a decoded JSON value against a Log Analytics column type.
func fits(typ string, v any) error {
	switch typ {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%#v is not a string", v)
		}
	case "datetime":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%#v is not a datetime string", v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%q is not an ISO 8601 time: %v", s, err)
		}
	case "int", "long":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%#v is not a number", v)
		}
		i, err := n.Int64()
		if err != nil {
			return fmt.Errorf("%s is not an integer", n)
		}
		if typ == "int" && (i < -1<<31 || i >= 1<<31) {
			return fmt.Errorf("%d does not fit an int", i)
		}
	case "real":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%#v is not a number", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%#v is not a boolean", v)
		}
	case "dynamic":
		switch v.(type) {
		case map[string]any, []any:
		default:
			return fmt.Errorf("%#v is not a JSON object or array", v)
		}
	default:
		return fmt.Errorf("unknown column type %q", typ)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
