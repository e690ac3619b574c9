package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
	declared   map[string]struct{} // nil keeps every field
	timeColumn string              // copied to TimeGenerated when that is missing
	fillTime   bool                // add TimeGenerated (ingestion time) when missing
	now        []byte              // ingestion time as a JSON string
	// Data Collector
	dataCollector bool
	timeField     string // time-generated-field: must exist and hold RFC 3339
	maxField      int
	errCode       string // code for malformed bodies
}

// rowCounts are what one request's rows did.
type rowCounts struct {
	rows      int
	dropped   int // undeclared fields dropped (Logs Ingestion)
	truncated int // field values cut to the field limit
	filled    int // rows that got TimeGenerated from the emulator
}

var iterPool = jsoniter.ConfigFastest

// encodeRows checks body (a JSON array of objects; for the Data Collector
// API also one object) and appends one NDJSON line per row to out.
func encodeRows(body []byte, r *rowRules, out []byte) ([]byte, rowCounts, *apiError) {
	var n rowCounts
	it := iterPool.BorrowIterator(body)
	defer iterPool.ReturnIterator(it)
	e := &rowEncoder{r: r, out: out, n: &n}
	e.field = e.onField
	switch it.WhatIsNext() {
	case jsoniter.ArrayValue:
		it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
			if it.WhatIsNext() != jsoniter.ObjectValue {
				if e.err == nil {
					e.err = badRequest(r.errCode, "row %d is not a JSON object", n.rows)
				}
				return false
			}
			return e.object(it)
		})
	case jsoniter.ObjectValue:
		if !r.dataCollector {
			return out, n, badRequest(r.errCode, "the body must be a JSON array of objects")
		}
		e.object(it)
	default:
		if it.Error != nil && it.Error != io.EOF {
			return out, n, badRequest(r.errCode, "the body is not valid JSON")
		}
		if r.dataCollector {
			return out, n, badRequest(r.errCode, "the body must be a JSON array of objects or one object")
		}
		return out, n, badRequest(r.errCode, "the body must be a JSON array of objects")
	}
	if e.err != nil {
		return out, n, e.err
	}
	if it.Error != nil && it.Error != io.EOF {
		return out, n, badRequest(r.errCode, "the body is not valid JSON: %s", shortErr(it.Error))
	}
	// Anything but white space after the value is malformed.
	if it.WhatIsNext() != jsoniter.InvalidValue || it.Error != io.EOF {
		return out, n, badRequest(r.errCode, "the body has data after the JSON value")
	}
	return e.out, n, nil
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
	r     *rowRules
	out   []byte
	n     *rowCounts
	err   *apiError
	field func(*jsoniter.Iterator, string) bool

	// per row
	cols               int
	hasTime            bool
	timeStart, timeEnd int // raw value of rowRules.timeColumn in out
	timeFieldSeen      bool
	lineStart          int
}

func (e *rowEncoder) object(it *jsoniter.Iterator) bool {
	e.lineStart = len(e.out)
	e.out = append(e.out, e.r.prefix...)
	e.cols, e.hasTime, e.timeFieldSeen = 0, false, false
	e.timeStart, e.timeEnd = -1, -1
	if !it.ReadObjectCB(e.field) {
		if e.err == nil {
			e.err = badRequest(e.r.errCode, "row %d is not a valid JSON object", e.n.rows)
		}
		return false
	}
	if it.Error != nil && it.Error != io.EOF {
		e.err = badRequest(e.r.errCode, "row %d is not valid JSON", e.n.rows)
		return false
	}
	if e.r.dataCollector && e.r.timeField != "" && !e.timeFieldSeen {
		e.err = badRequest("InvalidTimeGeneratedField",
			"row %d has no field %q named by time-generated-field", e.n.rows, e.r.timeField)
		return false
	}
	if e.r.fillTime && !e.hasTime {
		e.out = append(e.out, `,"TimeGenerated":`...)
		if e.timeStart >= 0 {
			e.out = append(e.out, e.out[e.timeStart:e.timeEnd]...)
		} else {
			e.out = append(e.out, e.r.now...)
		}
		e.n.filled++
	}
	e.out = append(e.out, '}', '\n')
	e.n.rows++
	return true
}

func (e *rowEncoder) onField(it *jsoniter.Iterator, key string) bool {
	r := e.r
	vt := it.WhatIsNext()
	if r.dataCollector {
		e.cols++
		switch {
		case len(key) == 0:
			e.err = badRequest(r.errCode, "row %d has an empty field name", e.n.rows)
		case len(key) > dcMaxColumnName:
			e.err = badRequest(r.errCode, "row %d: field name %.60q is longer than %d characters", e.n.rows, key, dcMaxColumnName)
		case isReserved(key):
			e.err = badRequest(r.errCode, "row %d: field name %q is reserved", e.n.rows, key)
		case e.cols > dcMaxColumns:
			e.err = badRequest(r.errCode, "row %d has more than %d fields", e.n.rows, dcMaxColumns)
		case vt == jsoniter.ObjectValue || vt == jsoniter.ArrayValue:
			e.err = badRequest(r.errCode, "row %d: field %q is not a flat value", e.n.rows, key)
		}
		if e.err != nil {
			return false
		}
	} else if r.declared != nil {
		if _, ok := r.declared[key]; !ok {
			it.Skip()
			e.n.dropped++
			return it.Error == nil
		}
	}
	if vt == jsoniter.InvalidValue {
		e.err = badRequest(r.errCode, "row %d: field %q has no valid value", e.n.rows, key)
		return false
	}
	e.out = append(e.out, ',')
	e.out = appendQuoted(e.out, key)
	e.out = append(e.out, ':')
	start := len(e.out)
	e.out = it.SkipAndAppendBytes(e.out)
	if it.Error != nil && it.Error != io.EOF {
		e.err = badRequest(r.errCode, "row %d: field %q is not valid JSON", e.n.rows, key)
		return false
	}
	if vt == jsoniter.StringValue && len(e.out)-start-2 > r.maxField {
		e.truncate(start)
		if e.err != nil {
			return false
		}
	}
	if r.dataCollector {
		if key == r.timeField {
			e.timeFieldSeen = true
			if !validTime(e.out[start:]) {
				e.err = badRequest("InvalidTimeGeneratedField",
					"row %d: field %q named by time-generated-field does not hold an ISO 8601 time", e.n.rows, key)
				return false
			}
		}
		return true
	}
	if key == "TimeGenerated" {
		e.hasTime = true
	} else if key == r.timeColumn {
		e.timeStart, e.timeEnd = start, len(e.out)
	}
	return true
}

// truncate cuts the JSON string at out[start:] to maxField bytes of text, as
// Azure truncates long values.
func (e *rowEncoder) truncate(start int) {
	var s string
	if err := json.Unmarshal(e.out[start:], &s); err != nil {
		e.err = badRequest(e.r.errCode, "row %d: a string value is not valid JSON", e.n.rows)
		return
	}
	if len(s) <= e.r.maxField {
		return
	}
	cut := e.r.maxField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	e.out = appendQuoted(e.out[:start], s[:cut])
	e.n.truncated++
}

var reservedNames = []string{"tenant", "TimeGenerated", "RawData"}

func isReserved(key string) bool {
	for _, r := range reservedNames {
		if strings.EqualFold(key, r) {
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
