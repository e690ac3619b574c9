package fbout

import (
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

// Level is a log severity; the plugin's nsgflow_log_level sets the lowest
// printed.
type Level = loganalytics.Level

// ParseLevel reads error, warn (or warning), info or debug.
func ParseLevel(s string) (Level, error) { return fblog.ParseLevel(s) }

// Logger writes lines in Fluent Bit's format (see package fblog); the
// output plugin's prefix is "output:nsgflow:" + the instance name (see
// LogPrefix). It implements loganalytics.Logger.
type Logger = fblog.Logger

// LogPrefix is the Logger prefix of the output instance named name, e.g.
// nsgflow.0.
func LogPrefix(name string) string { return "output:nsgflow:" + name }
