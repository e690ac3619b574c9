package blobinput

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/blobsource"
	"github.com/nsgflow/nsgflow/flowparse"
	"github.com/nsgflow/nsgflow/oms"
)

// ConfigGetter returns a configuration value by key, "" when unset. The
// plugin implements it with Fluent Bit's property lookup (case-insensitive
// keys, ${VAR} already expanded); pipeline.ConfigGetter has the same shape,
// so one getter serves both halves of `nsgflow run`.
type ConfigGetter interface {
	Get(key string) string
}

// MapConfig is a ConfigGetter over a map (keys lower case).
type MapConfig map[string]string

// Get returns m[strings.ToLower(key)].
func (m MapConfig) Get(key string) string { return m[strings.ToLower(key)] }

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
	{"ack_mode", DefaultAckMode, "`ack`: the checkpoint moves when the nsgflow output acknowledged delivery (at-least-once end to end). `handover`: when Fluent Bit took the records (any output)."},
	{"expand", "off", "`off`: one record per flow-log record (the nsgflow output expands them). `on`: one flat event per flow tuple, for filters and other outputs."},
	{"schema", "default", "Event layout with `expand on`: `default` or `seed`."},
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

	AckMode        string
	Expand         bool
	Schema         *flowparse.Schema
	TimeField      string
	MaxQueueBytes  int
	MaxBufferBytes int
	LogLevel       oms.Level
}

