package emulator

import (
	"fmt"
	"sort"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// AsimStream is the DCR input stream the asim layout posts to; its rows go
// to the standard table ASimNetworkSessionLogs (flowparse.AsimTable).
const AsimStream = "Custom-NsgFlowAsim"

// ASimNetworkSessionLogsColumns are the columns of the standard table
// ASimNetworkSessionLogs that a DCR can write, with their Log Analytics
// types, as the Azure Monitor table reference lists them. Columns the
// service fills itself (TenantId, Type, SourceSystem, _ResourceId,
// _SubscriptionId, _BilledSize, _IsBillable, _ItemId) are left out: a DCR
// cannot write them.
var ASimNetworkSessionLogsColumns = map[string]string{
	"TimeGenerated":    "datetime",
	"AdditionalFields": "dynamic",

	"EventCount": "int", "EventStartTime": "datetime", "EventEndTime": "datetime",
	"EventMessage": "string", "EventOriginalResultDetails": "string", "EventOriginalSeverity": "string",
	"EventOriginalSubType": "string", "EventOriginalType": "string", "EventOriginalUid": "string",
	"EventProduct": "string", "EventProductVersion": "string", "EventReportUrl": "string",
	"EventResult": "string", "EventResultDetails": "string", "EventSchemaVersion": "string",
	"EventSeverity": "string", "EventSubType": "string", "EventType": "string", "EventVendor": "string",

	"Dvc": "string", "DvcAction": "string", "DvcDescription": "string", "DvcDomain": "string",
	"DvcDomainType": "string", "DvcFQDN": "string", "DvcHostname": "string", "DvcId": "string",
	"DvcIdType": "string", "DvcInboundInterface": "string", "DvcInterface": "string", "DvcIpAddr": "string",
	"DvcMacAddr": "string", "DvcOriginalAction": "string", "DvcOs": "string", "DvcOsVersion": "string",
	"DvcOutboundInterface": "string", "DvcSubscriptionId": "string", "DvcZone": "string",

	"NetworkApplicationProtocol": "string", "NetworkBytes": "long", "NetworkConnectionHistory": "string",
	"NetworkDirection": "string", "NetworkDuration": "int", "NetworkIcmpCode": "int", "NetworkIcmpType": "string",
	"NetworkPackets": "long", "NetworkProtocol": "string", "NetworkProtocolVersion": "string",
	"NetworkRuleName": "string", "NetworkRuleNumber": "int", "NetworkSessionId": "string",

	"TcpFlagsAck": "boolean", "TcpFlagsFin": "boolean", "TcpFlagsPsh": "boolean", "TcpFlagsRst": "boolean",
	"TcpFlagsSyn": "boolean", "TcpFlagsUrg": "boolean",

	"ThreatCategory": "string", "ThreatConfidence": "int", "ThreatField": "string",
	"ThreatFirstReportedTime": "datetime", "ThreatId": "string", "ThreatIpAddr": "string",
	"ThreatIsActive": "boolean", "ThreatLastReportedTime": "datetime", "ThreatName": "string",
	"ThreatOriginalConfidence": "string", "ThreatOriginalRiskLevel": "string", "ThreatRiskLevel": "int",

	"SrcAppId": "string", "SrcAppName": "string", "SrcAppType": "string", "SrcBytes": "long",
	"SrcDescription": "string", "SrcDeviceType": "string", "SrcDomain": "string", "SrcDomainType": "string",
	"SrcDvcId": "string", "SrcDvcIdType": "string", "SrcFQDN": "string", "SrcGeoCity": "string",
	"SrcGeoCountry": "string", "SrcGeoLatitude": "real", "SrcGeoLongitude": "real", "SrcGeoRegion": "string",
	"SrcHostname": "string", "SrcInterfaceGuid": "string", "SrcInterfaceName": "string", "SrcIpAddr": "string",
	"SrcMacAddr": "string", "SrcNatIpAddr": "string", "SrcNatPortNumber": "int", "SrcOriginalUserType": "string",
	"SrcPackets": "long", "SrcPortNumber": "int", "SrcSubscriptionId": "string", "SrcUserId": "string",
	"SrcUserIdType": "string", "SrcUsername": "string", "SrcUsernameType": "string", "SrcUserType": "string",
	"SrcVlanId": "string", "SrcZone": "string",

	"DstAppId": "string", "DstAppName": "string", "DstAppType": "string", "DstBytes": "long",
	"DstDescription": "string", "DstDeviceType": "string", "DstDomain": "string", "DstDomainType": "string",
	"DstDvcId": "string", "DstDvcIdType": "string", "DstFQDN": "string", "DstGeoCity": "string",
	"DstGeoCountry": "string", "DstGeoLatitude": "real", "DstGeoLongitude": "real", "DstGeoRegion": "string",
	"DstHostname": "string", "DstInterfaceGuid": "string", "DstInterfaceName": "string", "DstIpAddr": "string",
	"DstMacAddr": "string", "DstNatIpAddr": "string", "DstNatPortNumber": "int", "DstOriginalUserType": "string",
	"DstPackets": "long", "DstPortNumber": "int", "DstSubscriptionId": "string", "DstUserId": "string",
	"DstUserIdType": "string", "DstUsername": "string", "DstUsernameType": "string", "DstUserType": "string",
	"DstVlanId": "string", "DstZone": "string",
}

// StandardTables are the standard tables the emulator knows the columns
// of, by name.
var StandardTables = map[string]map[string]string{
	flowparse.AsimTable: ASimNetworkSessionLogsColumns,
}

// StandardStream models the DCR `nsgflow dcr` renders for a layout that
// writes a standard table (flowparse.Schema.StandardTable): stream
// Custom-<Schema.Table> declares every column of the layout, the
// transformation drops Schema.Dropped, and the rows land in the standard
// table, checked strictly against its columns (StandardTables).
func StandardStream(s *flowparse.Schema) Stream {
	st := StreamForSchema("Custom-"+s.Table, s)
	st.Table = s.StandardTable
	st.TableColumns = StandardTables[s.StandardTable]
	if st.TableColumns == nil {
		st.TableColumns = map[string]string{} // unknown table: every column is refused
	}
	st.Drop = s.Dropped
	return st
}

// AsimStreamDef is StandardStream(flowparse.AsimSchema): stream AsimStream
// into ASimNetworkSessionLogs.
func AsimStreamDef() Stream { return StandardStream(flowparse.AsimSchema) }

// checkTable is the DCR validation Azure does when a rule is created: every
// column the stream declares reaches the table (or is dropped by the
// transformation) with the table's type.
func (s Stream) checkTable() error {
	if s.TableColumns == nil {
		return nil
	}
	drop := map[string]bool{}
	for _, c := range s.Drop {
		drop[c] = true
	}
	var bad []string
	for _, c := range s.Columns {
		if drop[c] {
			continue
		}
		tt, ok := s.TableColumns[c]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s (not a column of %s)", c, s.Table))
		case columnTypes[tt] != columnTypes[s.Types[c]] && s.Types[c] != "":
			bad = append(bad, fmt.Sprintf("%s (declared %s, the table has %s)", c, s.Types[c], tt))
		}
	}
	for c, t := range s.TableColumns {
		if _, ok := columnTypes[t]; !ok {
			bad = append(bad, fmt.Sprintf("table column %s: unknown type %q", c, t))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("emulator: stream %q does not fit table %s: %v", s.Name, s.Table, bad)
	}
	return nil
}
