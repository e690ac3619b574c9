package entratest

import (
	"context"
	"errors"
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
)

const (
	appID     = "11111111-aaaa-4000-8000-000000000001"
	appSecret = "s3cr3t-entratest-client-secret-value"
	fedID     = "22222222-bbbb-4000-8000-000000000002"
	fedSub    = "system:serviceaccount:nsgflow:collector"
	uamiID    = "33333333-cccc-4000-8000-000000000003"
)

func setup(t *testing.T) (*Server, *Proxy) {
	t.Helper()
	s := Start(t)
	s.AddApp(appID, appSecret)
	s.AddFederated(fedID, fedSub)
	s.AddUserAssigned(uamiID)
	p := StartProxy(t, s.CA)
	p.RouteEntra(s)
	return s, p
}

func opts(p *Proxy, c cloud.Configuration) azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: c, Transport: p.Client(), Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}}
}

// TestCredentials: every credential kind azidentity offers gets a token
// from the stand-in, with the audience of the scope, the tenant, the
// client ID and the issuer of the cloud asked, and the stand-in recorded
// the grant and the authority host.
func TestCredentials(t *testing.T) {
	s, p := setup(t)
	dir := t.TempDir()
	fedFile := filepath.Join(dir, "fed")
	if err := os.WriteFile(fedFile, []byte(s.FederatedToken(fedSub, time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	az, err := s.FakeAZ(t.TempDir(), appID, time.Hour, "https://storage.azure.com", "https://monitor.azure.com/")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", az.Dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, kv := range s.ManagedIdentityEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cases := []struct {
		name       string
		cred       func() (azcore.TokenCredential, error)
		scope      string
		grant      string
		host       string
		iss        string
		aud, appid string
	}{
		{"client secret", func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(s.Tenant, appID, appSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic)})
		}, "https://storage.azure.com/.default", GrantClientSecret, "login.microsoftonline.com", "https://sts.windows.net/" + s.Tenant + "/", "https://storage.azure.com", appID},
		{"client secret china", func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(s.Tenant, appID, appSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts(p, cloud.AzureChina)})
		}, "https://monitor.azure.cn//.default", GrantClientSecret, "login.chinacloudapi.cn", "https://sts.chinacloudapi.cn/" + s.Tenant + "/", "https://monitor.azure.cn/", appID},
		{"client secret usgov", func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(s.Tenant, appID, appSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts(p, cloud.AzureGovernment)})
		}, "https://monitor.azure.us//.default", GrantClientSecret, "login.microsoftonline.us", "https://sts.windows.net/" + s.Tenant + "/", "https://monitor.azure.us/", appID},
		{"workload identity", func() (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic), TenantID: s.Tenant, ClientID: fedID, TokenFilePath: fedFile})
		}, "https://monitor.azure.com//.default", GrantClientAssertion, "login.microsoftonline.com", "https://sts.windows.net/" + s.Tenant + "/", "https://monitor.azure.com/", fedID},
		{"managed identity system-assigned", func() (azcore.TokenCredential, error) {
			return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic)})
		}, "https://storage.azure.com/.default", GrantManagedIdentity, s.Addr, "https://sts.windows.net/" + s.Tenant + "/", "https://storage.azure.com", s.SystemAssignedClientID()},
		{"managed identity user-assigned", func() (azcore.TokenCredential, error) {
			return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic), ID: azidentity.ClientID(uamiID)})
		}, "https://monitor.azure.com//.default", GrantManagedIdentity, s.Addr, "https://sts.windows.net/" + s.Tenant + "/", "https://monitor.azure.com/", uamiID},
		{"azure cli", func() (azcore.TokenCredential, error) {
			return azidentity.NewAzureCLICredential(nil)
		}, "https://monitor.azure.com//.default", "", "", "https://sts.windows.net/" + s.Tenant + "/", "https://monitor.azure.com/", appID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(s.Requests())
			cred, err := c.cred()
			if err != nil {
				t.Fatal(err)
			}
			tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{c.scope}})
			if err != nil {
				t.Fatal(err)
			}
			cl, err := ParseClaims(tok.Token)
			if err != nil {
				t.Fatal(err)
			}
			if cl.Aud != c.aud || cl.Iss != c.iss || cl.Tid != s.Tenant || cl.AppID != c.appid {
				t.Errorf("claims %+v: want aud %s, iss %s, tid %s, appid %s", cl, c.aud, c.iss, s.Tenant, c.appid)
			}
			if d := time.Until(tok.ExpiresOn); d < 50*time.Minute || d > time.Hour {
				t.Errorf("token expires in %v, want about an hour", d)
			}
			if _, err := s.verify(tok.Token); err != nil {
				t.Errorf("the token does not verify: %v", err)
			}
			reqs := s.Requests()[before:]
			if c.grant == "" { // the CLI: no request, a call of the fake az
				if len(reqs) != 0 {
					t.Errorf("az path made %d token requests", len(reqs))
				}
				calls := az.Calls()
				if len(calls) == 0 || !strings.Contains(calls[len(calls)-1], "account get-access-token -o json --resource https://monitor.azure.com/") {
					t.Errorf("fake az calls: %q", calls)
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Grant != c.grant || reqs[0].Host != c.host || reqs[0].Status != 200 || reqs[0].Audience != c.aud {
				t.Errorf("token requests %+v: want one %s grant on %s for %s", reqs, c.grant, c.host, c.aud)
			}
		})
	}
	if r := p.Refused(); len(r) > 0 {
		t.Errorf("the proxy refused %q", r)
	}
	seen := strings.Join(p.Seen(), " ")
	for _, h := range []string{"login.microsoftonline.com:443", "login.chinacloudapi.cn:443", "login.microsoftonline.us:443"} {
		if !strings.Contains(seen, h) {
			t.Errorf("proxy never saw %s (saw %s)", h, seen)
		}
	}
}

