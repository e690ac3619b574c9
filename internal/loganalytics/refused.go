package loganalytics

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nsgflow/nsgflow/internal/fblog"
)

// RefusedRow is one event the destination refused alone with 400 after the
// batch holding it was split down to it (see MaxRefusedRows). It is settled:
// written to the dead-letter file when one is configured, counted, and
// reported as done so that its blob range is acknowledged and it is not sent
// again at every restart.
type RefusedRow struct {
	Event     int    // index in the Events passed to Send
	Key       uint64 // its one-event batch key
	Status    int    // HTTP status (400)
	RequestID string // x-ms-client-request-id of the refusing request
	Reason    string // Azure's error code and message
}

// deadLetterLine is one line of the dead-letter file (docs/oms.md).
type deadLetterLine struct {
	Time        string          `json:"time"`
	Destination string          `json:"destination"`
	Status      int             `json:"status"`
	RequestID   string          `json:"request_id"`
	Reason      string          `json:"reason"`
	Row         json.RawMessage `json:"row"`
}

// deadLetter appends refused rows to a file, one JSON object a line. It is
// opened at the first refused row, so a file is only created when needed.
type deadLetter struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// write appends the rows and syncs the file; a row is only settled once it
// is on disk.
func (d *deadLetter) write(dest string, ev *Events, rows []RefusedRow, now time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("dead-letter file: %w", err)
		}
		d.f = f
	}
	var buf []byte
	for _, r := range rows {
		row := ev.Event(r.Event)
		if !json.Valid(row) {
			row, _ = json.Marshal(string(row))
		}
		b, err := json.Marshal(deadLetterLine{
			Time: now.UTC().Format(time.RFC3339Nano), Destination: dest, Status: r.Status,
			RequestID: r.RequestID, Reason: r.Reason, Row: row,
		})
		if err != nil {
			return fmt.Errorf("dead-letter file %s: %w", d.path, err)
		}
		buf = append(append(buf, b...), '\n')
	}
	if _, err := d.f.Write(buf); err != nil {
		return fmt.Errorf("dead-letter file %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("dead-letter file %s: %w", d.path, err)
	}
	return nil
}

func (d *deadLetter) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}

// settleRefused decides the fate of the rows of one batch refused alone. When
// everything else of the batch was accepted (ok) and something was, they are written to the
// dead-letter file (if any), logged and counted in rep.Refused, and the
// batch counts as done; if that write fails, they count as rejected and the
// batch is not done. When the batch failed anyway, permanently, the rows count
// as rejected with it; transiently, they are left to the next attempt.
// Called under the merge lock.
func (e *engine) settleRefused(ev *Events, b Batch, r *pieceResult, ok bool, rep *Report) bool {
	if len(r.refused) == 0 {
		return ok
	}
	if ok && b.Count > 1 && len(r.refused) == b.Count {
		// No row was accepted: the rows are not the problem.
		f := r.refused[0]
		r.fail(e.errorf(f.Status, f.RequestID, true, "%s: each of the %d events of a batch was refused alone (HTTP %d, request %s: %s): the destination refuses every row (does the stream or table match the schema?); not retried",
			e.api.name(), b.Count, f.Status, f.RequestID, f.Reason), true)
		e.log.Logf(fblog.LevelError, "%v", r.permErr)
		ok = false
	}
	if !ok {
		if r.rejected {
			r.evRej += len(r.refused)
		}
		return false
	}
	where := "not kept (set a dead-letter file to keep such rows)"
	if e.dead != nil {
		if err := e.dead.write(e.api.name(), ev, r.refused, e.d.Now()); err != nil {
			r.evRej += len(r.refused)
			r.fail(e.errorf(0, "", true, "%s: %d rows refused alone could not be kept, so they are not acknowledged: %v", e.api.name(), len(r.refused), err), true)
			e.log.Logf(fblog.LevelError, "%v", r.permErr)
			return false
		}
		where = "written to the dead-letter file " + e.dead.path
	}
	for _, row := range r.refused {
		e.log.Logf(fblog.LevelError, "%s: event %d refused alone (HTTP %d, request %s): %s; %s, not sent again", e.api.name(), row.Event, row.Status, row.RequestID, row.Reason, where)
	}
	rep.Refused = append(rep.Refused, r.refused...)
	return true
}

// Error codes of a 400 that is about the request, not its rows: splitting
// the batch cannot help, so it is a permanent refusal of everything.
var (
	liRequestCodes = []string{"InvalidStream", "MissingApiVersion", "InvalidApiVersion", "MissingApiVersionParameter",
		"InvalidApiVersionParameter", "UnsupportedContentEncoding", "InvalidContentEncoding", "InvalidRequest",
		"InvalidDcrImmutableId", "InvalidHeaderValue"}
	dcRequestCodes = []string{"MissingApiVersion", "InvalidApiVersion", "MissingContentType", "UnsupportedContentType",
		"MissingLogType", "InvalidLogType", "InvalidCustomerId", "InvalidHeaderValue", "InvalidRequest"}
)

// requestLevel400 reports whether a 400 body carries one of codes.
func requestLevel400(body []byte, codes []string) bool {
	code := azureCode(body)
	for _, c := range codes {
		if strings.EqualFold(code, c) {
			return true
		}
	}
	return false
}

// azureCode extracts the error code of an Azure error body, or "".
func azureCode(body []byte) string {
	var v struct {
		Error json.RawMessage `json:"error"`
		Code  string          `json:"code"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var inner struct{ Code string }
	if json.Unmarshal(v.Error, &inner) == nil && inner.Code != "" {
		return inner.Code
	}
	var code string
	if json.Unmarshal(v.Error, &code) == nil && code != "" {
		return code
	}
	return v.Code
}