// ParseConfig reads and validates every key. Errors name the key and how to
// fix it; they never quote a secret.
func ParseConfig(g ConfigGetter) (Config, error) {
	p := parser{g: g}
	var c Config
	a := &c.Source.Auth
	a.AccountName = p.str("storage_account", "")
	a.Endpoint = p.str("storage_endpoint", "")
	// Both spellings work (managed_identity as the output plugin writes it).
	a.Method = strings.ReplaceAll(p.choice("storage_auth", "", "", blobsource.AuthKey, blobsource.AuthSAS, blobsource.AuthConnectionString,
		blobsource.AuthManagedIdentity, blobsource.AuthWorkloadIdentity, blobsource.AuthClientSecret,
		blobsource.AuthCLI, blobsource.AuthDefault, blobsource.AuthAnonymous,
		"connection_string", "managed_identity", "workload_identity", "client_secret", "azure_cli", "azure-cli"), "_", "-")
	if a.Method == "azure-cli" {
		a.Method = blobsource.AuthCLI
	}
	a.AccountKey = p.secret("storage_key", "storage_key_file")
	a.SASToken = p.secret("storage_sas", "storage_sas_file")
	a.ConnectionString = p.secret("storage_connection_string", "storage_connection_string_file")
	a.TenantID = p.str("storage_tenant_id", "")
	a.ClientID = p.str("storage_client_id", "")
	if a.Method == blobsource.AuthClientSecret {
		// Read only when used: a mounted-but-empty secret file must not
		// break managed or workload identity set-ups.
		a.ClientSecret = p.secret("storage_client_secret", "storage_client_secret_file")
	}
	a.Cloud = p.choice("storage_cloud", "public", "public", "china", "usgov")
	if a.Endpoint != "" && strings.Contains(a.Endpoint, "?") {
		p.fail("storage_endpoint must not carry a query string: put the SAS in storage_sas")
	}
	switch a.Method {
	case blobsource.AuthKey:
		if a.AccountKey == "" {
			p.fail("storage_auth key needs storage_key (or storage_key_file)")
		}
	case blobsource.AuthSAS:
		if a.SASToken == "" {
			p.fail("storage_auth sas needs storage_sas (or storage_sas_file)")
		}
	case blobsource.AuthConnectionString:
		if a.ConnectionString == "" {
			p.fail("storage_auth connection-string needs storage_connection_string (or storage_connection_string_file)")
		}
	case blobsource.AuthClientSecret:
		if a.TenantID == "" || a.ClientID == "" || a.ClientSecret == "" {
			p.fail("storage_auth client-secret needs storage_tenant_id, storage_client_id and storage_client_secret")
		}
	}
	if a.ConnectionString == "" && a.AccountName == "" && a.Endpoint == "" {
		p.fail("storage_account is not set: give the storage account name (or storage_endpoint, or storage_connection_string)")
	}
	if a.AccountName == "" && a.Endpoint != "" {
		a.AccountName = accountFromEndpoint(a.Endpoint)
	}
	if a.AccountKey != "" && a.AccountName == "" && a.ConnectionString == "" {
		p.fail("storage_key needs storage_account: the account name signs the requests")
	}

	s := &c.Source
	s.Containers = p.list("containers")
	for _, ct := range s.Containers {
		if !validContainer(ct) {
			p.fail("containers: %q is not a container name (3-63 lower-case letters, digits and '-')", clip(ct))
		}
	}
	s.Filter = blobsource.Filter{
		Subscriptions:  p.list("subscriptions"),
		ResourceGroups: p.list("resource_groups"),
		Names:          p.list("resource_names"),
		MACs:           p.list("mac_addresses"),
	}
	s.Start = p.str("start", "now")
	if _, err := blobsource.ParseStart(s.Start, time.Now()); err != nil {
		p.fail("start %q is not valid: use now, beginning or an RFC 3339 time such as 2026-11-26T09:00:00Z", clip(s.Start))
	}
	s.PollInterval = p.duration("poll_interval", blobsource.DefaultPollInterval, 100*time.Millisecond, 24*time.Hour)
	s.DiscoveryInterval = p.duration("discovery_interval", blobsource.DefaultDiscoveryInterval, 100*time.Millisecond, 7*24*time.Hour)
	s.Grace = p.duration("grace", blobsource.DefaultGrace, 0, 24*time.Hour)
	s.Concurrency = p.integer("read_concurrency", blobsource.DefaultConcurrency, 1, 256)
	s.MaxChunk = p.integer("max_chunk_bytes", blobsource.DefaultMaxChunk, 64<<10, 256<<20)

	s.CheckpointDir = p.str("checkpoint_dir", "")
	c.CheckpointContainer = p.str("checkpoint_container", "")
	c.CheckpointPrefix = p.str("checkpoint_prefix", "")
	switch {
	case s.CheckpointDir == "" && c.CheckpointContainer == "":
		p.fail("no checkpoint store: set checkpoint_dir (a local directory) or checkpoint_container (a container in the storage account)")
	case s.CheckpointDir != "" && c.CheckpointContainer != "":
		p.fail("both checkpoint_dir and checkpoint_container are set: keep one")
	case c.CheckpointContainer != "" && !validContainer(c.CheckpointContainer):
		p.fail("checkpoint_container %q is not a container name (3-63 lower-case letters, digits and '-')", clip(c.CheckpointContainer))
	}
	if c.CheckpointPrefix != "" && c.CheckpointContainer == "" {
		p.fail("checkpoint_prefix applies to checkpoint_container only")
	}

	s.DoneMarker.Enabled = p.boolean("done_marker", false)
	s.DoneMarker.Key = p.str("done_marker_key", "OmsLogType")
	s.DoneMarker.Value = p.str("done_marker_value", "NSGFlowLogs")
	if !validMetaKey(s.DoneMarker.Key) {
		p.fail("done_marker_key %q is not a metadata name: use letters, digits and '_', not starting with a digit", clip(s.DoneMarker.Key))
	}
	if strings.ContainsAny(s.DoneMarker.Value, "\r\n") || !isASCII(s.DoneMarker.Value) {
		p.fail("done_marker_value must be printable ASCII on one line")
	}

	c.AckMode = p.choice("ack_mode", DefaultAckMode, AckOutput, AckHandover)
	c.Expand = p.boolean("expand", false)
	schemaName := p.choice("schema", "default", "default", "seed")
	c.Schema, _ = flowparse.SchemaByName(schemaName)
	if c.Schema == nil {
		c.Schema = flowparse.DefaultSchema
	}
	c.TimeField = p.str("time_field", "")
	if !c.Expand && (g.Get("schema") != "" || c.TimeField != "") {
		p.fail("schema and time_field apply with expand on only (the nsgflow output has its own): remove them, or set expand on")
	}
	c.MaxQueueBytes = p.integer("max_queue_bytes", DefaultMaxQueueBytes, 1<<20, 1<<34)
	c.MaxBufferBytes = p.integer("max_buffer_bytes", DefaultMaxBufferBytes, 64<<10, 256<<20)
	if c.MaxBufferBytes > c.MaxQueueBytes {
		p.fail("max_buffer_bytes %d is above max_queue_bytes %d: lower it", c.MaxBufferBytes, c.MaxQueueBytes)
	}
	lvl := p.choice("nsgflow_log_level", "info", "error", "warn", "warning", "info", "debug")
	c.LogLevel = parseLevel(lvl)
	if p.err != nil {
		return Config{}, p.err
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

func parseLevel(s string) oms.Level {
	switch s {
	case "error":
		return oms.LevelError
	case "warn", "warning":
		return oms.LevelWarn
	case "debug":
		return oms.LevelDebug
	}
	return oms.LevelInfo
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

// parser accumulates the first error.
type parser struct {
	g   ConfigGetter
	err error
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

func (p *parser) str(key, def string) string {
	v := strings.TrimSpace(p.g.Get(key))
	if v == "" {
		return def
	}
	return v
}

func (p *parser) list(key string) []string {
	var out []string
	for _, f := range strings.Split(p.g.Get(key), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (p *parser) choice(key, def string, allowed ...string) string {
	v := strings.ToLower(p.str(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	shown := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if a != "" {
			shown = append(shown, a)
		}
	}
	p.fail("%s %q is not valid: use one of %s", key, clip(v), strings.Join(shown, ", "))
	return def
}

func (p *parser) duration(key string, def, min, max time.Duration) time.Duration {
	raw := p.str(key, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		// Fluent Bit style: a bare number means seconds.
		n, err2 := strconv.ParseFloat(raw, 64)
		if err2 != nil {
			p.fail("%s %q is not a duration: write e.g. 30s, 1500ms or 2m", key, clip(raw))
			return def
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < min || d > max {
		p.fail("%s %v is out of range: set between %v and %v", key, d, min, max)
		return def
	}
	return d
}

func (p *parser) integer(key string, def, min, max int) int {
	raw := p.str(key, "")
	if raw == "" {
		return def
	}
	n, err := parseSize(raw)
	if err != nil {
		p.fail("%s %q is not a whole number: write e.g. %d (K, M and G suffixes allowed)", key, clip(raw), def)
		return def
	}
	if n < int64(min) || n > int64(max) {
		p.fail("%s %d is out of range: set between %d and %d", key, n, min, max)
		return def
	}
	return int(n)
}

// parseSize reads an integer with an optional K, M or G suffix (powers of
// 1024, Fluent Bit style; KB/MB/GB too).
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimSuffix(u, "B")
	mul := int64(1)
	switch {
	case strings.HasSuffix(u, "K"):
		mul, u = 1<<10, u[:len(u)-1]
	case strings.HasSuffix(u, "M"):
		mul, u = 1<<20, u[:len(u)-1]
	case strings.HasSuffix(u, "G"):
		mul, u = 1<<30, u[:len(u)-1]
	}
	n, err := strconv.ParseInt(strings.TrimSpace(u), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, errors.New("not a size")
	}
	return n * mul, nil
}

func (p *parser) boolean(key string, def bool) bool {
	switch strings.ToLower(p.str(key, "")) {
	case "":
		return def
	case "on", "true", "yes", "1":
		return true
	case "off", "false", "no", "0":
		return false
	}
	p.fail("%s %q is not on or off: write on or off", key, clip(p.str(key, "")))
	return def
}

// secret reads key, or the file named by fileKey; it is an error to give
// both. Error messages never quote the value.
func (p *parser) secret(key, fileKey string) string {
	v := strings.TrimSpace(p.g.Get(key))
	path := strings.TrimSpace(p.g.Get(fileKey))
	if v != "" && path != "" {
		p.fail("both %s and %s are set: keep one", key, fileKey)
		return ""
	}
	if strings.HasPrefix(v, "${") {
		p.fail("%s looks like an unexpanded variable: export the variable in the environment", key)
		return ""
	}
	if path == "" {
		return v
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.fail("%s %q cannot be read: %v", fileKey, clip(path), err)
		return ""
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		p.fail("%s %q is empty", fileKey, clip(path))
	}
	return s
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
