package deploy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// API versions of the resources the template creates.
const (
	APIVersionTables          = "2022-10-01"
	APIVersionDCR             = "2023-03-11"
	APIVersionDCE             = "2023-03-11"
	APIVersionRoleAssignments = "2022-04-01"
)

// MonitoringMetricsPublisherRoleID is the built-in role an identity needs on
// a data collection rule to send to it through the Logs Ingestion API.
const MonitoringMetricsPublisherRoleID = "3913510d-42f4-4e42-8a64-420c390055eb"

const templateSchema = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"

// DefaultTable returns the table name (without _CL) a schema's template
// uses unless told otherwise: the layout's own (flowparse.Schema.Table), so
// that the seed template never collides with a classic table the Data
// Collector API made and no two layouts share a table.
func DefaultTable(s *flowparse.Schema) string {
	return s.Table
}

// Options chooses what the template is rendered for.
type Options struct {
	// Schema is the row layout; nil means flowparse.DefaultSchema.
	Schema *flowparse.Schema
	// Table is the custom table's name without the _CL suffix (a trailing
	// _CL is accepted and dropped); empty means DefaultTable(Schema). The
	// stream is Custom-<Table>, the table <Table>_CL.
	Table string
}

// Names are the resource names a template uses, derived from Options.
type Names struct {
	Table        string // NsgFlow_CL
	Stream       string // Custom-NsgFlow: what senders post to
	OutputStream string // Custom-NsgFlow_CL: the table's stream in the DCR
	// Standard is true for a layout that writes a standard table
	// (flowparse.Schema.StandardTable, e.g. ASimNetworkSessionLogs): the
	// template creates no table, Table is the standard table's name and
	// OutputStream Microsoft-<Table>.
	Standard bool
}

// tableNameRe: ARM table names are 4-63 characters of letters, digits, '-'
// and '_'; the stream name must also be a valid KQL identifier after
// "Custom-", so allow letters, digits and '_' only, starting with a letter,
// and leave room for "_CL".
var tableNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,59}$`)

func (o Options) resolve() (*flowparse.Schema, Names, error) {
	s := o.Schema
	if s == nil {
		s = flowparse.DefaultSchema
	}
	if s.StandardTable != "" {
		if o.Table != "" {
			return nil, Names{}, fmt.Errorf("--table does not apply to schema %s: its rows go to the standard table %s (stream Custom-%s)", s.Name, s.StandardTable, s.Table)
		}
		return s, Names{
			Table:        s.StandardTable,
			Stream:       "Custom-" + s.Table,
			OutputStream: "Microsoft-" + s.StandardTable,
			Standard:     true,
		}, nil
	}
	base := o.Table
	if base == "" {
		base = DefaultTable(s)
	}
	base = strings.TrimSuffix(base, "_CL")
	if !tableNameRe.MatchString(base) {
		return nil, Names{}, fmt.Errorf("table name %q: want a letter then up to 59 letters, digits or underscores (the _CL suffix is added)", o.Table)
	}
	return s, Names{
		Table:        base + "_CL",
		Stream:       "Custom-" + base,
		OutputStream: "Custom-" + base + "_CL",
	}, nil
}

// NamesFor returns the table and stream names the template for o uses.
func NamesFor(o Options) (Names, error) {
	_, n, err := o.resolve()
	return n, err
}

// tableColumnType maps a flowparse column type to the Log Analytics tables
// API's column type (ColumnTypeEnum: string, int, long, real, boolean,
// dateTime, guid, dynamic).
func tableColumnType(t string) (string, error) {
	switch t {
	case flowparse.TypeDateTime:
		return "dateTime", nil
	case flowparse.TypeString, flowparse.TypeInt, flowparse.TypeLong, flowparse.TypeDynamic:
		return t, nil
	}
	return "", fmt.Errorf("column type %q has no table type", t)
}

// streamColumnType maps a flowparse column type to a DCR stream
// declaration's column type (string, int, long, real, boolean, dynamic,
// datetime).
func streamColumnType(t string) (string, error) {
	switch t {
	case flowparse.TypeDateTime, flowparse.TypeString, flowparse.TypeInt, flowparse.TypeLong, flowparse.TypeDynamic:
		return t, nil
	}
	return "", fmt.Errorf("column type %q has no stream declaration type", t)
}

// transformKQL returns the DCR transformation. Every table needs a datetime
// TimeGenerated: the default schema sends one; the seed schema sends its
// time as the string DateTime, converted here.
// Columns a standard table lacks (Schema.Dropped) are projected away.
func transformKQL(s *flowparse.Schema) string {
	q := "source"
	if c, ok := s.Column(s.TimeColumn); !ok || s.TimeColumn != "TimeGenerated" || c.Type != flowparse.TypeDateTime {
		q += " | extend TimeGenerated = todatetime(" + s.TimeColumn + ")"
	}
	if len(s.Dropped) > 0 {
		q += " | project-away " + strings.Join(s.Dropped, ", ")
	}
	return q
}

// plainDescription drops Markdown backticks: the portal shows text as is.
func plainDescription(d string) string { return strings.ReplaceAll(d, "`", "") }

