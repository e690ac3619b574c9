package blobinput

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nsgflow/nsgflow/blobsource/redact"
	"github.com/nsgflow/nsgflow/oms"
)

// Logger writes lines in Fluent Bit's format,
//
//	[2026/11/26 09:00:00] [ info] [input:nsgflow_blob:nsgflow_blob.0] message
//
// one Write per line. Every line passes through redact, so a SAS or key that
// slipped into an error never reaches the log. It implements oms.Logger.
type Logger struct {
	W     io.Writer
	Level oms.Level
	// Prefix names the writer, e.g. "input:nsgflow_blob:nsgflow_blob.0".
	Prefix string
	Now    func() time.Time

	mu sync.Mutex
}

var levelTags = map[oms.Level]string{
	oms.LevelDebug: "[debug]",
	oms.LevelInfo:  "[ info]",
	oms.LevelWarn:  "[ warn]",
	oms.LevelError: "[error]",
}

// Enabled reports whether lines of level l are printed.
func (l *Logger) Enabled(level oms.Level) bool { return l != nil && l.W != nil && level >= l.Level }

// Logf prints one line when level is enabled.
func (l *Logger) Logf(level oms.Level, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	msg := redact.String(fmt.Sprintf(format, args...))
	msg = strings.ReplaceAll(msg, "\n", " ")
	line := fmt.Sprintf("[%s] %s [%s] %s\n", now().Format("2006/01/02 15:04:05"), levelTags[level], l.Prefix, msg)
	l.mu.Lock()
	_, _ = io.WriteString(l.W, line)
	l.mu.Unlock()
}

// Errorf, Warnf, Infof and Debugf are shorthands.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(oms.LevelError, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.Logf(oms.LevelWarn, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.Logf(oms.LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.Logf(oms.LevelDebug, format, args...) }

// Slog returns a slog.Logger writing through l (for blobsource).
func (l *Logger) Slog() *slog.Logger { return slog.New(&slogHandler{l: l}) }

type slogHandler struct {
	l     *Logger
	attrs []slog.Attr
	group string
}

func slogLevel(lv slog.Level) oms.Level {
	switch {
	case lv >= slog.LevelError:
		return oms.LevelError
	case lv >= slog.LevelWarn:
		return oms.LevelWarn
	case lv >= slog.LevelInfo:
		return oms.LevelInfo
	}
	return oms.LevelDebug
}

func (h *slogHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return h.l.Enabled(slogLevel(lv))
}

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		b.WriteByte(' ')
		if h.group != "" {
			b.WriteString(h.group + ".")
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		v := a.Value.Resolve().String()
		if strings.ContainsAny(v, " \"=") {
			fmt.Fprintf(&b, "%q", v)
		} else {
			b.WriteString(v)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.l.Logf(slogLevel(r.Level), "%s", b.String())
	return nil
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &n
}

func (h *slogHandler) WithGroup(name string) slog.Handler {
	n := *h
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}
