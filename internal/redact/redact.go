// Package redact removes secrets from text and errors before they are
// logged: SAS query strings in URLs (azcore and net/http errors embed the
// request URL), and AccountKey, SharedAccessSignature and similar values of
// connection strings, bearer tokens and any JWT.
package redact

import (
	"errors"
	"regexp"
	"strings"
)

var (
	// A URL's query string: everything after '?' up to a space or quote.
	urlQuery = regexp.MustCompile(`(https?://[^\s"'?]*)\?[^\s"'<>]*`)
	// key=value settings (connection strings, query fragments outside URLs).
	secretSetting = regexp.MustCompile(`(?i)\b(AccountKey|SharedAccessSignature|sig|ClientSecret|client_secret|access_token|password)=[^;&\s"']*`)
	bearer        = regexp.MustCompile(`(?i)\b(Bearer|SharedKey)\s+[A-Za-z0-9._~+/:=-]+`)
	// A JWT (an Entra ID access token, a federated assertion) wherever it
	// appears, e.g. echoed bare by a server: base64url JSON header ("eyJ"),
	// payload and signature.
	jwt = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)
)

// JWTs replaces every JWT-shaped string in s with "REDACTED".
func JWTs(s string) string {
	if !strings.Contains(s, "eyJ") {
		return s
	}
	return jwt.ReplaceAllString(s, "REDACTED")
}

// String returns s with secrets replaced by "REDACTED".
func String(s string) string {
	s = JWTs(s)
	if !strings.ContainsAny(s, "?=") && !strings.Contains(s, "earer") && !strings.Contains(s, "haredKey") {
		return s
	}
	s = urlQuery.ReplaceAllString(s, "$1?REDACTED")
	s = secretSetting.ReplaceAllString(s, "$1=REDACTED")
	s = bearer.ReplaceAllString(s, "$1 REDACTED")
	return s
}

// Error wraps err so that its message is redacted; errors.Is/As (and so
// bloberror.HasCode) still see the original.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var r *redacted
	if errors.As(err, &r) && r == err {
		return err
	}
	return &redacted{err: err}
}

type redacted struct{ err error }

func (r *redacted) Error() string { return String(r.err.Error()) }
func (r *redacted) Unwrap() error { return r.err }
