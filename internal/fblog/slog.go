package fblog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Slog returns a slog.Logger writing through l, for libraries that log
// through log/slog (blobsource): a record becomes one line, its message
// followed by key=value attributes (values with spaces, quotes or = quoted).
func (l *Logger) Slog() *slog.Logger { return slog.New(&slogHandler{l: l}) }

type slogHandler struct {
	l     *Logger
	attrs []slog.Attr
	group string
}

func slogLevel(lv slog.Level) Level {
	switch {
	case lv >= slog.LevelError:
		return LevelError
	case lv >= slog.LevelWarn:
		return LevelWarn
	case lv >= slog.LevelInfo:
		return LevelInfo
	}
	return LevelDebug
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
