package flowparse

// The asim layout (Microsoft Sentinel's ASIM NetworkSession schema). The
// file is named layout_sentinel.go rather than layout_asim.go so that it
// sorts after layout_default.go and layout_seed.go: layouts register in
// file-name order, which is the order of flag help, docs and emulator streams.

import "strconv"

// TypeDynamic is the Log Analytics type of a JSON object column.
const TypeDynamic = "dynamic"

// ASIM NetworkSession constants (Microsoft Sentinel's Advanced Security
// Information Model, network session schema). docs/schema.md says where each
// value comes from and why.
const (
	AsimEventSchema        = "NetworkSession"
	AsimEventSchemaVersion = "0.2.6"
	AsimEventVendor        = "Microsoft"
	AsimEventProduct       = "Azure NSG flows"
	AsimEventType          = "Flow"
	AsimDvcIdType          = "AzureResourceId"
	// AsimTable is the standard Log Analytics table the layout's rows go to,
	// and AsimOutputStream the DCR output stream that writes it.
	AsimTable        = "ASimNetworkSessionLogs"
	AsimOutputStream = "Microsoft-ASimNetworkSessionLogs"
)

// AsimSchema is one row per tuple in the ASIM NetworkSession schema, for the
// standard table ASimNetworkSessionLogs (DCR output stream
// Microsoft-ASimNetworkSessionLogs; input stream Custom-NsgFlowAsim).
// EventSchema is emitted but is not a column of the table: the DCR
// transformation projects it away, and the ASIM parsers
// (_Im_NetworkSession, _ASim_NetworkSession) set it at query time.
var AsimSchema = register(&Schema{
	Name:          "asim",
	Title:         "ASIM NetworkSession schema",
	TimeColumn:    "TimeGenerated",
	Table:         "NsgFlowAsim",
	StandardTable: AsimTable,
	Dropped:       []string{"EventSchema"},
	row:           (*Encoder).appendAsim,
	group:         asimGroup,
	Columns: []Column{
		{"TimeGenerated", TypeDateTime, "Tuple time (field 0), UTC, millisecond precision."},
		{"EventStartTime", TypeDateTime, "Tuple time: a tuple reports one flow observation, so start and end are its time."},
		{"EventEndTime", TypeDateTime, "Tuple time (see EventStartTime)."},
		{"EventCount", TypeInt, "`1`: one row per tuple."},
		{"EventType", TypeString, "`Flow`, as Microsoft's own ASIM parsers for NSG and VNet flow logs set it."},
		{"EventResult", TypeString, "`Success` (allowed), `Failure` (denied), `NA` (decision not readable)."},
		{"EventSeverity", TypeString, "`Informational` (allowed), `Low` (denied), as the schema derives it from DvcAction."},
		{"EventVendor", TypeString, "`Microsoft`."},
		{"EventProduct", TypeString, "`Azure NSG flows`, the ASIM product name for Azure flow logs (NSG and VNet)."},
		{"EventProductVersion", TypeString, "Flow-log version: `1` or `2` (NSG), `4` (VNet)."},
		{"EventSchema", TypeString, "`NetworkSession`. Not a column of ASimNetworkSessionLogs: the DCR drops it and the ASIM parsers set it at query time."},
		{"EventSchemaVersion", TypeString, "`0.2.6`, the schema version the row follows."},
		{"EventOriginalType", TypeString, "The record's category: `NetworkSecurityGroupFlowEvent` or `FlowLogFlowEvent`."},
		{"EventOriginalSubType", TypeString, "Flow state as written: `B`, `C`, `E` or `D`; absent for NSG version 1."},
		{"EventOriginalUid", TypeString, "nsgflow's EventId (16 hex digits, see above), to de-duplicate rows sent twice."},
		{"Dvc", TypeString, "NSG name (NSG) or flow-log name (VNet)."},
		{"DvcHostname", TypeString, "Same as Dvc."},
		{"DvcId", TypeString, "NSG resource ID (NSG) or flow-log resource ID (VNet), lower case."},
		{"DvcIdType", TypeString, "`AzureResourceId`."},
		{"DvcSubscriptionId", TypeString, "Subscription of the NSG (NSG) or of the target resource (VNet), lower case."},
		{"DvcAction", TypeString, "`Allow` or `Deny`; absent when the decision is not readable."},
		{"DvcOriginalAction", TypeString, "NSG flow logs: the decision as written (`A`, `D`)."},
		{"DvcMacAddr", TypeString, "The NIC's MAC when the direction is not readable (then neither side is known to be the NIC)."},
		{"NetworkRuleName", TypeString, "The rule that matched."},
		{"SrcIpAddr", TypeString, "Source IP (IPv4 or IPv6)."},
		{"DstIpAddr", TypeString, "Destination IP."},
		{"SrcPortNumber", TypeInt, "Source port; absent when the tuple has none."},
		{"DstPortNumber", TypeInt, "Destination port; absent when the tuple has none."},
		{"SrcMacAddr", TypeString, "Outbound flows: the NIC's MAC, `00:0D:3A:...`."},
		{"DstMacAddr", TypeString, "Inbound flows: the NIC's MAC, `00:0D:3A:...`."},
		{"NetworkProtocol", TypeString, "IANA keyword: `TCP`, `UDP`, `ICMP`, `IPv6-ICMP`, `GRE`, ...; absent for a number without a keyword."},
		{"NetworkProtocolVersion", TypeString, "`IPv4` or `IPv6`, from the source address."},
		{"NetworkDirection", TypeString, "`Inbound` or `Outbound` (relative to the NIC), `NA` when not readable."},
		{"SrcBytes", TypeLong, "Bytes source to destination; absent when the tuple has no counters."},
		{"SrcPackets", TypeLong, "Packets source to destination; absent when the tuple has no counters."},
		{"DstBytes", TypeLong, "Bytes destination to source; absent when the tuple has no counters."},
		{"DstPackets", TypeLong, "Packets destination to source; absent when the tuple has no counters."},
		{"NetworkSessionId", TypeString, "16 hex digits: a hash of flow-log resource, MAC, addresses, ports, protocol and direction, the same for every tuple (B, C, E) of one flow."},
		{"AdditionalFields", TypeDynamic, "VNet flow logs only: `Encryption` (field 8), `AclId` and `TargetResourceId`."},
	},
})

