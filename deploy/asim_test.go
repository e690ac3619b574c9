package deploy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// TestAsimTemplate: `nsgflow dcr --schema asim` creates no table, declares
// the asim layout's columns on stream Custom-NsgFlowAsim, drops EventSchema
// and writes the standard table ASimNetworkSessionLogs through its
// Microsoft- stream, with the endpoint and the role assignment; every column
// the transformation keeps is a column of the table with the same type.
func TestAsimTemplate(t *testing.T) {
	s := flowparse.AsimSchema
	b, err := ARM(Options{Schema: s})
	if err != nil {
		t.Fatal(err)
	}
	var tpl template
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	types := map[string]resource{}
	for _, r := range tpl.Resources {
		types[r.Type] = r
	}
	if _, ok := types["Microsoft.OperationalInsights/workspaces/tables"]; ok {
		t.Error("the asim template creates a table; ASimNetworkSessionLogs is a standard table")
	}
	for _, typ := range []string{"Microsoft.Insights/dataCollectionRules", "Microsoft.Insights/dataCollectionEndpoints", "Microsoft.Authorization/roleAssignments"} {
		if _, ok := types[typ]; !ok {
			t.Errorf("no %s", typ)
		}
	}
	if len(tpl.Resources) != 3 {
		t.Errorf("%d resources, want 3", len(tpl.Resources))
	}
	if _, ok := tpl.Parameters["retentionInDays"]; ok {
		t.Error("retentionInDays parameter without a table")
	}
	var role roleProps
	if err := json.Unmarshal(types["Microsoft.Authorization/roleAssignments"].Properties, &role); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), MonitoringMetricsPublisherRoleID) || role.PrincipalID != "[parameters('principalId')]" {
		t.Errorf("role assignment %+v", role)
	}
	dcrRes := types["Microsoft.Insights/dataCollectionRules"]
	for _, d := range dcrRes.DependsOn {
		if strings.Contains(d, "tableId") {
			t.Errorf("DCR depends on a table: %v", dcrRes.DependsOn)
		}
	}
	var dcr dcrProps
	if err := json.Unmarshal(dcrRes.Properties, &dcr); err != nil {
		t.Fatal(err)
	}
	decl, ok := dcr.StreamDeclarations[emulator.AsimStream]
	if !ok || len(dcr.StreamDeclarations) != 1 {
		t.Fatalf("stream declarations %v, want only %s", dcr.StreamDeclarations, emulator.AsimStream)
	}
	if len(dcr.DataFlows) != 1 {
		t.Fatalf("%d data flows", len(dcr.DataFlows))
	}
	f := dcr.DataFlows[0]
	if f.OutputStream != "Microsoft-ASimNetworkSessionLogs" || len(f.Streams) != 1 || f.Streams[0] != emulator.AsimStream {
		t.Errorf("data flow %+v", f)
	}
	if f.TransformKql != "source | project-away EventSchema" {
		t.Errorf("transformKql %q", f.TransformKql)
	}
	if len(decl.Columns) != len(s.Columns) {
		t.Errorf("%d declared columns, layout has %d", len(decl.Columns), len(s.Columns))
	}
	dropped := map[string]bool{}
	for _, c := range s.Dropped {
		dropped[c] = true
	}
	for i, c := range decl.Columns {
		if i < len(s.Columns) && (c.Name != s.Columns[i].Name || c.Type != s.Columns[i].Type) {
			t.Errorf("column %d: declared %s %s, layout %s %s", i, c.Name, c.Type, s.Columns[i].Name, s.Columns[i].Type)
		}
		tt, inTable := emulator.ASimNetworkSessionLogsColumns[c.Name]
		switch {
		case dropped[c.Name] && inTable:
			t.Errorf("%s is dropped but the table has it", c.Name)
		case dropped[c.Name]:
		case !inTable:
			t.Errorf("%s reaches ASimNetworkSessionLogs, which has no such column", c.Name)
		case tt != c.Type:
			t.Errorf("%s: stream type %s, table type %s", c.Name, c.Type, tt)
		}
	}
	if tpl.Outputs["tableName"].Value != "[variables('tableName')]" || !strings.Contains(string(b), `"tableName": "ASimNetworkSessionLogs"`) {
		t.Errorf("tableName output %+v", tpl.Outputs["tableName"])
	}
	var p parsed
	p.tpl = tpl
	checkExpressions(t, b, p)

	// --table names custom tables: refused for a standard one.
	if _, err := ARM(Options{Schema: s, Table: "Other"}); err == nil || !strings.Contains(err.Error(), "--table does not apply") {
		t.Errorf("--table with asim: %v", err)
	}
	bb, err := Bicep(Options{Schema: s})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"'Custom-NsgFlowAsim':", "'Microsoft-ASimNetworkSessionLogs'", "transformKql: 'source | project-away EventSchema'",
		"type: 'dynamic'", MonitoringMetricsPublisherRoleID} {
		if !strings.Contains(string(bb), want) {
			t.Errorf("Bicep lacks %s", want)
		}
	}
	for _, unwanted := range []string{"workspaces/tables@", "retentionInDays", "dependsOn"} {
		if strings.Contains(string(bb), unwanted) {
			t.Errorf("Bicep has %s", unwanted)
		}
	}
}

// TestAsimQueriesUseSchemaFields fails when an asim query names a field the
// asim layout does not fill (a typo, a default-schema column, or an ASIM
// field nsgflow leaves empty), reads neither _Im_NetworkSession nor
// ASimNetworkSessionLogs, or forgets to keep only Azure flow logs (the
// unifying parser returns every ASIM network source).
func TestAsimQueriesUseSchemaFields(t *testing.T) {
	for _, name := range queryQuestions {
		t.Run(name, func(t *testing.T) {
			q := readQuery(t, "asim", name)
			if !strings.Contains(q, "_Im_NetworkSession(starttime = ago(") && !strings.Contains(q, "\nASimNetworkSessionLogs\n") {
				t.Error("reads neither _Im_NetworkSession(starttime = ...) nor ASimNetworkSessionLogs")
			}
			if !strings.Contains(q, `| where EventProduct == "`+flowparse.AsimEventProduct+`"`) {
				t.Errorf("does not keep EventProduct %q only", flowparse.AsimEventProduct)
			}
			refs, bound := kqlRefs(q)
			used := 0
			for _, id := range refs {
				if _, ok := flowparse.AsimSchema.Column(id); ok {
					used++
					continue
				}
				if id == flowparse.AsimTable || bound[id] {
					continue
				}
				t.Errorf("%s is neither a field the asim layout fills nor a name the query binds", id)
			}
			if used < 3 {
				t.Errorf("uses %d asim fields", used)
			}
		})
	}
}
