package fbin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/fblog"
)

const testKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func base() MapConfig {
	return MapConfig{"storage_account": "acct", "storage_key": testKey, "checkpoint_dir": "/tmp/cp"}
}

func with(kv ...string) MapConfig {
	m := base()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(base())
	if err != nil {
		t.Fatal(err)
	}
	if c.AckMode != AckOutput || c.Expand || c.MaxQueueBytes != DefaultMaxQueueBytes || c.MaxBufferBytes != DefaultMaxBufferBytes ||
		c.LogLevel != fblog.LevelInfo || c.Source.Start != "now" || c.Source.PollInterval != blobsource.DefaultPollInterval ||
		c.Source.Grace != blobsource.DefaultGrace || c.Source.DoneMarker.Enabled || c.Source.DoneMarker.Key != "OmsLogType" ||
		c.Source.Auth.AccountKey != testKey || c.Source.CheckpointDir != "/tmp/cp" || len(c.Source.Containers) != 0 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cfg   MapConfig
		check func(c Config) bool
	}{
		{"key file", with("storage_key", "", "storage_key_file", keyFile), func(c Config) bool { return c.Source.Auth.AccountKey == testKey }},
		{"connection string", MapConfig{"storage_connection_string": "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=" + testKey, "checkpoint_dir": "d"},
			func(c Config) bool { return strings.HasPrefix(c.Source.Auth.ConnectionString, "DefaultEndpoints") }},
		{"managed identity", MapConfig{"storage_account": "a", "storage_auth": "managed-identity", "storage_client_id": "cid", "checkpoint_dir": "d"},
			func(c Config) bool {
				return c.Source.Auth.Method == blobsource.AuthManagedIdentity && c.Source.Auth.ClientID == "cid"
			}},
		{"lists and filters", with("containers", "insights-logs-flowlogflowevent, other-one", "mac_addresses", "00-0D-3A-00-00-01,", "subscriptions", "S1,S2"),
			func(c Config) bool {
				return len(c.Source.Containers) == 2 && len(c.Source.Filter.MACs) == 1 && len(c.Source.Filter.Subscriptions) == 2
			}},
		{"durations and sizes", with("poll_interval", "200ms", "grace", "5", "max_queue_bytes", "8M", "max_buffer_bytes", "512K"),
			func(c Config) bool {
				return c.Source.PollInterval == 200*time.Millisecond && c.Source.Grace == 5*time.Second && c.MaxQueueBytes == 8<<20 && c.MaxBufferBytes == 512<<10
			}},
		{"expand with schema", with("expand", "on", "schema", "seed", "time_field", "T"), func(c Config) bool { return c.Expand && c.Schema.Name == "seed" && c.TimeField == "T" }},
		{"handover", with("ack_mode", "Handover"), func(c Config) bool { return c.AckMode == AckHandover }},
		{"done marker", with("done_marker", "on", "done_marker_key", "fbdone", "done_marker_value", "yes"),
			func(c Config) bool {
				return c.Source.DoneMarker.Enabled && c.Source.DoneMarker.Key == "fbdone" && c.Source.DoneMarker.Value == "yes"
			}},
		{"start time", with("start", "2026-11-26T09:30:00Z"), func(c Config) bool { return c.Source.Start == "2026-11-26T09:30:00Z" }},
		{"checkpoint container", with("checkpoint_dir", "", "checkpoint_container", "nsgflow-cp", "checkpoint_prefix", "p/"),
			func(c Config) bool { return c.CheckpointContainer == "nsgflow-cp" && c.CheckpointPrefix == "p/" }},
		{"log level", with("nsgflow_log_level", "DEBUG"), func(c Config) bool { return c.LogLevel == fblog.LevelDebug }},
		{"account from Azurite endpoint", MapConfig{"storage_key": testKey, "storage_endpoint": "http://127.0.0.1:10000/devstoreaccount1", "checkpoint_dir": "d"},
			func(c Config) bool { return c.Source.Auth.AccountName == "devstoreaccount1" }},
		{"account from Azure endpoint", MapConfig{"storage_key": testKey, "storage_endpoint": "https://acct1.blob.core.windows.net/", "checkpoint_dir": "d"},
			func(c Config) bool { return c.Source.Auth.AccountName == "acct1" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  MapConfig
		want string
	}{
		{"no account", MapConfig{"checkpoint_dir": "d"}, "storage_account is not set"},
		{"key without account", MapConfig{"storage_key": testKey, "storage_endpoint": "http://127.0.0.1:1", "checkpoint_dir": "d"}, "storage_key needs storage_account"},
		{"no checkpoint", with("checkpoint_dir", ""), "no checkpoint store"},
		{"two checkpoints", with("checkpoint_container", "abc"), "both checkpoint_dir and checkpoint_container"},
		{"bad container", with("containers", "Bad_Name"), "not a container name"},
		{"bad start", with("start", "yesterday"), "start \"yesterday\" is not valid"},
		{"bad poll", with("poll_interval", "fast"), "poll_interval \"fast\" is not a duration"},
		{"poll too short", with("poll_interval", "1ms"), "poll_interval 1ms is out of range"},
		{"bad ack mode", with("ack_mode", "maybe"), "ack_mode \"maybe\" is not valid"},
		{"bad auth", with("storage_auth", "password"), "storage_auth \"password\" is not valid"},
		{"sas missing", with("storage_auth", "sas"), "storage_auth sas needs storage_sas"},
		{"client secret missing", with("storage_auth", "client-secret", "storage_tenant_id", "t"), "needs storage_tenant_id, storage_client_id and storage_client_secret"},
		{"key and key file", with("storage_key_file", "/nonexistent"), "both storage_key and storage_key_file"},
		{"key file missing", with("storage_key", "", "storage_key_file", filepath.Join(dir, "none")), "storage_key_file"},
		{"unexpanded", with("storage_key", "${KEY}"), "unexpanded variable"},
		{"schema without expand", with("schema", "seed"), "apply with expand on only"},
		{"buffer over queue", with("max_queue_bytes", "1M", "max_buffer_bytes", "2M"), "above max_queue_bytes"},
		{"queue not a size", with("max_queue_bytes", "lots"), "not a whole number"},
		{"bad done key", with("done_marker_key", "9x"), "done_marker_key"},
		{"expand not a bool", with("expand", "maybe"), "expand \"maybe\" is not on or off"},
		{"endpoint with query", with("storage_endpoint", "http://127.0.0.1:1/a?sig=SECRET"), "must not carry a query"},
		{"prefix without container", with("checkpoint_prefix", "p"), "checkpoint_prefix applies"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.cfg)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			for _, secret := range []string{testKey, "SECRET"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a secret: %q", err)
				}
			}
		})
	}
}

