package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// The KQL pack answers the same questions for both schemas.
var queryQuestions = []string{
	"allowed-inbound-ports.kql",
	"blocked-by-rule.kql",
	"dedup.kql",
	"denied-over-time.kql",
	"flows-per-nsg-rule.kql",
	"new-external-ips.kql",
	"top-talkers.kql",
}

// Tables the queries read: the default template's table, and the classic
// table the Data Collector API creates for Log-Type NSGFlowLogs.
const (
	defaultQueryTable = "NsgFlow_CL"
	seedQueryTable    = "NSGFlowLogs_CL"
)

// kqlToken matches, in order of precedence: a // comment, a string literal
// (single or double quoted, with escapes), an identifier, a number or
// timespan (1d, 0.5), or any other character.
var kqlToken = regexp.MustCompile(`//[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[A-Za-z_][A-Za-z0-9_]*|\d[A-Za-z0-9_.]*|.`)

// definedName matches names a query binds itself: let X =, and X = inside
// extend, project, summarize (an assignment, not ==).
var definedName = regexp.MustCompile(`\b([A-Za-z_][A-Za-z0-9_]*)\s*=[^=~]`)

// kqlRefs returns the identifiers that start with an upper-case letter (KQL
// keywords and functions are lower case; columns, tables and names the
// query binds are not), outside comments and strings, and the names the
// query binds.
func kqlRefs(q string) (refs []string, bound map[string]bool) {
	bound = map[string]bool{}
	var code strings.Builder
	for _, tok := range kqlToken.FindAllString(q, -1) {
		switch {
		case strings.HasPrefix(tok, "//"):
			code.WriteString("\n")
			continue
		case tok[0] == '"' || tok[0] == '\'':
			code.WriteString(`""`)
			continue
		}
		code.WriteString(tok)
		if tok[0] >= 'A' && tok[0] <= 'Z' {
			refs = append(refs, tok)
		}
	}
	for _, m := range definedName.FindAllStringSubmatch(code.String(), -1) {
		bound[m[1]] = true
	}
	return refs, bound
}

func readQuery(t *testing.T, schema, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("queries", schema, name))
	if err != nil {
		t.Fatal(err)
	}
	q := string(b)
	if !strings.HasPrefix(q, "// ") {
		t.Errorf("%s/%s: no header comment", schema, name)
	}
	return q
}

// TestQueryPackComplete checks every schema's pack has exactly the same questions.
func TestQueryPackComplete(t *testing.T) {
	for _, schema := range []string{"default", "seed", "asim"} {
		files, err := filepath.Glob(filepath.Join("queries", schema, "*.kql"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range files {
			names = append(names, filepath.Base(f))
		}
		if strings.Join(names, ",") != strings.Join(queryQuestions, ",") {
			t.Errorf("queries/%s has %v, want %v", schema, names, queryQuestions)
		}
	}
}

// TestDefaultQueriesUseSchemaColumns fails when a default-schema query names
// a column flowparse.DefaultSchema does not have (a typo or a renamed
// column), or a seed column.
func TestDefaultQueriesUseSchemaColumns(t *testing.T) {
	for _, name := range queryQuestions {
		t.Run(name, func(t *testing.T) {
			q := readQuery(t, "default", name)
			refs, bound := kqlRefs(q)
			if !strings.Contains(q, "\n"+defaultQueryTable+"\n") && !strings.Contains(q, "= "+defaultQueryTable+"\n") {
				t.Errorf("does not read table %s", defaultQueryTable)
			}
			used := 0
			for _, id := range refs {
				if _, ok := flowparse.DefaultSchema.Column(id); ok {
					used++
					continue
				}
				if id == defaultQueryTable || bound[id] {
					continue
				}
				t.Errorf("%s is neither a DefaultSchema column nor a name the query binds", id)
			}
			if used == 0 {
				t.Error("uses no schema column")
			}
		})
	}
}

// TestSeedQueriesUseDataCollectorColumns fails when a seed query names a
// column other than a seed column with the Data Collector's _s suffix (all
// seed values are strings) or TimeGenerated.
func TestSeedQueriesUseDataCollectorColumns(t *testing.T) {
	suffixed := map[string]bool{}
	for _, c := range flowparse.SeedSchema.Columns {
		if c.Type != flowparse.TypeString {
			t.Fatalf("seed column %s is %s: the suffix rule below assumes strings", c.Name, c.Type)
		}
		suffixed[c.Name+"_s"] = true
	}
	for _, name := range queryQuestions {
		t.Run(name, func(t *testing.T) {
			q := readQuery(t, "seed", name)
			refs, bound := kqlRefs(q)
			if !strings.Contains(q, "\n"+seedQueryTable+"\n") && !strings.Contains(q, "= "+seedQueryTable+"\n") {
				t.Errorf("does not read table %s", seedQueryTable)
			}
			used := 0
			for _, id := range refs {
				switch {
				case suffixed[id]:
					used++
				case id == "TimeGenerated" || id == seedQueryTable:
				case bound[id]:
					if _, clash := flowparse.SeedSchema.Column(id); clash {
						t.Errorf("binds %s, the unsuffixed name of a seed column: confusing", id)
					}
				default:
					t.Errorf("%s is not a seed column with the _s suffix (the Data Collector table has no %s)", id, id)
				}
			}
			if used == 0 {
				t.Error("uses no seed column")
			}
		})
	}
}

// TestKQLRefs checks the tokenizer on the cases the tests rely on.
func TestKQLRefs(t *testing.T) {
	cases := []struct {
		q     string
		refs  string
		bound string
	}{
		{"T | where A == \"Bee\" // Cee\n| extend D = E", "T,A,D,E", "D"},
		{"let X = 1d;\nT | summarize N = count() by bin(TimeGenerated, 1h)", "X,T,N,TimeGenerated", "N,X"},
		{"T | where A =~ 'It''s' and B != 'Q'", "T,A,B", ""},
	}
	for _, c := range cases {
		refs, bound := kqlRefs(c.q)
		var b []string
		for k := range bound {
			b = append(b, k)
		}
		sort.Strings(b)
		if strings.Join(refs, ",") != c.refs || strings.Join(b, ",") != c.bound {
			t.Errorf("kqlRefs(%q) = %v, %v; want %s, %s", c.q, refs, b, c.refs, c.bound)
		}
	}
}
