package fbout

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/internal/fbconf"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// ConfigGetter returns a configuration value by key, "" when unset. The
// plugin implements it with Fluent Bit's property lookup; tests use
// MapConfig.
type ConfigGetter = fbconf.ConfigGetter

// MapConfig is a ConfigGetter over a map (keys lower case).
type MapConfig = fbconf.MapConfig

// Destinations.
const (
	DestLogsIngestion = "logs_ingestion"
	DestDataCollector = "data_collector"
)

// Defaults of the plugin's settings.
const (
	DefaultRecordField         = "log"
	DefaultFlushDeadline       = 4 * time.Second
	DefaultGrace               = 4 * time.Second
	DefaultMaxRememberedChunks = 1024
	DefaultConcurrency         = 4
	DefaultRequestTimeout      = 4 * time.Second
	DefaultMaxRetries          = 4
	DefaultDCTimeField         = "FlowTime"
)

// Key is one configuration key: its name, default (as written in a config
// file) and meaning. Keys is the single source of docs/plugin-output.md.
type Key struct {
	Name, Default, Applies, Meaning string
}

// Keys lists every configuration key the plugin reads.
var Keys = []Key{
	{"destination", DestLogsIngestion, "both", "`logs_ingestion` (Logs Ingestion API, recommended) or `data_collector` (legacy HTTP Data Collector API)."},
	{"schema", "default", "both", "Row layout: `default` (typed columns, EventId) or `seed` (the 2017 script's string columns)."},
	{"record_field", DefaultRecordField, "both", "Field that holds a flow-log record, blob or NDJSON line as a JSON string (e.g. `tail` without a parser). Records that are already maps are read directly."},
	{"nsgflow_log_level", "info", "both", "The plugin's own log level: `error`, `warn`, `info` or `debug`. (Fluent Bit's core consumes `log_level` for every instance, so it never reaches a Go plugin.)"},
	{"flush_deadline", DefaultFlushDeadline.String(), "both", "Longest time one flush may take, retries included; then the flush returns RETRY having remembered what was accepted. With `Workers`, Fluent Bit waits for running flushes before it stops: keep this at or below `Grace` in `[SERVICE]`."},
	{"grace", DefaultGrace.String(), "both", "At exit, how long in-flight flushes may run before they are abandoned (keep it below Fluent Bit's `grace`, default 5s)."},
	{"max_remembered_chunks", strconv.Itoa(DefaultMaxRememberedChunks), "both", "How many partly delivered chunks the plugin remembers (which batches were accepted) so a retried chunk sends no duplicates. Oldest forgotten first; 0 disables it (a retry re-sends the whole chunk)."},
	{"concurrency", strconv.Itoa(DefaultConcurrency), "both", "Requests in flight per flush (1-256)."},
	{"request_timeout", DefaultRequestTimeout.String(), "both", "Timeout of one HTTP request."},
	{"max_retries", strconv.Itoa(DefaultMaxRetries), "both", "Retries per batch inside one flush (0-100) before the flush gives up with RETRY."},
	{"max_body_bytes", "1048576 (LI), 26214400 (DC)", "both", "Cap of one request's uncompressed JSON body."},
	{"gzip", "on", "logs_ingestion", "Compress request bodies (`on`/`off`)."},
	{"endpoint", "", "both", "Logs Ingestion: the DCE or DCR logs-ingestion endpoint (required). Data Collector: an override of `https://<workspace_id>.ods.opinsights.azure.com` (tests, proxies)."},
	{"dcr_id", "", "logs_ingestion", "The DCR's immutable ID, `dcr-` + 32 hex digits (required)."},
	{"stream", "", "logs_ingestion", "The DCR stream, `Custom-<Name>` (required)."},
	{"cloud", "public", "both", "`public`, `china` or `usgov`."},
	{"credential", "default", "logs_ingestion", "`default`, `environment`, `client_secret`, `workload_identity`, `managed_identity`, `azure_cli`, or `static` (a fixed token from `token_file`: emulator and tests only). Hyphens work too (`managed-identity`)."},
	{"tenant_id", "", "logs_ingestion", "Entra tenant (client_secret)."},
	{"client_id", "", "logs_ingestion", "App or user-assigned identity client ID (client_secret, workload_identity, managed_identity)."},
	{"client_secret", "", "logs_ingestion", "Client secret (client_secret); use `${VAR}` or `client_secret_file`."},
	{"client_secret_file", "", "logs_ingestion", "File holding the client secret."},
	{"federated_token_file", "", "logs_ingestion", "Workload identity token file (default: AZURE_FEDERATED_TOKEN_FILE)."},
	{"token_file", "", "logs_ingestion", "File holding a fixed bearer token (credential static)."},
	{"workspace_id", "", "data_collector", "Workspace ID, a GUID (required)."},
	{"shared_key", "", "data_collector", "Workspace primary or secondary key; use `${VAR}` or `shared_key_file`."},
	{"shared_key_file", "", "data_collector", "File holding the shared key."},
	{"log_type", "", "data_collector", "Table name without `_CL`: letters, digits, underscore (required)."},
	{"time_generated_field", DefaultDCTimeField + " (default schema), DateTime (seed)", "data_collector", "Body field holding the event time, sent as `time-generated-field`; the event-time column is renamed to it. `TimeGenerated` is reserved by the API."},
	{"checkpoint_dir", "", "both", "Checkpoint directory shared with the `nsgflow_blob` input: records carrying `_nsgflow_*` provenance are acknowledged there once all their events were accepted. Empty: no acknowledgment."},
	{"azure_resource_id", "off", "data_collector", "Send each event's flow-log resource ID as `x-ms-AzureResourceId` (resource-context access)."},
}

