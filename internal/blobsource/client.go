package blobsource

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/redact"
)

// Auth methods.
const (
	AuthKey              = "key"               // account name + account key
	AuthSAS              = "sas"               // SAS token (account or container)
	AuthConnectionString = "connection-string" // a storage connection string
	AuthManagedIdentity  = "managed-identity"  // system- or user-assigned (ClientID) managed identity
	AuthWorkloadIdentity = "workload-identity" // Kubernetes workload identity (AZURE_* env from the webhook)
	AuthClientSecret     = "client-secret"     // service principal: TenantID, ClientID, ClientSecret
	AuthCLI              = "cli"               // the Azure CLI's login
	AuthDefault          = "default"           // azidentity's DefaultAzureCredential chain
	AuthAnonymous        = "anonymous"         // no credential (public container, or a SAS already in Endpoint)
)

// Auth says where the storage account is and how to sign in.
type Auth struct {
	// Method is one of the Auth* constants. Empty picks: connection-string
	// if ConnectionString is set, else sas if SASToken is set, else key if
	// AccountKey is set, else default.
	Method string

	AccountName string
	AccountKey  string
	// SASToken is the query string of a SAS, with or without the leading '?'.
	SASToken         string
	ConnectionString string

	// Entra ID (azidentity).
	TenantID     string
	ClientID     string // user-assigned managed identity, or the app of client-secret/workload identity
	ClientSecret string

	// Cloud is public (default), china or usgov: it picks the blob host
	// suffix (core.windows.net, core.chinacloudapi.cn, core.usgovcloudapi.net)
	// and the Entra authority.
	Cloud string
	// Endpoint overrides the service URL, e.g. the Azurite path-style
	// http://127.0.0.1:10000/devstoreaccount1.
	Endpoint string
	// Audience overrides the token audience for Entra ID methods; default
	// https://storage.azure.com/ in the public cloud and the account's blob
	// endpoint in the others.
	Audience string

	// Origin says where the credential came from, in the user's words (a
	// flag, plugin key or environment variable), for refusal messages;
	// never the secret itself.
	Origin string

	// Retry tunes the SDK's own retries of one request (the Source retries
	// failed polls on top of it with backoff).
	Retry policy.RetryOptions
}

var blobSuffix = map[string]string{
	"":       "core.windows.net",
	"public": "core.windows.net",
	"azure":  "core.windows.net",
	"china":  "core.chinacloudapi.cn",
	"usgov":  "core.usgovcloudapi.net",
}

var cloudConfig = map[string]cloud.Configuration{
	"":       cloud.AzurePublic,
	"public": cloud.AzurePublic,
	"azure":  cloud.AzurePublic,
	"china":  cloud.AzureChina,
	"usgov":  cloud.AzureGovernment,
}

func (a *Auth) method() string {
	switch {
	case a.Method != "":
		return strings.ToLower(a.Method)
	case a.ConnectionString != "":
		return AuthConnectionString
	case a.SASToken != "":
		return AuthSAS
	case a.AccountKey != "":
		return AuthKey
	}
	return AuthDefault
}

// ServiceURL returns the blob service URL, ending in '/'.
func (a *Auth) ServiceURL() (string, error) {
	if a.Endpoint != "" {
		u, err := url.Parse(a.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("blobsource: endpoint %q is not an http(s) URL", redact.String(a.Endpoint))
		}
		u.RawQuery = ""
		return strings.TrimSuffix(u.String(), "/") + "/", nil
	}
	suffix, ok := blobSuffix[strings.ToLower(a.Cloud)]
	if !ok {
		return "", fmt.Errorf("blobsource: unknown cloud %q (want public, china or usgov)", a.Cloud)
	}
	if a.AccountName == "" {
		return "", errors.New("blobsource: account name or endpoint is required")
	}
	return "https://" + a.AccountName + ".blob." + suffix + "/", nil
}

