package pipeline

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nsgflow/nsgflow/oms"
)

// Level is a log severity; the plugin's log_level sets the lowest printed.
type Level = oms.Level

// ParseLevel reads error, warn (or warning), info or debug.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return oms.LevelError, nil
	case "warn", "warning":
		return oms.LevelWarn, nil
	case "", "info":
		return oms.LevelInfo, nil
	case "debug":
		return oms.LevelDebug, nil
	}
	return oms.LevelInfo, fmt.Errorf("log level %q unknown: use error, warn, info or debug", s)
}

// Logger writes lines in Fluent Bit's format,
//
//	[2026/11/26 09:00:00] [ info] [output:nsgflow:nsgflow.0] message
//
// one Write per line, so lines from concurrent flushes do not interleave. It
// implements oms.Logger.
type Logger struct {
	W     io.Writer
	Level Level
	// Name is the instance name, e.g. nsgflow.0.
	Name string
	Now  func() time.Time

	mu sync.Mutex
}

var levelTags = map[Level]string{
	oms.LevelDebug: "[debug]",
	oms.LevelInfo:  "[ info]",
	oms.LevelWarn:  "[ warn]",
	oms.LevelError: "[error]",
}

// Enabled reports whether lines of level l are printed.
func (l *Logger) Enabled(level Level) bool { return l != nil && level >= l.Level }

// Logf prints one line when level is enabled.
func (l *Logger) Logf(level Level, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	msg := fmt.Sprintf(format, args...)
	msg = strings.ReplaceAll(msg, "\n", " ")
	line := fmt.Sprintf("[%s] %s [output:nsgflow:%s] %s\n", now().Format("2006/01/02 15:04:05"), levelTags[level], l.Name, msg)
	l.mu.Lock()
	_, _ = io.WriteString(l.W, line)
	l.mu.Unlock()
}

// Errorf, Warnf, Infof and Debugf are shorthands.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(oms.LevelError, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.Logf(oms.LevelWarn, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.Logf(oms.LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.Logf(oms.LevelDebug, format, args...) }
