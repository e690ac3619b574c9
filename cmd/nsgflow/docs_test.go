package main

// Tests that keep the configuration reference in step with the code:
// docs/cli.md against the flag set of every registered command, and
// docs/config-reference.md against the environment variables the code reads.

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var (
	cliDocPath      = filepath.Join("..", "..", "docs", "cli.md")
	envDocPath      = filepath.Join("..", "..", "docs", "config-reference.md")
	repoRoot        = filepath.Join("..", "..")
	envScannedDirs  = []string{"cmd", "internal", "plugin"}
	flagLineRE      = regexp.MustCompile(`^  -([^ \t]+)`)
	codeSpanRE      = regexp.MustCompile("`([^`]+)`")
	flagRefRE       = regexp.MustCompile(`^--?([a-z][a-z0-9-]*)`)
	builtinHelpFlag = map[string]bool{"h": true, "help": true}
)

// commandFlagNames returns the flags of a registered command, read from the
// usage its own flag set prints for -h (flag.PrintDefaults writes one
// "  -name ..." line per flag), so the test sees exactly what the command
// registers, including flags built from settings tables.
func commandFlagNames(t *testing.T, c command) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := c.run([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("nsgflow %s -h: exit %d, want 0; stderr:\n%s", c.name, code, stderr.String())
	}
	var names []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if m := flagLineRE.FindStringSubmatch(line); m != nil {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		t.Fatalf("nsgflow %s -h printed no flags; stderr:\n%s", c.name, stderr.String())
	}
	return names
}

// cliSection is the part of docs/cli.md under one "## nsgflow CMD" heading.
type cliSection struct {
	// rows maps a flag to the cells of the table row whose first cell names it.
	rows map[string][]string
	// refs are all flags named in inline code spans of the section's prose
	// and tables (fenced code blocks are examples and are not counted).
	refs map[string]bool
}

// parseCLIDoc splits a CLI reference into its "## nsgflow CMD" sections.
func parseCLIDoc(doc string) map[string]*cliSection {
	secs := map[string]*cliSection{}
	var cur *cliSection
	inFence := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if strings.HasPrefix(line, "## ") {
			cur = nil
			if name, ok := strings.CutPrefix(strings.TrimSpace(line[3:]), "nsgflow "); ok {
				cur = &cliSection{rows: map[string][]string{}, refs: map[string]bool{}}
				secs[strings.TrimSpace(name)] = cur
			}
			continue
		}
		if cur == nil {
			continue
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(line, -1) {
			if f := flagRefRE.FindStringSubmatch(m[1]); f != nil {
				cur.refs[f[1]] = true
			}
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(cells[0], -1) {
			if f := flagRefRE.FindStringSubmatch(m[1]); f != nil {
				cur.rows[f[1]] = cells
			}
		}
	}
	return secs
}

// checkCLIDoc returns what is wrong with a CLI reference given every
// command's flags: a command without a section, a section for no command, a
// flag without a table row (flag | default | meaning), and a flag named in a
// section that the command does not have.
func checkCLIDoc(doc string, flags map[string][]string) []string {
	secs := parseCLIDoc(doc)
	var probs []string
	for _, cmd := range sortedKeys(flags) {
		sec, ok := secs[cmd]
		if !ok {
			probs = append(probs, fmt.Sprintf("no section \"## nsgflow %s\"", cmd))
			continue
		}
		have := map[string]bool{}
		for _, f := range flags[cmd] {
			have[f] = true
			row, ok := sec.rows[f]
			switch {
			case !ok:
				probs = append(probs, fmt.Sprintf("nsgflow %s: flag -%s has no table row (| `--%s ...` | default | meaning |)", cmd, f, f))
			case len(row) < 3 || row[1] == "" || row[2] == "":
				probs = append(probs, fmt.Sprintf("nsgflow %s: the row of flag -%s needs a default and a meaning: %q", cmd, f, strings.Join(row, " | ")))
			}
		}
		for _, f := range sortedKeys(sec.refs) {
			if !have[f] && !builtinHelpFlag[f] {
				probs = append(probs, fmt.Sprintf("nsgflow %s: documents flag -%s, which the command does not have", cmd, f))
			}
		}
	}
	for _, cmd := range sortedKeys(secs) {
		if _, ok := flags[cmd]; !ok {
			probs = append(probs, fmt.Sprintf("section \"## nsgflow %s\" documents no registered command", cmd))
		}
	}
	return probs
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestDocCLIFlags: docs/cli.md has one section per registered command, a
// table row (flag, default, meaning) for each of its flags, and names no
// flag the command lacks.
func TestDocCLIFlags(t *testing.T) {
	b, err := os.ReadFile(cliDocPath)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string][]string{}
	for name, c := range commands {
		flags[name] = commandFlagNames(t, c)
	}
	// The commands the README promises; the check above covers any other.
	for _, want := range []string{"parse", "gen", "send", "emulator", "run", "feed", "dcr"} {
		if _, ok := flags[want]; !ok {
			t.Errorf("command %q is not registered", want)
		}
	}
	for _, p := range checkCLIDoc(string(b), flags) {
		t.Errorf("docs/cli.md: %s", p)
	}
}

// TestDocCLICheckerCatches: the checker finds each kind of drift in
// fixtures (so TestDocCLIFlags passing means something).
func TestDocCLICheckerCatches(t *testing.T) {
	flags := map[string][]string{"a": {"out", "v"}, "b": {"seed"}}
	cases := []struct {
		file string
		want []string
	}{
		{"ok.md", nil},
		{"missing-section.md", []string{`no section "## nsgflow b"`}},
		{"missing-flag.md", []string{"nsgflow a: flag -v has no table row"}},
		{"stale-flag.md", []string{"nsgflow a: documents flag -old, which the command does not have"}},
		{"stale-in-prose.md", []string{"nsgflow b: documents flag -gone, which the command does not have"}},
		{"no-default.md", []string{"nsgflow a: the row of flag -out needs a default and a meaning"}},
		{"extra-section.md", []string{`section "## nsgflow c" documents no registered command`}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "docs", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := checkCLIDoc(string(b), flags)
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], w)
				}
			}
		})
	}
}