func tableColumns(s *flowparse.Schema) ([]any, error) {
	var cols []any
	if _, ok := s.Column("TimeGenerated"); !ok {
		cols = append(cols, object{
			{"name", "TimeGenerated"},
			{"type", "dateTime"},
			{"description", "Event time: the tuple time, set by the data collection rule's transformation from " + s.TimeColumn + "."},
		})
	}
	for _, c := range s.Columns {
		t, err := tableColumnType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("schema %s column %s: %w", s.Name, c.Name, err)
		}
		cols = append(cols, object{{"name", c.Name}, {"type", t}, {"description", plainDescription(c.Description)}})
	}
	return cols, nil
}

func streamColumns(s *flowparse.Schema) ([]any, error) {
	cols := make([]any, 0, len(s.Columns))
	for _, c := range s.Columns {
		t, err := streamColumnType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("schema %s column %s: %w", s.Name, c.Name, err)
		}
		cols = append(cols, object{{"name", c.Name}, {"type", t}})
	}
	return cols, nil
}

func param(typ string, def any, desc string, extra ...member) object {
	p := object{{"type", typ}}
	if def != nil {
		p = append(p, member{"defaultValue", def})
	}
	p = append(p, extra...)
	return append(p, member{"metadata", object{{"description", desc}}})
}

// ARM renders the template as 2-space indented JSON.
func ARM(o Options) ([]byte, error) {
	t, err := armTemplate(o)
	if err != nil {
		return nil, err
	}
	return render(t)
}

