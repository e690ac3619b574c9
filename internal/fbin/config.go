package fbin

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/fbconf"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/notify"
)

// ConfigGetter returns a configuration value by key, "" when unset. The
// plugin implements it with Fluent Bit's property lookup; it is the same
// type as fbout.ConfigGetter, so one getter serves both halves of
// `nsgflow run`.
type ConfigGetter = fbconf.ConfigGetter

// MapConfig is a ConfigGetter over a map (keys lower case).
type MapConfig = fbconf.MapConfig

// Acknowledgment modes.
const (
	// AckOutput: the checkpoint moves only when the output plugin (nsgflow)
	// acknowledged a record's range in the shared checkpoint store.
	AckOutput = "ack"
	// AckHandover: the checkpoint moves once Fluent Bit has taken the records
	// (after the callback returned them), like tail's DB.
	AckHandover = "handover"
)

// Defaults of the input's own settings.
const (
	DefaultMaxQueueBytes  = 64 << 20
	DefaultMaxBufferBytes = 4 << 20
	DefaultAckMode        = AckOutput
)

// Key is one configuration key: its name, default as written in a config
// file, and meaning. Keys is the single source of the key table in
// docs/plugin-input.md.
type Key struct {
	Name, Default, Meaning string
}

// Keys lists every configuration key the input reads.
var Keys = []Key{
	{"storage_account", "", "Storage account name. Unset: taken from `storage_endpoint` (`https://<account>.blob...`, or the first path segment as with Azurite) or the connection string."},
	{"storage_endpoint", "https://<account>.blob.core.windows.net", "Blob service URL; set it for Azurite (`http://127.0.0.1:10000/devstoreaccount1`) or private endpoints."},
	{"storage_auth", "picked from what is set", "`key`, `sas`, `connection-string`, `managed-identity`, `workload-identity`, `client-secret`, `cli`, `default` (azidentity chain) or `anonymous`; underscores work too (`managed_identity`). Unset: connection string, else SAS, else key, else `default`."},
	{"storage_key", "", "Account key; prefer `storage_key_file` or `${VAR}`."},
	{"storage_key_file", "", "File holding the account key."},
	{"storage_sas", "", "SAS token (query string, with or without `?`); needs permissions `r`, `l` (and `w` for the done marker)."},
	{"storage_sas_file", "", "File holding the SAS token."},
	{"storage_connection_string", "", "Storage connection string."},
	{"storage_connection_string_file", "", "File holding the connection string."},
	{"storage_tenant_id", "", "Entra tenant (client-secret)."},
	{"storage_client_id", "", "App or user-assigned identity client ID (client-secret, managed-identity, workload-identity)."},
	{"storage_client_secret", "", "Client secret (client-secret); prefer `storage_client_secret_file`."},
	{"storage_client_secret_file", "", "File holding the client secret."},
	{"storage_cloud", "public", "`public`, `china` or `usgov`."},
	{"containers", blobsource.ContainerNSG + "," + blobsource.ContainerVNet, "Containers to read, comma-separated."},
	{"subscriptions", "", "Keep only these subscription IDs (comma-separated; empty keeps all)."},
	{"resource_groups", "", "Keep only these resource groups."},
	{"resource_names", "", "Keep only these NSG or flow-log names."},
	{"mac_addresses", "", "Keep only these NIC MAC addresses (any separator)."},
	{"start", "now", "Where a first run begins: `now` (the current hour), `beginning` (every blob) or an RFC 3339 time. Blobs with a checkpoint resume there."},
	{"poll_interval", blobsource.DefaultPollInterval.String(), "How often live blobs are checked for new blocks (Network Watcher commits about once a minute)."},
	{"discovery_interval", blobsource.DefaultDiscoveryInterval.String(), "How often the containers are listed for new resources."},
	{"grace", blobsource.DefaultGrace.String(), "How long after its hour a blob may still change; then it is closed."},
	{"read_concurrency", strconv.Itoa(blobsource.DefaultConcurrency), "Blobs read in parallel."},
	{"max_chunk_bytes", strconv.Itoa(blobsource.DefaultMaxChunk), "Largest piece of a blob read at once (cut at record boundaries)."},
	{"checkpoint_dir", "", "Local directory of checkpoints (one file per blob). Share it with the output plugin's `checkpoint_dir` in ack mode. One of `checkpoint_dir` and `checkpoint_container` is required."},
	{"checkpoint_container", "", "Or: a container in the same storage account holding one checkpoint blob per flow-log blob (for stateless hosts)."},
	{"checkpoint_prefix", "", "Name prefix of the checkpoint blobs in `checkpoint_container`."},
	{"done_marker", "off", "Set metadata on a blob once its hour is closed and every record was acknowledged, and skip blobs that carry it."},
	{"done_marker_key", "OmsLogType", "Metadata key of the done marker."},
	{"done_marker_value", "NSGFlowLogs", "Metadata value of the done marker."},
	{"queue_name", "", "Notification mode: the storage queue receiving Event Grid `Microsoft.Storage.BlobCreated` events for the flow-log containers (see docs/notifications.md). Blobs are read as their events arrive; `poll_interval` then paces only the listing pass that catches missed events (set it to minutes)."},
	{"queue_endpoint", "https://<account>.queue.core.windows.net", "Queue service URL; derived from `storage_endpoint` or the account. Set it for Azurite (`http://127.0.0.1:10001/devstoreaccount1`)."},
	{"queue_dead_letter", "<queue_name>-poison", "Queue receiving messages that are not events, or whose blob was not checkpointed after `queue_max_dequeue` deliveries; `off` deletes them after logging."},
	{"queue_visibility_timeout", notify.DefaultVisibility.String(), "Visibility timeout taken on each message and renewed while its blob is in flight."},
	{"queue_max_dequeue", strconv.Itoa(notify.DefaultMaxDequeue), "Deliveries of one message before it goes to the dead-letter queue."},
	{"ack_mode", DefaultAckMode, "`ack`: the checkpoint moves when the nsgflow output acknowledged delivery (at-least-once end to end). `handover`: when Fluent Bit took the records (any output)."},
	{"expand", "off", "`off`: one record per flow-log record (the nsgflow output expands them). `on`: one flat event per flow tuple, for filters and other outputs."},
	{"schema", "default", "Event layout with `expand on`: `default`, `seed` or `asim`."},
	{"time_field", "", "With `expand on`, rename the event-time column."},
	{"max_queue_bytes", strconv.Itoa(DefaultMaxQueueBytes), "Bound of the msgpack queue between the blob reader and Fluent Bit; reading pauses when it is full."},
	{"max_buffer_bytes", strconv.Itoa(DefaultMaxBufferBytes), "Most bytes handed to Fluent Bit per collect (once a second); whole records only."},
	{"nsgflow_log_level", "info", "The plugin's own log level (`error`, `warn`, `info`, `debug`); Fluent Bit keeps `log_level` for itself."},
}

