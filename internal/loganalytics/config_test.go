package loganalytics

import (
	"strings"
	"testing"
)

func TestLogsIngestionConfigErrors(t *testing.T) {
	ok := func() LogsIngestionConfig {
		return LogsIngestionConfig{Endpoint: "https://dce-x.westeurope-1.ingest.monitor.azure.com", DCRImmutableID: testDCR, Stream: testStream,
			Credential: CredentialConfig{Kind: CredStatic, Token: testToken}}
	}
	tests := []struct {
		name   string
		mod    func(*LogsIngestionConfig)
		errHas string
	}{
		{"valid", func(*LogsIngestionConfig) {}, ""},
		{"loopback http", func(c *LogsIngestionConfig) { c.Endpoint = "http://127.0.0.1:8080" }, ""},
		{"empty endpoint", func(c *LogsIngestionConfig) { c.Endpoint = "" }, "Endpoint is empty"},
		{"plain http", func(c *LogsIngestionConfig) { c.Endpoint = "http://dce.example.invalid" }, "needs https"},
		{"query in endpoint", func(c *LogsIngestionConfig) { c.Endpoint = "https://dce.example.invalid/?sig=SECRETSIG" }, "must not carry"},
		{"dcr resource id", func(c *LogsIngestionConfig) { c.DCRImmutableID = "/subscriptions/x/dataCollectionRules/r" }, "DCRImmutableID"},
		{"dcr short", func(c *LogsIngestionConfig) { c.DCRImmutableID = "dcr-1234" }, "32 hex"},
		{"stream", func(c *LogsIngestionConfig) { c.Stream = "NsgFlow" }, "Custom-<Name>"},
		{"cloud", func(c *LogsIngestionConfig) { c.Cloud = "mars" }, "public, china or usgov"},
		{"gzip level", func(c *LogsIngestionConfig) { c.GzipLevel = 12 }, "GzipLevel"},
		{"body cap", func(c *LogsIngestionConfig) { c.MaxBodyBytes = 2 << 20 }, "MaxBodyBytes"},
		{"concurrency", func(c *LogsIngestionConfig) { c.Concurrency = -1 }, "Concurrency"},
		{"static without token", func(c *LogsIngestionConfig) { c.Credential.Token = "" }, "Token is empty"},
		{"client secret incomplete", func(c *LogsIngestionConfig) { c.Credential = CredentialConfig{Kind: CredClientSecret, ClientID: "x"} }, "TenantID, ClientID and ClientSecret"},
		{"unknown credential", func(c *LogsIngestionConfig) { c.Credential = CredentialConfig{Kind: "password"} }, "Credential.Kind"},
		{"client secret ok", func(c *LogsIngestionConfig) {
			c.Credential = CredentialConfig{Kind: CredClientSecret, TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "c0a8e8a1-0000-4000-8000-000000000001", ClientSecret: "s3cr3t-value"}
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mod(&c)
			s, err := NewLogsIngestion(c)
			if tc.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err %v, want %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), "SECRETSIG") || strings.Contains(err.Error(), testToken) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestDataCollectorConfigErrors(t *testing.T) {
	ok := func() DataCollectorConfig {
		return DataCollectorConfig{WorkspaceID: testWorkspace, SharedKey: testSharedKey, LogType: "NsgFlow"}
	}
	tests := []struct {
		name   string
		mod    func(*DataCollectorConfig)
		errHas string
	}{
		{"valid", func(*DataCollectorConfig) {}, ""},
		{"workspace", func(c *DataCollectorConfig) { c.WorkspaceID = "my-workspace" }, "WorkspaceID"},
		{"key not base64", func(c *DataCollectorConfig) { c.SharedKey = "not*base64*" + testSharedKey }, "not valid base64"},
		{"key empty", func(c *DataCollectorConfig) { c.SharedKey = "" }, "SharedKey is empty"},
		{"log type chars", func(c *DataCollectorConfig) { c.LogType = "Nsg-Flow" }, "LogType"},
		{"log type long", func(c *DataCollectorConfig) { c.LogType = strings.Repeat("a", 101) }, "1-100"},
		{"time field", func(c *DataCollectorConfig) { c.TimeGeneratedField = "a b" }, "TimeGeneratedField"},
		{"body cap", func(c *DataCollectorConfig) { c.MaxBodyBytes = 31_000_000 }, "30000000"},
		{"endpoint http", func(c *DataCollectorConfig) { c.Endpoint = "http://ods.example.invalid" }, "needs https"},
		{"cloud china", func(c *DataCollectorConfig) { c.Cloud = "china" }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mod(&c)
			_, err := NewDataCollector(c)
			if tc.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err %v, want %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), testSharedKey) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}

func TestCloudEndpoints(t *testing.T) {
	tests := []struct {
		c           Cloud
		scope, host string
	}{
		{CloudPublic, "https://monitor.azure.com//.default", ".ods.opinsights.azure.com"},
		{CloudChina, "https://monitor.azure.cn//.default", ".ods.opinsights.azure.cn"},
		{CloudUSGov, "https://monitor.azure.us//.default", ".ods.opinsights.azure.us"},
	}
	for _, tc := range tests {
		if tc.c.MonitorScope() != tc.scope || tc.c.ODSSuffix() != tc.host {
			t.Errorf("%s: %s %s", tc.c, tc.c.MonitorScope(), tc.c.ODSSuffix())
		}
	}
	s, err := NewDataCollector(DataCollectorConfig{WorkspaceID: testWorkspace, SharedKey: testSharedKey, LogType: "X", Cloud: "usgov"})
	if err != nil {
		t.Fatal(err)
	}
	if u := s.(*dataCollector).url; u != "https://"+testWorkspace+".ods.opinsights.azure.us/api/logs?api-version=2016-04-01" {
		t.Fatalf("url %s", u)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := mustTime("Thu, 26 Nov 2026 01:00:00 GMT")
	tests := []struct {
		v    string
		want string
	}{
		{"", "0s"}, {"5", "5s"}, {"0.5", "500ms"}, {"-3", "0s"}, {"junk", "0s"},
		{"Thu, 26 Nov 2026 01:00:30 GMT", "30s"}, {"Thu, 26 Nov 2026 00:59:00 GMT", "0s"}, {"99999", "5m0s"},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.v, now, 5*60e9).String(); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.v, got, tc.want)
		}
	}
}
