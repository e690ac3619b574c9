package flowparse

import "unicode/utf8"

// Encoder appends events as flat JSON objects in a schema's layout. It writes
// with appends into the caller's buffer: no reflection, no allocation once the
// buffer has grown. An Encoder is not safe for concurrent use.
type Encoder struct {
	Schema *Schema
	// TimeField renames the schema's time column, e.g. for the Data Collector
	// API where TimeGenerated is a reserved name. Empty keeps the schema's.
	TimeField string

	lastSec  int64
	lastDay  int64
	secText  [19]byte // "2006-01-02T15:04:05" for lastSec
	haveLast bool

	// timeKey is the escaped `"<time column>":"` prefix, rebuilt when
	// TimeField changes.
	timeKey    []byte
	timeKeyFor string

	// frag caches the JSON of the columns that are constant within a group
	// (record, rule, MAC), so a tuple only encodes its own fields.
	frag    []byte
	fragSeq uint64
	fragVer int

	asim asimCache // asim layout only
}

// groupFragment returns the cached constant-column JSON for ev's group.
func (e *Encoder) groupFragment(ev *Event) []byte {
	if ev.groupSeq != 0 && ev.groupSeq == e.fragSeq && ev.Version == e.fragVer && len(e.frag) > 0 {
		return e.frag
	}
	e.frag = e.Schema.group(e.frag[:0], ev)
	e.fragSeq, e.fragVer = ev.groupSeq, ev.Version
	return e.frag
}

// NewEncoder returns an encoder for schema s (DefaultSchema when nil).
func NewEncoder(s *Schema) *Encoder {
	if s == nil {
		s = DefaultSchema
	}
	return &Encoder{Schema: s}
}

// TimeColumn is the name the encoder gives the event time.
func (e *Encoder) TimeColumn() string {
	if e.TimeField != "" {
		return e.TimeField
	}
	return e.Schema.TimeColumn
}

// timeColumnKey returns `"<time column>":"` with the name JSON-escaped.
func (e *Encoder) timeColumnKey() []byte {
	name := e.TimeColumn()
	if e.timeKey == nil || name != e.timeKeyFor {
		e.timeKey = append(appendString(e.timeKey[:0], []byte(name)), ':', '"')
		e.timeKeyFor = name
	}
	return e.timeKey
}

// Append appends ev as one JSON object.
func (e *Encoder) Append(dst []byte, ev *Event) []byte {
	if e.Schema == nil {
		e.Schema = DefaultSchema
	}
	return e.Schema.row(e, dst, ev)
}

// appendTime writes ms as 2006-01-02T15:04:05[.000]Z. The formatted second
// is cached, and the date part is recomputed only when the day changes.
func (e *Encoder) appendTime(b []byte, ms int64, withMillis bool) []byte {
	sec := floorDiv(ms, 1000)
	if !e.haveLast || sec != e.lastSec {
		day := floorDiv(sec, 86400)
		if !e.haveLast || day != e.lastDay {
			formatDate(&e.secText, day)
			e.lastDay = day
		}
		rem := sec - day*86400
		put2(e.secText[11:], rem/3600)
		put2(e.secText[14:], rem/60%60)
		put2(e.secText[17:], rem%60)
		e.lastSec, e.haveLast = sec, true
	}
	b = append(b, e.secText[:]...)
	if withMillis {
		m := ms - sec*1000
		b = append(b, '.', byte('0'+m/100), byte('0'+m/10%10), byte('0'+m%10))
	}
	return append(b, 'Z')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func put2(dst []byte, v int64) {
	dst[0] = byte('0' + v/10)
	dst[1] = byte('0' + v%10)
}

// formatDate writes day (days since 1970-01-01) as "2006-01-02T??:??:??",
// using the days-to-civil algorithm so no time.Time is built per event.
func formatDate(dst *[19]byte, days int64) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	if y < 0 || y > 9999 {
		y = 0 // out of range for ISO 8601; the parser skips such tuples
	}
	put2(dst[0:], y/100)
	put2(dst[2:], y%100)
	dst[4] = '-'
	put2(dst[5:], m)
	dst[7] = '-'
	put2(dst[8:], d)
	dst[10] = 'T'
	dst[13] = ':'
	dst[16] = ':'
}

// appendDigits writes validated digits as a JSON number: without leading
// zeros, which JSON does not allow ("0443" is written 443, "00" is 0).
func appendDigits(b []byte, d []byte) []byte {
	for len(d) > 1 && d[0] == '0' {
		d = d[1:]
	}
	return append(b, d...)
}

func appendField(b []byte, key string, v []byte) []byte {
	b = append(b, key...)
	return appendString(b, v)
}

// needsEscape marks bytes that cannot be copied raw into a JSON string:
// controls, quote and backslash, and non-ASCII bytes, which are checked so
// that invalid UTF-8 never reaches a row.
var needsEscape = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	for i := utf8.RuneSelf; i < 256; i++ {
		t[i] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// appendString appends v as a quoted JSON string.
func appendString(b []byte, v []byte) []byte {
	b = append(b, '"')
	for i, c := range v {
		if needsEscape[c] {
			return appendEscaped(append(b, v[:i]...), v[i:])
		}
	}
	b = append(b, v...)
	return append(b, '"')
}

func appendEscaped(b []byte, v []byte) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !needsEscape[c] {
			b = append(b, c)
			continue
		}
		if c >= utf8.RuneSelf {
			// Valid UTF-8 is copied; each invalid byte becomes U+FFFD.
			r, n := utf8.DecodeRune(v[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, v[i:i+n]...)
			}
			i += n - 1
			continue
		}
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
	}
	return append(b, '"')
}

func appendMAC(b []byte, mac []byte) []byte {
	for _, c := range mac {
		switch {
		case c == '-' || c == ':' || c == '.':
			continue
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		case needsEscape[c]:
			continue
		}
		b = append(b, c)
	}
	return b
}

func appendHex64(b []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		b = append(b, hex[(v>>uint(s))&15])
	}
	return b
}

func appendMapped(b []byte, key string, v []byte, name func([]byte) string) []byte {
	b = append(b, key...)
	return appendMappedValue(b, v, name)
}

func appendMappedValue(b []byte, v []byte, name func([]byte) string) []byte {
	if n := name(v); n != "" {
		b = append(b, '"')
		b = append(b, n...)
		return append(b, '"')
	}
	return appendString(b, v)
}

func directionName(v []byte) string {
	if len(v) == 1 {
		switch v[0] {
		case 'I':
			return "Inbound"
		case 'O':
			return "Outbound"
		}
	}
	return ""
}

func decisionName(v []byte) string {
	if len(v) == 1 {
		switch v[0] {
		case 'A':
			return "Allowed"
		case 'D':
			return "Denied"
		}
	}
	return ""
}

func stateName(v []byte) string {
	if len(v) == 1 {
		switch v[0] {
		case 'B':
			return "Begin"
		case 'C':
			return "Continuing"
		case 'E':
			return "End"
		case 'D':
			return "Deny"
		}
	}
	return ""
}
