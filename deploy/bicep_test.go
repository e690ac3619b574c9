package deploy

import (
	"regexp"
	"strings"
	"testing"
)

// TestBicepMatchesARM checks the Bicep rendering declares what the ARM one
// does: the same resources and API versions, parameters, outputs, columns
// with their types, stream names and transformation. Bicep itself is not
// available here to compile it.
func TestBicepMatchesARM(t *testing.T) {
	decl := regexp.MustCompile(`(?m)^(param|var|resource|output) ([A-Za-z_][A-Za-z0-9_]*)`)
	for _, c := range committed {
		t.Run(c.schema.Name, func(t *testing.T) {
			arm, err := ARM(Options{Schema: c.schema})
			if err != nil {
				t.Fatal(err)
			}
			p := parseTemplate(t, arm)
			bb, err := Bicep(Options{Schema: c.schema})
			if err != nil {
				t.Fatal(err)
			}
			b := string(bb)
			if strings.Contains(b, "<unsupported") {
				t.Fatal("Bicep rendering hit an unsupported value type")
			}
			for _, pair := range [][2]string{{"{", "}"}, {"[", "]"}, {"(", ")"}} {
				if strings.Count(b, pair[0]) != strings.Count(b, pair[1]) {
					t.Errorf("unbalanced %s%s", pair[0], pair[1])
				}
			}
			names := map[string]map[string]bool{}
			for _, m := range decl.FindAllStringSubmatch(b, -1) {
				if names[m[1]] == nil {
					names[m[1]] = map[string]bool{}
				}
				if names[m[1]][m[2]] {
					t.Errorf("%s %s declared twice", m[1], m[2])
				}
				names[m[1]][m[2]] = true
			}
			for name := range p.tpl.Parameters {
				if !names["param"][name] {
					t.Errorf("ARM parameter %s missing from Bicep", name)
				}
			}
			for name := range p.tpl.Outputs {
				if !names["output"][name] {
					t.Errorf("ARM output %s missing from Bicep", name)
				}
			}
			for _, r := range p.tpl.Resources {
				if !strings.Contains(b, "'"+r.Type+"@"+r.APIVersion+"'") {
					t.Errorf("resource %s@%s missing from Bicep", r.Type, r.APIVersion)
				}
			}
			n, _ := NamesFor(Options{Schema: c.schema})
			for _, want := range []string{"'" + n.Table + "'", "'" + n.Stream + "':", "'" + n.OutputStream + "'",
				"transformKql: " + bicepString(transformKQL(c.schema)), MonitoringMetricsPublisherRoleID} {
				if !strings.Contains(b, want) {
					t.Errorf("Bicep lacks %s", want)
				}
			}
			// Each column appears with its table type and its stream type.
			for _, col := range c.schema.Columns {
				tt, _ := tableColumnType(col.Type)
				st, _ := streamColumnType(col.Type)
				for _, typ := range []string{tt, st} {
					if !strings.Contains(b, "name: '"+col.Name+"'\n") || !regexp.MustCompile(`name: '`+col.Name+`'\n\s+type: '`+typ+`'`).MatchString(b) {
						t.Errorf("column %s with type %s missing", col.Name, typ)
					}
				}
			}
			if !regexp.MustCompile(`name: 'TimeGenerated'\n\s+type: 'dateTime'`).MatchString(b) {
				t.Error("table has no TimeGenerated dateTime column")
			}
		})
	}
}

func TestBicepString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "'plain'"},
		{"it's", `'it\'s'`},
		{`a\b`, `'a\\b'`},
		{"${x}", `'\${x}'`},
		{"line\nbreak", `'line\nbreak'`},
	}
	for _, c := range cases {
		if got := bicepString(c.in); got != c.want {
			t.Errorf("bicepString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