func armTemplate(o Options) (object, error) {
	s, n, err := o.resolve()
	if err != nil {
		return nil, err
	}
	tcols, err := tableColumns(s)
	if err != nil {
		return nil, err
	}
	scols, err := streamColumns(s)
	if err != nil {
		return nil, err
	}

	const (
		dcrID   = "[variables('dataCollectionRuleId')]"
		dceID   = "[variables('dataCollectionEndpointId')]"
		tableID = "[variables('tableId')]"
		useDCE  = "parameters('createDataCollectionEndpoint')"
	)

	parameters := object{
		{"workspaceName", param("string", nil,
			"Name of the existing Log Analytics workspace. Deploy this template to the workspace's resource group.")},
		{"location", param("string", "[resourceGroup().location]",
			"Region of the data collection rule (and endpoint). Must be the workspace's region.")},
		{"dataCollectionRuleName", param("string", "dcr-nsgflow-"+s.Name,
			"Name of the data collection rule.")},
		{"createDataCollectionEndpoint", param("bool", false,
			"Also create a data collection endpoint and bind the rule to it (needed for private link). When false the rule is kind Direct and has its own logs ingestion endpoint.")},
		{"dataCollectionEndpointName", param("string", "dce-nsgflow",
			"Name of the data collection endpoint; used only when createDataCollectionEndpoint is true.")},
		{"principalId", param("string", "",
			"Object (principal) ID of the service principal or managed identity that sends the rows; it gets Monitoring Metrics Publisher on the rule. Empty: no role assignment.")},
		{"principalType", param("string", "ServicePrincipal",
			"Type of principalId. ServicePrincipal also covers managed identities and avoids replication-delay failures for new identities.",
			member{"allowedValues", []any{"ServicePrincipal", "User", "Group", "ForeignGroup", "Device"}})},
		{"retentionInDays", param("int", -1,
			"Interactive retention of the table in days (4-730), or -1 for the workspace default.")},
	}
	if n.Standard {
		parameters = parameters[:len(parameters)-1] // no table: no retention to set
	}

	variables := object{
		{"tableName", n.Table},
		{"streamName", n.Stream},
		{"outputStreamName", n.OutputStream},
		{"workspaceResourceId", "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]"},
		{"tableId", "[resourceId('Microsoft.OperationalInsights/workspaces/tables', parameters('workspaceName'), variables('tableName'))]"},
		{"dataCollectionRuleId", "[resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName'))]"},
		{"dataCollectionEndpointId", "[resourceId('Microsoft.Insights/dataCollectionEndpoints', parameters('dataCollectionEndpointName'))]"},
		{"monitoringMetricsPublisherRoleId", "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '" + MonitoringMetricsPublisherRoleID + "')]"},
	}

	if n.Standard {
		kept := variables[:0:0]
		for _, m := range variables {
			if m.key != "tableId" {
				kept = append(kept, m)
			}
		}
		variables = kept
	}

	table := object{
		{"type", "Microsoft.OperationalInsights/workspaces/tables"},
		{"apiVersion", APIVersionTables},
		{"name", "[format('{0}/{1}', parameters('workspaceName'), variables('tableName'))]"},
		{"properties", object{
			{"plan", "Analytics"},
			{"retentionInDays", "[parameters('retentionInDays')]"},
			{"schema", object{
				{"name", "[variables('tableName')]"},
				{"description", "Azure network flow logs, one row per flow tuple (nsgflow, " + s.Name + " schema)."},
				{"columns", tcols},
			}},
		}},
	}

	dce := object{
		{"condition", "[" + useDCE + "]"},
		{"type", "Microsoft.Insights/dataCollectionEndpoints"},
		{"apiVersion", APIVersionDCE},
		{"name", "[parameters('dataCollectionEndpointName')]"},
		{"location", "[parameters('location')]"},
		{"properties", object{
			{"networkAcls", object{{"publicNetworkAccess", "Enabled"}}},
		}},
	}

	dcrDepends := []any{tableID, dceID}
	resources := []any{table}
	if n.Standard {
		dcrDepends = []any{dceID}
		resources = nil
	}
	dcr := object{
		{"type", "Microsoft.Insights/dataCollectionRules"},
		{"apiVersion", APIVersionDCR},
		{"name", "[parameters('dataCollectionRuleName')]"},
		{"location", "[parameters('location')]"},
		{"kind", "[if(" + useDCE + ", json('null'), 'Direct')]"},
		{"dependsOn", dcrDepends},
		{"properties", object{
			{"description", "nsgflow: Azure network flow logs (" + s.Name + " schema) into " + n.Table + "."},
			{"dataCollectionEndpointId", "[if(" + useDCE + ", variables('dataCollectionEndpointId'), json('null'))]"},
			{"streamDeclarations", object{
				{n.Stream, object{{"columns", scols}}},
			}},
			{"destinations", object{
				{"logAnalytics", []any{object{
					{"workspaceResourceId", "[variables('workspaceResourceId')]"},
					{"name", "workspace"},
				}}},
			}},
			{"dataFlows", []any{object{
				{"streams", []any{n.Stream}},
				{"destinations", []any{"workspace"}},
				{"transformKql", transformKQL(s)},
				{"outputStream", n.OutputStream},
			}}},
		}},
	}

	role := object{
		{"condition", "[not(empty(parameters('principalId')))]"},
		{"type", "Microsoft.Authorization/roleAssignments"},
		{"apiVersion", APIVersionRoleAssignments},
		{"scope", "[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dataCollectionRuleName'))]"},
		{"name", "[guid(variables('dataCollectionRuleId'), parameters('principalId'), variables('monitoringMetricsPublisherRoleId'))]"},
		{"dependsOn", []any{dcrID}},
		{"properties", object{
			{"roleDefinitionId", "[variables('monitoringMetricsPublisherRoleId')]"},
			{"principalId", "[parameters('principalId')]"},
			{"principalType", "[parameters('principalType')]"},
			{"description", "nsgflow: send rows to the data collection rule through the Logs Ingestion API."},
		}},
	}

	outputs := object{
		{"dataCollectionRuleId", object{{"type", "string"}, {"value", dcrID}}},
		{"dataCollectionRuleImmutableId", object{{"type", "string"},
			{"value", "[reference(variables('dataCollectionRuleId'), '" + APIVersionDCR + "').immutableId]"}}},
		{"logsIngestionEndpoint", object{{"type", "string"},
			{"value", "[if(" + useDCE + ", reference(variables('dataCollectionEndpointId'), '" + APIVersionDCE + "').logsIngestion.endpoint, reference(variables('dataCollectionRuleId'), '" + APIVersionDCR + "').endpoints.logsIngestion)]"}}},
		{"streamName", object{{"type", "string"}, {"value", "[variables('streamName')]"}}},
		{"tableName", object{{"type", "string"}, {"value", "[variables('tableName')]"}}},
	}

	return object{
		{"$schema", templateSchema},
		{"contentVersion", "1.0.0.0"},
		{"metadata", object{
			{"description", templateDescription(n, s.Name)},
			{"generator", generatorLine(n, s.Name) + " (do not edit: regenerate)"},
		}},
		{"parameters", parameters},
		{"variables", variables},
		{"resources", append(resources, dce, dcr, role)},
		{"outputs", outputs},
	}, nil
}

// templateDescription says what the template creates.
func templateDescription(n Names, schema string) string {
	if n.Standard {
		return "Data collection rule (stream " + n.Stream + " into the standard table " + n.Table + ", output stream " + n.OutputStream + "), optional data collection endpoint and Monitoring Metrics Publisher role assignment for nsgflow's Logs Ingestion destination (" + schema + " schema). The table is Microsoft Sentinel's: nothing to create."
	}
	return "Log Analytics table " + n.Table + ", data collection rule (stream " + n.Stream + "), optional data collection endpoint and Monitoring Metrics Publisher role assignment for nsgflow's Logs Ingestion destination (" + schema + " schema)."
}

// generatorLine is the command that renders the template.
func generatorLine(n Names, schema string) string {
	if n.Standard {
		return "nsgflow dcr --schema " + schema
	}
	return "nsgflow dcr --schema " + schema + " --table " + strings.TrimSuffix(n.Table, "_CL")
}
