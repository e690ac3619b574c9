package loganalytics

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsgflow/nsgflow/internal/fblog"
)

// outcomeKind classifies one attempt.
type outcomeKind uint8

const (
	outAccepted  outcomeKind = iota
	outTransient             // retry after backoff (or retryAfter)
	outSplit                 // body too large: split in halves
	outPermanent             // do not retry
	outBadRows               // 400 about the rows: split to isolate the refused ones
)

type outcome struct {
	kind       outcomeKind
	retryAfter time.Duration // >0: server asked for this wait
	err        error
	reason     string // outBadRows: Azure's code and message
	status     int
	reqID      string
}

// MaxRefusedRows is how many rows of one batch may be refused alone (400
// after isolation) before the batch is taken as refused as a whole: a
// destination that refuses every row (the stream or table does not match the
// schema) stops loudly after about 3 × MaxRefusedRows requests instead of
// isolating, one by one, rows that are all bad.
const MaxRefusedRows = 10

// api is what differs between the two destinations.
type api interface {
	// newRequest builds one attempt's request. inner is the JSON array
	// without its brackets (see arrayBody), gz the gzip form of the array or nil.
	newRequest(ctx context.Context, inner, gz []byte, b Batch, reqID string) (*http.Request, error)
	// classify maps a response to an outcome; attempt counts from 0.
	classify(status int, h http.Header, respBody []byte, reqID string, attempt int, prev []int) outcome
	// target is the redacted URL for messages.
	target() string
	// name is the destination's short name for messages.
	name() string
}

// engine is the retrying, splitting, concurrent sender both sinks share.
type engine struct {
	d      Delivery
	api    api
	cut    cutter
	scrub  *scrubber
	log    Logger
	gzip   int         // level, 0 = off
	dead   *deadLetter // nil: refused rows are only logged and counted
	closed chan struct{}
}

func newEngine(d Delivery, a api, c cutter, s *scrubber, gzipLevel int) *engine {
	e := &engine{d: d, api: a, cut: c, scrub: s, log: scrubLogger{d.Logger, s}, gzip: gzipLevel}
	if d.DeadLetterFile != "" {
		e.dead = &deadLetter{path: d.DeadLetterFile}
	}
	return e
}

// close releases idle connections and closes the dead-letter file.
func (e *engine) close() error {
	e.d.HTTPClient.CloseIdleConnections()
	if e.dead != nil {
		return e.dead.close()
	}
	return nil
}

func defaultClient(conc int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.MaxIdleConnsPerHost = conc
	t.ForceAttemptHTTP2 = true
	return &http.Client{Transport: t}
}

// SendError is the error a Report carries: it names the destination, the
// request ID, the HTTP status (0 for a transport error) and what to fix. Its
// text never holds secrets.
type SendError struct {
	Status    int
	RequestID string
	Permanent bool
	msg       string
}

func (e *SendError) Error() string { return e.msg }

func (e *engine) errorf(status int, reqID string, permanent bool, format string, args ...any) *SendError {
	return &SendError{Status: status, RequestID: reqID, Permanent: permanent, msg: e.scrub.scrub(fmt.Sprintf(format, args...))}
}

// pieceResult accumulates what happened to one batch and its pieces.
type pieceResult struct {
	accepted  []Batch // accepted pieces
	splitKeys []uint64
	requests  int
	retries   int
	splits    int
	evAcc     int
	evRej     int
	rejected  bool
	permErr   error
	lastErr   error
	// refused are the rows isolated by 400 splits, settled (dead-lettered and
	// counted) only when the whole batch is.
	refused []RefusedRow
	// wholesale is shared by the batches of one Send: set once a batch
	// reached MaxRefusedRows, so the other batches' 400s stop at once.
	wholesale *atomic.Bool
}

func (r *pieceResult) fail(err error, permanent bool) {
	if permanent {
		r.rejected = true
		if r.permErr == nil {
			r.permErr = err
		}
		return
	}
	r.lastErr = err
}

func (e *engine) send(ctx context.Context, ev *Events, batches []Batch) Report {
	n := len(batches)
	rep := Report{Accepted: make([]bool, n), Rejected: make([]bool, n)}
	if n == 0 {
		return rep
	}
	var mu sync.Mutex
	var wholesale atomic.Bool
	merge := func(i int, b Batch, r *pieceResult, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		ok = e.settleRefused(ev, b, r, ok, &rep)
		rep.Requests += r.requests
		rep.Retries += r.retries
		rep.Splits += r.splits
		rep.EventsAccepted += r.evAcc
		rep.EventsRejected += r.evRej
		rep.Rejected[i] = r.rejected
		if ok {
			rep.Accepted[i] = true
			rep.Remember = append(rep.Remember, b.Key)
		} else {
			rep.Parts = append(rep.Parts, r.accepted...)
			for _, p := range r.accepted {
				rep.Remember = append(rep.Remember, p.Key)
			}
			rep.Remember = append(rep.Remember, r.splitKeys...)
		}
		switch {
		case r.permErr != nil && !rep.Permanent:
			rep.Err, rep.Permanent = r.permErr, true
		case r.lastErr != nil && !rep.Permanent:
			rep.Err = r.lastErr
		}
	}
	workers := min(e.d.Concurrency, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := pieceResult{wholesale: &wholesale}
				ok := e.piece(ctx, ev, batches[i], &r)
				merge(i, batches[i], &r, ok)
			}
		}()
	}
	for i := range batches {
		next <- i
	}
	close(next)
	wg.Wait()
	return rep
}

