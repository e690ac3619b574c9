// Package fbconf reads and validates settings: a ConfigGetter over a Fluent
// Bit plugin's properties (MapConfig in tests and the CLI, over flags,
// environment and settings file), and a Parser for typed keys (strings, lists, choices, durations,
// integers, sizes, booleans, secrets) that keeps the first error, phrased to
// name the key and the fix and never to quote a secret.
//
// Both plugins and the CLI parse their settings with it, so all accept
// values the same way; messages name a key as the user wrote it (Namer).
package fbconf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ConfigGetter returns a configuration value by key, "" when unset. The
// plugins implement it with Fluent Bit's property lookup (keys are
// case-insensitive there, ${VAR} already expanded); tests use MapConfig.
type ConfigGetter interface {
	Get(key string) string
}

// MapConfig is a ConfigGetter over a map (keys lower case).
type MapConfig map[string]string

// Get returns m[strings.ToLower(key)].
func (m MapConfig) Get(key string) string { return m[strings.ToLower(key)] }

// Parser reads keys from Getter and keeps the first error, which Err
// returns. Each method returns the key's value, or its default when the key
// is unset or invalid.
type Parser struct {
	Getter ConfigGetter
	// Env completes "export the variable in ..." when a secret is an
	// unexpanded ${VAR}; "" means "the environment".
	Env string
	// Namer says how messages name a key: the plugins use the key itself
	// (nil), the CLI its flag (--dcr-id for dcr_id).
	Namer func(key string) string

	err error
}

// Name is key as the user wrote it: a plugin key, or a CLI flag.
func (p *Parser) Name(key string) string {
	if p.Namer == nil {
		return key
	}
	return p.Namer(key)
}

// Set reports whether key has a value.
func (p *Parser) Set(key string) bool { return strings.TrimSpace(p.Getter.Get(key)) != "" }

// Err returns the first error met, nil if none.
func (p *Parser) Err() error { return p.err }

// Fail records an error (format and args as fmt.Errorf) unless one is
// already recorded.
func (p *Parser) Fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

// Str returns key's value without surrounding space, or def when it is
// empty.
func (p *Parser) Str(key, def string) string {
	v := strings.TrimSpace(p.Getter.Get(key))
	if v == "" {
		return def
	}
	return v
}

// Required returns key's value; when it is empty it fails with "<key> is
// not set: give <what>".
func (p *Parser) Required(key, what string) string {
	v := p.Str(key, "")
	if v == "" {
		p.Fail("%s is not set: give %s", p.Name(key), what)
	}
	return v
}

// List returns key's comma-separated values, trimmed, empty ones dropped.
func (p *Parser) List(key string) []string {
	var out []string
	for _, f := range strings.Split(p.Getter.Get(key), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Choice returns key's value in lower case when it is one of allowed (def
// when unset). The error lists the allowed values, "" left out.
func (p *Parser) Choice(key, def string, allowed ...string) string {
	v := strings.ToLower(p.Str(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	shown := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if a != "" {
			shown = append(shown, a)
		}
	}
	p.Fail("%s %q is not valid: use one of %s", p.Name(key), Clip(v), strings.Join(shown, ", "))
	return def
}

// Duration returns key's value as a Go duration, or a bare number of
// seconds (Fluent Bit style), within [min, max].
func (p *Parser) Duration(key string, def, min, max time.Duration) time.Duration {
	raw := p.Str(key, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		n, err2 := strconv.ParseFloat(raw, 64)
		if err2 != nil {
			p.Fail("%s %q is not a duration: write e.g. 20s, 1500ms or 2m", p.Name(key), Clip(raw))
			return def
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < min || d > max {
		p.Fail("%s %v is out of range: set between %v and %v", p.Name(key), d, min, max)
		return def
	}
	return d
}

// Int returns key's value as a whole number within [min, max].
func (p *Parser) Int(key string, def, min, max int) int {
	return p.whole(key, def, min, max, parseInt, "")
}

// Size returns key's value as a byte count within [min, max]; it may carry
// a K, M or G suffix (see ParseSize).
func (p *Parser) Size(key string, def, min, max int) int {
	return p.whole(key, def, min, max, ParseSize, " (K, M and G suffixes allowed)")
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 0) }

// whole reads key with parse; hint completes the "write e.g." advice.
func (p *Parser) whole(key string, def, min, max int, parse func(string) (int64, error), hint string) int {
	raw := p.Str(key, "")
	if raw == "" {
		return def
	}
	n, err := parse(raw)
	if err != nil {
		p.Fail("%s %q is not a whole number: write e.g. %d%s", p.Name(key), Clip(raw), def, hint)
		return def
	}
	if n < int64(min) || n > int64(max) {
		p.Fail("%s %d is out of range: set between %d and %d", p.Name(key), n, min, max)
		return def
	}
	return int(n)
}

// ParseSize reads a non-negative integer with an optional K, M or G suffix
// (powers of 1024, Fluent Bit style; KB, MB and GB too).
func ParseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	u = strings.TrimSuffix(u, "B")
	mul := int64(1)
	switch {
	case strings.HasSuffix(u, "K"):
		mul, u = 1<<10, u[:len(u)-1]
	case strings.HasSuffix(u, "M"):
		mul, u = 1<<20, u[:len(u)-1]
	case strings.HasSuffix(u, "G"):
		mul, u = 1<<30, u[:len(u)-1]
	}
	n, err := strconv.ParseInt(strings.TrimSpace(u), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, fmt.Errorf("size %q: %w", Clip(s), errNotSize)
	}
	return n * mul, nil
}

var errNotSize = errors.New("not a size: write a whole number, optionally followed by K, M or G")

// Bool returns key's value as on/off (true/false, yes/no, 1/0 too).
func (p *Parser) Bool(key string, def bool) bool {
	switch strings.ToLower(p.Str(key, "")) {
	case "":
		return def
	case "on", "true", "yes", "1":
		return true
	case "off", "false", "no", "0":
		return false
	}
	p.Fail("%s %q is not on or off: write on or off", p.Name(key), Clip(p.Str(key, "")))
	return def
}

// Secret returns key's value, or the trimmed content of the file named by
// fileKey; giving both is an error. key may be "" when only a file is
// accepted. Error messages never quote the value.
func (p *Parser) Secret(key, fileKey string) string {
	var v string
	if key != "" {
		v = strings.TrimSpace(p.Getter.Get(key))
	}
	path := strings.TrimSpace(p.Getter.Get(fileKey))
	if v != "" && path != "" {
		p.Fail("both %s and %s are set: keep one", p.Name(key), p.Name(fileKey))
		return ""
	}
	if strings.HasPrefix(v, "${") {
		env := p.Env
		if env == "" {
			env = "the environment"
		}
		p.Fail("%s looks like an unexpanded variable: export the variable in %s", p.Name(key), env)
		return ""
	}
	if path == "" {
		return v
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.Fail("%s %q cannot be read: %v", p.Name(fileKey), Clip(path), err)
		return ""
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		p.Fail("%s %q is empty", p.Name(fileKey), Clip(path))
	}
	return s
}

// Clip shortens s to 80 bytes plus "..." for quoting in messages.
func Clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
