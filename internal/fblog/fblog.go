// Package fblog writes a Go plugin's log lines in Fluent Bit's own format,
//
//	[2026/11/26 09:00:00] [ info] [output:nsgflow:nsgflow.0] message
//
// with the plugin's own level setting (Fluent Bit keeps log_level for its
// core), so the plugins' lines read like the rest of Fluent Bit's log.
// Logger is the one logger of every package: it implements the small
// Logf interface the delivery sinks take (loganalytics.Logger) and, through
// Slog, log/slog (the blob reader).
package fblog

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Level is a log line's severity.
type Level int8

// Log levels, in increasing severity.
const (
	LevelDebug Level = iota
	LevelInfo
	LevelWarn
	LevelError
)

func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return fmt.Sprintf("Level(%d)", int8(l))
}

// ParseLevel reads error, warn (or warning), info or debug; "" is info.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return LevelError, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "", "info":
		return LevelInfo, nil
	case "debug":
		return LevelDebug, nil
	}
	return LevelInfo, fmt.Errorf("log level %q unknown: use error, warn, info or debug", s)
}

// Logger writes one line per call, with one Write per line so that lines
// from concurrent goroutines do not interleave. A nil Logger, or one without
// W, prints nothing. Set the fields before first use.
type Logger struct {
	W     io.Writer
	Level Level
	// Prefix names the writer inside the third brackets, e.g.
	// "output:nsgflow:nsgflow.0" or "input:nsgflow_blob:nsgflow_blob.0".
	Prefix string
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Redact, when set, rewrites every message before it is written, e.g.
	// to remove secrets that slipped into an error.
	Redact func(string) string

	mu sync.Mutex
}

var levelTags = map[Level]string{
	LevelDebug: "[debug]",
	LevelInfo:  "[ info]",
	LevelWarn:  "[ warn]",
	LevelError: "[error]",
}

// Enabled reports whether lines of level are printed.
func (l *Logger) Enabled(level Level) bool { return l != nil && l.W != nil && level >= l.Level }

// Logf prints one line when level is enabled; newlines in the message
// become spaces.
func (l *Logger) Logf(level Level, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	msg := fmt.Sprintf(format, args...)
	if l.Redact != nil {
		msg = l.Redact(msg)
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	line := fmt.Sprintf("[%s] %s [%s] %s\n", now().Format("2006/01/02 15:04:05"), levelTags[level], l.Prefix, msg)
	l.mu.Lock()
	_, _ = io.WriteString(l.W, line)
	l.mu.Unlock()
}

// Errorf, Warnf, Infof and Debugf are shorthands.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(LevelError, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.Logf(LevelWarn, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.Logf(LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.Logf(LevelDebug, format, args...) }
