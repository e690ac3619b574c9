package loganalytics

import (
	"fmt"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/internal/fbconf"
)

// Destinations, as the destination setting names them.
const (
	DestLogsIngestion = "logs_ingestion"
	DestDataCollector = "data_collector"
)

// DefaultDCTimeField is the Data Collector's event-time column of the
// default schema: TimeGenerated itself is reserved by that API.
const DefaultDCTimeField = "FlowTime"

// Key is one destination setting: its name (a plugin key; the CLI flag is
// the name with - for _), its default as written in a config file, which
// destination it applies to, and its meaning. Keys is the one list of them:
// the output plugin's key table, the CLI's flags of send and run, and
// ParseDestination all follow it.
type Key struct {
	Name, Default, Applies, Meaning string
}

// Keys lists every destination setting, in the order the docs show them.
// Defaults that differ between the plugin and the CLI (a plugin flush must
// end within Fluent Bit's grace, a CLI backfill may wait) are given by the
// caller's Defaults; Default here says what the plugin uses.
var Keys = []Key{
	{"destination", DestLogsIngestion, "both", "`logs_ingestion` (Logs Ingestion API, recommended) or `data_collector` (legacy HTTP Data Collector API)."},
	{"concurrency", "4", "both", "Requests in flight per flush (1-256)."},
	{"request_timeout", "4s", "both", "Timeout of one HTTP request (CLI default 30s)."},
	{"max_retries", "4", "both", "Retries per batch after the first attempt (0-100; 0: none). CLI default 8."},
	{"min_backoff", "500ms", "both", "First backoff bound between retries (full jitter, doubling)."},
	{"max_backoff", "30s", "both", "Largest backoff bound between retries."},
	{"max_body_bytes", "1048576 (LI), 26214400 (DC)", "both", "Cap of one request's uncompressed JSON body."},
	{"gzip", "on", "logs_ingestion", "Compress request bodies (`on`/`off`)."},
	{"gzip_level", "1", "logs_ingestion", "gzip level 1-9 (0: the default, 1, the cheapest measured)."},
	{"endpoint", "", "both", "Logs Ingestion: the DCE or DCR logs-ingestion endpoint (required). Data Collector: an override of `https://<workspace_id>.ods.opinsights.azure.com` (tests, proxies)."},
	{"dcr_id", "", "logs_ingestion", "The DCR's immutable ID, `dcr-` + 32 hex digits (required)."},
	{"stream", "", "logs_ingestion", "The DCR stream, `Custom-<Name>` (required)."},
	{"cloud", "public", "both", "`public`, `china` or `usgov`."},
	{"credential", CredDefault, "logs_ingestion", "`default`, `environment`, `client_secret`, `workload_identity`, `managed_identity`, `azure_cli`, or `static` (a fixed token from `token_file`: emulator and tests only). Hyphens work too (`managed-identity`)."},
	{"tenant_id", "", "logs_ingestion", "Entra tenant (client_secret, workload_identity, azure_cli)."},
	{"client_id", "", "logs_ingestion", "App or user-assigned identity client ID (client_secret, workload_identity, managed_identity)."},
	{"client_secret", "", "logs_ingestion", "Client secret (client_secret); use `${VAR}` or `client_secret_file`."},
	{"client_secret_file", "", "logs_ingestion", "File holding the client secret."},
	{"federated_token_file", "", "logs_ingestion", "Workload identity token file (default: AZURE_FEDERATED_TOKEN_FILE)."},
	{"token", "", "logs_ingestion", "A fixed bearer token (credential static; emulator and tests only); use `${VAR}` or `token_file`."},
	{"token_file", "", "logs_ingestion", "File holding a fixed bearer token (credential static)."},
	{"workspace_id", "", "data_collector", "Workspace ID, a GUID (required)."},
	{"shared_key", "", "data_collector", "Workspace primary or secondary key; use `${VAR}` or `shared_key_file`."},
	{"shared_key_file", "", "data_collector", "File holding the shared key."},
	{"log_type", "", "data_collector", "Table name without `_CL`: letters, digits, underscore (required)."},
	{"time_generated_field", DefaultDCTimeField + " (default schema), DateTime (seed)", "data_collector", "Body field holding the event time, sent as `time-generated-field`; the event-time column is renamed to it. `TimeGenerated` is reserved by the API."},
	{"azure_resource_id", "off", "data_collector", "Send each event's flow-log resource ID as `x-ms-AzureResourceId` (resource-context access)."},
	{"dead_letter_file", "", "both", "File to which each row the destination refuses alone with 400 is appended (JSON lines: `time`, `destination`, `status`, `request_id`, `reason`, `row`; see docs/oms.md) before it is acknowledged; the other rows of its batch are delivered. Empty: such rows are only logged and counted."},
}