// Config is the validated input configuration.
type Config struct {
	Source blobsource.Config // Logger, Store and Client are left for the caller

	// CheckpointContainer/Prefix: cursors in a blob container instead of
	// Source.CheckpointDir.
	CheckpointContainer string
	CheckpointPrefix    string

	// Queue is notification mode (queue_name set): package notify.
	Queue QueueConfig

	AckMode        string
	Expand         bool
	Schema         *flowparse.Schema
	TimeField      string
	MaxQueueBytes  int
	MaxBufferBytes int
	LogLevel       fblog.Level
}

// ParseConfig reads and validates every key. Errors name the key and how to
// fix it; they never quote a secret.
func ParseConfig(g ConfigGetter) (Config, error) {
	p := &fbconf.Parser{Getter: g}
	var c Config
	a := &c.Source.Auth
	a.AccountName = p.Str("storage_account", "")
	a.Endpoint = p.Str("storage_endpoint", "")
	// Both spellings work (managed_identity as the output plugin writes it).
	a.Method = strings.ReplaceAll(p.Choice("storage_auth", "", "", blobsource.AuthKey, blobsource.AuthSAS, blobsource.AuthConnectionString,
		blobsource.AuthManagedIdentity, blobsource.AuthWorkloadIdentity, blobsource.AuthClientSecret,
		blobsource.AuthCLI, blobsource.AuthDefault, blobsource.AuthAnonymous,
		"connection_string", "managed_identity", "workload_identity", "client_secret", "azure_cli", "azure-cli"), "_", "-")
	if a.Method == "azure-cli" {
		a.Method = blobsource.AuthCLI
	}
	a.AccountKey = p.Secret("storage_key", "storage_key_file")
	a.SASToken = p.Secret("storage_sas", "storage_sas_file")
	a.ConnectionString = p.Secret("storage_connection_string", "storage_connection_string_file")
	a.TenantID = p.Str("storage_tenant_id", "")
	a.ClientID = p.Str("storage_client_id", "")
	if a.Method == blobsource.AuthClientSecret {
		// Read only when used: a mounted-but-empty secret file must not
		// break managed or workload identity set-ups.
		a.ClientSecret = p.Secret("storage_client_secret", "storage_client_secret_file")
	}
	a.Cloud = p.Choice("storage_cloud", "public", "public", "china", "usgov")
	a.Origin = authOrigin(a, g)
	if a.Endpoint != "" && strings.Contains(a.Endpoint, "?") {
		p.Fail("storage_endpoint must not carry a query string: put the SAS in storage_sas")
	}
	switch a.Method {
	case blobsource.AuthKey:
		if a.AccountKey == "" {
			p.Fail("storage_auth key needs storage_key (or storage_key_file)")
		}
	case blobsource.AuthSAS:
		if a.SASToken == "" {
			p.Fail("storage_auth sas needs storage_sas (or storage_sas_file)")
		}
	case blobsource.AuthConnectionString:
		if a.ConnectionString == "" {
			p.Fail("storage_auth connection-string needs storage_connection_string (or storage_connection_string_file)")
		}
	case blobsource.AuthClientSecret:
		if a.TenantID == "" || a.ClientID == "" || a.ClientSecret == "" {
			p.Fail("storage_auth client-secret needs storage_tenant_id, storage_client_id and storage_client_secret")
		}
	}
	if a.ConnectionString == "" && a.AccountName == "" && a.Endpoint == "" {
		p.Fail("storage_account is not set: give the storage account name (or storage_endpoint, or storage_connection_string)")
	}
	if a.AccountName == "" && a.Endpoint != "" {
		a.AccountName = accountFromEndpoint(a.Endpoint)
	}
	if a.AccountKey != "" && a.AccountName == "" && a.ConnectionString == "" {
		p.Fail("storage_key needs storage_account: the account name signs the requests")
	}

	s := &c.Source
	s.Containers = p.List("containers")
	for _, ct := range s.Containers {
		if !validContainer(ct) {
			p.Fail("containers: %q is not a container name (3-63 lower-case letters, digits and '-')", fbconf.Clip(ct))
		}
	}
	s.Filter = blobsource.Filter{
		Subscriptions:  p.List("subscriptions"),
		ResourceGroups: p.List("resource_groups"),
		Names:          p.List("resource_names"),
		MACs:           p.List("mac_addresses"),
	}
	s.Start = p.Str("start", "now")
	if _, err := blobsource.ParseStart(s.Start, time.Now()); err != nil {
		p.Fail("start %q is not valid: use now, beginning or an RFC 3339 time such as 2026-11-26T09:00:00Z", fbconf.Clip(s.Start))
	}
	s.PollInterval = p.Duration("poll_interval", blobsource.DefaultPollInterval, 100*time.Millisecond, 24*time.Hour)
	s.DiscoveryInterval = p.Duration("discovery_interval", blobsource.DefaultDiscoveryInterval, 100*time.Millisecond, 7*24*time.Hour)
	s.Grace = p.Duration("grace", blobsource.DefaultGrace, 0, 24*time.Hour)
	s.Concurrency = p.Size("read_concurrency", blobsource.DefaultConcurrency, 1, 256)
	s.MaxChunk = p.Size("max_chunk_bytes", blobsource.DefaultMaxChunk, 64<<10, 256<<20)

	s.CheckpointDir = p.Str("checkpoint_dir", "")
	c.CheckpointContainer = p.Str("checkpoint_container", "")
	c.CheckpointPrefix = p.Str("checkpoint_prefix", "")
	switch {
	case s.CheckpointDir == "" && c.CheckpointContainer == "":
		p.Fail("no checkpoint store: set checkpoint_dir (a local directory) or checkpoint_container (a container in the storage account)")
	case s.CheckpointDir != "" && c.CheckpointContainer != "":
		p.Fail("both checkpoint_dir and checkpoint_container are set: keep one")
	case c.CheckpointContainer != "" && !validContainer(c.CheckpointContainer):
		p.Fail("checkpoint_container %q is not a container name (3-63 lower-case letters, digits and '-')", fbconf.Clip(c.CheckpointContainer))
	}
	if c.CheckpointPrefix != "" && c.CheckpointContainer == "" {
		p.Fail("checkpoint_prefix applies to checkpoint_container only")
	}

	s.DoneMarker.Enabled = p.Bool("done_marker", false)
	s.DoneMarker.Key = p.Str("done_marker_key", "OmsLogType")
	s.DoneMarker.Value = p.Str("done_marker_value", "NSGFlowLogs")
	if !validMetaKey(s.DoneMarker.Key) {
		p.Fail("done_marker_key %q is not a metadata name: use letters, digits and '_', not starting with a digit", fbconf.Clip(s.DoneMarker.Key))
	}
	if strings.ContainsAny(s.DoneMarker.Value, "\r\n") || !isASCII(s.DoneMarker.Value) {
		p.Fail("done_marker_value must be printable ASCII on one line")
	}

	c.Queue.Name = p.Str("queue_name", "")
	c.Queue.Endpoint = p.Str("queue_endpoint", "")
	c.Queue.DeadLetter = p.Str("queue_dead_letter", "")
	c.Queue.Visibility = p.Duration("queue_visibility_timeout", notify.DefaultVisibility, time.Second, time.Hour)
	c.Queue.MaxDequeue = int64(p.Size("queue_max_dequeue", notify.DefaultMaxDequeue, 1, 1000))
	if c.Queue.Name != "" {
		if !validQueue(c.Queue.Name) {
			p.Fail("queue_name %q is not a queue name (3-63 lower-case letters, digits and '-')", fbconf.Clip(c.Queue.Name))
		}
		switch c.Queue.DeadLetter {
		case "":
			c.Queue.DeadLetter = c.Queue.Name + "-poison"
		case "off":
			c.Queue.DeadLetter = ""
		default:
			if !validQueue(c.Queue.DeadLetter) {
				p.Fail("queue_dead_letter %q is not a queue name (3-63 lower-case letters, digits and '-'), or off", fbconf.Clip(c.Queue.DeadLetter))
			}
		}
		if _, err := notify.QueueServiceURL(c.Source.Auth, c.Queue.Endpoint); err != nil {
			p.Fail("%v", err)
		}
	} else if c.Queue.Endpoint != "" || c.Queue.DeadLetter != "" {
		p.Fail("queue_endpoint and queue_dead_letter apply with queue_name only")
	}

	c.AckMode = p.Choice("ack_mode", DefaultAckMode, AckOutput, AckHandover)
	c.Expand = p.Bool("expand", false)
	schemaName := p.Choice("schema", flowparse.DefaultSchema.Name, flowparse.SchemaNames()...)
	c.Schema, _ = flowparse.SchemaByName(schemaName)
	if c.Schema == nil {
		c.Schema = flowparse.DefaultSchema
	}
	c.TimeField = p.Str("time_field", "")
	if !c.Expand && (g.Get("schema") != "" || c.TimeField != "") {
		p.Fail("schema and time_field apply with expand on only (the nsgflow output has its own): remove them, or set expand on")
	}
	c.MaxQueueBytes = p.Size("max_queue_bytes", DefaultMaxQueueBytes, 1<<20, 1<<34)
	c.MaxBufferBytes = p.Size("max_buffer_bytes", DefaultMaxBufferBytes, 64<<10, 256<<20)
	if c.MaxBufferBytes > c.MaxQueueBytes {
		p.Fail("max_buffer_bytes %d is above max_queue_bytes %d: lower it", c.MaxBufferBytes, c.MaxQueueBytes)
	}
	lvl := p.Choice("nsgflow_log_level", "info", "error", "warn", "warning", "info", "debug")
	c.LogLevel, _ = fblog.ParseLevel(lvl) // lvl is one of the choices
	if p.Err() != nil {
		return Config{}, p.Err()
	}
	return c, nil
}

