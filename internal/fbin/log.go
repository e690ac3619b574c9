package fbin

import (
	"io"

	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
	"github.com/nsgflow/nsgflow/internal/redact"
)

// Logger writes lines in Fluent Bit's format (see package fblog),
//
//	[2026/11/26 09:00:00] [ info] [input:nsgflow_blob:nsgflow_blob.0] message
//
// It implements loganalytics.Logger; Slog serves blobsource. Build it with NewLogger
// so that every line passes through redact.
type Logger = fblog.Logger

// NewLogger returns a Logger writing to w lines of level and above, named
// prefix (e.g. "input:nsgflow_blob:nsgflow_blob.0"). Every line passes
// through redact, so a SAS or key that slipped into an error never reaches
// the log.
func NewLogger(w io.Writer, level loganalytics.Level, prefix string) *Logger {
	return &Logger{W: w, Level: level, Prefix: prefix, Redact: redact.String}
}