// asimGroup writes the columns that are constant within a group (record,
// rule, MAC) for the asim layout.
func asimGroup(b []byte, ev *Event) []byte {
	b = append(b, `,"EventCount":1,"EventType":"Flow","EventVendor":"Microsoft","EventProduct":"Azure NSG flows","EventProductVersion":"`...)
	b = strconv.AppendInt(b, int64(ev.Version), 10)
	b = append(b, `","EventSchema":"NetworkSession","EventSchemaVersion":"0.2.6"`...)
	if len(ev.Category) > 0 {
		b = appendField(b, `,"EventOriginalType":`, ev.Category)
	}
	id := ev.FlowLogResource
	if len(ev.Name) > 0 {
		b = appendField(b, `,"Dvc":`, ev.Name)
		b = appendField(b, `,"DvcHostname":`, ev.Name)
	} else {
		// Dvc is mandatory: without a name, the resource ID (or the
		// product, as the schema says for cloud sources) identifies it.
		dvc := lowerASCII(id)
		if len(dvc) == 0 {
			dvc = []byte(AsimEventProduct)
		}
		b = appendField(b, `,"Dvc":`, dvc)
	}
	if len(id) > 0 {
		b = append(b, `,"DvcId":`...)
		b = appendLowerString(b, id)
		b = append(b, `,"DvcIdType":"AzureResourceId"`...)
	}
	if len(ev.SubscriptionID) > 0 {
		b = append(b, `,"DvcSubscriptionId":`...)
		b = appendLowerString(b, ev.SubscriptionID)
	}
	return appendField(b, `,"NetworkRuleName":`, ev.Rule)
}

// lowerASCII returns b lower-cased (a copy only when it has upper case).
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			out := append([]byte(nil), b...)
			for j := i; j < len(out); j++ {
				if out[j] >= 'A' && out[j] <= 'Z' {
					out[j] += 'a' - 'A'
				}
			}
			return out
		}
	}
	return b
}

