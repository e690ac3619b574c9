package loganalytics

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/nsgflow/nsgflow/internal/redact"
)

const redacted = "[REDACTED]"

// scrubber removes configured secrets from text. It is immutable after
// construction and safe for concurrent use.
type scrubber struct {
	secrets []string
}

func newScrubber(secrets ...string) *scrubber {
	s := &scrubber{}
	for _, v := range secrets {
		v = strings.TrimSpace(v)
		if len(v) >= 4 { // shorter strings would shred ordinary text
			s.secrets = append(s.secrets, v)
		}
	}
	return s
}

func (s *scrubber) scrub(text string) string {
	// Tokens from a credential are not configured secrets: a server that
	// echoes one must not put it in a log line.
	text = redact.JWTs(text)
	if s == nil {
		return text
	}
	for _, v := range s.secrets {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, redacted)
		}
	}
	return text
}

// scrubLogger formats, scrubs and forwards log lines.
type scrubLogger struct {
	l Logger
	s *scrubber
}

func (l scrubLogger) Logf(level Level, format string, args ...any) {
	l.l.Logf(level, "%s", l.s.scrub(fmt.Sprintf(format, args...)))
}

// redactURL renders u as scheme://host/path: no user info, query or fragment.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	s := v.String()
	if u.RawQuery != "" {
		s += "?" + redacted
	}
	return s
}

// redactURLString redacts a URL given as text, even when it does not parse.
func redactURLString(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return redactURL(u)
	}
	if i := strings.IndexAny(raw, "?#@"); i >= 0 {
		return raw[:i] + redacted
	}
	return raw
}
