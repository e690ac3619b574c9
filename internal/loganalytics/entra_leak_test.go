package loganalytics

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/nsgflow/nsgflow/internal/testkit/entratest"
)

// TestEntraSecretsNeverLeak extends TestSecretsNeverLeak to real Entra ID
// credentials: azidentity talking to the stand-in fails with a bad client
// secret, an expired or foreign federated assertion, an unknown managed
// identity and a token endpoint that stays unavailable; and a Logs
// Ingestion endpoint echoes the bearer JWT it got (bare, without
// "Bearer"). No error and no log line holds the secret, the assertion, the
// managed identity header or a token.
func TestEntraSecretsNeverLeak(t *testing.T) {
	const app, secret, fed, sub = "11111111-aaaa-4000-8000-000000000001", "leak-test-client-secret-0123456789", "22222222-bbbb-4000-8000-000000000002", "system:serviceaccount:ns:sa"
	st := entratest.Start(t)
	st.AddApp(app, secret)
	st.AddFederated(fed, sub)
	p := entratest.StartProxy(t, st.CA)
	p.RouteEntra(st)
	co := azcore.ClientOptions{Cloud: cloud.AzurePublic, Transport: p.Client(),
		Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond}}
	dir := t.TempDir()
	expired := st.FederatedToken(sub, -time.Minute)
	foreign := st.FederatedToken("system:serviceaccount:other:thief", time.Hour)
	write := func(name, v string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	expFile, forFile := write("expired", expired), write("foreign", foreign)
	miEnv := st.ManagedIdentityEnv()
	for _, kv := range miEnv {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	miHeader := strings.TrimPrefix(miEnv[1], "IDENTITY_HEADER=")
	good, err := azidentity.NewClientSecretCredential(st.Tenant, app, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co})
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]func() (azcore.TokenCredential, error){
		"bad secret": func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(st.Tenant, app, secret+"-wrong", &azidentity.ClientSecretCredentialOptions{ClientOptions: co})
		},
		"expired assertion": func() (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, TenantID: st.Tenant, ClientID: fed, TokenFilePath: expFile})
		},
		"foreign assertion": func() (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, TenantID: st.Tenant, ClientID: fed, TokenFilePath: forFile})
		},
		"unknown managed identity": func() (azcore.TokenCredential, error) {
			return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: co, ID: azidentity.ClientID("44444444-0000-4000-8000-000000000004")})
		},
		"token endpoint unavailable": func() (azcore.TokenCredential, error) {
			st.FailNextFor("https://monitor.azure.com/", 20, http.StatusServiceUnavailable)
			return azidentity.NewClientSecretCredential(st.Tenant, app, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co})
		},
	}
	var all strings.Builder
	var tokens []string
	for name, mk := range creds {
		cred, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		log := &logSink{}
		lc := liConfig("http://127.0.0.1:1", &fakeClock{}, log)
		lc.MaxRetries = 1
		lc.Credential = CredentialConfig{TokenCredential: cred}
		li, err := NewLogsIngestion(lc)
		if err != nil {
			t.Fatal(err)
		}
		ev := synthEvents(2, 2)
		rep := li.Send(context.Background(), ev, li.Cut(ev))
		if rep.Err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		all.WriteString(name + ": " + rep.Err.Error() + "\n" + log.text())
		st.ClearFaults()
	}
	// An endpoint echoing the bearer token it got, bare, in 400, 401, 403
	// and 500 bodies.
	for _, status := range []int{400, 401, 403, 500} {
		rec := newRecorder(t, 204, func(n int, r *request, w http.ResponseWriter) bool {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			tokens = append(tokens, tok)
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"code":"Echo","message":"you sent %s"}}`, tok)
			return true
		})
		log := &logSink{}
		lc := liConfig(rec.srv.URL, &fakeClock{}, log)
		lc.MaxRetries = 1
		lc.Credential = CredentialConfig{TokenCredential: good}
		li, err := NewLogsIngestion(lc)
		if err != nil {
			t.Fatal(err)
		}
		ev := synthEvents(2, 2)
		rep := li.Send(context.Background(), ev, li.Cut(ev))
		if rep.Err == nil {
			t.Errorf("echo %d: no error", status)
			continue
		}
		all.WriteString(fmt.Sprintf("echo %d: %s\n%s", status, rep.Err, log.text()))
	}
	text := all.String()
	if len(tokens) == 0 || strings.Count(text, "\n") < 9 {
		t.Fatalf("too little to judge (%d tokens seen):\n%s", len(tokens), text)
	}
	for _, s := range append([]string{secret, expired, foreign, miHeader}, tokens...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("secret %.8s... leaked in:\n%s", s, text)
		}
	}
	if strings.Contains(text, "eyJ") {
		t.Errorf("a JWT-looking string is in:\n%s", text)
	}
	for _, code := range []string{"AADSTS7000215", "AADSTS700024", "AADSTS70021", "No User Assigned", "503"} {
		if !strings.Contains(text, code) {
			t.Errorf("the errors lost %q, which says what went wrong", code)
		}
	}
}
