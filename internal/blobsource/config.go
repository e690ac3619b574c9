package blobsource

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
)

// Config configures a Source. Zero fields take the defaults noted.
type Config struct {
	Auth Auth
	// Client, if set, is used instead of building one from Auth (tests,
	// or callers that share a client). Auth.AccountName still names the
	// account in keys when the URL does not.
	Client *service.Client

	// Containers to read; default both ContainerNSG and ContainerVNet.
	Containers []string
	Filter     Filter

	// Start is where a first run begins: "now" (default: the current hour),
	// "beginning" (every blob in the containers) or an RFC 3339 time (the
	// hour containing it). A resource that has a checkpoint resumes there.
	Start string

	// PollInterval between listings of the live hours; default 60s
	// (Network Watcher commits about once a minute).
	PollInterval time.Duration
	// DiscoveryInterval between hierarchical listings that find new
	// resources; default 10m.
	DiscoveryInterval time.Duration
	// Grace after the end of an hour during which its blobs may still
	// change; default 5m.
	Grace time.Duration

	// Concurrency: blobs read in parallel; default 4.
	Concurrency int
	// MaxChunk caps Chunk.Data: longer ranges are read in pieces cut at
	// record boundaries; default 4 MiB.
	MaxChunk int
	// MaxRecord caps one record: a piece with no record boundary grows up
	// to this size and is then handed over as is; default 64 MiB.
	MaxRecord int
	// MaxPending: closed blobs waiting for acknowledgment; backfill pauses
	// while there are more; default 10000.
	MaxPending int

	// Store keeps the cursors; default a checkpoint.Dir at CheckpointDir.
	Store         checkpoint.Store
	CheckpointDir string

	DoneMarker DoneMarker

	// Hints, if set, is notification mode: the blobs it names are read as
	// soon as they are named, and PollInterval paces only the listing pass
	// that catches what notifications missed. Ignored with Once.
	Hints Hints

	// Once makes Run return nil after the first poll cycle that is caught
	// up (Stats.CaughtUp: everything listed up to now read to its committed
	// end and handed over, no backfill left, every finished hour's blob
	// closed) with no closed blob left pending: every closed blob fully
	// acknowledged and, with DoneMarker, marked (or the marker given up).
	// Blobs of hours still open are read to their current end, not waited
	// for. If acknowledgments never come (events refused for good), Run
	// does not return: the caller watches its delivery side and cancels.
	Once bool
	// KeepCursors keeps the cursors of finished blobs. By default a blob's
	// cursor is deleted once the blob is closed, fully acknowledged, and its
	// hour is behind the resource watermark (no listing reaches it again).
	KeepCursors bool

	defaultContainers bool // Containers was empty: both flow-log containers

	// SettingName spells a plugin key (storage_auth, containers, ...) the
	// way the user wrote it, for messages: the CLI maps keys to its flags.
	// Default: the key itself.
	SettingName func(key string) string

	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
}

// DoneMarker configures the optional metadata mark set on a blob once its
// hour is closed and every record in it was acknowledged (the 2017 script's
// OmsLogType=<log type>). Blobs already carrying the mark are skipped.
// Setting it needs the SAS 'w' permission or a data-writer role.
type DoneMarker struct {
	Enabled bool
	Key     string // default OmsLogType
	Value   string // default NSGFlowLogs
}

// Defaults.
const (
	DefaultPollInterval      = 60 * time.Second
	DefaultDiscoveryInterval = 10 * time.Minute
	DefaultGrace             = 5 * time.Minute
	DefaultConcurrency       = 4
	DefaultMaxChunk          = 4 << 20
	DefaultMaxRecord         = 64 << 20
	DefaultMaxPending        = 10000
)

func (c *Config) withDefaults() (Config, error) {
	o := *c
	if len(o.Containers) == 0 {
		o.Containers = []string{ContainerNSG, ContainerVNet}
		o.defaultContainers = true
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.DiscoveryInterval <= 0 {
		o.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxChunk <= 0 {
		o.MaxChunk = DefaultMaxChunk
	}
	if o.MaxChunk < 64 {
		return o, fmt.Errorf("blobsource: MaxChunk %d is too small (at least 64 bytes)", o.MaxChunk)
	}
	if o.MaxRecord <= 0 {
		o.MaxRecord = DefaultMaxRecord
	}
	if o.MaxRecord < o.MaxChunk {
		o.MaxRecord = o.MaxChunk
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.DoneMarker.Key == "" {
		o.DoneMarker.Key = "OmsLogType"
	}
	if o.DoneMarker.Value == "" {
		o.DoneMarker.Value = "NSGFlowLogs"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Store == nil && o.CheckpointDir == "" {
		return o, errors.New("blobsource: a checkpoint Store or CheckpointDir is required")
	}
	if _, err := ParseStart(o.Start, time.Now()); err != nil {
		return o, err
	}
	return o, nil
}

// ParseStart reads a start position: "now" (or empty), "beginning", or an
// RFC 3339 time. It returns the first hour to read; the zero time means
// from the beginning.
func ParseStart(s string, now time.Time) (time.Time, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "now":
		return now.UTC().Truncate(time.Hour), nil
	case "beginning", "begin", "all":
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("blobsource: start %q: want now, beginning or an RFC 3339 time such as 2026-11-26T09:00:00Z", s)
	}
	return t.UTC().Truncate(time.Hour), nil
}

// name spells a setting key in the user's words (SettingName).
func (c *Config) name(key string) string {
	if c.SettingName != nil {
		return c.SettingName(key)
	}
	return key
}