// NewServiceClient builds the azblob service client for the configured
// method. Errors never contain the key, SAS or secret.
func (a *Auth) NewServiceClient() (*service.Client, error) {
	opts := &service.ClientOptions{}
	opts.Retry = a.Retry
	if opts.Retry.MaxRetries == 0 {
		opts.Retry = policy.RetryOptions{MaxRetries: 3, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 10 * time.Second, TryTimeout: 2 * time.Minute}
	}
	cc, ok := cloudConfig[strings.ToLower(a.Cloud)]
	if !ok {
		return nil, fmt.Errorf("blobsource: unknown cloud %q (want public, china or usgov)", a.Cloud)
	}
	opts.Cloud = cc
	m := a.method()
	if m == AuthConnectionString {
		c, err := service.NewClientFromConnectionString(a.ConnectionString, opts)
		if err != nil {
			return nil, fmt.Errorf("blobsource: connection string: %w", redact.Error(err))
		}
		return c, nil
	}
	svcURL, err := a.ServiceURL()
	if err != nil {
		return nil, err
	}
	switch m {
	case AuthKey:
		if a.AccountName == "" || a.AccountKey == "" {
			return nil, errors.New("blobsource: key auth needs the account name and key")
		}
		cred, err := azblob.NewSharedKeyCredential(a.AccountName, a.AccountKey)
		if err != nil {
			return nil, errors.New("blobsource: the account key is not valid base64")
		}
		c, err := service.NewClientWithSharedKeyCredential(svcURL, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("blobsource: %w", redact.Error(err))
		}
		return c, nil
	case AuthSAS, AuthAnonymous:
		u := svcURL
		if sas := strings.TrimPrefix(a.SASToken, "?"); sas != "" {
			u += "?" + sas
		} else if m == AuthSAS {
			return nil, errors.New("blobsource: sas auth needs a SAS token")
		}
		c, err := service.NewClientWithNoCredential(u, opts)
		if err != nil {
			return nil, fmt.Errorf("blobsource: %w", redact.Error(err))
		}
		return c, nil
	}
	cred, err := a.tokenCredential(m, cc)
	if err != nil {
		return nil, err
	}
	opts.Audience = a.Audience
	if opts.Audience == "" && cc.ActiveDirectoryAuthorityHost != cloud.AzurePublic.ActiveDirectoryAuthorityHost {
		opts.Audience = strings.TrimSuffix(svcURL, "/")
	}
	c, err := service.NewClient(svcURL, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("blobsource: %w", redact.Error(err))
	}
	return c, nil
}

// TokenCredential returns the Entra ID credential of the configured method
// (for other clients of the same account, such as the queue of
// notification mode); an error for key, SAS, connection-string and
// anonymous methods.
func (a *Auth) TokenCredential() (azcore.TokenCredential, error) {
	cc, ok := cloudConfig[strings.ToLower(a.Cloud)]
	if !ok {
		return nil, fmt.Errorf("blobsource: unknown cloud %q (want public, china or usgov)", a.Cloud)
	}
	return a.tokenCredential(a.method(), cc)
}

// MethodName is the auth method in use: Method, or the one picked from
// what is set.
func (a *Auth) MethodName() string { return a.method() }

// tokenCredential builds the azidentity credential for an Entra ID method.
func (a *Auth) tokenCredential(m string, cc cloud.Configuration) (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{Cloud: cc}
	var cred azcore.TokenCredential
	var err error
	switch m {
	case AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if a.ClientID != "" {
			o.ID = azidentity.ClientID(a.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(o)
	case AuthWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, ClientID: a.ClientID, TenantID: a.TenantID})
	case AuthClientSecret:
		if a.TenantID == "" || a.ClientID == "" || a.ClientSecret == "" {
			return nil, errors.New("blobsource: client-secret auth needs tenant ID, client ID and client secret")
		}
		cred, err = azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co})
	case AuthCLI:
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
	case AuthDefault:
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: co, TenantID: a.TenantID})
	default:
		return nil, fmt.Errorf("blobsource: unknown auth method %q (want key, sas, connection-string, managed-identity, workload-identity, client-secret, cli, default or anonymous)", a.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("blobsource: %s credential: %w", m, redact.Error(err))
	}
	return cred, nil
}
