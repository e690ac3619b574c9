package fbout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	testDCR    = "dcr-0123456789abcdef0123456789abcdef"
	testWS     = "11111111-2222-3333-4444-555555555555"
	testSecret = "c2VjcmV0LXNoYXJlZC1rZXktdmFsdWU="
)

func liBase() MapConfig {
	return MapConfig{"endpoint": "https://dce.example.test", "dcr_id": testDCR, "stream": "Custom-NsgFlow"}
}

func dcBase() MapConfig {
	return MapConfig{"destination": "data_collector", "workspace_id": testWS, "shared_key": testSecret, "log_type": "NSGFlow"}
}

func with(m MapConfig, kv ...string) MapConfig {
	out := MapConfig{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(dir, "tok")
	if err := os.WriteFile(tokFile, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     MapConfig
		wantErr string // substring; "" means valid
		check   func(t *testing.T, c Config)
	}{
		{"li defaults", liBase(), "", func(t *testing.T, c Config) {
			if c.Kind != DestLogsIngestion || c.RecordField != "log" || c.FlushDeadline != 4*time.Second ||
				c.Grace != 4*time.Second || c.MaxRememberedChunks != 1024 || c.Schema.Name != "default" {
				t.Fatalf("defaults: %+v", c)
			}
			if c.LogsIngestion.Credential.Kind != "default" || c.LogsIngestion.DisableGzip || c.LogsIngestion.Concurrency != 4 ||
				c.LogsIngestion.RequestTimeout != 4*time.Second || c.LogsIngestion.MaxRetries != 4 {
				t.Fatalf("li defaults: %+v", c.LogsIngestion)
			}
		}},
		{"li full", with(liBase(), "schema", "SEED", "nsgflow_log_level", "debug", "flush_deadline", "30s", "grace", "1500ms",
			"max_remembered_chunks", "10", "concurrency", "8", "request_timeout", "5", "max_retries", "0", "gzip", "off",
			"credential", "static", "token_file", tokFile, "cloud", "usgov", "record_field", "message"), "", func(t *testing.T, c Config) {
			li := c.LogsIngestion
			if c.Schema.Name != "seed" || c.LogLevel.String() != "debug" || c.FlushDeadline != 30*time.Second || c.Grace != 1500*time.Millisecond ||
				c.MaxRememberedChunks != 10 || li.Concurrency != 8 || li.RequestTimeout != 5*time.Second || li.MaxRetries != -1 ||
				!li.DisableGzip || li.Credential.Token != "tok-123" || li.Cloud != "usgov" || c.RecordField != "message" {
				t.Fatalf("parsed: %+v", c)
			}
		}},
		{"li client secret from file", with(liBase(), "credential", "client_secret", "tenant_id", "t", "client_id", "c", "client_secret_file", keyFile), "", func(t *testing.T, c Config) {
			if c.LogsIngestion.Credential.ClientSecret != testSecret {
				t.Fatal("secret not read from file")
			}
		}},
		{"dc defaults", dcBase(), "", func(t *testing.T, c Config) {
			dc := c.DataCollector
			if dc.WorkspaceID != testWS || dc.SharedKey != testSecret || dc.LogType != "NSGFlow" || dc.TimeGeneratedField != "FlowTime" || c.TimeField != "FlowTime" {
				t.Fatalf("dc: %+v", dc)
			}
		}},
		{"dc asim refused", with(dcBase(), "schema", "asim"), "schema asim writes the standard table ASimNetworkSessionLogs, which only the Logs Ingestion API can write: set destination logs_ingestion", nil},
		{"dc seed time field", with(dcBase(), "schema", "seed"), "", func(t *testing.T, c Config) {
			if c.TimeField != "DateTime" {
				t.Fatalf("time field %q", c.TimeField)
			}
		}},
		{"dc key file", with(dcBase(), "shared_key", "", "shared_key_file", keyFile, "azure_resource_id", "on", "endpoint", "http://127.0.0.1:9"), "", func(t *testing.T, c Config) {
			if c.DataCollector.SharedKey != testSecret || !c.AzureResourceID || c.DataCollector.Endpoint != "http://127.0.0.1:9" {
				t.Fatalf("dc: %+v", c.DataCollector)
			}
		}},
		{"bad destination", with(liBase(), "destination", "kafka"), "destination", nil},
		{"missing dcr_id", with(liBase(), "dcr_id", ""), "dcr_id is not set", nil},
		{"bad dcr_id", with(liBase(), "dcr_id", "/subscriptions/x/dcr"), "dcr_id", nil},
		{"bad stream", with(liBase(), "stream", "NsgFlow"), "stream", nil},
		{"missing endpoint", with(liBase(), "endpoint", ""), "endpoint is not set", nil},
		{"bad schema", with(liBase(), "schema", "wide"), "schema", nil},
		{"bad log level", with(liBase(), "nsgflow_log_level", "trace"), "nsgflow_log_level", nil},
		{"bad duration", with(liBase(), "flush_deadline", "soon"), "flush_deadline", nil},
		{"deadline too short", with(liBase(), "flush_deadline", "10ms"), "flush_deadline", nil},
		{"timeout over deadline", with(liBase(), "request_timeout", "30s"), "request_timeout", nil},
		{"bad integer", with(liBase(), "concurrency", "many"), "concurrency", nil},
		{"integer out of range", with(liBase(), "concurrency", "1000"), "concurrency", nil},
		{"li body too large", with(liBase(), "max_body_bytes", "2000000"), "max_body_bytes", nil},
		{"bad bool", with(liBase(), "gzip", "maybe"), "gzip", nil},
		{"bad credential", with(liBase(), "credential", "password"), "credential", nil},
		{"client secret incomplete", with(liBase(), "credential", "client_secret", "client_secret", testSecret), "tenant_id", nil},
		{"static without token", with(liBase(), "credential", "static"), "token_file", nil},
		{"secret and file", with(liBase(), "credential", "client_secret", "tenant_id", "t", "client_id", "c", "client_secret", testSecret, "client_secret_file", keyFile), "keep one", nil},
		{"missing secret file", with(liBase(), "credential", "static", "token_file", filepath.Join(dir, "nope")), "token_file", nil},
		{"dc key on li is a warning", with(liBase(), "workspace_id", testWS), "", func(t *testing.T, c Config) {
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "workspace_id is ignored") {
				t.Fatalf("warnings %q", c.Warnings)
			}
		}},
		{"li key on dc is a warning", with(dcBase(), "dcr_id", testDCR, "credential", "default"), "", func(t *testing.T, c Config) {
			if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "dcr_id is ignored: it applies to destination logs_ingestion") {
				t.Fatalf("warnings %q", c.Warnings)
			}
		}},
		{"dc missing workspace", with(dcBase(), "workspace_id", ""), "workspace_id", nil},
		{"dc bad workspace", with(dcBase(), "workspace_id", "myworkspace"), "workspace_id", nil},
		{"dc missing key", with(dcBase(), "shared_key", ""), "shared_key", nil},
		{"dc unexpanded key", with(dcBase(), "shared_key", "${NSG_KEY}"), "unexpanded", nil},
		{"dc bad log type", with(dcBase(), "log_type", "NSG-Flow"), "log_type", nil},
		{"dc reserved time field", with(dcBase(), "time_generated_field", "TimeGenerated"), "time_generated_field", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("no error, want one mentioning %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "tok-123") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestKeysDocumented(t *testing.T) {
	// Every key ParseConfig reads must be in Keys (the docs' source).
	known := map[string]bool{}
	for _, k := range Keys {
		known[k.Name] = true
	}
	rec := recordingGetter{MapConfig: dcBase(), seen: map[string]bool{}}
	_, _ = ParseConfig(rec)
	rec2 := recordingGetter{MapConfig: with(liBase(), "credential", "client_secret"), seen: rec.seen}
	_, _ = ParseConfig(rec2)
	for k := range rec.seen {
		if !known[k] {
			t.Errorf("key %q is read but not in Keys", k)
		}
	}
	for _, avoid := range []string{"match", "alias", "host", "port", "tls", "retry_limit", "workers"} {
		if known[avoid] {
			t.Errorf("key %q is one Fluent Bit consumes itself", avoid)
		}
	}
}

type recordingGetter struct {
	MapConfig
	seen map[string]bool
}

func (r recordingGetter) Get(k string) string { r.seen[k] = true; return r.MapConfig.Get(k) }

// TestDocsListEveryKey keeps docs/plugin-output.md in step with Keys.
func TestDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "plugin-output.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys {
		if !strings.Contains(string(doc), "| `"+k.Name+"` | "+k.Applies+" |") {
			t.Errorf("docs/plugin-output.md has no table row for key %q (%s)", k.Name, k.Applies)
		}
	}
}

// TestCredentialSpellings: the input plugin's hyphenated spellings work too.
func TestCredentialSpellings(t *testing.T) {
	for in, want := range map[string]string{"managed-identity": "managed_identity", "workload-identity": "workload_identity",
		"azure-cli": "azure_cli", "cli": "azure_cli", "managed_identity": "managed_identity"} {
		c, err := ParseConfig(with(liBase(), "credential", in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := c.LogsIngestion.Credential.Kind; got != want {
			t.Errorf("%s: credential %q, want %q", in, got, want)
		}
	}
}
