package blobsource

import (
	"strings"
	"testing"
)

func TestServiceURL(t *testing.T) {
	tests := []struct {
		name string
		a    Auth
		want string
		err  bool
	}{
		{"public", Auth{AccountName: "acct"}, "https://acct.blob.core.windows.net/", false},
		{"china", Auth{AccountName: "acct", Cloud: "china"}, "https://acct.blob.core.chinacloudapi.cn/", false},
		{"usgov", Auth{AccountName: "acct", Cloud: "USGov"}, "https://acct.blob.core.usgovcloudapi.net/", false},
		{"azurite endpoint", Auth{Endpoint: "http://127.0.0.1:10000/devstoreaccount1"}, "http://127.0.0.1:10000/devstoreaccount1/", false},
		{"endpoint query dropped", Auth{Endpoint: "https://a.blob.core.windows.net/?sig=SECRET"}, "https://a.blob.core.windows.net/", false},
		{"unknown cloud", Auth{AccountName: "acct", Cloud: "mars"}, "", true},
		{"no account", Auth{}, "", true},
		{"bad endpoint", Auth{Endpoint: "ftp://x?sig=SECRET"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.ServiceURL()
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ServiceURL() = %q, %v; want %q, err %v", got, err, tt.want, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("secret in error: %v", err)
			}
		})
	}
}

func TestNewServiceClient(t *testing.T) {
	tests := []struct {
		name    string
		a       Auth
		wantErr string
	}{
		{"key", Auth{AccountName: "acct", AccountKey: "a2V5"}, ""},
		{"key not base64", Auth{AccountName: "acct", AccountKey: "not base64 SECRET!"}, "not valid base64"},
		{"sas", Auth{AccountName: "acct", SASToken: "?sv=2023&sig=SECRET"}, ""},
		{"sas missing", Auth{AccountName: "acct", Method: "sas"}, "needs a SAS token"},
		{"connection string", Auth{ConnectionString: "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5;EndpointSuffix=core.windows.net"}, ""},
		{"bad connection string", Auth{ConnectionString: "AccountKey=SECRET;nonsense"}, "connection string"},
		{"managed identity user-assigned", Auth{AccountName: "acct", Method: "managed-identity", ClientID: "00000000-0000-0000-0000-000000000000"}, ""},
		{"client secret", Auth{AccountName: "acct", Method: "client-secret", TenantID: "t", ClientID: "c", ClientSecret: "SECRET"}, ""},
		{"client secret incomplete", Auth{AccountName: "acct", Method: "client-secret", ClientSecret: "SECRET"}, "needs tenant ID"},
		{"cli china", Auth{AccountName: "acct", Method: "cli", Cloud: "china"}, ""},
		{"unknown method", Auth{AccountName: "acct", Method: "magic"}, "unknown auth method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.a.NewServiceClient()
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("NewServiceClient: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("secret in error: %v", err)
			}
		})
	}
}

func TestAccountName(t *testing.T) {
	tests := []struct{ configured, url, want string }{
		{"", "https://acct.blob.core.windows.net/", "acct"},
		{"", "http://127.0.0.1:10000/devstoreaccount1/", "devstoreaccount1"},
		{"mine", "http://127.0.0.1:10000/devstoreaccount1/", "mine"},
	}
	for _, tt := range tests {
		if got := accountName(tt.configured, tt.url); got != tt.want {
			t.Errorf("accountName(%q, %q) = %q, want %q", tt.configured, tt.url, got, tt.want)
		}
	}
}

func TestParseStart(t *testing.T) {
	now := flowgenStart()
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{"", "2026-11-26T00:00:00Z", false},
		{"now", "2026-11-26T00:00:00Z", false},
		{"beginning", "0001-01-01T00:00:00Z", false},
		{"2026-11-20T13:45:00+01:00", "2026-11-20T12:00:00Z", false},
		{"yesterday", "", true},
	}
	for _, tt := range tests {
		got, err := ParseStart(tt.in, now)
		if (err != nil) != tt.err || (err == nil && got.Format("2006-01-02T15:04:05Z07:00") != tt.want) {
			t.Errorf("ParseStart(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}
