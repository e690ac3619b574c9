package loganalytics

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// logsIngestion is the Logs Ingestion API sink.
type logsIngestion struct {
	*engine
	cfg    LogsIngestionConfig
	tokens *tokenSource
	url    string
	tgt    string
}

// NewLogsIngestion validates cfg and returns a Logs Ingestion API sink.
// Errors name the bad field and the fix, never echoing secrets.
func NewLogsIngestion(cfg LogsIngestionConfig) (Sink, error) {
	base, err := checkBaseURL("Endpoint", strings.TrimSpace(cfg.Endpoint))
	if err != nil {
		if cfg.Endpoint == "" {
			err = fmt.Errorf("Endpoint is empty: set the DCE or DCR logs-ingestion endpoint, e.g. https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com")
		}
		return nil, fmt.Errorf("logs ingestion: %w", err)
	}
	cfg.DCRImmutableID = strings.TrimSpace(cfg.DCRImmutableID)
	if !dcrIDRe.MatchString(cfg.DCRImmutableID) {
		return nil, fmt.Errorf("logs ingestion: DCRImmutableID %q invalid: use the DCR's immutable ID, dcr- followed by 32 hex digits (DCR JSON view, property immutableId), not its resource ID", truncate(cfg.DCRImmutableID, 80))
	}
	cfg.Stream = strings.TrimSpace(cfg.Stream)
	if !streamRe.MatchString(cfg.Stream) {
		return nil, fmt.Errorf("logs ingestion: Stream %q invalid: use the DCR's stream name, Custom-<Name> (letters, digits, _ and -)", truncate(cfg.Stream, 80))
	}
	cloud, err := cfg.Cloud.normal()
	if err != nil {
		return nil, fmt.Errorf("logs ingestion: %w", err)
	}
	cfg.Cloud = cloud
	level := 0
	if !cfg.DisableGzip {
		switch {
		case cfg.GzipLevel == 0:
			level = DefaultGzipLevel
		case cfg.GzipLevel < 1 || cfg.GzipLevel > 9:
			return nil, fmt.Errorf("logs ingestion: GzipLevel %d out of range: use 1..9, or 0 for the default %d", cfg.GzipLevel, DefaultGzipLevel)
		default:
			level = cfg.GzipLevel
		}
	}
	if err := cfg.Delivery.defaults(LogsIngestionMaxBody, LogsIngestionMaxBody); err != nil {
		return nil, fmt.Errorf("logs ingestion: %w", err)
	}
	scr := newScrubber(cfg.Credential.ClientSecret, cfg.Credential.Token)
	ts, err := newTokenSource(cfg.Credential, cloud, scr)
	if err != nil {
		return nil, fmt.Errorf("logs ingestion: %w", err)
	}
	u := *base
	u.Path = strings.TrimRight(u.Path, "/") + "/dataCollectionRules/" + url.PathEscape(cfg.DCRImmutableID) + "/streams/" + url.PathEscape(cfg.Stream)
	t := redactURL(&u)
	u.RawQuery = "api-version=2023-01-01"
	s := &logsIngestion{cfg: cfg, tokens: ts, url: u.String(), tgt: t}
	s.engine = newEngine(cfg.Delivery, s, cutter{maxBody: cfg.MaxBodyBytes, fieldLimit: LogsIngestionFieldLimit}, scr, level)
	ts.scrub = scr
	return s, nil
}

func (s *logsIngestion) Cut(ev *Events) []Batch { return s.cut.cut(ev) }

func (s *logsIngestion) Send(ctx context.Context, ev *Events, batches []Batch) Report {
	return s.send(ctx, ev, batches)
}

func (s *logsIngestion) Close() error { return s.engine.close() }

func (s *logsIngestion) name() string   { return "logs ingestion" }
func (s *logsIngestion) target() string { return s.tgt }

func (s *logsIngestion) newRequest(ctx context.Context, inner, gz []byte, _ Batch, reqID string) (*http.Request, error) {
	tok, err := s.tokens.get(ctx)
	if err != nil {
		permanent := isPermanentTokenError(err)
		hint := ""
		if permanent {
			hint = " (not retried: it cannot heal; " + credentialHint(s.tokens.kind) + ")"
		}
		return nil, s.errorf(0, reqID, permanent, "logs ingestion: request %s: credential %s cannot get a token for %s: %v%s", reqID, s.tokens.kind, s.cfg.Cloud.MonitorScope(), err, hint)
	}
	req, err := newPost(ctx, s.url, inner, gz)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Content-Type", "application/json")
	if gz != nil {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("x-ms-client-request-id", reqID)
	return req, nil
}

func (s *logsIngestion) classify(status int, h http.Header, body []byte, reqID string, attempt int, prev []int) outcome {
	what := fmt.Sprintf("logs ingestion: POST %s (request %s): HTTP %d", s.tgt, reqID, status)
	switch {
	case status >= 200 && status < 300:
		return outcome{kind: outAccepted}
	case status == http.StatusRequestEntityTooLarge:
		return outcome{kind: outSplit, err: s.errorf(status, reqID, false, "%s: body too large: %s", what, azureError(body))}
	case status == http.StatusTooManyRequests:
		return outcome{kind: outTransient, retryAfter: parseRetryAfter(h.Get("Retry-After"), s.d.Now(), s.d.MaxRetryAfter), err: s.errorf(status, reqID, false, "%s: throttled (limits: 12,000 requests/min and 2 GB/min per DCR)", what)}
	case status == http.StatusRequestTimeout || status >= 500:
		return outcome{kind: outTransient, err: s.errorf(status, reqID, false, "%s: %s", what, azureError(body))}
	case status == http.StatusUnauthorized:
		s.tokens.invalidate()
		for _, p := range prev {
			if p == http.StatusUnauthorized {
				return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; the bearer token was refused twice: check the credential, the tenant and Cloud (token audience %s)", what, azureError(body), s.cfg.Cloud.MonitorAudience())}
			}
		}
		return outcome{kind: outTransient, err: s.errorf(status, reqID, false, "%s: token refused, fetching a new one", what)}
	case status == http.StatusForbidden:
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; the identity lacks the Monitoring Metrics Publisher role on the DCR (role assignments can take 30 minutes)", what, azureError(body))}
	case status == http.StatusNotFound:
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; check the DCR immutable ID, the stream name and that Endpoint is the DCE or DCR endpoint in the DCR's region", what, azureError(body))}
	case status == http.StatusBadRequest && requestLevel400(body, liRequestCodes):
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; the request does not match the DCR: not retried", what, azureError(body))}
	case status == http.StatusBadRequest:
		reason := azureError(body)
		return outcome{kind: outBadRows, status: status, reqID: reqID, reason: reason, err: s.errorf(status, reqID, true, "%s: %s", what, reason)}
	default:
		return outcome{kind: outPermanent, err: s.errorf(status, reqID, true, "%s: %s; not retried", what, azureError(body))}
	}
}
