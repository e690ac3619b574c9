package flowparse

// SeedSchema reproduces the columns of the 2017 PowerShell script: every value
// a string, as the script sent it.
var SeedSchema = register(&Schema{
	Name:       "seed",
	Title:      "Seed schema",
	TimeColumn: "DateTime",
	Table:      "NsgFlowSeed",
	row:        (*Encoder).appendSeed,
	group:      seedGroup,
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
})

func seedGroup(b []byte, ev *Event) []byte {
	b = appendField(b, `{"SubscriptionId":`, ev.SubscriptionID)
	b = appendField(b, `,"ResourceGroup":`, ev.ResourceGroup)
	b = appendField(b, `,"NSG":`, ev.Name)
	b = appendField(b, `,"Rule":`, ev.Rule)
	return appendField(b, `,"MAC":`, ev.MAC)
}

func (e *Encoder) appendSeed(b []byte, ev *Event) []byte {
	b = append(b, e.groupFragment(ev)...)
	b = append(b, ',')
	b = append(b, e.timeColumnKey()...)
	b = e.appendTime(b, ev.TimeMillis, ev.TimeMillis%1000 != 0)
	b = append(b, '"')
	b = appendField(b, `,"SourceIp":`, ev.SrcIP)
	b = appendField(b, `,"DestinationIp":`, ev.DestIP)
	b = appendField(b, `,"SourcePort":`, ev.SrcPort)
	b = appendField(b, `,"DestinationPort":`, ev.DestPort)
	b = appendField(b, `,"TcpOrUdp":`, ev.Protocol)
	b = appendField(b, `,"InOrOut":`, ev.Direction)
	if ev.Kind == KindVNet {
		if ev.Denied() {
			b = append(b, `,"AllowOrDeny":"D"`...)
		} else {
			b = append(b, `,"AllowOrDeny":"A"`...)
		}
	} else {
		b = appendField(b, `,"AllowOrDeny":`, ev.Decision)
	}
	return append(b, '}')
}