// appendLowerString appends v lower-cased as a JSON string.
func appendLowerString(b []byte, v []byte) []byte {
	start := len(b)
	b = appendString(b, v)
	for i := start; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// asimCache is the per-group state of the asim layout that is not JSON:
// the MAC in colon form, the session-ID hash state after resource and MAC,
// and the constant part of AdditionalFields.
type asimCache struct {
	seq      uint64
	mac      []byte // "00:0D:3A:F8:78:56", or the normalised MAC when not 12 hex digits
	sessHash uint64
	addl     []byte // `,"AclId":...,"TargetResourceId":...}` (VNet)
}

// sessionSeed keeps NetworkSessionId hashes apart from EventId hashes.
const sessionSeed = hashSeed ^ 0x5E55_10D0_A51A_0001

func (c *asimCache) fill(ev *Event) {
	c.seq = ev.groupSeq
	var norm [64]byte
	n := 0
	for _, ch := range ev.MAC {
		switch {
		case ch == '-' || ch == ':' || ch == '.':
			continue
		case ch >= 'a' && ch <= 'z':
			ch -= 'a' - 'A'
		case needsEscape[ch]:
			continue
		}
		if n < len(norm) {
			norm[n] = ch
			n++
		}
	}
	c.mac = c.mac[:0]
	if n == 12 && isHex(norm[:n]) {
		for i := 0; i < 12; i += 2 {
			if i > 0 {
				c.mac = append(c.mac, ':')
			}
			c.mac = append(c.mac, norm[i], norm[i+1])
		}
	} else {
		c.mac = append(c.mac, norm[:n]...)
	}
	h := hashBytes(sessionSeed, ev.FlowLogResource)
	c.sessHash = hashBytes(h, norm[:n])
	c.addl = c.addl[:0]
	if ev.Kind == KindVNet {
		if len(ev.AclID) > 0 {
			c.addl = appendField(c.addl, `,"AclId":`, ev.AclID)
		}
		if len(ev.TargetResource) > 0 {
			c.addl = appendField(c.addl, `,"TargetResourceId":`, ev.TargetResource)
		}
		c.addl = append(c.addl, '}')
	}
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// SessionID is the asim layout's NetworkSessionId: a hash of the flow-log
// resource, the MAC (normalised), both addresses and ports, the protocol
// and the direction. Time, state, counters and rule are left out, so the
// begin, continuing and end tuples of one flow share it.
func (e *Event) SessionID() uint64 {
	var c asimCache
	c.fill(e)
	return e.sessionID(c.sessHash)
}

func (e *Event) sessionID(h uint64) uint64 {
	h = hashBytes(h, e.SrcIP)
	h = hashBytes(h, e.DestIP)
	h = hashBytes(h, e.SrcPort)
	h = hashBytes(h, e.DestPort)
	h = hashBytes(h, e.Protocol)
	h = hashBytes(h, e.Direction)
	return finalize(h)
}

// ianaKeyword names the protocol numbers flow logs carry by their IANA
// keyword; other numbers get no NetworkProtocol.
func ianaKeyword(n int) string {
	switch n {
	case 1:
		return "ICMP"
	case 2:
		return "IGMP"
	case 4:
		return "IPv4"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 41:
		return "IPv6"
	case 47:
		return "GRE"
	case 50:
		return "ESP"
	case 51:
		return "AH"
	case 58:
		return "IPv6-ICMP"
	case 132:
		return "SCTP"
	}
	return ""
}

// asimAction returns the action (Allow, Deny or "" when not readable).
func asimAction(ev *Event) string {
	v := ev.Decision
	if ev.Kind == KindVNet {
		v = ev.State
	}
	if len(v) != 1 {
		return ""
	}
	switch v[0] {
	case 'A':
		if ev.Kind == KindNSG {
			return "Allow"
		}
	case 'B', 'C', 'E':
		if ev.Kind == KindVNet {
			return "Allow"
		}
	case 'D':
		return "Deny"
	}
	return ""
}

func (e *Encoder) appendAsim(b []byte, ev *Event) []byte {
	if ev.groupSeq == 0 || ev.groupSeq != e.asim.seq {
		e.asim.fill(ev)
	}
	b = append(b, '{')
	b = append(b, e.timeColumnKey()...)
	start := len(b)
	b = e.appendTime(b, ev.TimeMillis, true)
	end := len(b)
	b = append(b, `","EventStartTime":"`...)
	b = append(b, b[start:end]...)
	b = append(b, `","EventEndTime":"`...)
	b = append(b, b[start:end]...)
	b = append(b, '"')
	b = append(b, e.groupFragment(ev)...)
	switch asimAction(ev) {
	case "Allow":
		b = append(b, `,"EventResult":"Success","EventSeverity":"Informational","DvcAction":"Allow"`...)
	case "Deny":
		b = append(b, `,"EventResult":"Failure","EventSeverity":"Low","DvcAction":"Deny"`...)
	default:
		b = append(b, `,"EventResult":"NA","EventSeverity":"Informational"`...)
	}
	if ev.Kind == KindNSG && len(ev.Decision) > 0 {
		b = appendField(b, `,"DvcOriginalAction":`, ev.Decision)
	}
	b = appendField(b, `,"SrcIpAddr":`, ev.SrcIP)
	b = appendField(b, `,"DstIpAddr":`, ev.DestIP)
	if len(ev.SrcPort) > 0 {
		b = append(b, `,"SrcPortNumber":`...)
		b = appendDigits(b, ev.SrcPort)
	}
	if len(ev.DestPort) > 0 {
		b = append(b, `,"DstPortNumber":`...)
		b = appendDigits(b, ev.DestPort)
	}
	if kw := ianaKeyword(ev.ProtocolNumber()); kw != "" {
		b = append(b, `,"NetworkProtocol":"`...)
		b = append(b, kw...)
		b = append(b, '"')
	}
	if isIPv6(ev.SrcIP) {
		b = append(b, `,"NetworkProtocolVersion":"IPv6"`...)
	} else {
		b = append(b, `,"NetworkProtocolVersion":"IPv4"`...)
	}
	macKey := `,"DvcMacAddr":"`
	switch directionName(ev.Direction) {
	case "Inbound":
		b = append(b, `,"NetworkDirection":"Inbound"`...)
		macKey = `,"DstMacAddr":"`
	case "Outbound":
		b = append(b, `,"NetworkDirection":"Outbound"`...)
		macKey = `,"SrcMacAddr":"`
	default:
		b = append(b, `,"NetworkDirection":"NA"`...)
	}
	if len(e.asim.mac) > 0 {
		b = append(b, macKey...)
		b = append(b, e.asim.mac...)
		b = append(b, '"')
	}
	if len(ev.State) > 0 {
		b = appendField(b, `,"EventOriginalSubType":`, ev.State)
	}
	if ev.HasCounters {
		b = append(b, `,"SrcBytes":`...)
		b = strconv.AppendInt(b, ev.BytesSrcToDest, 10)
		b = append(b, `,"SrcPackets":`...)
		b = strconv.AppendInt(b, ev.PacketsSrcToDest, 10)
		b = append(b, `,"DstBytes":`...)
		b = strconv.AppendInt(b, ev.BytesDestToSrc, 10)
		b = append(b, `,"DstPackets":`...)
		b = strconv.AppendInt(b, ev.PacketsDestToSrc, 10)
	}
	b = append(b, `,"NetworkSessionId":"`...)
	b = appendHex64(b, ev.sessionID(e.asim.sessHash))
	b = append(b, `","EventOriginalUid":"`...)
	b = appendHex64(b, ev.EventID())
	b = append(b, '"')
	if ev.Kind == KindVNet {
		b = appendField(b, `,"AdditionalFields":{"Encryption":`, ev.Encryption)
		b = append(b, e.asim.addl...)
	}
	return append(b, '}')
}

// isIPv6 reports whether an address as written is IPv6 (has a colon).
func isIPv6(ip []byte) bool {
	for _, c := range ip {
		if c == ':' {
			return true
		}
	}
	return false
}
