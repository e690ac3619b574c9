package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// dataCollector checks one HTTP Data Collector API request and encodes its
// rows into out. It returns the table the rows belong to.
func (s *Server) dataCollector(r *http.Request, reqID string, out *bytes.Buffer) (string, rowCounts, *apiError) {
	var n rowCounts
	if r.Method != http.MethodPost {
		return "", n, &apiError{405, "MethodNotAllowed", "Only POST is supported."}
	}
	switch v := r.URL.Query().Get("api-version"); v {
	case "2016-04-01":
	case "":
		return "", n, badRequest("MissingApiVersion", "The API version wasn't specified.")
	default:
		return "", n, badRequest("InvalidApiVersion", "The API version %.40q isn't recognized by the service.", v)
	}
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/json":
	case "":
		return "", n, badRequest("MissingContentType", "The content type wasn't specified.")
	default:
		return "", n, badRequest("UnsupportedContentType", "The content type %.60q was not set to application/json.", ct)
	}
	logType := r.Header.Get("Log-Type")
	if logType == "" {
		return "", n, badRequest("MissingLogType", "The value type log type wasn't specified.")
	}
	if !validLogType(logType) {
		return "", n, badRequest("InvalidLogType", "The log type must contain only letters, digits and underscores, at most %d characters.", dcMaxLogType)
	}
	if r.ContentLength < 0 {
		return "", n, &apiError{411, "MissingContentLength", "The request has no Content-Length, which the signature covers."}
	}
	if aerr := s.checkSharedKey(r); aerr != nil {
		return "", n, aerr
	}
	if r.ContentLength > dcMaxBody {
		// Azure documents 404 for "the request is too large".
		return "", n, &apiError{404, "RequestTooLarge", "The request is larger than 30 MB."}
	}
	body, aerr := readBody(r.Body, r.ContentLength, dcMaxBody)
	if aerr != nil {
		return "", n, aerr
	}
	defer putBody(body)
	table := logType + "_CL"
	prefix := make([]byte, 0, 128)
	prefix = append(prefix, `{"_table":`...)
	prefix = appendQuoted(prefix, table)
	prefix = append(prefix, `,"_api":"`+APIDataCollector+`","_request_id":`...)
	prefix = appendQuoted(prefix, reqID)
	if rid := r.Header.Get("x-ms-AzureResourceId"); rid != "" {
		prefix = append(prefix, `,"_resource_id":`...)
		prefix = appendQuoted(prefix, rid)
	}
	rules := rowRules{
		prefix:        prefix,
		dataCollector: true,
		timeField:     r.Header.Get("time-generated-field"),
		maxField:      dcMaxField,
		errCode:       "InvalidDataFormat",
		refuse:        []byte(s.cfg.Faults.RefuseRowsWith),
	}
	if rules.timeField != "" && (len(rules.timeField) > dcMaxColumnName || isReserved([]byte(rules.timeField))) {
		return "", n, badRequest("InvalidTimeGeneratedField", "time-generated-field names an invalid column.")
	}
	lines, n, aerr := encodeRows(body.Bytes(), &rules, out.AvailableBuffer())
	if aerr != nil {
		return "", n, aerr
	}
	out.Write(lines)
	return table, n, nil
}

func validLogType(t string) bool {
	if len(t) == 0 || len(t) > dcMaxLogType {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkSharedKey verifies "Authorization: SharedKey {workspace}:{signature}"
// and the x-ms-date it signs. Every failure is 403, as Azure answers.
func (s *Server) checkSharedKey(r *http.Request) *apiError {
	forbid := func(msg string) *apiError { return &apiError{403, "InvalidAuthorization", msg} }
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "SharedKey ")
	if !ok {
		return forbid("An invalid scheme was specified in the Authorization header.")
	}
	ws, sig, ok := strings.Cut(rest, ":")
	if !ok || sig == "" {
		return forbid("The Authorization header is malformed.")
	}
	if ws != s.cfg.WorkspaceID {
		return forbid("The workspace in the Authorization header is not this workspace.")
	}
	if s.key == nil {
		return forbid("This emulator has no shared key: the Data Collector API refuses everything.")
	}
	date := r.Header.Get("x-ms-date")
	if date == "" {
		return forbid("The x-ms-date header is missing.")
	}
	t, err := time.Parse(time.RFC1123, date)
	if err != nil {
		return forbid("The x-ms-date header is not an RFC 1123 date.")
	}
	if skew := s.cfg.Now().Sub(t); skew > s.cfg.MaxClockSkew || -skew > s.cfg.MaxClockSkew {
		return forbid("The x-ms-date header is too far from the service's time.")
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("POST\n"))
	mac.Write(strconv.AppendInt(nil, r.ContentLength, 10))
	mac.Write([]byte("\napplication/json\nx-ms-date:"))
	mac.Write([]byte(date))
	mac.Write([]byte("\n/api/logs"))
	want := mac.Sum(nil)
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return forbid("The signature in the Authorization header does not match.")
	}
	return nil
}

// supportedIngestionVersions are the api-version values the emulator takes.
var supportedIngestionVersions = map[string]bool{"2023-01-01": true, "2021-11-01-preview": true}

