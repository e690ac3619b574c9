package fbin

import (
	"io"

	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/redact"
)

// NewLogger returns an fblog.Logger writing to w lines of level and above, named
// prefix (e.g. "input:nsgflow_blob:nsgflow_blob.0"). Every line passes
// through redact, so a SAS or key that slipped into an error never reaches
// the log.
func NewLogger(w io.Writer, level fblog.Level, prefix string) *fblog.Logger {
	return &fblog.Logger{W: w, Level: level, Prefix: prefix, Redact: redact.String}
}
