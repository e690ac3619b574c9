package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"
)

// Names of the API a row came through, as written in the "_api" field.
const (
	APILogsIngestion = "logs-ingestion"
	APIDataCollector = "data-collector"
)

// Data Collector API limits (reference: azure.md section 5).
const (
	dcMaxBody       = 30 * 1024 * 1024
	dcMaxField      = 32 * 1024
	dcMaxColumns    = 500
	dcMaxColumnName = 45
	dcMaxLogType    = 100
)

// Logs Ingestion API limits (reference: azure.md section 4).
const (
	liMaxBody  = 1024 * 1024
	liMaxField = 64 * 1024
)

// apiError is a refusal: the status and the Azure-style error code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: 400, code: code, msg: fmt.Sprintf(format, args...)}
}

// rowRules says how one request's rows are checked and written.
type rowRules struct {
	prefix []byte // `{"_table":...,"_api":...,"_request_id":...` (no closing brace)
	// Logs Ingestion
	declared   map[string]colType // nil keeps every field
	drop       map[string]bool    // declared, then projected away (not stored)
	strict     bool               // a value that does not fit its type refuses the request
	table      string             // for strict refusals
	timeColumn string             // copied to TimeGenerated when that is missing
	fillTime   bool               // add TimeGenerated (ingestion time) when missing
	now        []byte             // ingestion time as a JSON string
	// Data Collector
	dataCollector bool
	timeField     string // time-generated-field: must exist and hold RFC 3339
	maxField      int
	errCode       string // code for malformed bodies
	// refuse: a row holding these bytes is refused with 400 errCode
	// (Faults.RefuseRowsWith).
	refuse []byte
}

// rowCounts are what one request's rows did.
type rowCounts struct {
	rows      int
	dropped   int // undeclared fields dropped (Logs Ingestion)
	truncated int // field values cut to the field limit
	filled    int // rows that got TimeGenerated from the emulator
	// mismatched lists the columns of values that do not fit their type,
	// one entry per value (nil in the common case).
	mismatched []string
}

var iterPool = jsoniter.ConfigFastest