// accountFromEndpoint names the account of a service URL: the first label
// of <account>.blob.<suffix>, else the first path segment (Azurite's
// path-style http://127.0.0.1:10000/devstoreaccount1), else "".
func accountFromEndpoint(ep string) string {
	u, err := url.Parse(ep)
	if err != nil {
		return ""
	}
	if host := u.Hostname(); strings.Contains(host, ".blob.") {
		return host[:strings.IndexByte(host, '.')]
	}
	seg, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	return seg
}

func validContainer(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return s == "$root" || s == "$logs"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validQueue: 3-63 lower-case letters, digits and single '-', not at the ends.
func validQueue(s string) bool {
	return len(s) >= 3 && len(s) <= 63 && s[0] != '-' && validContainer(s)
}

// QueueConfig is notification mode's queue (package notify).
type QueueConfig struct {
	Name, Endpoint string
	DeadLetter     string // "" = none
	Visibility     time.Duration
	MaxDequeue     int64
}

func validMetaKey(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// authOrigin names, in plugin keys, where the storage credential comes
// from (for refusal messages).
func authOrigin(a *blobsource.Auth, g ConfigGetter) string {
	pick := func(key, fileKey string) string {
		if strings.TrimSpace(g.Get(fileKey)) != "" {
			return fileKey
		}
		return key
	}
	m := a.Method
	if m == "" {
		switch {
		case a.ConnectionString != "":
			m = blobsource.AuthConnectionString
		case a.SASToken != "":
			m = blobsource.AuthSAS
		case a.AccountKey != "":
			m = blobsource.AuthKey
		default:
			m = blobsource.AuthDefault
		}
	}
	switch m {
	case blobsource.AuthKey:
		return pick("storage_key", "storage_key_file")
	case blobsource.AuthSAS:
		return pick("storage_sas", "storage_sas_file")
	case blobsource.AuthConnectionString:
		return pick("storage_connection_string", "storage_connection_string_file")
	case blobsource.AuthClientSecret:
		return "storage_tenant_id, storage_client_id and " + pick("storage_client_secret", "storage_client_secret_file")
	case blobsource.AuthManagedIdentity:
		if a.ClientID != "" {
			return "the managed identity storage_client_id"
		}
		return "the host's system-assigned managed identity"
	case blobsource.AuthWorkloadIdentity:
		return "the workload identity (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)"
	case blobsource.AuthCLI:
		return "the Azure CLI login (az login)"
	case blobsource.AuthDefault:
		return "the default identity chain (AZURE_* environment, workload identity, managed identity, az login)"
	}
	return ""
}
