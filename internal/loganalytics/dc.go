package loganalytics

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// dataCollector is the HTTP Data Collector API sink.
type dataCollector struct {
	*engine
	cfg DataCollectorConfig
	key []byte
	url string
	tgt string
}

// NewDataCollector validates cfg and returns a Data Collector API sink.
// Errors name the bad field and the fix, never echoing the shared key.
func NewDataCollector(cfg DataCollectorConfig) (Sink, error) {
	cfg.WorkspaceID = strings.TrimSpace(cfg.WorkspaceID)
	if !guidRe.MatchString(cfg.WorkspaceID) {
		// Not echoed: a shared key pasted into the wrong field must not be printed.
		return nil, fmt.Errorf("data collector: WorkspaceID (%d characters) is not a GUID: copy the workspace ID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) from the workspace's Agents page", len(cfg.WorkspaceID))
	}
	key, err := decodeKey(cfg.SharedKey)
	if err != nil {
		return nil, fmt.Errorf("data collector: %w", err)
	}
	if !logTypeRe.MatchString(cfg.LogType) {
		return nil, fmt.Errorf("data collector: LogType %q invalid: use 1-100 letters, digits or underscores (the table becomes <LogType>_CL)", truncate(cfg.LogType, 120))
	}
	if f := cfg.TimeGeneratedField; f != "" && !logTypeRe.MatchString(f) {
		return nil, fmt.Errorf("data collector: TimeGeneratedField %q invalid: name a body field (letters, digits, underscore)", truncate(f, 120))
	}
	cloud, err := cfg.Cloud.normal()
	if err != nil {
		return nil, fmt.Errorf("data collector: %w", err)
	}
	cfg.Cloud = cloud
	base := &url.URL{Scheme: "https", Host: cfg.WorkspaceID + cloud.ODSSuffix()}
	if cfg.Endpoint != "" {
		if base, err = checkBaseURL("Endpoint", cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("data collector: %w", err)
		}
	}
	if err := cfg.Delivery.defaults(DataCollectorDefaultBody, DataCollectorMaxBody); err != nil {
		return nil, fmt.Errorf("data collector: %w", err)
	}
	u := *base
	u.Path = strings.TrimRight(u.Path, "/") + "/api/logs"
	t := redactURL(&u)
	u.RawQuery = "api-version=2016-04-01"
	s := &dataCollector{cfg: cfg, key: key, url: u.String(), tgt: t}
	scr := newScrubber(cfg.SharedKey, string(key))
	s.engine = newEngine(cfg.Delivery, s, cutter{maxBody: cfg.MaxBodyBytes, fieldLimit: DataCollectorFieldLimit, byResource: cfg.AzureResourceID}, scr, 0)
	return s, nil
}

func (s *dataCollector) Cut(ev *Events) []Batch { return s.cut.cut(ev) }

func (s *dataCollector) Send(ctx context.Context, ev *Events, batches []Batch) Report {
	return s.send(ctx, ev, batches)
}

func (s *dataCollector) Close() error { return s.engine.close() }

func (s *dataCollector) name() string   { return "data collector" }
func (s *dataCollector) target() string { return s.tgt }

// SignDataCollector returns the Authorization header value for a Data
// Collector post of contentLength bytes at date (RFC 1123, GMT):
// SharedKey {workspaceID}:base64(HMAC-SHA256(key, "POST\n{len}\napplication/json\nx-ms-date:{date}\n/api/logs")).
func SignDataCollector(workspaceID string, key []byte, contentLength int, date string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("POST\n"))
	m.Write([]byte(strconv.Itoa(contentLength)))
	m.Write([]byte("\napplication/json\nx-ms-date:"))
	m.Write([]byte(date))
	m.Write([]byte("\n/api/logs"))
	return "SharedKey " + workspaceID + ":" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (s *dataCollector) newRequest(ctx context.Context, inner, _ []byte, b Batch, reqID string) (*http.Request, error) {
	req, err := newPost(ctx, s.url, inner, nil)
	if err != nil {
		return nil, err
	}
	date := s.d.Now().UTC().Format(http.TimeFormat) // signed on every attempt
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Log-Type", s.cfg.LogType)
	h.Set("x-ms-date", date)
	h.Set("Authorization", SignDataCollector(s.cfg.WorkspaceID, s.key, int(req.ContentLength), date))
	h.Set("x-ms-client-request-id", reqID)
	if s.cfg.TimeGeneratedField != "" {
		h.Set("time-generated-field", s.cfg.TimeGeneratedField)
	}
	if s.cfg.AzureResourceID && b.ResourceID != "" {
		h.Set("x-ms-AzureResourceId", b.ResourceID)
	}
	return req, nil
}

func (s *dataCollector) classify(status int, h http.Header, body []byte, reqID string, attempt int, prev []int) outcome {
	what := func() string {
		return fmt.Sprintf("data collector: POST %s (request %s): HTTP %d", s.tgt, reqID, status)
	}
	switch {
	case status >= 200 && status < 300:
		return outcome{kind: outAccepted}
	case status == http.StatusRequestEntityTooLarge:
		return outcome{kind: outSplit, err: s.errorf(status, reqID, false, "%s: body too large: %s", what(), azureError(body))}
	case status == http.StatusNotFound && tooLargeBody(body):
		return outcome{kind: outSplit, err: s.errorf(status, reqID, false, "%s: body too large: %s", what(), azureError(body))}
	case status == http.StatusNotFound:
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; check WorkspaceID, Cloud and Endpoint (the URL is wrong or the workspace does not exist)", what(), azureError(body))}
	case status == http.StatusTooManyRequests:
		return outcome{kind: outTransient, retryAfter: parseRetryAfter(h.Get("Retry-After"), s.d.Now(), s.d.MaxRetryAfter), err: s.errorf(status, reqID, false, "%s: throttled", what())}
	case status == http.StatusRequestTimeout || status >= 500:
		return outcome{kind: outTransient, err: s.errorf(status, reqID, false, "%s: %s", what(), azureError(body))}
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; the signature was refused: check WorkspaceID and SharedKey (primary or secondary key of this workspace) and the system clock (x-ms-date must be within minutes)", what(), azureError(body))}
	case status == http.StatusBadRequest && requestLevel400(body, dcRequestCodes):
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; fix the request (Log-Type, time-generated-field, api-version); not retried", what(), azureError(body))}
	case status == http.StatusBadRequest:
		reason := azureError(body)
		return outcome{kind: outBadRows, status: status, reqID: reqID, reason: reason, err: s.errorf(status, reqID, true, "%s: %s", what(), reason)}
	default:
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; not retried", what(), azureError(body))}
	}
}

// tooLargeBody reports whether a 404 body says the payload was too large.
func tooLargeBody(body []byte) bool {
	l := bytes.ToLower(body)
	return bytes.Contains(l, []byte("too large")) || bytes.Contains(l, []byte("larger than")) || bytes.Contains(l, []byte("toolarge")) || bytes.Contains(l, []byte("exceeds the maximum")) || bytes.Contains(l, []byte("exceeded"))
}