// Config is the validated plugin configuration.
type Config struct {
	Destination         string
	Schema              *flowparse.Schema
	RecordField         string
	LogLevel            Level
	FlushDeadline       time.Duration
	Grace               time.Duration
	MaxRememberedChunks int
	// CheckpointDir, when set, is where delivered records are acknowledged.
	CheckpointDir string
	// TimeField renames the schema's time column (Data Collector).
	TimeField string
	// AzureResourceID tags events with their resource ID (Data Collector).
	AzureResourceID bool

	LogsIngestion loganalytics.LogsIngestionConfig
	DataCollector loganalytics.DataCollectorConfig

	// Warnings are harmless oddities to log at Init, e.g. keys of the other
	// destination (env-driven configs often set both).
	Warnings []string
}

// ParseConfig reads and validates every key. Errors name the key and the
// fix; they never quote a secret.
func ParseConfig(g ConfigGetter) (Config, error) {
	p := &fbconf.Parser{Getter: g, Env: "Fluent Bit's environment"}
	var c Config
	c.Destination = p.Choice("destination", DestLogsIngestion, DestLogsIngestion, DestDataCollector)
	schemaName := p.Choice("schema", flowparse.DefaultSchema.Name, flowparse.SchemaNames()...)
	c.Schema, _ = flowparse.SchemaByName(schemaName)
	if c.Schema == nil {
		c.Schema = flowparse.DefaultSchema
	}
	c.RecordField = p.Str("record_field", DefaultRecordField)
	lvl := p.Choice("nsgflow_log_level", "info", "error", "warn", "warning", "info", "debug")
	c.LogLevel, _ = ParseLevel(lvl)
	c.FlushDeadline = p.Duration("flush_deadline", DefaultFlushDeadline, time.Second, 10*time.Minute)
	c.Grace = p.Duration("grace", DefaultGrace, 0, time.Minute)
	c.MaxRememberedChunks = p.Int("max_remembered_chunks", DefaultMaxRememberedChunks, 0, 1<<20)
	c.CheckpointDir = p.Str("checkpoint_dir", "")

	d := loganalytics.Delivery{
		Concurrency:    p.Int("concurrency", DefaultConcurrency, 1, 256),
		RequestTimeout: p.Duration("request_timeout", DefaultRequestTimeout, 100*time.Millisecond, 10*time.Minute),
		MaxBodyBytes:   p.Int("max_body_bytes", 0, 1024, loganalytics.DataCollectorMaxBody),
	}
	retries := p.Int("max_retries", DefaultMaxRetries, 0, 100)
	if retries == 0 {
		d.MaxRetries = -1
	} else {
		d.MaxRetries = retries
	}
	if d.RequestTimeout > c.FlushDeadline && p.Err() == nil {
		p.Fail("request_timeout %v is longer than flush_deadline %v: lower request_timeout or raise flush_deadline", d.RequestTimeout, c.FlushDeadline)
	}
	cloud := loganalytics.Cloud(p.Choice("cloud", "public", "public", "china", "usgov"))
	endpoint := p.Str("endpoint", "")

	switch c.Destination {
	case DestLogsIngestion:
		if d.MaxBodyBytes > loganalytics.LogsIngestionMaxBody {
			p.Fail("max_body_bytes %d is above the Logs Ingestion API's limit: set at most %d", d.MaxBodyBytes, loganalytics.LogsIngestionMaxBody)
		}
		li := loganalytics.LogsIngestionConfig{
			Endpoint:       endpoint,
			DCRImmutableID: p.Required("dcr_id", "the DCR's immutable ID, dcr- followed by 32 hex digits"),
			Stream:         p.Required("stream", "the DCR stream name, Custom-<Name>"),
			Cloud:          cloud,
			DisableGzip:    !p.Bool("gzip", true),
			Delivery:       d,
		}
		if li.DCRImmutableID != "" && !dcrIDRe.MatchString(li.DCRImmutableID) {
			p.Fail("dcr_id %q is not a DCR immutable ID: use dcr- followed by 32 hex digits (the DCR's JSON view, property immutableId), not its resource ID", fbconf.Clip(li.DCRImmutableID))
		}
		if li.Stream != "" && !streamRe.MatchString(li.Stream) {
			p.Fail("stream %q is not valid: use the DCR stream name, Custom-<Name>", fbconf.Clip(li.Stream))
		}
		if endpoint == "" {
			p.Fail("endpoint is not set: give the DCE or DCR logs-ingestion endpoint, e.g. https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com")
		}
		// Both spellings work (managed-identity as the input plugin writes it).
		cred := strings.ReplaceAll(p.Choice("credential", loganalytics.CredDefault, loganalytics.CredDefault, loganalytics.CredEnvironment, loganalytics.CredClientSecret,
			loganalytics.CredWorkloadIdentity, loganalytics.CredManagedIdentity, loganalytics.CredAzureCLI, loganalytics.CredStatic,
			"client-secret", "workload-identity", "managed-identity", "azure-cli", "cli"), "-", "_")
		if cred == "cli" {
			cred = loganalytics.CredAzureCLI
		}
		li.Credential = loganalytics.CredentialConfig{
			Kind:      cred,
			TenantID:  p.Str("tenant_id", ""),
			ClientID:  p.Str("client_id", ""),
			TokenFile: p.Str("federated_token_file", ""),
		}
		switch cred {
		case loganalytics.CredClientSecret:
			li.Credential.ClientSecret = p.Secret("client_secret", "client_secret_file")
			if li.Credential.TenantID == "" || li.Credential.ClientID == "" || li.Credential.ClientSecret == "" {
				p.Fail("credential client_secret needs tenant_id, client_id and client_secret (or client_secret_file)")
			}
		case loganalytics.CredStatic:
			li.Credential.Token = p.Secret("", "token_file")
			if li.Credential.Token == "" {
				p.Fail("credential static needs token_file: a file holding the bearer token (emulator and tests only)")
			}
		}
		c.LogsIngestion = li
		c.Warnings = otherKeys(g, DestDataCollector, "workspace_id", "shared_key", "shared_key_file", "log_type", "time_generated_field", "azure_resource_id")
	case DestDataCollector:
		def := DefaultDCTimeField
		if c.Schema.Name == "seed" {
			def = c.Schema.TimeColumn
		}
		c.TimeField = p.Str("time_generated_field", def)
		if strings.EqualFold(c.TimeField, "TimeGenerated") {
			p.Fail("time_generated_field TimeGenerated is reserved by the Data Collector API: use another name, e.g. %s", DefaultDCTimeField)
		}
		c.AzureResourceID = p.Bool("azure_resource_id", false)
		c.DataCollector = loganalytics.DataCollectorConfig{
			WorkspaceID:        p.Required("workspace_id", "the workspace ID (a GUID) from the workspace's Agents page"),
			SharedKey:          p.Secret("shared_key", "shared_key_file"),
			LogType:            p.Required("log_type", "the table name without _CL, e.g. NSGFlowLogs"),
			TimeGeneratedField: c.TimeField,
			AzureResourceID:    c.AzureResourceID,
			Cloud:              cloud,
			Endpoint:           endpoint,
			Delivery:           d,
		}
		if w := c.DataCollector.WorkspaceID; w != "" && !guidRe.MatchString(w) {
			p.Fail("workspace_id %q is not a GUID: copy the workspace ID from the workspace's Agents page", fbconf.Clip(w))
		}
		if lt := c.DataCollector.LogType; lt != "" && !logTypeRe.MatchString(lt) {
			p.Fail("log_type %q is not valid: use 1-100 letters, digits or underscores (the table becomes <log_type>_CL)", fbconf.Clip(lt))
		}
		if !logTypeRe.MatchString(c.TimeField) {
			p.Fail("time_generated_field %q is not valid: name a column with letters, digits or underscores", fbconf.Clip(c.TimeField))
		}
		if c.DataCollector.SharedKey == "" && p.Err() == nil {
			p.Fail("shared_key is not set: give the workspace key as shared_key ${VAR} or in shared_key_file")
		}
		c.Warnings = otherKeys(g, DestLogsIngestion, "dcr_id", "stream", "credential", "tenant_id", "client_secret", "client_secret_file", "token_file", "federated_token_file", "gzip")
	}
	if p.Err() != nil {
		return Config{}, p.Err()
	}
	return c, nil
}