// TestFailures: each refusal comes back as Entra ID's error, with its
// status and AADSTS code, and never holds the secret or the assertion.
func TestFailures(t *testing.T) {
	s, p := setup(t)
	dir := t.TempDir()
	expired := filepath.Join(dir, "expired")
	expTok := s.FederatedToken(fedSub, -time.Minute)
	if err := os.WriteFile(expired, []byte(expTok), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongSub := filepath.Join(dir, "wrongsub")
	wrongTok := s.FederatedToken("system:serviceaccount:other:thief", time.Hour)
	if err := os.WriteFile(wrongSub, []byte(wrongTok), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range s.ManagedIdentityEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	const badSecret = "not-the-right-secret-0123456789"
	cases := []struct {
		name   string
		cred   func() (azcore.TokenCredential, error)
		status int
		code   string
		secret string
	}{
		{"bad secret", func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(s.Tenant, appID, badSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic)})
		}, 401, "AADSTS7000215", badSecret},
		{"unknown client", func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential(s.Tenant, "99999999-0000-4000-8000-000000000009", appSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic)})
		}, 400, "AADSTS700016", appSecret},
		{"unknown tenant", func() (azcore.TokenCredential, error) {
			return azidentity.NewClientSecretCredential("00000000-dead-4000-8000-000000000000", appID, appSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic)})
		}, 400, "AADSTS90002", appSecret},
		{"expired assertion", func() (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic), TenantID: s.Tenant, ClientID: fedID, TokenFilePath: expired})
		}, 400, "AADSTS700024", expTok},
		{"assertion of another subject", func() (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic), TenantID: s.Tenant, ClientID: fedID, TokenFilePath: wrongSub})
		}, 400, "AADSTS70021", wrongTok},
		{"unknown user-assigned identity", func() (azcore.TokenCredential, error) {
			return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic), ID: azidentity.ClientID("44444444-0000-4000-8000-000000000004")})
		}, 400, "No User Assigned", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cred, err := c.cred()
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
			if err == nil {
				t.Fatal("got a token")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refusal took %v: a permanent error must not be retried", d)
			}
			var af *azidentity.AuthenticationFailedError
			if !errors.As(err, &af) || af.RawResponse == nil || af.RawResponse.StatusCode != c.status {
				t.Fatalf("error %T %v: want AuthenticationFailedError with status %d", err, err, c.status)
			}
			if !strings.Contains(err.Error(), c.code) {
				t.Errorf("error lacks %s: %v", c.code, err)
			}
			if c.secret != "" && strings.Contains(err.Error(), c.secret) {
				t.Errorf("error holds the secret or assertion: %v", err)
			}
		})
	}
}

// TestTransient: 503s from the token endpoint are retried by the SDK and
// the token comes once the stand-in answers again.
func TestTransient(t *testing.T) {
	s, p := setup(t)
	s.FailNext(2, http.StatusServiceUnavailable)
	cred, err := azidentity.NewClientSecretCredential(s.Tenant, appID, appSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts(p, cloud.AzurePublic)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}}); err != nil {
		t.Fatal(err)
	}
	var n503, n200 int
	for _, r := range s.Requests() {
		switch r.Status {
		case 503:
			n503++
		case 200:
			n200++
		}
	}
	if n503 != 2 || n200 != 1 {
		t.Errorf("%d answers 503 and %d 200, want 2 and 1", n503, n200)
	}
}

// TestProxyRefuses: a host without a route is refused and recorded, over
// CONNECT and as a plain proxy request.
func TestProxyRefuses(t *testing.T) {
	_, p := setup(t)
	c := p.Client()
	for _, u := range []string{"https://example.invalid/x", "http://169.254.169.254/metadata/identity/oauth2/token"} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Errorf("%s: status %d", u, resp.StatusCode)
			}
		}
	}
	got := strings.Join(p.Refused(), " ")
	if !strings.Contains(got, "example.invalid:443") || !strings.Contains(got, "169.254.169.254") {
		t.Errorf("refused %q", got)
	}
}