// logsIngestion checks one Logs Ingestion API request and encodes its rows.
func (s *Server) logsIngestion(r *http.Request, reqID string, out *bytes.Buffer) (string, rowCounts, *apiError) {
	var n rowCounts
	rest := strings.TrimPrefix(r.URL.Path, "/dataCollectionRules/")
	dcrID, stream, ok := strings.Cut(rest, "/streams/")
	if !ok || dcrID == "" || stream == "" || strings.Contains(stream, "/") {
		return "", n, &apiError{404, "NotFound", "The URL does not name /dataCollectionRules/{id}/streams/{stream}."}
	}
	if r.Method != http.MethodPost {
		return "", n, &apiError{405, "MethodNotAllowed", "Only POST is supported."}
	}
	switch v := r.URL.Query().Get("api-version"); {
	case v == "":
		return "", n, badRequest("MissingApiVersionParameter", "The api-version query parameter is required.")
	case !supportedIngestionVersions[v]:
		return "", n, badRequest("InvalidApiVersionParameter", "The api-version %.40q is not supported.", v)
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", n, &apiError{401, "AuthenticationFailed", "Authentication failed. The Authorization header is missing or is not a bearer token."}
	}
	if s.cfg.Entra != nil {
		if aerr := s.cfg.Entra.checkJWT(tok, dcrID, s.cfg.Now()); aerr != nil {
			return "", n, aerr
		}
	} else if s.cfg.BearerToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.BearerToken)) != 1 {
		return "", n, &apiError{403, "OperationFailed", "The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '" + truncate(dcrID, 80) + "'."}
	}
	streams, ok := s.dcrs[dcrID]
	if !ok {
		return "", n, &apiError{404, "NotFound", "Data collection rule with immutable Id '" + truncate(dcrID, 80) + "' not found."}
	}
	si, ok := streams[stream]
	if !ok {
		return "", n, badRequest("InvalidStream", "Stream '%s' is not declared by data collection rule '%s'.", truncate(stream, 80), dcrID)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
		return "", n, &apiError{415, "UnsupportedMediaType", "The Content-Type must be application/json."}
	}
	gz := false
	switch ce := r.Header.Get("Content-Encoding"); ce {
	case "", "identity":
	case "gzip":
		gz = true
	default:
		return "", n, badRequest("UnsupportedContentEncoding", "The Content-Encoding %.40q is not supported (gzip is).", ce)
	}
	if r.ContentLength > liMaxBody {
		return "", n, tooLarge()
	}
	body, aerr := readBody(r.Body, r.ContentLength, liMaxBody)
	if aerr != nil {
		return "", n, aerr
	}
	defer putBody(body)
	if gz {
		plain, aerr := gunzip(body.Bytes())
		if aerr != nil {
			return "", n, aerr
		}
		defer putBody(plain)
		body = plain
	}
	rules := rowRules{
		declared:   si.declared,
		drop:       si.drop,
		strict:     si.TableColumns != nil,
		table:      si.Table,
		timeColumn: si.TimeColumn,
		fillTime:   true,
		maxField:   liMaxField,
		errCode:    "InvalidPayload",
		refuse:     []byte(s.cfg.Faults.RefuseRowsWith),
	}
	prefix := make([]byte, 0, 128)
	prefix = append(prefix, si.prefix...)
	prefix = append(prefix, `,"_request_id":`...)
	prefix = appendQuoted(prefix, reqID)
	rules.prefix = prefix
	rules.now = appendQuoted(nil, s.cfg.Now().UTC().Format(time.RFC3339Nano))
	lines, n, aerr := encodeRows(body.Bytes(), &rules, out.AvailableBuffer())
	if aerr != nil {
		return "", n, aerr
	}
	out.Write(lines)
	return si.Table, n, nil
}

func tooLarge() *apiError {
	return &apiError{413, "ContentLengthLimitExceeded",
		"Maximum allowed content length: 1048576 bytes (1 MB). Both compressed and uncompressed data must be under this limit."}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// readBody reads at most limit bytes into a pooled buffer; more is a 413
// (callers check Content-Length first for their own too-large answer).
func readBody(body io.Reader, contentLength int64, limit int64) (*bytes.Buffer, *apiError) {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	if contentLength > 0 {
		b.Grow(int(contentLength))
	}
	if _, err := b.ReadFrom(io.LimitReader(body, limit+1)); err != nil {
		putBody(b)
		return nil, badRequest("InvalidRequest", "The body could not be read.")
	}
	if int64(b.Len()) > limit {
		putBody(b)
		return nil, tooLarge()
	}
	return b, nil
}

func putBody(b *bytes.Buffer) {
	if b.Cap() <= 8<<20 {
		bufPool.Put(b)
	}
}

var gzPool sync.Pool

// gunzip inflates at most liMaxBody bytes; more is a 413.
func gunzip(b []byte) (*bytes.Buffer, *apiError) {
	zr, _ := gzPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(b))
	} else {
		err = zr.Reset(bytes.NewReader(b))
	}
	if err != nil {
		return nil, badRequest("InvalidContentEncoding", "The body is not valid gzip.")
	}
	defer gzPool.Put(zr)
	out := bufPool.Get().(*bytes.Buffer)
	out.Reset()
	_, err = out.ReadFrom(io.LimitReader(zr, liMaxBody+1))
	if err != nil && !errors.Is(err, io.EOF) {
		putBody(out)
		return nil, badRequest("InvalidContentEncoding", "The body is not valid gzip.")
	}
	if out.Len() > liMaxBody {
		putBody(out)
		return nil, tooLarge()
	}
	return out, nil
}