// encodeRows checks body (a JSON array of objects; for the Data Collector
// API also one object) and appends one NDJSON line per row to out.
//
// The array and object structure is walked here so keys are compared and
// copied without allocating; string values are scanned here too, and every
// other value (numbers, literals, nested objects and arrays) is validated
// and copied by json-iterator's Skip.
func encodeRows(body []byte, r *rowRules, out []byte) ([]byte, rowCounts, *apiError) {
	it := iterPool.BorrowIterator(nil)
	defer iterPool.ReturnIterator(it)
	e := &rowEncoder{r: r, b: body, out: out, it: it}
	err := e.top()
	return e.out, e.n, err
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// rowEncoder holds the state of one request while its rows are walked.
type rowEncoder struct {
	r       *rowRules
	b       []byte
	p       int
	out     []byte
	scratch []byte
	it      *jsoniter.Iterator
	n       rowCounts

	// per row
	cols               int
	hasTime            bool
	timeFieldSeen      bool
	timeStart, timeEnd int // raw value of rowRules.timeColumn in out
}

func (e *rowEncoder) ws() {
	for e.p < len(e.b) {
		switch e.b[e.p] {
		case ' ', '\t', '\n', '\r':
			e.p++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (e *rowEncoder) peek() byte {
	e.ws()
	if e.p >= len(e.b) {
		return 0
	}
	return e.b[e.p]
}

func (e *rowEncoder) malformed(format string, args ...any) *apiError {
	return badRequest(e.r.errCode, format, args...)
}

func (e *rowEncoder) top() *apiError {
	switch e.peek() {
	case '[':
		e.p++
		if e.peek() == ']' {
			e.p++
			break
		}
		for {
			if e.peek() != '{' {
				return e.malformed("row %d is not a JSON object", e.n.rows)
			}
			if err := e.object(); err != nil {
				return err
			}
			c := e.peek()
			e.p++
			if c == ']' {
				break
			}
			if c != ',' {
				return e.malformed("the body is not valid JSON: expected , or ] after row %d", e.n.rows)
			}
		}
	case '{':
		if !e.r.dataCollector {
			return e.malformed("the body must be a JSON array of objects")
		}
		if err := e.object(); err != nil {
			return err
		}
	case 0:
		return e.malformed("the body is empty")
	default:
		if e.r.dataCollector {
			return e.malformed("the body must be a JSON array of objects or one object")
		}
		return e.malformed("the body must be a JSON array of objects")
	}
	if e.peek() != 0 {
		return e.malformed("the body has data after the JSON value")
	}
	return nil
}

// str scans the JSON string starting at e.p (a quote) and returns its raw
// bytes (quotes included) and whether it holds escapes.
func (e *rowEncoder) str() ([]byte, bool, bool) {
	start := e.p
	esc := false
	for i := start + 1; i < len(e.b); i++ {
		switch c := e.b[i]; {
		case c == '"':
			e.p = i + 1
			return e.b[start:e.p], esc, true
		case c == '\\':
			esc = true
			i++
		case c < 0x20:
			return nil, false, false
		}
	}
	return nil, false, false
}

// unescape decodes a JSON string with escapes (rare in field names), or
// returns nil.
func unescape(raw []byte) []byte {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil
	}
	return []byte(s)
}

// skipValue copies the value at e.p onto dst (validated by json-iterator).
func (e *rowEncoder) skipValue(dst []byte) ([]byte, bool) {
	if dst == nil { // json-iterator takes a nil buffer for "not capturing"
		dst = make([]byte, 0, 64)
	}
	before := len(dst)
	e.it.ResetBytes(e.b[e.p:])
	dst = e.it.SkipAndAppendBytes(dst)
	if e.it.Error != nil && e.it.Error != io.EOF {
		return dst, false
	}
	e.p += len(dst) - before
	return dst, true
}

func (e *rowEncoder) object() *apiError {
	r := e.r
	row := e.n.rows
	rowStart := e.p
	e.p++ // '{'
	e.out = append(e.out, r.prefix...)
	e.cols, e.hasTime, e.timeFieldSeen = 0, false, false
	e.timeStart, e.timeEnd = -1, -1
	if e.peek() == '}' {
		e.p++
	} else {
		for {
			if e.peek() != '"' {
				return e.malformed("row %d is not a valid JSON object", row)
			}
			rawKey, esc, ok := e.str()
			if !ok {
				return e.malformed("row %d has an invalid field name", row)
			}
			key := rawKey[1 : len(rawKey)-1]
			if esc {
				if key = unescape(rawKey); key == nil {
					return e.malformed("row %d has an invalid field name", row)
				}
			}
			if e.peek() != ':' {
				return e.malformed("row %d is not valid JSON: expected : after a field name", row)
			}
			e.p++
			if err := e.field(key, rawKey, esc, row); err != nil {
				return err
			}
			c := e.peek()
			e.p++
			if c == '}' {
				break
			}
			if c != ',' {
				return e.malformed("row %d is not valid JSON: expected , or } after a field", row)
			}
		}
	}
	if len(r.refuse) > 0 && bytes.Contains(e.b[rowStart:e.p], r.refuse) {
		return e.malformed("row %d holds a value this destination refuses (injected fault)", row)
	}
	if r.dataCollector && r.timeField != "" && !e.timeFieldSeen {
		return badRequest("InvalidTimeGeneratedField",
			"row %d has no field %q named by time-generated-field", row, r.timeField)
	}
	if r.fillTime && !e.hasTime {
		e.out = append(e.out, `,"TimeGenerated":`...)
		if e.timeStart >= 0 {
			e.out = append(e.out, e.out[e.timeStart:e.timeEnd]...)
		} else {
			e.out = append(e.out, r.now...)
		}
		e.n.filled++
	}
	e.out = append(e.out, '}', '\n')
	e.n.rows++
	return nil
}

// field checks one field (the value starts after e.p's white space) and
// copies it to the line unless it is dropped.
func (e *rowEncoder) field(key, rawKey []byte, esc bool, row int) *apiError {
	r := e.r
	c := e.peek()
	if r.dataCollector {
		e.cols++
		switch {
		case len(key) == 0:
			return e.malformed("row %d has an empty field name", row)
		case len(key) > dcMaxColumnName:
			return e.malformed("row %d: field name %.60q is longer than %d characters", row, key, dcMaxColumnName)
		case isReserved(key):
			return e.malformed("row %d: field name %q is reserved", row, key)
		case e.cols > dcMaxColumns:
			return e.malformed("row %d has more than %d fields", row, dcMaxColumns)
		case c == '{' || c == '[':
			return e.malformed("row %d: field %q is not a flat value", row, key)
		}
	}
	var ct colType
	if !r.dataCollector && r.declared != nil {
		var ok bool
		if ct, ok = r.declared[string(key)]; !ok {
			valid := false
			if c == '"' {
				_, _, valid = e.str()
			} else {
				e.scratch, valid = e.skipValue(e.scratch[:0])
			}
			if !valid {
				return e.malformed("row %d: field %q is not valid JSON", row, key)
			}
			e.n.dropped++
			return nil
		}
		if r.drop[string(key)] {
			var valid bool
			e.scratch, valid = e.skipValue(e.scratch[:0])
			if !valid || len(e.scratch) == 0 {
				return e.malformed("row %d: field %q is not valid JSON", row, key)
			}
			if ct != colAny && !ct.fits(e.scratch) {
				return badRequest("InvalidPayload", "row %d: the value of field %s does not fit its declared type %s", row, key, ct)
			}
			return nil
		}
	}
	e.out = append(e.out, ',')
	if esc {
		e.out = appendQuoted(e.out, string(key))
	} else {
		e.out = append(e.out, rawKey...)
	}
	e.out = append(e.out, ':')
	start := len(e.out)
	isStr := c == '"'
	if isStr {
		raw, _, ok := e.str()
		if !ok {
			return e.malformed("row %d: field %q is not a valid JSON string", row, key)
		}
		e.out = append(e.out, raw...)
	} else {
		var ok bool
		if e.out, ok = e.skipValue(e.out); !ok || len(e.out) == start {
			return e.malformed("row %d: field %q is not valid JSON", row, key)
		}
	}
	if isStr && len(e.out)-start-2 > r.maxField {
		if err := e.truncate(start, row); err != nil {
			return err
		}
	}
	if r.dataCollector {
		if r.timeField != "" && string(key) == r.timeField {
			e.timeFieldSeen = true
			if !validTime(e.out[start:]) {
				return badRequest("InvalidTimeGeneratedField",
					"row %d: field %q named by time-generated-field does not hold an ISO 8601 time", row, key)
			}
		}
		return nil
	}
	if ct != colAny && !ct.fits(e.out[start:]) {
		if r.strict {
			return badRequest("InvalidPayload", "row %d: the value of field %s does not fit type %s of column %s in table %s",
				row, key, ct, key, r.table)
		}
		e.n.mismatched = append(e.n.mismatched, string(key))
	}
	if string(key) == "TimeGenerated" {
		e.hasTime = true
	} else if r.timeColumn != "" && string(key) == r.timeColumn {
		e.timeStart, e.timeEnd = start, len(e.out)
	}
	return nil
}

// truncate cuts the JSON string at out[start:] to maxField bytes of text, as
// Azure truncates long values.
func (e *rowEncoder) truncate(start, row int) *apiError {
	var s string
	if err := json.Unmarshal(e.out[start:], &s); err != nil {
		return e.malformed("row %d: a string value is not valid JSON", row)
	}
	if len(s) <= e.r.maxField {
		return nil
	}
	cut := e.r.maxField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	e.out = appendQuoted(e.out[:start], s[:cut])
	e.n.truncated++
	return nil
}

var reservedNames = []string{"tenant", "TimeGenerated", "RawData"}

func isReserved(key []byte) bool {
	for _, r := range reservedNames {
		if bytes.EqualFold(key, []byte(r)) {
			return true
		}
	}
	return false
}

// validTime reports whether raw is a JSON string holding an RFC 3339 time
// (the ISO 8601 profile Azure documents for time-generated-field).
func validTime(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, string(raw[1:len(raw)-1]))
	return err == nil
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
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
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
