package flowparse

import "strconv"

// DefaultSchema is one row per tuple with typed, descriptive columns.
var DefaultSchema = register(&Schema{
	Name:       "default",
	Title:      "Default schema",
	TimeColumn: "TimeGenerated",
	Table:      "NsgFlow",
	row:        (*Encoder).appendDefault,
	group:      defaultGroup,
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
})

func defaultGroup(b []byte, ev *Event) []byte {
	if len(ev.RecordTime) > 0 {
		b = appendField(b, `,"RecordTime":`, ev.RecordTime)
	}
	b = append(b, `,"FlowLogVersion":`...)
	b = strconv.AppendInt(b, int64(ev.Version), 10)
	b = appendField(b, `,"Category":`, ev.Category)
	b = appendField(b, `,"FlowLogResourceId":`, ev.FlowLogResource)
	b = appendField(b, `,"TargetResourceId":`, ev.TargetResource)
	b = appendField(b, `,"SubscriptionId":`, ev.SubscriptionID)
	b = appendField(b, `,"ResourceGroup":`, ev.ResourceGroup)
	if ev.Kind == KindVNet {
		b = appendField(b, `,"FlowLogName":`, ev.Name)
		b = appendField(b, `,"AclId":`, ev.AclID)
	} else {
		b = appendField(b, `,"NsgName":`, ev.Name)
	}
	b = appendField(b, `,"Rule":`, ev.Rule)
	b = append(b, `,"MacAddress":"`...)
	b = appendMAC(b, ev.MAC)
	return append(b, '"')
}

func (e *Encoder) appendDefault(b []byte, ev *Event) []byte {
	b = append(b, '{')
	b = append(b, e.timeColumnKey()...)
	b = e.appendTime(b, ev.TimeMillis, true)
	b = append(b, '"')
	b = append(b, e.groupFragment(ev)...)
	b = appendField(b, `,"SrcIp":`, ev.SrcIP)
	b = appendField(b, `,"DestIp":`, ev.DestIP)
	if len(ev.SrcPort) > 0 {
		b = append(b, `,"SrcPort":`...)
		b = appendDigits(b, ev.SrcPort) // validated digits
	}
	if len(ev.DestPort) > 0 {
		b = append(b, `,"DestPort":`...)
		b = appendDigits(b, ev.DestPort)
	}
	pn := ev.ProtocolNumber()
	switch pn {
	case 6:
		b = append(b, `,"Protocol":"TCP"`...)
	case 17:
		b = append(b, `,"Protocol":"UDP"`...)
	case 1:
		b = append(b, `,"Protocol":"ICMP"`...)
	default:
		b = appendField(b, `,"Protocol":`, ev.Protocol)
	}
	if pn >= 0 {
		b = append(b, `,"ProtocolNumber":`...)
		b = strconv.AppendInt(b, int64(pn), 10)
	}
	b = appendMapped(b, `,"FlowDirection":`, ev.Direction, directionName)
	b = append(b, `,"FlowStatus":`...)
	if ev.Kind == KindVNet {
		if ev.Denied() {
			b = append(b, `"Denied"`...)
		} else {
			b = append(b, `"Allowed"`...)
		}
	} else {
		b = appendMappedValue(b, ev.Decision, decisionName)
	}
	if len(ev.State) > 0 {
		b = appendMapped(b, `,"FlowState":`, ev.State, stateName)
	}
	if ev.Kind == KindVNet {
		b = appendField(b, `,"Encryption":`, ev.Encryption)
	}
	if ev.HasCounters {
		b = append(b, `,"PacketsSrcToDest":`...)
		b = strconv.AppendInt(b, ev.PacketsSrcToDest, 10)
		b = append(b, `,"BytesSrcToDest":`...)
		b = strconv.AppendInt(b, ev.BytesSrcToDest, 10)
		b = append(b, `,"PacketsDestToSrc":`...)
		b = strconv.AppendInt(b, ev.PacketsDestToSrc, 10)
		b = append(b, `,"BytesDestToSrc":`...)
		b = strconv.AppendInt(b, ev.BytesDestToSrc, 10)
	}
	b = append(b, `,"EventId":"`...)
	b = appendHex64(b, ev.EventID())
	return append(b, '"', '}')
}