// piece delivers b, splitting it on 413, and reports whether all of it was
// accepted.
func (e *engine) piece(ctx context.Context, ev *Events, b Batch, r *pieceResult) bool {
	if b.Reason != "" {
		r.evRej += b.Count
		r.fail(e.errorf(0, "", true, "%s: event %d not sent: %s", e.api.name(), b.First, b.Reason), true)
		e.log.Logf(fblog.LevelError, "%s: event %d rejected: %s", e.api.name(), b.First, b.Reason)
		return false
	}
	out := e.attempts(ctx, ev, b, r)
	switch out.kind {
	case outAccepted:
		r.evAcc += b.Count
		r.accepted = append(r.accepted, b)
		return true
	case outSplit:
		if b.Count == 1 {
			r.evRej++
			r.fail(e.errorf(413, "", true, "%s: event %d refused as too large even alone (%d-byte body): %v", e.api.name(), b.First, b.Bytes, out.err), true)
			return false
		}
		r.splits++
		r.splitKeys = append(r.splitKeys, b.Key^SplitMark)
		l, rt := halves(ev, b)
		e.log.Logf(fblog.LevelWarn, "%s: body of %d events (%d bytes) too large: splitting into %d + %d events", e.api.name(), b.Count, b.Bytes, l.Count, rt.Count)
		okL := e.piece(ctx, ev, l, r)
		okR := e.piece(ctx, ev, rt, r)
		return okL && okR
	case outBadRows:
		if b.Count == 1 {
			// Refused alone: settled with the whole batch (settleRefused).
			r.refused = append(r.refused, RefusedRow{Event: b.First, Key: b.Key, Status: out.status, RequestID: out.reqID, Reason: e.scrub.scrub(out.reason)})
			return true
		}
		if len(r.refused) >= MaxRefusedRows || r.wholesale.Load() {
			r.wholesale.Store(true)
			r.evRej += b.Count
			err := e.errorf(out.status, out.reqID, true, "%v; %d rows were refused one by one before: the destination refuses every row (does the stream or table match the schema?); not retried", out.err, MaxRefusedRows)
			r.fail(err, true)
			e.log.Logf(fblog.LevelError, "%v", err)
			return false
		}
		r.splits++
		r.splitKeys = append(r.splitKeys, b.Key^SplitMark)
		l, rt := halves(ev, b)
		e.log.Logf(fblog.LevelWarn, "%v: isolating the refused rows: splitting %d events into %d + %d", out.err, b.Count, l.Count, rt.Count)
		okL := e.piece(ctx, ev, l, r)
		okR := e.piece(ctx, ev, rt, r)
		return okL && okR
	case outPermanent:
		r.evRej += b.Count
		r.fail(out.err, true)
		e.log.Logf(fblog.LevelError, "%v", out.err)
		return false
	default:
		r.fail(out.err, false)
		return false
	}
}

// attempts sends one body until it is accepted, must be split, fails
// permanently, or retries run out.
func (e *engine) attempts(ctx context.Context, ev *Events, b Batch, r *pieceResult) outcome {
	body := ev.inner(b)
	var gz []byte
	if e.gzip > 0 {
		buf, err := compressArray(body, e.gzip)
		if err != nil {
			return outcome{kind: outPermanent, err: e.errorf(0, "", true, "%s: gzip: %v", e.api.name(), err)}
		}
		defer putBuffer(buf)
		gz = buf.Bytes()
	}
	var prev []int // statuses seen, for classify
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return outcome{kind: outTransient, err: e.errorf(0, "", false, "%s: %d events not sent: %v before the attempt", e.api.name(), b.Count, err)}
		}
		reqID := newRequestID()
		out := e.attempt(ctx, body, gz, b, reqID, attempt, prev)
		r.requests++
		if attempt > 0 {
			r.retries++
		}
		if se, ok := out.err.(*SendError); ok {
			prev = append(prev, se.Status)
		}
		if out.kind != outTransient {
			return out
		}
		if attempt >= e.d.MaxRetries {
			return outcome{kind: outTransient, err: e.errorf(errStatus(out.err), reqIDOf(out.err), false, "%v (gave up after %d attempts)", out.err, attempt+1)}
		}
		wait := out.retryAfter
		if wait <= 0 {
			wait = e.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return outcome{kind: outTransient, err: e.errorf(errStatus(out.err), reqIDOf(out.err), false, "%v (not retried: the next attempt, in %v, would pass the deadline)", out.err, wait.Round(time.Millisecond))}
		}
		e.log.Logf(fblog.LevelWarn, "%v; retry %d/%d in %v", out.err, attempt+1, e.d.MaxRetries, wait.Round(time.Millisecond))
		if err := e.d.Sleep(ctx, wait); err != nil {
			return outcome{kind: outTransient, err: e.errorf(errStatus(out.err), reqIDOf(out.err), false, "%v (retry abandoned: %v)", out.err, err)}
		}
	}
}

