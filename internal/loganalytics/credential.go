package loganalytics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// tokenSource gets and caches bearer tokens for the Logs Ingestion API.
type tokenSource struct {
	kind   string
	scope  string
	static string
	cred   azcore.TokenCredential
	scrub  *scrubber

	mu      sync.Mutex
	token   string
	refresh time.Time // when the cached token is replaced
}

func newTokenSource(c CredentialConfig, cl Cloud, scr *scrubber) (*tokenSource, error) {
	ts := &tokenSource{kind: c.Kind, scope: cl.MonitorScope(), scrub: scr}
	if c.TokenCredential != nil {
		ts.kind, ts.cred = "custom", c.TokenCredential
		return ts, nil
	}
	if ts.kind == "" {
		ts.kind = CredDefault
	}
	co := azcore.ClientOptions{Cloud: cloudConfig(cl)}
	var err error
	switch ts.kind {
	case CredStatic:
		if c.Token == "" {
			return nil, errors.New("Credential.Token is empty: kind static needs a fixed bearer token (emulator and tests only)")
		}
		ts.static = c.Token
		return ts, nil
	case CredDefault:
		ts.cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co, TenantID: c.TenantID})
	case CredEnvironment:
		ts.cred, err = azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: co})
	case CredClientSecret:
		if c.TenantID == "" || c.ClientID == "" || c.ClientSecret == "" {
			return nil, errors.New("credential client_secret needs TenantID, ClientID and ClientSecret: set all three (or use kind environment with AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)")
		}
		ts.cred, err = azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co})
	case CredWorkloadIdentity:
		ts.cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, ClientID: c.ClientID, TenantID: c.TenantID, TokenFilePath: c.TokenFile})
	case CredManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if c.ClientID != "" {
			o.ID = azidentity.ClientID(c.ClientID)
		}
		ts.cred, err = azidentity.NewManagedIdentityCredential(o)
	case CredAzureCLI:
		ts.cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: c.TenantID})
	default:
		return nil, fmt.Errorf("Credential.Kind %q unknown: use default, environment, client_secret, workload_identity, managed_identity, azure_cli or static", c.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("credential %s: %s", ts.kind, scr.scrub(err.Error()))
	}
	return ts, nil
}

func cloudConfig(c Cloud) cloud.Configuration {
	switch c {
	case CloudChina:
		return cloud.AzureChina
	case CloudUSGov:
		return cloud.AzureGovernment
	}
	return cloud.AzurePublic
}

// get returns the cached token until its refresh time, then a new one.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	if t.static != "" {
		return t.static, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.token != "" && now.Before(t.refresh) {
		return t.token, nil
	}
	tok, err := t.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{t.scope}})
	if err != nil {
		return "", err
	}
	t.token, t.refresh = tok.Token, refreshTime(now, tok.ExpiresOn)
	return t.token, nil
}

// refreshTime is when a token obtained at now and expiring at exp is
// replaced: two minutes before it expires, or halfway through its life
// when that is shorter than four minutes (azidentity hands out a new token
// on every call within five minutes of expiry, so the cache here is what
// keeps short-lived tokens from being fetched for every request).
func refreshTime(now, exp time.Time) time.Time {
	life := exp.Sub(now)
	if life < 4*time.Minute {
		return now.Add(life / 2)
	}
	return exp.Add(-2 * time.Minute)
}

// invalidate drops the cached token after a 401.
func (t *tokenSource) invalidate() {
	t.mu.Lock()
	t.token = ""
	t.mu.Unlock()
}

// isPermanentTokenError reports whether a token error cannot heal by
// retrying: the identity platform refused the credential itself (4xx other
// than 408/429: a wrong client secret, an unknown tenant or client), or the
// credential is unavailable (no az executable, no managed identity
// endpoint, a malformed federated token file). Token endpoint 5xx,
// timeouts and network errors are retried.
func isPermanentTokenError(err error) bool {
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		if af.RawResponse == nil {
			return false
		}
		s := af.RawResponse.StatusCode
		return s >= 400 && s < 500 && s != 408 && s != 429
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return false
	}
	return hasErrorType(err, "*azidentity.credentialUnavailableError")
}

// hasErrorType reports whether an error of the named type is in err's
// chain (azidentity does not export its credential-unavailable error).
func hasErrorType(err error, name string) bool {
	for err != nil {
		if fmt.Sprintf("%T", err) == name {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if hasErrorType(e, name) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// credentialHint says what to fix for a credential kind that cannot get a
// token for good.
func credentialHint(kind string) string {
	switch kind {
	case CredAzureCLI:
		return "install the Azure CLI and run az login, or choose another credential"
	case CredClientSecret:
		return "check tenant_id, client_id and the client secret (client_secret_file or $NSGFLOW_CLIENT_SECRET)"
	case CredWorkloadIdentity:
		return "check client_id, tenant_id and the federated token file (federated_token_file or $AZURE_FEDERATED_TOKEN_FILE)"
	case CredManagedIdentity:
		return "this host has no managed identity endpoint, or client_id names an identity not assigned to it"
	case CredEnvironment:
		return "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)"
	}
	return "check the credential settings"
}
