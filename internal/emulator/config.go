package emulator

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// Defaults the emulator serves when Config leaves them empty.
const (
	DefaultAddr           = "127.0.0.1:0"
	DefaultWorkspaceID    = "00000000-0000-0000-0000-000000000000"
	DefaultDCRImmutableID = "dcr-00000000000000000000000000000000"
	// DefaultStream declares every column of flowparse.DefaultSchema.
	DefaultStream = "Custom-NsgFlow"
	// SeedStream declares every column of flowparse.SeedSchema.
	SeedStream = "Custom-NsgFlowSeed"
	// DefaultMaxClockSkew is how far x-ms-date may be from the emulator's
	// clock (Azure answers 403 beyond about 15 minutes).
	DefaultMaxClockSkew = 15 * time.Minute
)

// Config says what the emulator accepts and how it misbehaves.
type Config struct {
	// Addr is the listen address; DefaultAddr (a random loopback port) when
	// empty. Only loopback hosts are accepted.
	Addr string
	// WorkspaceID is the workspace the Data Collector API signs for;
	// DefaultWorkspaceID when empty.
	WorkspaceID string
	// SharedKey is the workspace key, base64 as the portal shows it. Empty
	// means every Data Collector request is refused with 403.
	SharedKey string
	// BearerToken is the only token the Logs Ingestion API accepts. Empty
	// means every Logs Ingestion request is refused with 403.
	BearerToken string
	// Entra, when set, checks Logs Ingestion bearer tokens as Azure does
	// (signature, issuer, audience, lifetime, role) and BearerToken is
	// ignored.
	Entra *EntraAuth
	// OutFile receives one NDJSON line per accepted row (see the package doc).
	// Empty keeps the lines in memory; Rows reads them back either way.
	OutFile string
	// DiscardRows counts rows but stores nothing (for benchmarks).
	DiscardRows bool
	// DCRs lists the data collection rules the Logs Ingestion API knows;
	// DefaultDCRs() when nil.
	DCRs []DCR
	// MaxClockSkew bounds |x-ms-date - now|; DefaultMaxClockSkew when zero.
	MaxClockSkew time.Duration
	// Faults injects errors into API requests (never /healthz, /stats, /admin).
	Faults Faults
	// Logger receives one line per refused request and fault; nil discards.
	// Secrets never reach it.
	Logger *slog.Logger
	// Now is the clock (for tests); time.Now when nil.
	Now func() time.Time
	// FlushInterval is how often buffered rows reach OutFile; 200ms when zero.
	FlushInterval time.Duration
}

// DCR is one data collection rule, addressed by its immutable ID.
type DCR struct {
	ImmutableID string
	Streams     []Stream
}

// Stream is one declared input stream of a DCR and the table its rows land in.
type Stream struct {
	// Name is the stream name, "Custom-<Name>".
	Name string
	// Table is the output table; "<Name without Custom->_CL" when empty.
	Table string
	// Columns are the declared column names. Fields not declared are dropped
	// silently, as Azure does.
	Columns []string
	// TimeColumn, when set, stands in for the DCR transform: a row without
	// TimeGenerated gets TimeGenerated from this column (if present).
	TimeColumn string
	// Types optionally gives declared columns a Log Analytics type
	// ("string", "int", "long", "real", "boolean", "datetime", "dynamic").
	// A value of the wrong JSON type is stored as sent but counted in
	// Stats.TypeMismatches (Azure would store null or a conversion).
	Types map[string]string
	// TableColumns, when set, is the destination's schema (column -> type),
	// as for the standard table ASimNetworkSessionLogs: New refuses a stream
	// declaring a column the table lacks (unless Drop lists it) or with
	// another type, and a row holding a value that does not fit its column
	// is refused with 400 InvalidPayload rather than stored and counted.
	TableColumns map[string]string
	// Drop lists declared columns the DCR transformation projects away
	// (`source | project-away ...`): they are checked, then not stored.
	Drop []string
}

// StreamForSchema declares a stream with every column of schema.
func StreamForSchema(name string, schema *flowparse.Schema) Stream {
	cols := make([]string, len(schema.Columns))
	types := make(map[string]string, len(schema.Columns))
	for i, c := range schema.Columns {
		cols[i] = c.Name
		types[c.Name] = c.Type
	}
	st := Stream{Name: name, Columns: cols, Types: types}
	if schema.TimeColumn != "TimeGenerated" {
		st.TimeColumn = schema.TimeColumn
	}
	return st
}

// DefaultDCRs is one DCR (DefaultDCRImmutableID) with a stream per
// flowparse layout, among them DefaultStream (flowparse.DefaultSchema,
// table NsgFlow_CL), SeedStream (flowparse.SeedSchema, NsgFlowSeed_CL) and
// AsimStream (flowparse.AsimSchema, the standard table ASimNetworkSessionLogs).
func DefaultDCRs() []DCR {
	return []DCR{{
		ImmutableID: DefaultDCRImmutableID,
		Streams:     layoutStreams(),
	}}
}

// layoutStreams declares one stream per flowparse layout, named after the
// layout's table: Custom-<Schema.Table>, landing in <Schema.Table>_CL, or
// in the layout's standard table (see StandardStream).
func layoutStreams() []Stream {
	var out []Stream
	for _, s := range flowparse.Schemas {
		if s.StandardTable != "" {
			out = append(out, StandardStream(s))
			continue
		}
		out = append(out, StreamForSchema("Custom-"+s.Table, s))
	}
	return out
}