// Defaults are the caller's defaults for settings whose right value depends
// on where the sink runs.
type Defaults struct {
	Concurrency    int
	RequestTimeout time.Duration
	MaxRetries     int
	// TimeField is the Data Collector's event-time column when
	// time_generated_field is unset (it depends on the row layout).
	TimeField string
	// MaxRequestTimeout, when set, bounds request_timeout from above (the
	// plugin's flush_deadline), naming the setting that bounds it.
	MaxRequestTimeout    time.Duration
	MaxRequestTimeoutKey string
}

// PluginDefaults are the output plugin's: a flush must end within Fluent
// Bit's grace, so retries are few and requests short.
var PluginDefaults = Defaults{Concurrency: 4, RequestTimeout: 4 * time.Second, MaxRetries: 4, TimeField: DefaultDCTimeField}

// CLIDefaults are send's and run's: a backfill may wait for a slow service.
var CLIDefaults = Defaults{Concurrency: 4, RequestTimeout: 30 * time.Second, MaxRetries: 8, TimeField: DefaultDCTimeField}

// Destination is a validated destination: which API, its sink
// configuration, and the row changes the API needs.
type Destination struct {
	Kind          string // DestLogsIngestion or DestDataCollector
	LogsIngestion LogsIngestionConfig
	DataCollector DataCollectorConfig
	// TimeField renames the rows' time column (Data Collector only).
	TimeField string
	// AzureResourceID tags each event with its resource ID (Data Collector).
	AzureResourceID bool
	// Warnings are harmless oddities to log, e.g. keys of the other
	// destination (environment-driven configs often set both).
	Warnings []string
}