func errStatus(err error) int {
	if se, ok := err.(*SendError); ok {
		return se.Status
	}
	return 0
}

func reqIDOf(err error) string {
	if se, ok := err.(*SendError); ok {
		return se.RequestID
	}
	return ""
}

// attempt makes one request.
func (e *engine) attempt(ctx context.Context, body, gz []byte, b Batch, reqID string, attempt int, prev []int) outcome {
	actx, cancel := context.WithTimeout(ctx, e.d.RequestTimeout)
	defer cancel()
	req, err := e.api.newRequest(actx, body, gz, b, reqID)
	if err != nil {
		// Token acquisition or request building failed.
		var se *SendError
		if errors.As(err, &se) {
			k := outTransient
			if se.Permanent {
				k = outPermanent
			}
			return outcome{kind: k, err: se}
		}
		return outcome{kind: outPermanent, err: e.errorf(0, reqID, true, "%s: request %s: %v", e.api.name(), reqID, err)}
	}
	resp, err := e.d.HTTPClient.Do(req)
	if err != nil {
		return outcome{kind: outTransient, err: e.errorf(0, reqID, false, "%s: POST %s (request %s): %s", e.api.name(), e.api.target(), reqID, transportError(err, ctx, actx))}
	}
	rb, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if rerr != nil && resp.StatusCode/100 != 2 {
		return outcome{kind: outTransient, err: e.errorf(resp.StatusCode, reqID, false, "%s: POST %s (request %s): HTTP %d, reading the response: %s", e.api.name(), e.api.target(), reqID, resp.StatusCode, transportError(rerr, ctx, actx))}
	}
	return e.api.classify(resp.StatusCode, resp.Header, rb, reqID, attempt, prev)
}

// newPost returns a POST whose body is payload, or, when payload is nil, the
// JSON array "[" + inner + "]" streamed without a copy; either can be re-read
// for retries and redirects.
func newPost(ctx context.Context, url string, inner, payload []byte) (*http.Request, error) {
	if payload != nil {
		return http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &arrayReader{inner: inner})
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(inner) + 2)
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(&arrayReader{inner: inner}), nil }
	return req, nil
}

// transportError describes a transport failure without the URL that
// net/http embeds (it could carry a query).
func transportError(err error, parent, attemptCtx context.Context) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case parent.Err() != nil:
		return "abandoned: " + parent.Err().Error()
	case attemptCtx.Err() != nil:
		return "no response within the request timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// backoff returns the full-jitter wait before retry attempt+1.
func (e *engine) backoff(attempt int) time.Duration {
	c := e.d.MinBackoff
	for i := 0; i < attempt && c < e.d.MaxBackoff; i++ {
		c *= 2
	}
	c = min(c, e.d.MaxBackoff)
	return time.Duration(rand.Int64N(int64(c)) + 1)
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		d = time.Duration(s * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
		if d <= 0 {
			return 0
		}
	} else {
		return 0
	}
	return min(d, limit)
}

// newRequestID returns a random UUID (version 4) text.
func newRequestID() string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// azureError extracts code and message from an Azure error body
// ({"error":{"code","message"}} or {"Error","Message"}), else the body text,
// truncated.
func azureError(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Code    string          `json:"code"`
	}
	const max = 300
	if json.Unmarshal(body, &v) == nil {
		var inner struct{ Code, Message string }
		if json.Unmarshal(v.Error, &inner) == nil && (inner.Code != "" || inner.Message != "") {
			return truncate(inner.Code+": "+inner.Message, max)
		}
		var code string
		if json.Unmarshal(v.Error, &code) == nil && code != "" {
			return truncate(code+": "+v.Message, max)
		}
		if v.Code != "" || v.Message != "" {
			return truncate(v.Code+": "+v.Message, max)
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if s == "" {
		return "(empty body)"
	}
	return truncate(s, max)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func isRuneStart(c byte) bool { return c&0xC0 != 0x80 }
