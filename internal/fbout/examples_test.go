package fbout

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outputSections returns the [OUTPUT] sections of a classic config,
// commented-out ones included, keys lower-cased and ${VAR} replaced from env.
func outputSections(t *testing.T, path string, env map[string]string) []MapConfig {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []MapConfig
	var cur MapConfig
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		// "#     key value" is a commented-out setting; "# text" is prose.
		if strings.HasPrefix(line, "#  ") || line == "# [OUTPUT]" {
			line = strings.TrimSpace(line[1:])
		}
		if strings.HasPrefix(line, "[") {
			cur = nil
			if line == "[OUTPUT]" {
				cur = MapConfig{}
				out = append(out, cur)
			}
			continue
		}
		if cur == nil || line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		v = strings.TrimSpace(v)
		for name, val := range env {
			v = strings.ReplaceAll(v, "${"+name+"}", val)
		}
		if _, dup := cur[strings.ToLower(k)]; !dup {
			cur[strings.ToLower(k)] = v
		}
	}
	return out
}

// TestExampleConfigs checks that both [OUTPUT] sections of the top-level
// fluent-bit.conf pass the plugin's validation.
func TestExampleConfigs(t *testing.T) {
	env := map[string]string{
		"NSGFLOW_ENDPOINT":     "https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com",
		"NSGFLOW_DCR_ID":       testDCR,
		"NSGFLOW_WORKSPACE_ID": testWS,
		"NSGFLOW_SHARED_KEY":   testSecret,
	}
	secs := outputSections(t, filepath.Join("..", "..", "fluent-bit.conf"), env)
	if len(secs) != 2 {
		t.Fatalf("found %d [OUTPUT] sections, want 2 (Logs Ingestion, Data Collector)", len(secs))
	}
	for i, want := range []string{DestLogsIngestion, DestDataCollector} {
		s := secs[i]
		if s.Get("name") != "nsgflow" {
			t.Fatalf("section %d is %q", i, s.Get("name"))
		}
		c, err := ParseConfig(s)
		if err != nil {
			t.Fatalf("section %d: %v", i, err)
		}
		if c.Kind != want {
			t.Fatalf("section %d: destination %s, want %s", i, c.Kind, want)
		}
		// The same keys appear in the YAML twin.
		yml, err := os.ReadFile(filepath.Join("..", "..", "fluent-bit.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for k := range s {
			if !strings.Contains(string(yml), k+":") {
				t.Errorf("fluent-bit.yaml lacks key %q of fluent-bit.conf's section %d", k, i)
			}
		}
	}
}
