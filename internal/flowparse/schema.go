package flowparse

import "fmt"

// Log Analytics column types used by the schemas.
const (
	TypeDateTime = "datetime"
	TypeString   = "string"
	TypeInt      = "int"
	TypeLong     = "long"
)

// Column is one column an encoder can emit. The list in a Schema is the single
// source of truth for docs/schema.md, the DCR stream declaration and the table.
type Column struct {
	Name        string
	Type        string
	Description string
}

// Schema names a row layout.
type Schema struct {
	Name string
	// TimeColumn holds the event time (the DCR's TimeGenerated source, the
	// Data Collector API's time-generated-field).
	TimeColumn string
	Columns    []Column
	id         schemaID
}

type schemaID uint8

const (
	schemaDefault schemaID = iota
	schemaSeed
)

// DefaultSchema is one row per tuple with typed, descriptive columns.
var DefaultSchema = &Schema{
	Name:       "default",
	TimeColumn: "TimeGenerated",
	id:         schemaDefault,
	Columns: []Column{
		{"TimeGenerated", TypeDateTime, "Tuple time (field 0), UTC, millisecond precision."},
		{"RecordTime", TypeDateTime, "The record's `time`: when Azure wrote the record (up to about a minute after the tuple)."},
		{"FlowLogVersion", TypeInt, "1 or 2 for NSG flow logs, 4 for VNet flow logs."},
		{"Category", TypeString, "`NetworkSecurityGroupFlowEvent` or `FlowLogFlowEvent`."},
		{"FlowLogResourceId", TypeString, "NSG: the NSG resource ID. VNet: the flow-log resource ID."},
		{"TargetResourceId", TypeString, "NSG: the NSG resource ID. VNet: the VNet, subnet or NIC the flow log watches."},
		{"SubscriptionId", TypeString, "From the NSG ID (NSG) or the target resource ID (VNet; the flow-log ID when there is no target)."},
		{"ResourceGroup", TypeString, "Resource group, from the same ID as SubscriptionId."},
		{"NsgName", TypeString, "NSG flow logs only: the NSG's name."},
		{"FlowLogName", TypeString, "VNet flow logs only: the flow log's name."},
		{"AclId", TypeString, "VNet flow logs only: the `aclID` of the flow (a GUID, `unspecified`, or an NSG path)."},
		{"Rule", TypeString, "The rule that matched."},
		{"MacAddress", TypeString, "MAC of the NIC, upper-case hex without separators."},
		{"SrcIp", TypeString, "Source IP (IPv4 or IPv6)."},
		{"DestIp", TypeString, "Destination IP."},
		{"SrcPort", TypeInt, "Source port; absent when the tuple has none."},
		{"DestPort", TypeInt, "Destination port; absent when the tuple has none."},
		{"Protocol", TypeString, "`TCP`, `UDP`, `ICMP`, or the IANA number as text."},
		{"ProtocolNumber", TypeInt, "IANA protocol number; absent when unknown."},
		{"FlowDirection", TypeString, "`Inbound` or `Outbound` (the raw value when unknown)."},
		{"FlowStatus", TypeString, "`Allowed` or `Denied` (NSG decision; VNet state D means denied). Unknown decisions are kept raw."},
		{"FlowState", TypeString, "`Begin`, `Continuing`, `End` or `Deny` (raw when unknown); absent for version 1."},
		{"Encryption", TypeString, "VNet flow logs only: `X`, `NX`, `NX_HW_NOT_SUPPORTED`, ..."},
		{"PacketsSrcToDest", TypeLong, "Packets source to destination (a delta for C/E tuples); absent when the tuple has none."},
		{"BytesSrcToDest", TypeLong, "Bytes source to destination; absent when the tuple has none."},
		{"PacketsDestToSrc", TypeLong, "Packets destination to source; absent when the tuple has none."},
		{"BytesDestToSrc", TypeLong, "Bytes destination to source; absent when the tuple has none."},
		{"EventId", TypeString, "16 hex digits: a deterministic 64-bit hash of flow-log resource, MAC, rule and raw tuple, for de-duplication in KQL."},
	},
}

// SeedSchema reproduces the columns of the 2017 PowerShell script: every value
// a string, as the script sent it.
var SeedSchema = &Schema{
	Name:       "seed",
	TimeColumn: "DateTime",
	id:         schemaSeed,
	Columns: []Column{
		{"SubscriptionId", TypeString, "Third segment of the resource ID, as written (upper case)."},
		{"ResourceGroup", TypeString, "Fifth segment of the resource ID."},
		{"NSG", TypeString, "NSG name (VNet flow logs: the flow-log name)."},
		{"Rule", TypeString, "Rule name."},
		{"MAC", TypeString, "MAC address as written in the record."},
		{"DateTime", TypeString, "Tuple time in ISO 8601 UTC (`2017-02-16T22:00:21Z`; VNet adds milliseconds when not zero)."},
		{"SourceIp", TypeString, "Tuple field 1."},
		{"DestinationIp", TypeString, "Tuple field 2."},
		{"SourcePort", TypeString, "Tuple field 3."},
		{"DestinationPort", TypeString, "Tuple field 4."},
		{"TcpOrUdp", TypeString, "Tuple field 5: `T`/`U` (VNet: the protocol number)."},
		{"InOrOut", TypeString, "Tuple field 6: `I`/`O`."},
		{"AllowOrDeny", TypeString, "Tuple field 7: `A`/`D` (VNet: `D` for state D, else `A`)."},
	},
}

// Schemas lists the known schemas.
var Schemas = []*Schema{DefaultSchema, SeedSchema}

// SchemaByName returns the schema called name ("default" or "seed").
func SchemaByName(name string) (*Schema, error) {
	if name == "" {
		return DefaultSchema, nil
	}
	for _, s := range Schemas {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown schema %q (want \"default\" or \"seed\")", name)
}

// Column returns the column called name, or false.
func (s *Schema) Column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}
