package loganalytics

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Limits of the two APIs.
const (
	// LogsIngestionMaxBody is the Logs Ingestion API's 1 MB per call, applied
	// to the uncompressed JSON array as Microsoft's SDKs do.
	LogsIngestionMaxBody = 1 << 20
	// LogsIngestionFieldLimit is the Logs Ingestion API's per-field limit.
	LogsIngestionFieldLimit = 64 << 10
	// DataCollectorMaxBody is the Data Collector API's 30 MB per post.
	DataCollectorMaxBody = 30_000_000
	// DataCollectorDefaultBody is the default Data Collector body cap, with
	// room under the hard limit.
	DataCollectorDefaultBody = 25 << 20
	// DataCollectorFieldLimit is the Data Collector API's per-field limit.
	DataCollectorFieldLimit = 32 << 10
)

// Delivery holds the settings both sinks share. Zero values take the
// defaults noted.
type Delivery struct {
	// MaxBodyBytes caps the uncompressed JSON array of one request.
	// Default and maximum: 1,048,576 (Logs Ingestion); default 25 MiB,
	// maximum 30,000,000 (Data Collector).
	MaxBodyBytes int
	// Concurrency is the number of requests in flight (and batches being
	// compressed) per Send call. Default 4.
	Concurrency int
	// RequestTimeout bounds one HTTP attempt. Default 30s.
	RequestTimeout time.Duration
	// MaxRetries is the number of retries per batch or piece after the first
	// attempt. Default 8; -1 means none.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff with full
	// jitter: attempt n waits a random time in [0, min(MaxBackoff,
	// MinBackoff*2^n)). Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps a server's Retry-After. Default 5m.
	MaxRetryAfter time.Duration
	// DeadLetterFile, when set, is a file to which each row the destination
	// refused alone with 400 is appended (one JSON object a line: time,
	// destination, status, request_id, reason, row) before it is
	// acknowledged; created at the first such row, mode 0600. Unset: such
	// rows are only logged and counted.
	DeadLetterFile string
	// Logger receives log lines; nil discards them.
	Logger Logger
	// HTTPClient overrides the client (tests, proxies). Default: a client
	// requiring TLS 1.2 or later with Concurrency idle connections per host.
	HTTPClient *http.Client
	// Sleep waits d or until ctx is done (tests inject a fake clock).
	// Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now returns the current time (the Data Collector's x-ms-date; Retry-After
	// dates). Default time.Now.
	Now func() time.Time
}