// Options returns the pipeline options the configuration describes, for the
// given sink, logger and (optional) acker.
func (c Config) Options(sink loganalytics.Sink, log *Logger, acker Acker) Options {
	return Options{
		Sink:                sink,
		Schema:              c.Schema,
		TimeField:           c.TimeField,
		RecordField:         c.RecordField,
		FlushDeadline:       c.FlushDeadline,
		MaxRememberedChunks: c.MaxRememberedChunks,
		AzureResourceID:     c.AzureResourceID,
		Acker:               acker,
		Log:                 log,
	}
}

// otherKeys lists, as warnings, keys that are set but apply only to dest.
func otherKeys(g ConfigGetter, dest string, keys ...string) []string {
	var w []string
	for _, k := range keys {
		if strings.TrimSpace(g.Get(k)) != "" {
			w = append(w, fmt.Sprintf("%s is ignored: it applies to destination %s only", k, dest))
		}
	}
	return w
}

// NewSink builds the delivery sink the configuration describes, with its log
// lines going to log.
func (c Config) NewSink(log loganalytics.Logger) (loganalytics.Sink, error) {
	switch c.Destination {
	case DestDataCollector:
		dc := c.DataCollector
		dc.Logger = log
		return loganalytics.NewDataCollector(dc)
	default:
		li := c.LogsIngestion
		li.Logger = log
		return loganalytics.NewLogsIngestion(li)
	}
}

var (
	dcrIDRe   = regexp.MustCompile(`^dcr-[0-9a-fA-F]{32}$`)
	streamRe  = regexp.MustCompile(`^Custom-[A-Za-z0-9_][A-Za-z0-9_-]{0,199}$`)
	logTypeRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,100}$`)
	guidRe    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)
