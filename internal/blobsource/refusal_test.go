package blobsource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

// TestIsRefusal: refusals (401/403, credentials that cannot heal) are told
// from transient failures (5xx, throttling, timeouts, network).
func TestIsRefusal(t *testing.T) {
	authFailed := func(code int) error {
		return &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: code}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"403", &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthenticationFailed"}, true},
		{"401", fmt.Errorf("list: %w", &azcore.ResponseError{StatusCode: 401}), true},
		{"500", &azcore.ResponseError{StatusCode: 500}, false},
		{"503 throttled", &azcore.ResponseError{StatusCode: 503, ErrorCode: "ServerBusy"}, false},
		{"404", &azcore.ResponseError{StatusCode: 404, ErrorCode: "BlobNotFound"}, false},
		{"credential unavailable (no az)", fmt.Errorf("discover: %w", azidentity.NewCredentialUnavailableError("AzureCLICredential: executable not found on path")), true},
		{"invalid client secret (400)", authFailed(400), true},
		{"unknown tenant (400 wrapped)", fmt.Errorf("x: %w", authFailed(400)), true},
		{"unauthorized client (401)", authFailed(401), true},
		{"token endpoint 500", authFailed(500), false},
		{"token endpoint 429", authFailed(429), false},
		{"token endpoint unreachable", &azidentity.AuthenticationFailedError{}, false},
		{"timeout", context.DeadlineExceeded, false},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRefusal(tt.err); got != tt.want {
				t.Fatalf("IsRefusal(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestRefusalHints: the message names the auth kind, where its credential
// came from, and a hint for that kind (an account key is not "check the SAS
// permissions").
func TestRefusalHints(t *testing.T) {
	forbidden := &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthenticationFailed"}
	perm := &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthorizationPermissionMismatch"}
	tests := []struct {
		auth      Auth
		op        string
		err       error
		want, not []string
	}{
		{Auth{AccountKey: "k", Origin: "storage_key_file"}, "list container c", forbidden,
			[]string{"storage_auth key (not set", "credential from storage_key_file", "account key does not sign", "403 AuthenticationFailed"}, []string{"SAS"}},
		{Auth{Method: AuthSAS, SASToken: "s", Origin: "storage_sas"}, "list container c", forbidden,
			[]string{"storage_auth sas,", "SAS in storage_sas is not valid"}, []string{"account key"}},
		{Auth{Method: AuthSAS, SASToken: "s"}, "read blob b", perm, []string{"needs r (read)"}, nil},
		{Auth{Method: AuthSAS, SASToken: "s"}, "set the done marker on blob b", perm, []string{"needs w (write)"}, nil},
		{Auth{ConnectionString: "c"}, "list container c", forbidden, []string{"storage_auth connection-string", "AccountKey or SharedAccessSignature"}, nil},
		{Auth{Method: AuthManagedIdentity}, "read blob b", perm, []string{"Storage Blob Data Reader"}, []string{"SAS"}},
		{Auth{Method: AuthWorkloadIdentity}, "set the done marker on blob b", perm, []string{"Storage Blob Data Contributor"}, nil},
		{Auth{Method: AuthCLI}, "list container c", azidentity.NewCredentialUnavailableError("AzureCLICredential: executable not found on path"),
			[]string{"az login", "executable not found"}, nil},
	}
	for _, tt := range tests {
		s := &Source{cfg: Config{Auth: tt.auth}, account: "acct"}
		s.cfg.Logger = nil
		msg := s.refusal(tt.op, tt.err).Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q lacks %q", msg, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(msg, w) {
				t.Errorf("%q has %q", msg, w)
			}
		}
	}
}

// TestRefusalPolling: in polling mode a persistent refusal is logged at
// error level at a bounded rate (once a minute per kind of operation) and
// counted in Stats.Refused; Run keeps polling.
func TestRefusalPolling(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, nil)
	wrong := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 64)))
	e.src = e.newSource(func(c *Config) {
		c.Client = nil
		c.Auth = Auth{Method: AuthKey, AccountName: azuritetest.Account, AccountKey: wrong, Endpoint: srv.Endpoint(),
			Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond}}
		c.PollInterval, c.DiscoveryInterval = 100*time.Millisecond, 100*time.Millisecond
		c.Now = time.Now
	})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := e.src.Run(ctx, e.sink.handle); err != nil {
		t.Fatalf("Run in polling mode ended with %v", err)
	}
	st := e.src.Stats()
	logs := e.logs.String()
	errorLines := strings.Count(logs, "level=ERROR msg=\"storage refused to list container")
	if st.Refused < 4 {
		t.Fatalf("Refused = %d after 1.5s of 100ms discoveries, want at least 4; logs:\n%s", st.Refused, logs)
	}
	if errorLines != 1 {
		t.Fatalf("%d error lines for %d refusals, want 1 (rate-limited); logs:\n%s", errorLines, st.Refused, logs)
	}
	last, n := e.src.LastRefusal()
	if last == nil || n != st.Refused || !strings.Contains(last.Error(), "storage_auth key") {
		t.Fatalf("LastRefusal = %v, %d", last, n)
	}
	if strings.Contains(logs, wrong) {
		t.Fatal("the key is in the logs")
	}
}