// ParseDestination reads and validates every destination setting through
// p, so the output plugin, nsgflow send and nsgflow run accept the same
// values with the same rules. Errors go to p (p.Err) and name the setting as
// p names it (a plugin key, or a CLI flag); they never quote a secret.
func ParseDestination(p *fbconf.Parser, def Defaults) Destination {
	var d Destination
	d.Kind = p.Choice("destination", DestLogsIngestion, DestLogsIngestion, DestDataCollector)
	del := Delivery{
		Concurrency:    p.Int("concurrency", def.Concurrency, 1, 256),
		RequestTimeout: p.Duration("request_timeout", def.RequestTimeout, 100*time.Millisecond, 10*time.Minute),
		MaxBodyBytes:   p.Int("max_body_bytes", 0, 0, DataCollectorMaxBody),
		MinBackoff:     p.Duration("min_backoff", 500*time.Millisecond, time.Millisecond, 10*time.Minute),
		MaxBackoff:     p.Duration("max_backoff", 30*time.Second, time.Millisecond, time.Hour),
		DeadLetterFile: p.Str("dead_letter_file", ""),
	}
	if del.MaxBodyBytes != 0 && del.MaxBodyBytes < 1024 {
		p.Fail("%s %d is out of range: set between 1024 and %d, or 0 for the default", p.Name("max_body_bytes"), del.MaxBodyBytes, DataCollectorMaxBody)
	}
	if del.MaxBackoff < del.MinBackoff {
		p.Fail("%s %v is below %s %v: raise %s", p.Name("max_backoff"), del.MaxBackoff, p.Name("min_backoff"), del.MinBackoff, p.Name("max_backoff"))
	}
	// 0 retries means none here; Delivery's zero value means its default.
	if retries := p.Int("max_retries", def.MaxRetries, 0, 100); retries == 0 {
		del.MaxRetries = -1
	} else {
		del.MaxRetries = retries
	}
	if def.MaxRequestTimeout > 0 && del.RequestTimeout > def.MaxRequestTimeout && p.Err() == nil {
		p.Fail("%s %v is longer than %s %v: lower %s or raise %s", p.Name("request_timeout"), del.RequestTimeout,
			p.Name(def.MaxRequestTimeoutKey), def.MaxRequestTimeout, p.Name("request_timeout"), p.Name(def.MaxRequestTimeoutKey))
	}
	cloud := Cloud(p.Choice("cloud", "public", "public", "china", "usgov"))
	endpoint := p.Str("endpoint", "")

	switch d.Kind {
	case DestLogsIngestion:
		if del.MaxBodyBytes > LogsIngestionMaxBody {
			p.Fail("%s %d is above the Logs Ingestion API's limit: set at most %d", p.Name("max_body_bytes"), del.MaxBodyBytes, LogsIngestionMaxBody)
		}
		li := LogsIngestionConfig{
			Endpoint:       endpoint,
			DCRImmutableID: p.Required("dcr_id", "the DCR's immutable ID, dcr- followed by 32 hex digits"),
			Stream:         p.Required("stream", "the DCR stream name, Custom-<Name>"),
			Cloud:          cloud,
			DisableGzip:    !p.Bool("gzip", true),
			GzipLevel:      p.Int("gzip_level", 0, 0, 9),
			Delivery:       del,
		}
		if li.DCRImmutableID != "" && !dcrIDRe.MatchString(li.DCRImmutableID) {
			p.Fail("%s %q is not a DCR immutable ID: use dcr- followed by 32 hex digits (the DCR's JSON view, property immutableId), not its resource ID", p.Name("dcr_id"), fbconf.Clip(li.DCRImmutableID))
		}
		if li.Stream != "" && !streamRe.MatchString(li.Stream) {
			p.Fail("%s %q is not valid: use the DCR stream name, Custom-<Name>", p.Name("stream"), fbconf.Clip(li.Stream))
		}
		if endpoint == "" {
			p.Fail("%s is not set: give the DCE or DCR logs-ingestion endpoint, e.g. https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com", p.Name("endpoint"))
		}
		// Both spellings work (managed-identity as the input plugin writes it).
		cred := strings.ReplaceAll(p.Choice("credential", CredDefault, CredDefault, CredEnvironment, CredClientSecret,
			CredWorkloadIdentity, CredManagedIdentity, CredAzureCLI, CredStatic,
			"client-secret", "workload-identity", "managed-identity", "azure-cli", "cli"), "-", "_")
		if cred == "cli" {
			cred = CredAzureCLI
		}
		li.Credential = CredentialConfig{
			Kind:      cred,
			TenantID:  p.Str("tenant_id", ""),
			ClientID:  p.Str("client_id", ""),
			TokenFile: p.Str("federated_token_file", ""),
		}
		switch cred {
		case CredClientSecret:
			li.Credential.ClientSecret = p.Secret("client_secret", "client_secret_file")
			if li.Credential.TenantID == "" || li.Credential.ClientID == "" || li.Credential.ClientSecret == "" {
				p.Fail("%s client_secret needs %s, %s and %s (or %s)", p.Name("credential"), p.Name("tenant_id"), p.Name("client_id"), p.Name("client_secret"), p.Name("client_secret_file"))
			}
		case CredStatic:
			li.Credential.Token = p.Secret("token", "token_file")
			if li.Credential.Token == "" {
				p.Fail("%s static needs %s (or %s): the bearer token (emulator and tests only)", p.Name("credential"), p.Name("token_file"), p.Name("token"))
			}
		}
		d.LogsIngestion = li
		d.Warnings = otherKeys(p, DestDataCollector, "workspace_id", "shared_key", "shared_key_file", "log_type", "time_generated_field", "azure_resource_id")
	case DestDataCollector:
		d.TimeField = p.Str("time_generated_field", def.TimeField)
		if strings.EqualFold(d.TimeField, "TimeGenerated") {
			p.Fail("%s TimeGenerated is reserved by the Data Collector API: use another name, e.g. %s", p.Name("time_generated_field"), DefaultDCTimeField)
		}
		d.AzureResourceID = p.Bool("azure_resource_id", false)
		d.DataCollector = DataCollectorConfig{
			WorkspaceID:        p.Required("workspace_id", "the workspace ID (a GUID) from the workspace's Agents page"),
			SharedKey:          p.Secret("shared_key", "shared_key_file"),
			LogType:            p.Required("log_type", "the table name without _CL, e.g. NSGFlowLogs"),
			TimeGeneratedField: d.TimeField,
			AzureResourceID:    d.AzureResourceID,
			Cloud:              cloud,
			Endpoint:           endpoint,
			Delivery:           del,
		}
		if w := d.DataCollector.WorkspaceID; w != "" && !guidRe.MatchString(w) {
			p.Fail("%s %q is not a GUID: copy the workspace ID from the workspace's Agents page", p.Name("workspace_id"), fbconf.Clip(w))
		}
		if lt := d.DataCollector.LogType; lt != "" && !logTypeRe.MatchString(lt) {
			p.Fail("%s %q is not valid: use 1-100 letters, digits or underscores (the table becomes <log_type>_CL)", p.Name("log_type"), fbconf.Clip(lt))
		}
		if !logTypeRe.MatchString(d.TimeField) {
			p.Fail("%s %q is not valid: name a column with letters, digits or underscores", p.Name("time_generated_field"), fbconf.Clip(d.TimeField))
		}
		if d.DataCollector.SharedKey == "" && p.Err() == nil {
			p.Fail("%s is not set: give the workspace key in %s (or %s)", p.Name("shared_key"), p.Name("shared_key_file"), p.Name("shared_key"))
		}
		d.Warnings = otherKeys(p, DestLogsIngestion, "dcr_id", "stream", "credential", "tenant_id", "client_secret", "client_secret_file", "token", "token_file", "federated_token_file", "gzip", "gzip_level")
	}
	return d
}

