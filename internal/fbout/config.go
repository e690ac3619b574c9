package fbout

import (
	"strconv"
	"time"

	"github.com/nsgflow/nsgflow/internal/fbconf"
	"github.com/nsgflow/nsgflow/internal/fblog"
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
	DestLogsIngestion = loganalytics.DestLogsIngestion
	DestDataCollector = loganalytics.DestDataCollector
)

// Defaults of the plugin's settings.
const (
	DefaultRecordField         = "log"
	DefaultFlushDeadline       = 4 * time.Second
	DefaultGrace               = 4 * time.Second
	DefaultMaxRememberedChunks = 1024
)

// Key is one configuration key: its name, default (as written in a config
// file), the destination it applies to, and its meaning.
type Key = loganalytics.Key

// pluginKeys are the keys of the output plugin itself; the destination's
// follow them in Keys.
var pluginKeys = []Key{
	{Name: "schema", Default: "default", Applies: "both", Meaning: "Row layout: `default` (typed columns, EventId), `seed` (the 2017 script's string columns) or `asim` (Microsoft Sentinel ASIM NetworkSession, for the standard table ASimNetworkSessionLogs)."},
	{Name: "record_field", Default: DefaultRecordField, Applies: "both", Meaning: "Field that holds a flow-log record, blob or NDJSON line as a JSON string (e.g. `tail` without a parser). Records that are already maps are read directly."},
	{Name: "nsgflow_log_level", Default: "info", Applies: "both", Meaning: "The plugin's own log level: `error`, `warn`, `info` or `debug`. (Fluent Bit's core consumes `log_level` for every instance, so it never reaches a Go plugin.)"},
	{Name: "flush_deadline", Default: DefaultFlushDeadline.String(), Applies: "both", Meaning: "Longest time one flush may take, retries included; then the flush returns RETRY having remembered what was accepted. With `Workers`, Fluent Bit waits for running flushes before it stops: keep this at or below `Grace` in `[SERVICE]`."},
	{Name: "grace", Default: DefaultGrace.String(), Applies: "both", Meaning: "At exit, how long in-flight flushes may run before they are abandoned (keep it below Fluent Bit's `grace`, default 5s)."},
	{Name: "max_remembered_chunks", Default: strconv.Itoa(DefaultMaxRememberedChunks), Applies: "both", Meaning: "How many partly delivered chunks the plugin remembers (which batches were accepted) so a retried chunk sends no duplicates. Oldest forgotten first; 0 disables it (a retry re-sends the whole chunk)."},
	{Name: "checkpoint_dir", Default: "", Applies: "both", Meaning: "Checkpoint directory shared with the `nsgflow_blob` input: records carrying `_nsgflow_*` provenance are acknowledged there once all their events were accepted. Empty: no acknowledgment."},
}

// Keys lists every configuration key the plugin reads: destination, the
// plugin's own, then the rest of the destination's (loganalytics.Keys). It is the single source of
// docs/plugin-output.md's key table.
var Keys = append(append(append([]Key{}, loganalytics.Keys[0]), pluginKeys...), loganalytics.Keys[1:]...)

// Config is the validated plugin configuration.
type Config struct {
	Schema              *flowparse.Schema
	RecordField         string
	LogLevel            fblog.Level
	FlushDeadline       time.Duration
	Grace               time.Duration
	MaxRememberedChunks int
	// CheckpointDir, when set, is where delivered records are acknowledged.
	CheckpointDir string

	// The destination: sink settings, row changes it needs, warnings.
	loganalytics.Destination
}

// MemoryLimitBase is the part of the output plugin's default soft memory
// limit that does not depend on the instances: the Go runtime, pools, the
// retry memory and headroom.
const MemoryLimitBase = 24 << 20

// MemoryBudget is what one flush of this instance may hold at most: the
// bodies being sent and the one being filled (concurrency + 1 bodies of at
// most max_body_bytes), their compressed copies, and room for the decoded
// record. The plugin's default soft limit is MemoryLimitBase plus the sum of
// its instances' budgets (docs/plugin-output.md, "Memory").
func (c Config) MemoryBudget() int64 {
	return int64(c.Concurrency()+1)*int64(c.MaxBody())*3/2 + 4<<20
}

// ParseConfig reads and validates every key. Errors name the key and the
// fix; they never quote a secret.
func ParseConfig(g ConfigGetter) (Config, error) {
	p := &fbconf.Parser{Getter: g, Env: "Fluent Bit's environment"}
	var c Config
	schemaName := p.Choice("schema", flowparse.DefaultSchema.Name, flowparse.SchemaNames()...)
	c.Schema, _ = flowparse.SchemaByName(schemaName)
	if c.Schema == nil {
		c.Schema = flowparse.DefaultSchema
	}
	c.RecordField = p.Str("record_field", DefaultRecordField)
	lvl := p.Choice("nsgflow_log_level", "info", "error", "warn", "warning", "info", "debug")
	c.LogLevel, _ = fblog.ParseLevel(lvl)
	c.FlushDeadline = p.Duration("flush_deadline", DefaultFlushDeadline, time.Second, 10*time.Minute)
	c.Grace = p.Duration("grace", DefaultGrace, 0, time.Minute)
	c.MaxRememberedChunks = p.Int("max_remembered_chunks", DefaultMaxRememberedChunks, 0, 1<<20)
	c.CheckpointDir = p.Str("checkpoint_dir", "")
	def := loganalytics.PluginDefaults
	def.MaxRequestTimeout, def.MaxRequestTimeoutKey = c.FlushDeadline, "flush_deadline"
	if c.Schema.Name == "seed" {
		def.TimeField = c.Schema.TimeColumn
	}
	c.Destination = loganalytics.ParseDestination(p, def)
	if d := c.Destination; d.Kind == loganalytics.DestDataCollector && c.Schema.StandardTable != "" {
		p.Fail("%s %s writes the standard table %s, which only the Logs Ingestion API can write: set %s %s",
			p.Name("schema"), c.Schema.Name, c.Schema.StandardTable, p.Name("destination"), loganalytics.DestLogsIngestion)
	}
	if p.Err() != nil {
		return Config{}, p.Err()
	}
	return c, nil
}

// Options returns the pipeline options the configuration describes, for the
// given sink, logger and (optional) acker.
func (c Config) Options(sink loganalytics.Sink, log *fblog.Logger, acker Acker) Options {
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