// envPackage is the parsed non-test Go files of one directory.
type envPackage struct {
	fset   *token.FileSet
	files  []*ast.File
	consts map[string]string // string constants, by name
	calls  []envCall         // every call, with its enclosing function
	lits   []*ast.KeyValueExpr
}

type envCall struct {
	call *ast.CallExpr
	fn   *ast.FuncDecl // nil outside functions
}

func loadEnvPackage(dir string) (*envPackage, error) {
	p := &envPackage{fset: token.NewFileSet(), consts: map[string]string{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(p.fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		p.files = append(p.files, f)
	}
	for _, f := range p.files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.GenDecl:
				if x.Tok != token.CONST {
					return true
				}
				for _, s := range x.Specs {
					vs := s.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if v, ok := stringLit(vs.Values[i]); ok {
								p.consts[name.Name] = v
							}
						}
					}
				}
			case *ast.KeyValueExpr:
				p.lits = append(p.lits, x)
			}
			return true
		})
		for _, d := range f.Decls {
			fn, _ := d.(*ast.FuncDecl)
			ast.Inspect(d, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					p.calls = append(p.calls, envCall{c, fn})
				}
				return true
			})
		}
	}
	return p, nil
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// isEnvRead reports whether c is os.Getenv(x) or os.LookupEnv(x).
func isEnvRead(c *ast.CallExpr) bool {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || len(c.Args) != 1 {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "os" || pkg.Name == "syscall") && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv")
}

// envVarsRead returns the names of the environment variables the package
// reads. The argument of each Getenv/LookupEnv must be a string literal, a
// string constant, a parameter of the enclosing function that every caller
// gives as one of those, or a struct field every composite literal sets to
// one of those; anything else is an error, so a variable cannot be missed
// silently.
func (p *envPackage) envVarsRead() (map[string]bool, error) {
	out := map[string]bool{}
	for _, c := range p.calls {
		if !isEnvRead(c.call) {
			continue
		}
		vals, err := p.resolve(c.call.Args[0], c.fn, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.fset.Position(c.call.Pos()), err)
		}
		for _, v := range vals {
			out[v] = true
		}
	}
	return out, nil
}