// TestMissingContainers: a configured container that does not exist is
// named at warn level; if none exists, a Once Run fails and a polling one
// says it at error level and keeps looking (the writer may create them);
// one of the two default containers missing is normal (info).
func TestMissingContainers(t *testing.T) {
	srv := azurite(t)
	tests := []struct {
		name       string
		containers func(existing string) []string
		defaults   bool
		once       bool
		wantErr    bool
		want       string
	}{
		{"all configured missing, once", func(string) []string { return []string{"no-such-one", "no-such-two"} }, false, true, true, "level=WARN msg=\"container does not exist: check containers"},
		{"all configured missing, polling", func(string) []string { return []string{"no-such-one", "no-such-two"} }, false, false, false, "level=ERROR msg=\"none of the containers to read exists"},
		{"one configured missing", func(c string) []string { return []string{c, "no-such-one"} }, false, false, false, "level=WARN msg=\"container does not exist: check containers"},
		{"default", nil, true, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, nil)
			if tt.defaults {
				// One of the two flow-log containers exists.
				if err := azuritetest.CreateContainer(context.Background(), e.svc, ContainerNSG); err != nil {
					t.Fatal(err)
				}
			}
			b := genBlob(t, flowgen.Options{RecordsPerHour: 2, TuplesPerRecord: 2, Seed: 3}, 0)
			if err := azuritetest.UploadBlob(context.Background(), e.svc, &flowgen.Blob{Container: e.cont, Name: b.Name, Blocks: b.Blocks}); err != nil {
				t.Fatal(err)
			}
			e.src = e.newSource(func(c *Config) {
				c.Containers = nil
				if tt.containers != nil {
					c.Containers = tt.containers(e.cont)
				}
				c.PollInterval, c.Once = 10*time.Millisecond, tt.once
			})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			err := e.src.Run(ctx, e.sink.handle)
			logs := e.logs.String()
			var mc *MissingContainersError
			if tt.wantErr != errors.As(err, &mc) {
				t.Fatalf("Run = %v, want a missing-containers error: %v; logs:\n%s", err, tt.wantErr, logs)
			}
			if tt.wantErr && !strings.Contains(err.Error(), "check containers") {
				t.Fatalf("error %q does not name the containers setting", err)
			}
			if tt.want != "" && !strings.Contains(logs, tt.want) {
				t.Fatalf("logs lack %q:\n%s", tt.want, logs)
			}
			if tt.defaults && strings.Contains(logs, "level=WARN") {
				t.Fatalf("default containers warned:\n%s", logs)
			}
			if !tt.wantErr && strings.Count(logs, "container does not exist") > len(e.src.cfg.Containers) {
				t.Fatalf("missing container said more than once:\n%s", logs)
			}
		})
	}
}