// otherKeys lists, as warnings, keys that are set but apply only to dest.
func otherKeys(p *fbconf.Parser, dest string, keys ...string) []string {
	var w []string
	for _, k := range keys {
		if p.Set(k) {
			w = append(w, fmt.Sprintf("%s is ignored: it applies to destination %s only", p.Name(k), dest))
		}
	}
	return w
}

// NewSink builds the sink the destination describes, its lines going to log.
func (d Destination) NewSink(log Logger) (Sink, error) {
	switch d.Kind {
	case DestDataCollector:
		dc := d.DataCollector
		dc.Logger = log
		return NewDataCollector(dc)
	default:
		li := d.LogsIngestion
		li.Logger = log
		return NewLogsIngestion(li)
	}
}

// MaxBody is the request body cap the destination uses.
func (d Destination) MaxBody() int {
	if d.Kind == DestDataCollector {
		if d.DataCollector.MaxBodyBytes > 0 {
			return d.DataCollector.MaxBodyBytes
		}
		return DataCollectorDefaultBody
	}
	if d.LogsIngestion.MaxBodyBytes > 0 {
		return d.LogsIngestion.MaxBodyBytes
	}
	return LogsIngestionMaxBody
}

// Concurrency is the number of requests in flight the destination uses.
func (d Destination) Concurrency() int {
	if d.Kind == DestDataCollector {
		return d.DataCollector.Concurrency
	}
	return d.LogsIngestion.Concurrency
}
