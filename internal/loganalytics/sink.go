package loganalytics

import (
	"context"

	"github.com/nsgflow/nsgflow/internal/fblog"
)

// Sink delivers batches of encoded events to one Log Analytics destination.
// Send may be called from several goroutines at once.
type Sink interface {
	// Cut splits ev into batches on event boundaries under the sink's body
	// cap, deterministically (see the package doc). It may shorten oversize
	// events in place.
	Cut(ev *Events) []Batch
	// Send delivers the given batches of ev, retrying inside, and returns a
	// Report saying exactly which batches (and so which events) were
	// accepted. It returns when every batch is settled or ctx is done; a batch
	// still unsettled then is reported as not accepted.
	Send(ctx context.Context, ev *Events, batches []Batch) Report
	// Close releases idle connections. Send must not be called after.
	Close() error
}

// Report is the outcome of one Send call.
type Report struct {
	// Accepted[i] is true when every event of batches[i] was accepted (in one
	// request, or in pieces after 413 splits).
	Accepted []bool
	// Rejected[i] is true when batches[i] (or a piece of it) was refused
	// permanently: re-sending the same bytes will not help (400, 403, 404,
	// an event too large alone). Pieces accepted before are in Parts.
	Rejected []bool
	// Parts lists the accepted pieces of batches that are not wholly
	// Accepted, so a caller knows every accepted event.
	Parts []Batch
	// Remember lists the keys a caller should keep to avoid re-sending on a
	// later attempt: the Key of each accepted batch and part, and Key ^
	// SplitMark of each batch or piece that was split. See Remaining.
	Remember []uint64

	// Refused lists the events the destination refused alone with 400 once
	// their batch was split down to them (the other events of the batch were
	// accepted). They are settled: logged, written to the dead-letter file
	// when one is configured, and their batch counts as Accepted, so a
	// caller acknowledges them instead of sending them again forever. They
	// are in neither EventsAccepted nor EventsRejected.
	Refused []RefusedRow

	Requests int // HTTP requests made
	Retries  int // requests that were retries of an earlier attempt
	Splits   int // 413 splits and 400 isolation splits

	EventsAccepted int
	EventsRejected int // events in permanently refused batches or pieces

	// Err is the first permanent error, else the last transient one; nil when
	// every batch was accepted.
	Err error
	// Permanent reports whether Err is permanent.
	Permanent bool
}

// OK reports whether every batch was accepted.
func (r *Report) OK() bool {
	for _, a := range r.Accepted {
		if !a {
			return false
		}
	}
	return true
}

// Level is a log line's severity (package fblog owns it: one logging
// model for every package).
type Level = fblog.Level

// Logger receives the sinks' log lines (retries, splits, permanent errors).
// Lines never hold secrets. Implementations must be safe for concurrent use.
type Logger interface {
	Logf(level Level, format string, args ...any)
}

// LoggerFunc adapts a function to Logger.
type LoggerFunc func(level Level, format string, args ...any)

// Logf calls f.
func (f LoggerFunc) Logf(level Level, format string, args ...any) { f(level, format, args...) }

type nopLogger struct{}

func (nopLogger) Logf(Level, string, ...any) {}