func (d *Delivery) defaults(defBody, maxBody int) error {
	switch {
	case d.MaxBodyBytes == 0:
		d.MaxBodyBytes = defBody
	case d.MaxBodyBytes < 1024 || d.MaxBodyBytes > maxBody:
		return fmt.Errorf("MaxBodyBytes %d out of range: set it between 1024 and %d, or 0 for the default %d", d.MaxBodyBytes, maxBody, defBody)
	}
	switch {
	case d.Concurrency == 0:
		d.Concurrency = 4
	case d.Concurrency < 0 || d.Concurrency > 256:
		return fmt.Errorf("Concurrency %d out of range: set 1..256, or 0 for the default 4", d.Concurrency)
	}
	if d.RequestTimeout < 0 {
		return fmt.Errorf("RequestTimeout %v is negative: set a positive duration, or 0 for the default 30s", d.RequestTimeout)
	}
	if d.RequestTimeout == 0 {
		d.RequestTimeout = 30 * time.Second
	}
	switch {
	case d.MaxRetries == 0:
		d.MaxRetries = 8
	case d.MaxRetries < 0:
		d.MaxRetries = 0
	}
	if d.MinBackoff < 0 || d.MaxBackoff < 0 || d.MaxRetryAfter < 0 {
		return errors.New("MinBackoff, MaxBackoff and MaxRetryAfter must not be negative")
	}
	if d.MinBackoff == 0 {
		d.MinBackoff = 500 * time.Millisecond
	}
	if d.MaxBackoff == 0 {
		d.MaxBackoff = 30 * time.Second
	}
	if d.MaxBackoff < d.MinBackoff {
		return fmt.Errorf("MaxBackoff %v is below MinBackoff %v: raise MaxBackoff", d.MaxBackoff, d.MinBackoff)
	}
	if d.MaxRetryAfter == 0 {
		d.MaxRetryAfter = 5 * time.Minute
	}
	if d.Logger == nil {
		d.Logger = nopLogger{}
	}
	if d.HTTPClient == nil {
		d.HTTPClient = defaultClient(d.Concurrency)
	}
	if d.Sleep == nil {
		d.Sleep = sleepCtx
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cloud names an Azure cloud: "public" (default), "china" or "usgov".
type Cloud string

// Clouds.
const (
	CloudPublic Cloud = "public"
	CloudChina  Cloud = "china"
	CloudUSGov  Cloud = "usgov"
)

func (c Cloud) normal() (Cloud, error) {
	switch strings.ToLower(string(c)) {
	case "", "public", "azurepublic", "azurecloud":
		return CloudPublic, nil
	case "china", "azurechina", "azurechinacloud":
		return CloudChina, nil
	case "usgov", "azureusgovernment", "usgovernment":
		return CloudUSGov, nil
	}
	return "", fmt.Errorf("Cloud %q unknown: use public, china or usgov", string(c))
}

// MonitorAudience returns the Logs Ingestion token audience for the cloud.
func (c Cloud) MonitorAudience() string {
	switch c {
	case CloudChina:
		return "https://monitor.azure.cn"
	case CloudUSGov:
		return "https://monitor.azure.us"
	}
	return "https://monitor.azure.com"
}

// MonitorScope returns the token scope, "<audience>//.default".
func (c Cloud) MonitorScope() string { return c.MonitorAudience() + "//.default" }

// ODSSuffix returns the Data Collector host suffix for the cloud.
func (c Cloud) ODSSuffix() string {
	switch c {
	case CloudChina:
		return ".ods.opinsights.azure.cn"
	case CloudUSGov:
		return ".ods.opinsights.azure.us"
	}
	return ".ods.opinsights.azure.com"
}

// Credential kinds for the Logs Ingestion API.
const (
	CredDefault          = "default"           // azidentity DefaultAzureCredential chain
	CredEnvironment      = "environment"       // AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (or cert) from the environment
	CredClientSecret     = "client_secret"     // TenantID, ClientID, ClientSecret from config
	CredWorkloadIdentity = "workload_identity" // AKS workload identity (federated token file)
	CredManagedIdentity  = "managed_identity"  // system-assigned, or user-assigned with ClientID
	CredAzureCLI         = "azure_cli"         // az login
	CredStatic           = "static"            // fixed bearer Token: emulator and tests only
)

// CredentialConfig chooses how the Logs Ingestion sink gets bearer tokens.
type CredentialConfig struct {
	// Kind is one of the Cred* constants; default "default".
	Kind string
	// TenantID, ClientID, ClientSecret: client_secret (all three);
	// workload_identity and managed_identity (ClientID optional).
	TenantID, ClientID, ClientSecret string
	// TokenFile: workload_identity's federated token file (default from
	// AZURE_FEDERATED_TOKEN_FILE).
	TokenFile string
	// Token is the fixed bearer token of kind static.
	Token string
	// TokenCredential, when set, is used as is and Kind is ignored.
	TokenCredential azcore.TokenCredential
}

// LogsIngestionConfig configures NewLogsIngestion.
type LogsIngestionConfig struct {
	// Endpoint is the DCE or the DCR's logs-ingestion endpoint, e.g.
	// https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com. https is
	// required, except http on a loopback host (the emulator).
	Endpoint string
	// DCRImmutableID is the DCR's immutable ID, dcr-<32 hex digits>.
	DCRImmutableID string
	// Stream is the DCR stream, Custom-<Name>.
	Stream string
	// Cloud selects the token audience; default public.
	Cloud Cloud
	// Credential chooses the token source.
	Credential CredentialConfig
	// DisableGzip sends bodies uncompressed (gzip is on by default).
	DisableGzip bool
	// GzipLevel is the compression level (1..9); 0 picks DefaultGzipLevel.
	GzipLevel int
	Delivery
}

// DataCollectorConfig configures NewDataCollector.
type DataCollectorConfig struct {
	// WorkspaceID is the Log Analytics workspace ID (a GUID).
	WorkspaceID string
	// SharedKey is the workspace's primary or secondary key (base64).
	SharedKey string
	// LogType names the table (<LogType>_CL): letters, digits and
	// underscore, at most 100 characters.
	LogType string
	// TimeGeneratedField names the body field holding the event time (the
	// time-generated-field header); empty omits the header.
	TimeGeneratedField string
	// AzureResourceID sends each batch's resource ID (Events.ResourceIDs) as
	// x-ms-AzureResourceId, one resource per batch.
	AzureResourceID bool
	// Cloud selects the host suffix; default public.
	Cloud Cloud
	// Endpoint overrides the base URL (scheme and host, e.g. the emulator's
	// http://127.0.0.1:PORT); /api/logs is appended. https is required,
	// except http on a loopback host.
	Endpoint string
	Delivery
}

var (
	dcrIDRe   = regexp.MustCompile(`^dcr-[0-9a-fA-F]{32}$`)
	streamRe  = regexp.MustCompile(`^Custom-[A-Za-z0-9_][A-Za-z0-9_-]{0,199}$`)
	logTypeRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,100}$`)
	guidRe    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// checkBaseURL parses a base URL: https, or http on a loopback host; no
// query, no user info. The error never echoes the query or user info.
func checkBaseURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s %q is not an absolute URL: use e.g. https://my-dce.westeurope-1.ingest.monitor.azure.com", field, redactURLString(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s %s must not carry user info, a query or a fragment: give scheme://host[/path] only", field, redactURL(u))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%s %s uses http: Log Analytics needs https (plain http is accepted only on a loopback host, for the emulator)", field, redactURL(u))
		}
	default:
		return nil, fmt.Errorf("%s %s: scheme must be https", field, redactURL(u))
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// decodeKey decodes a base64 shared key; the error never echoes the key.
func decodeKey(k string) ([]byte, error) {
	k = strings.TrimSpace(k)
	if k == "" {
		return nil, errors.New("SharedKey is empty: set the workspace's primary or secondary key (base64)")
	}
	b, err := base64.StdEncoding.DecodeString(k)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(k, "="))
	}
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("SharedKey is not valid base64 (%d characters): copy the workspace's primary or secondary key exactly", len(k))
	}
	return b, nil
}