// FaultKind names one injected misbehaviour.
type FaultKind string

// The fault kinds, as they appear in Stats.Faults.
const (
	FaultNone            FaultKind = ""
	Fault429             FaultKind = "429"
	Fault500             FaultKind = "500"
	Fault503             FaultKind = "503"
	FaultReset           FaultKind = "reset"
	FaultDropAfterAccept FaultKind = "drop_after_accept"
	FaultSlow            FaultKind = "slow"
)

// Faults are shares (0..1) of API requests that misbehave. The shares of
// 429, 500, 503, Reset and DropAfterAccept are exclusive and must sum to at
// most 1; Slow is drawn separately and delays whatever answer follows.
type Faults struct {
	TooManyRequests float64 // 429 with a Retry-After header
	// RetryAfter is sent in whole seconds, rounded up; 1s when zero,
	// "Retry-After: 0" when negative.
	RetryAfter    time.Duration
	InternalError float64 // 500
	Unavailable   float64 // 503
	// Reset closes the connection (RST) without reading or answering.
	Reset float64
	// DropAfterAccept stores the rows of a valid request, then closes the
	// connection without answering: the client sees an error for rows that
	// were ingested (so it resends them: duplicates).
	DropAfterAccept float64
	// Slow delays a request by SlowDelay (2s when zero) before it is
	// handled; it is still handled if the client gave up meanwhile.
	Slow      float64
	SlowDelay time.Duration
	// Seed makes the draw sequence deterministic.
	Seed int64
	// FailFirst makes the first N API requests fail with FailFirstKind
	// (default Fault503) before any share applies.
	FailFirst     int
	FailFirstKind FaultKind
	// RefuseRowsWith, when set, makes every request holding a row whose
	// JSON contains this text fail with 400 (InvalidPayload, Data Collector
	// InvalidDataFormat) naming the row: a poison row, refused each time.
	RefuseRowsWith string
}

func (f Faults) validate() error {
	shares := []struct {
		name string
		v    float64
	}{
		{"429", f.TooManyRequests}, {"500", f.InternalError}, {"503", f.Unavailable},
		{"reset", f.Reset}, {"drop-after-accept", f.DropAfterAccept}, {"slow", f.Slow},
	}
	sum := 0.0
	for _, s := range shares {
		if s.v < 0 || s.v > 1 || s.v != s.v {
			return fmt.Errorf("fault share %s = %v: want 0..1", s.name, s.v)
		}
		if s.name != "slow" {
			sum += s.v
		}
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("fault shares 429+500+503+reset+drop-after-accept sum to %v: want at most 1", sum)
	}
	if f.SlowDelay < 0 || f.FailFirst < 0 {
		return fmt.Errorf("negative fault duration or count")
	}
	switch f.FailFirstKind {
	case FaultNone, Fault429, Fault500, Fault503, FaultReset, FaultDropAfterAccept:
	default:
		return fmt.Errorf("fail-first kind %q: want 429, 500, 503, reset or drop_after_accept", f.FailFirstKind)
	}
	return nil
}

var (
	streamNameRE = regexp.MustCompile(`^Custom-[A-Za-z0-9_]{1,}$`)
	dcrIDRE      = regexp.MustCompile(`^dcr-[0-9a-f]{32}$`)
)

// checkLoopback refuses listen addresses off the loopback interface: the
// emulator speaks plain HTTP and takes secrets.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("emulator: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("emulator: listen address %q is not loopback (use 127.0.0.1, [::1] or localhost)", addr)
	}
	return nil
}

// withDefaults fills defaults and checks the configuration.
func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if err := checkLoopback(c.Addr); err != nil {
		return c, err
	}
	if c.WorkspaceID == "" {
		c.WorkspaceID = DefaultWorkspaceID
	}
	if c.SharedKey != "" {
		if _, err := base64.StdEncoding.DecodeString(c.SharedKey); err != nil {
			return c, fmt.Errorf("emulator: shared key is not valid base64")
		}
	}
	if c.DCRs == nil {
		c.DCRs = DefaultDCRs()
	}
	for i := range c.DCRs {
		d := &c.DCRs[i]
		if !dcrIDRE.MatchString(d.ImmutableID) {
			return c, fmt.Errorf("emulator: DCR immutable ID %q: want dcr-<32 lower-case hex>", d.ImmutableID)
		}
		for j := range d.Streams {
			s := &d.Streams[j]
			if !streamNameRE.MatchString(s.Name) {
				return c, fmt.Errorf("emulator: stream %q: want Custom-<letters, digits, _>", s.Name)
			}
			if s.Table == "" {
				s.Table = strings.TrimPrefix(s.Name, "Custom-") + "_CL"
			}
			if len(s.Columns) == 0 {
				return c, fmt.Errorf("emulator: stream %q declares no columns", s.Name)
			}
			for col, t := range s.Types {
				if _, ok := columnTypes[t]; !ok {
					return c, fmt.Errorf("emulator: stream %q column %q: unknown type %q", s.Name, col, t)
				}
			}
			if err := s.checkTable(); err != nil {
				return c, err
			}
		}
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if err := c.Faults.validate(); err != nil {
		return c, fmt.Errorf("emulator: %w", err)
	}
	if c.Faults.RetryAfter == 0 {
		c.Faults.RetryAfter = time.Second
	}
	if c.Faults.SlowDelay == 0 {
		c.Faults.SlowDelay = 2 * time.Second
	}
	if c.Faults.FailFirstKind == FaultNone {
		c.Faults.FailFirstKind = Fault503
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