func (p *envPackage) resolve(e ast.Expr, fn *ast.FuncDecl, depth int) ([]string, error) {
	if depth > 4 {
		return nil, fmt.Errorf("environment variable name passed through too many calls")
	}
	if s, ok := stringLit(e); ok {
		return []string{s}, nil
	}
	switch x := e.(type) {
	case *ast.ParenExpr:
		return p.resolve(x.X, fn, depth)
	case *ast.Ident:
		if i := paramIndex(fn, x.Name); i >= 0 {
			return p.resolveParam(fn, i, depth)
		}
		if v, ok := p.consts[x.Name]; ok {
			return []string{v}, nil
		}
		return nil, fmt.Errorf("cannot tell which environment variable %s names: use a string constant", x.Name)
	case *ast.SelectorExpr:
		var out []string
		for _, kv := range p.lits {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == x.Sel.Name {
				vs, err := p.resolve(kv.Value, nil, depth+1)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", x.Sel.Name, err)
				}
				out = append(out, vs...)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no composite literal sets field %s: use a string constant", x.Sel.Name)
		}
		return out, nil
	}
	return nil, fmt.Errorf("environment variable name is an expression %T: use a string constant", e)
}

// paramIndex is the position of parameter name in fn, or -1.
func paramIndex(fn *ast.FuncDecl, name string) int {
	if fn == nil {
		return -1
	}
	i := 0
	for _, f := range fn.Type.Params.List {
		for _, n := range f.Names {
			if n.Name == name {
				return i
			}
			i++
		}
	}
	return -1
}

// resolveParam resolves argument i of every call of fn in the package.
func (p *envPackage) resolveParam(fn *ast.FuncDecl, i, depth int) ([]string, error) {
	var out []string
	for _, c := range p.calls {
		var name string
		switch f := c.call.Fun.(type) {
		case *ast.Ident:
			name = f.Name
		case *ast.SelectorExpr:
			name = f.Sel.Name
		}
		if name != fn.Name.Name || i >= len(c.call.Args) {
			continue
		}
		vs, err := p.resolve(c.call.Args[i], c.fn, depth+1)
		if err != nil {
			return nil, fmt.Errorf("argument %d of %s at %s: %w", i+1, name, p.fset.Position(c.call.Pos()), err)
		}
		out = append(out, vs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is never called with its environment variable name", fn.Name.Name)
	}
	return out, nil
}

// envVarsUnder scans every Go package directory under root/dirs.
func envVarsUnder(root string, dirs []string) (map[string][]string, error) {
	out := map[string][]string{} // variable -> directories reading it
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() {
				return nil
			}
			if n := e.Name(); n == "testdata" || strings.HasPrefix(n, ".") || n == "node_modules" {
				return filepath.SkipDir
			}
			p, err := loadEnvPackage(path)
			if err != nil {
				return err
			}
			vars, err := p.envVarsRead()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			for v := range vars {
				out[v] = append(out[v], filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", d, err)
		}
	}
	return out, nil
}

// TestDocEnvVars: every environment variable read by the commands, plugins
// and libraries is documented in docs/config-reference.md.
func TestDocEnvVars(t *testing.T) {
	vars, err := envVarsUnder(repoRoot, envScannedDirs)
	if err != nil {
		t.Fatal(err)
	}
	// Known reads: a scanner that finds nothing must not pass.
	for _, v := range []string{"NSGFLOW_SHARED_KEY", "NSGFLOW_STORAGE_KEY", "NSGFLOW_EMULATOR_TOKEN", "GOMEMLIMIT"} {
		if _, ok := vars[v]; !ok {
			t.Errorf("scanner did not find %s (found %v)", v, sortedKeys(vars))
		}
	}
	b, err := os.ReadFile(envDocPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, v := range sortedKeys(vars) {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("docs/config-reference.md does not list `%s` (read in %s): add a row saying what it does", v, strings.Join(vars[v], ", "))
		}
	}
}

// TestDocEnvScanner: the scanner resolves each way a variable name reaches
// Getenv in the fixtures, and refuses one it cannot resolve.
func TestDocEnvScanner(t *testing.T) {
	cases := []struct {
		dir     string
		want    []string
		wantErr string
	}{
		{"envok", []string{"VIA_CONST", "VIA_FIELD_A", "VIA_FIELD_B", "VIA_LITERAL", "VIA_LOOKUP", "VIA_PARAM"}, ""},
		{"envlocal", nil, "cannot tell which environment variable v names"},
		{"envfield", nil, "no composite literal sets field env"},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			p, err := loadEnvPackage(filepath.Join("testdata", "docs", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.envVarsRead()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if keys := sortedKeys(got); !slices.Equal(keys, tc.want) {
				t.Errorf("variables %q, want %q", keys, tc.want)
			}
		})
	}
}