// TestKeysDocumented: every key ParseConfig reads is in Keys (the docs'
// source), and every key in Keys is read.
func TestKeysDocumented(t *testing.T) {
	read := map[string]bool{}
	g := recordingGetter{seen: read, m: base()}
	if _, err := ParseConfig(g); err != nil {
		t.Fatal(err)
	}
	// Keys read only for one auth method.
	cs := base()
	cs["storage_auth"], cs["storage_tenant_id"], cs["storage_client_id"], cs["storage_client_secret"] = "client_secret", "t", "c", "SECRET"
	if _, err := ParseConfig(recordingGetter{seen: read, m: cs}); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, k := range Keys {
		listed[k.Name] = true
		if !read[k.Name] {
			t.Errorf("key %s is documented but not read", k.Name)
		}
	}
	for k := range read {
		if !listed[k] {
			t.Errorf("key %s is read but not documented", k)
		}
	}
}

type recordingGetter struct {
	seen map[string]bool
	m    MapConfig
}

func (r recordingGetter) Get(k string) string { r.seen[k] = true; return r.m.Get(k) }

// TestKeysInDocs: docs/plugin-input.md has a table row for every key.
func TestKeysInDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "plugin-input.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys {
		if !strings.Contains(string(doc), "| `"+k.Name+"` |") {
			t.Errorf("docs/plugin-input.md has no row for key %s", k.Name)
		}
	}
}

// TestAuthSpellings: both plugins' spellings of an auth method work, and a
// client-secret file is only read for client-secret auth.
func TestAuthSpellings(t *testing.T) {
	for in, want := range map[string]string{"managed_identity": "managed-identity", "managed-identity": "managed-identity",
		"workload_identity": "workload-identity", "azure_cli": "cli", "connection_string": "connection-string"} {
		cfg := base()
		cfg["storage_auth"] = in
		if in == "connection_string" {
			cfg["storage_connection_string"] = "UseDevelopmentStorage=true"
		}
		cfg["storage_client_secret_file"] = "/nonexistent/secret" // must not be read
		c, err := ParseConfig(cfg)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if c.Source.Auth.Method != want {
			t.Errorf("%s: method %q, want %q", in, c.Source.Auth.Method, want)
		}
	}
}
