package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

var update = flag.Bool("update", false, "rewrite the committed templates from the schema")

// samplesDir is the shared sample folder beside the repository checkout.
var samplesDir = filepath.Join("..", "..", "shared", "samples")

// committed lists the generated ARM files kept in the repository.
var committed = []struct {
	file   string
	schema *flowparse.Schema
}{
	{"nsgflow-default.json", flowparse.DefaultSchema},
	{"nsgflow-seed.json", flowparse.SeedSchema},
}

// generated lists every generated file kept in the repository and how it
// is rendered.
var generated = []struct {
	file   string
	schema *flowparse.Schema
	format string
	render func(Options) ([]byte, error)
}{
	{"nsgflow-default.json", flowparse.DefaultSchema, "arm", ARM},
	{"nsgflow-seed.json", flowparse.SeedSchema, "arm", ARM},
	{"nsgflow-default.bicep", flowparse.DefaultSchema, "bicep", Bicep},
	{"nsgflow-seed.bicep", flowparse.SeedSchema, "bicep", Bicep},
	{"nsgflow-asim.json", flowparse.AsimSchema, "arm", ARM},
	{"nsgflow-asim.bicep", flowparse.AsimSchema, "bicep", Bicep},
}

// TestCommittedTemplatesAreCurrent fails when a committed template differs
// from what the schema renders today. Run `go test ./deploy -update` (or
// `make deploy-templates`) after changing flowparse's schema.
func TestCommittedTemplatesAreCurrent(t *testing.T) {
	for _, c := range generated {
		t.Run(c.file, func(t *testing.T) {
			got, err := c.render(Options{Schema: c.schema})
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(c.file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatalf("%v (run go test ./deploy -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: regenerate with `go test ./deploy -update` or `nsgflow dcr --schema %s --format %s -o deploy/%s`\n%s",
					c.file, c.schema.Name, c.format, c.file, firstDiff(got, want))
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  generated: " + gl + "\n  committed: " + wl
		}
	}
	return "(no line differs)"
}

// template is the subset of an ARM template the tests inspect.
type template struct {
	Schema         string                     `json:"$schema"`
	ContentVersion string                     `json:"contentVersion"`
	Parameters     map[string]json.RawMessage `json:"parameters"`
	Variables      map[string]json.RawMessage `json:"variables"`
	Resources      []resource                 `json:"resources"`
	Outputs        map[string]struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"outputs"`
}

type resource struct {
	Condition  string          `json:"condition"`
	Type       string          `json:"type"`
	APIVersion string          `json:"apiVersion"`
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	Scope      string          `json:"scope"`
	DependsOn  []string        `json:"dependsOn"`
	Properties json.RawMessage `json:"properties"`
}

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type tableProps struct {
	Plan   string `json:"plan"`
	Schema struct {
		Name    string   `json:"name"`
		Columns []column `json:"columns"`
	} `json:"schema"`
}

type dcrProps struct {
	DataCollectionEndpointID string `json:"dataCollectionEndpointId"`
	StreamDeclarations       map[string]struct {
		Columns []column `json:"columns"`
	} `json:"streamDeclarations"`
	Destinations struct {
		LogAnalytics []struct {
			WorkspaceResourceID string `json:"workspaceResourceId"`
			Name                string `json:"name"`
		} `json:"logAnalytics"`
	} `json:"destinations"`
	DataFlows []struct {
		Streams      []string `json:"streams"`
		Destinations []string `json:"destinations"`
		TransformKql string   `json:"transformKql"`
		OutputStream string   `json:"outputStream"`
	} `json:"dataFlows"`
}

type roleProps struct {
	RoleDefinitionID string `json:"roleDefinitionId"`
	PrincipalID      string `json:"principalId"`
	PrincipalType    string `json:"principalType"`
}

// parsed is a decoded template with its main resources picked out.
type parsed struct {
	tpl   template
	table tableProps
	dcr   dcrProps
	role  roleProps
	res   map[string]resource // by type
}

func parseTemplate(t *testing.T, b []byte) parsed {
	t.Helper()
	var p parsed
	if err := json.Unmarshal(b, &p.tpl); err != nil {
		t.Fatalf("template is not valid JSON: %v", err)
	}
	p.res = map[string]resource{}
	for _, r := range p.tpl.Resources {
		if _, dup := p.res[r.Type]; dup {
			t.Errorf("resource type %s appears twice", r.Type)
		}
		p.res[r.Type] = r
	}
	unmarshal := func(typ string, v any) {
		r, ok := p.res[typ]
		if !ok {
			t.Fatalf("no %s resource", typ)
		}
		if err := json.Unmarshal(r.Properties, v); err != nil {
			t.Fatalf("%s properties: %v", typ, err)
		}
	}
	unmarshal("Microsoft.OperationalInsights/workspaces/tables", &p.table)
	unmarshal("Microsoft.Insights/dataCollectionRules", &p.dcr)
	unmarshal("Microsoft.Authorization/roleAssignments", &p.role)
	return p
}

// variable returns the value of a string that is exactly
// "[variables('name')]", or the string itself.
func (p parsed) variable(t *testing.T, s string) string {
	t.Helper()
	name, ok := strings.CutPrefix(s, "[variables('")
	if !ok {
		return s
	}
	name, ok = strings.CutSuffix(name, "')]")
	if !ok {
		return s
	}
	raw, ok := p.tpl.Variables[name]
	if !ok {
		t.Errorf("undeclared variable %s", name)
		return ""
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("variable %s: %v", name, err)
	}
	return v
}

// TestTemplateStructure checks the ARM fields a deployment needs.
func TestTemplateStructure(t *testing.T) {
	for _, c := range committed {
		t.Run(c.file, func(t *testing.T) {
			b, err := ARM(Options{Schema: c.schema})
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatal("not valid JSON")
			}
			if !bytes.HasSuffix(b, []byte("}\n")) || !bytes.HasPrefix(b, []byte("{\n  \"$schema\"")) {
				t.Errorf("want 2-space indent, $schema first and a final newline")
			}
			p := parseTemplate(t, b)
			if !strings.Contains(p.tpl.Schema, "deploymentTemplate.json") {
				t.Errorf("$schema = %q", p.tpl.Schema)
			}
			if p.tpl.ContentVersion == "" {
				t.Error("contentVersion missing")
			}
			for _, name := range []string{"workspaceName", "location", "dataCollectionRuleName", "createDataCollectionEndpoint", "principalId"} {
				if _, ok := p.tpl.Parameters[name]; !ok {
					t.Errorf("parameter %s missing", name)
				}
			}
			wantAPI := map[string]string{
				"Microsoft.OperationalInsights/workspaces/tables": APIVersionTables,
				"Microsoft.Insights/dataCollectionRules":          APIVersionDCR,
				"Microsoft.Insights/dataCollectionEndpoints":      APIVersionDCE,
				"Microsoft.Authorization/roleAssignments":         APIVersionRoleAssignments,
			}
			if len(p.res) != len(wantAPI) {
				t.Errorf("%d resources, want %d", len(p.res), len(wantAPI))
			}
			for typ, api := range wantAPI {
				r, ok := p.res[typ]
				if !ok {
					t.Errorf("no %s", typ)
					continue
				}
				if r.APIVersion != api || r.Name == "" {
					t.Errorf("%s: apiVersion %q name %q", typ, r.APIVersion, r.Name)
				}
			}
			if c := p.res["Microsoft.Insights/dataCollectionEndpoints"].Condition; !strings.Contains(c, "createDataCollectionEndpoint") {
				t.Errorf("endpoint condition = %q", c)
			}
			ra := p.res["Microsoft.Authorization/roleAssignments"]
			if !strings.Contains(ra.Condition, "principalId") || !strings.Contains(ra.Scope, "dataCollectionRules") {
				t.Errorf("role assignment condition %q scope %q", ra.Condition, ra.Scope)
			}
			if !strings.Contains(p.variable(t, p.role.RoleDefinitionID), MonitoringMetricsPublisherRoleID) {
				t.Errorf("roleDefinitionId = %q", p.role.RoleDefinitionID)
			}
			if p.table.Plan != "Analytics" {
				t.Errorf("table plan = %q", p.table.Plan)
			}
			n, err := NamesFor(Options{Schema: c.schema})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.dcr.DataFlows) != 1 {
				t.Fatalf("%d dataFlows, want 1", len(p.dcr.DataFlows))
			}
			f := p.dcr.DataFlows[0]
			if len(f.Streams) != 1 || f.Streams[0] != n.Stream || f.OutputStream != n.OutputStream || f.TransformKql == "" {
				t.Errorf("dataFlow = %+v, want stream %s output %s", f, n.Stream, n.OutputStream)
			}
			if len(p.dcr.Destinations.LogAnalytics) != 1 || len(f.Destinations) != 1 ||
				f.Destinations[0] != p.dcr.Destinations.LogAnalytics[0].Name ||
				!strings.Contains(p.variable(t, p.dcr.Destinations.LogAnalytics[0].WorkspaceResourceID), "Microsoft.OperationalInsights/workspaces'") {
				t.Errorf("destinations = %+v, flow destinations %v", p.dcr.Destinations, f.Destinations)
			}
			for _, out := range []string{"dataCollectionRuleImmutableId", "logsIngestionEndpoint", "streamName"} {
				o, ok := p.tpl.Outputs[out]
				if !ok || o.Type != "string" || !strings.HasPrefix(o.Value, "[") {
					t.Errorf("output %s = %+v", out, o)
				}
			}
			checkExpressions(t, b, p)
		})
	}
}

// checkExpressions checks every variables('x') and parameters('x') an
// expression uses is declared, and that brackets and parentheses balance.
func checkExpressions(t *testing.T, raw []byte, p parsed) {
	t.Helper()
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			if !strings.HasPrefix(x, "[") || !strings.HasSuffix(x, "]") {
				return
			}
			if strings.Count(x, "(") != strings.Count(x, ")") || strings.Count(x, "'")%2 != 0 {
				t.Errorf("unbalanced expression %s", x)
			}
			for _, kind := range []struct {
				fn   string
				decl map[string]json.RawMessage
			}{{"variables('", p.tpl.Variables}, {"parameters('", p.tpl.Parameters}} {
				rest := x
				for {
					i := strings.Index(rest, kind.fn)
					if i < 0 {
						break
					}
					rest = rest[i+len(kind.fn):]
					name := rest[:strings.IndexByte(rest, '\'')]
					if _, ok := kind.decl[name]; !ok {
						t.Errorf("%s uses undeclared %s%s')", x, kind.fn, name)
					}
				}
			}
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	walk(v)
}

// TestEveryEncodedColumnIsDeclared encodes every shared sample with each
// schema and checks each JSON key is declared, with a matching type, in both
// the stream declaration and the table (Logs Ingestion drops undeclared
// columns silently), and that the table has a datetime TimeGenerated.
func TestEveryEncodedColumnIsDeclared(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join(samplesDir, "*.json*"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples in %s (err %v)", samplesDir, err)
	}
	for _, c := range committed {
		t.Run(c.schema.Name, func(t *testing.T) {
			b, err := ARM(Options{Schema: c.schema})
			if err != nil {
				t.Fatal(err)
			}
			p := parseTemplate(t, b)
			n, _ := NamesFor(Options{Schema: c.schema})
			decl, ok := p.dcr.StreamDeclarations[n.Stream]
			if !ok {
				t.Fatalf("no stream declaration %s", n.Stream)
			}
			streamType := map[string]string{}
			for _, col := range decl.Columns {
				streamType[col.Name] = col.Type
			}
			tableType := map[string]string{}
			for _, col := range p.table.Schema.Columns {
				tableType[col.Name] = col.Type
			}
			if tableType["TimeGenerated"] != "dateTime" {
				t.Errorf("table TimeGenerated type = %q, want dateTime", tableType["TimeGenerated"])
			}
			if p.variable(t, p.table.Schema.Name) != n.Table {
				t.Errorf("table schema name %q, want %q", p.table.Schema.Name, n.Table)
			}
			seen := map[string]int{}
			problems := map[string]int{}
			rows := 0
			for _, file := range samples {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				enc := flowparse.NewEncoder(c.schema)
				var buf []byte
				parser := flowparse.Parser{OnEvent: func(ev *flowparse.Event) {
					buf = enc.Append(buf[:0], ev)
					rows++
					var row map[string]any
					d := json.NewDecoder(bytes.NewReader(buf))
					d.UseNumber()
					if err := d.Decode(&row); err != nil {
						t.Fatalf("%s: row is not JSON: %v\n%s", filepath.Base(file), err, buf)
					}
					for key, val := range row {
						seen[key]++
						if msg := checkValue(key, val, streamType[key], tableType[key]); msg != "" {
							problems[filepath.Base(file)+": "+msg]++
						}
					}
				}}
				if err := parser.Parse(data); err != nil {
					t.Fatalf("%s: %v", filepath.Base(file), err)
				}
			}
			for msg, count := range problems {
				t.Errorf("%s: %d rows", msg, count)
			}
			if rows < 300 {
				t.Errorf("only %d rows encoded from %d samples", rows, len(samples))
			}
			if _, ok := seen[c.schema.TimeColumn]; !ok {
				t.Errorf("time column %s never encoded", c.schema.TimeColumn)
			}
			// Every declared column should be reachable by some sample, or
			// the declaration is dead weight worth a look.
			for name := range streamType {
				if seen[name] == 0 {
					t.Errorf("declared column %s never appears in any encoded sample row", name)
				}
			}
		})
	}
}

// checkValue describes why a key is undeclared or why its JSON value does
// not fit the declared stream and table types; "" when it fits.
func checkValue(key string, val any, streamT, tableT string) string {
	if streamT == "" || tableT == "" {
		return fmt.Sprintf("key %s not declared (stream %q, table %q): Logs Ingestion would drop it", key, streamT, tableT)
	}
	switch v := val.(type) {
	case string:
		if streamT == "datetime" && tableT == "dateTime" || streamT == "string" && tableT == "string" {
			return ""
		}
		return fmt.Sprintf("key %s is a JSON string but declared stream %s table %s", key, streamT, tableT)
	case json.Number:
		if streamT != "int" && streamT != "long" || tableT != streamT {
			return fmt.Sprintf("key %s is a JSON number but declared stream %s table %s", key, streamT, tableT)
		}
		if _, err := v.Int64(); err != nil {
			return fmt.Sprintf("key %s = %s is not an integer", key, v)
		}
		return ""
	}
	return fmt.Sprintf("key %s has JSON type %T, which no column type takes", key, val)
}

func TestTableNames(t *testing.T) {
	cases := []struct {
		schema *flowparse.Schema
		table  string
		want   Names
		ok     bool
	}{
		{nil, "", Names{"NsgFlow_CL", "Custom-NsgFlow", "Custom-NsgFlow_CL", false}, true},
		{flowparse.SeedSchema, "", Names{"NsgFlowSeed_CL", "Custom-NsgFlowSeed", "Custom-NsgFlowSeed_CL", false}, true},
		{flowparse.DefaultSchema, "Flows_CL", Names{"Flows_CL", "Custom-Flows", "Custom-Flows_CL", false}, true},
		{flowparse.DefaultSchema, "A1_b", Names{"A1_b_CL", "Custom-A1_b", "Custom-A1_b_CL", false}, true},
		{flowparse.AsimSchema, "", Names{"ASimNetworkSessionLogs", "Custom-NsgFlowAsim", "Microsoft-ASimNetworkSessionLogs", true}, true},
		{flowparse.AsimSchema, "NsgFlowAsim", Names{}, false},
		{flowparse.DefaultSchema, "1abc", Names{}, false},
		{flowparse.DefaultSchema, "has space", Names{}, false},
		{flowparse.DefaultSchema, "dash-ed", Names{}, false},
		{flowparse.DefaultSchema, strings.Repeat("a", 61), Names{}, false},
		{flowparse.DefaultSchema, "_CL", Names{}, false},
	}
	for _, c := range cases {
		got, err := NamesFor(Options{Schema: c.schema, Table: c.table})
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("NamesFor(%q) = %+v, %v; want %+v ok=%v", c.table, got, err, c.want, c.ok)
		}
	}
}

// TestCustomTableName checks --table reaches every name in the template.
func TestCustomTableName(t *testing.T) {
	b, err := ARM(Options{Table: "Flows"})
	if err != nil {
		t.Fatal(err)
	}
	p := parseTemplate(t, b)
	if _, ok := p.dcr.StreamDeclarations["Custom-Flows"]; !ok {
		t.Errorf("stream declarations %v", p.dcr.StreamDeclarations)
	}
	if p.dcr.DataFlows[0].OutputStream != "Custom-Flows_CL" {
		t.Errorf("output stream %s", p.dcr.DataFlows[0].OutputStream)
	}
	if bytes.Contains(b, []byte("NsgFlow_CL")) {
		t.Error("default table name leaked into a custom-named template")
	}
}

func TestTransform(t *testing.T) {
	if got := transformKQL(flowparse.DefaultSchema); got != "source" {
		t.Errorf("default transform %q", got)
	}
	if got := transformKQL(flowparse.SeedSchema); got != "source | extend TimeGenerated = todatetime(DateTime)" {
		t.Errorf("seed transform %q", got)
	}
}
