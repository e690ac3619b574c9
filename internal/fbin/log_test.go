package fbin

import (
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/fblog"
)

// TestNewLoggerRedacts: the input's logger never prints a SAS or key that
// slipped into a message, and keeps its Fluent Bit-style prefix.
func TestNewLoggerRedacts(t *testing.T) {
	tests := []struct {
		name, msg, keep string
	}{
		{"sas url", `GET "http://127.0.0.1:10000/devstoreaccount1/c/b?sv=2023&sig=abcSECRETdef": 403`, "devstoreaccount1/c/b?REDACTED"},
		{"connection string", "bad setting AccountName=a;AccountKey=KEYSECRET;", "AccountKey=REDACTED"},
		{"plain", "reading 3 blobs", "reading 3 blobs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			l := NewLogger(&b, fblog.LevelInfo, "input:nsgflow_blob:nsgflow_blob.0")
			l.Debugf("hidden %s", tc.msg)
			l.Errorf("%s", tc.msg)
			got := b.String()
			if strings.Contains(got, "SECRET") || strings.Contains(got, "hidden") {
				t.Errorf("line %q leaks a secret or a debug line", got)
			}
			if !strings.Contains(got, "] [error] [input:nsgflow_blob:nsgflow_blob.0] ") || !strings.Contains(got, tc.keep) {
				t.Errorf("line %q lacks the prefix or %q", got, tc.keep)
			}
		})
	}
}
