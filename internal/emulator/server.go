package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a running (or ready) emulator. Its methods are safe for
// concurrent use.
type Server struct {
	cfg    Config
	key    []byte // decoded shared key; nil refuses every Data Collector request
	dcrs   map[string]map[string]*streamInfo
	sink   *sink
	faults *faultPicker
	log    *slog.Logger

	idPrefix [8]byte
	reqSeq   atomic.Uint64

	statsMu sync.Mutex
	stats   Stats

	mu      sync.Mutex // lifecycle below
	srv     *http.Server
	ln      net.Listener
	addr    string
	started bool
	down    bool
	closed  bool
	serving sync.WaitGroup
	connMu  sync.Mutex
	conns   map[net.Conn]struct{}
	stop    chan struct{}
	flushed chan struct{}
}

type streamInfo struct {
	Stream
	declared map[string]colType
	drop     map[string]bool // projected away by the DCR transformation
	prefix   string          // `{"_table":"...","_api":"logs-ingestion"`
}

// Stats are the emulator's counters since New.
type Stats struct {
	// Rows counts accepted rows per table ("NsgFlow_CL", "<Log-Type>_CL").
	Rows map[string]int64 `json:"rows"`
	// RowsTotal is the sum of Rows.
	RowsTotal int64 `json:"rows_total"`
	// Requests counts API answers by HTTP status. Requests answered with a
	// reset or a dropped connection count only under Faults.
	Requests map[int]int64 `json:"requests"`
	// Faults counts injected faults by kind (429, 500, 503, reset,
	// drop_after_accept, slow).
	Faults map[FaultKind]int64 `json:"faults"`
	// DroppedFields counts fields dropped because the stream does not declare them.
	DroppedFields int64 `json:"dropped_fields"`
	// TruncatedFields counts string values cut to the field-size limit.
	TruncatedFields int64 `json:"truncated_fields"`
	// TypeMismatches counts Logs Ingestion values whose JSON type does not
	// fit the column's declared type, by "Table.Column".
	TypeMismatches map[string]int64 `json:"type_mismatches"`
	// FilledTimeGenerated counts Logs Ingestion rows without TimeGenerated
	// that got one from the stream's TimeColumn or the ingestion time.
	FilledTimeGenerated int64 `json:"filled_time_generated"`
	// Down is true while SetDown(true) is in effect.
	Down bool `json:"down"`
}

func (s *Stats) clone() Stats {
	c := *s
	c.Rows = make(map[string]int64, len(s.Rows))
	for k, v := range s.Rows {
		c.Rows[k] = v
	}
	c.Requests = make(map[int]int64, len(s.Requests))
	for k, v := range s.Requests {
		c.Requests[k] = v
	}
	c.Faults = make(map[FaultKind]int64, len(s.Faults))
	for k, v := range s.Faults {
		c.Faults[k] = v
	}
	c.TypeMismatches = make(map[string]int64, len(s.TypeMismatches))
	for k, v := range s.TypeMismatches {
		c.TypeMismatches[k] = v
	}
	return c
}

// New checks cfg and opens the rows file. Call Start to listen.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		dcrs:   map[string]map[string]*streamInfo{},
		faults: newFaultPicker(cfg.Faults),
		log:    cfg.Logger,
		conns:  map[net.Conn]struct{}{},
		stats: Stats{
			Rows:     map[string]int64{},
			Requests: map[int]int64{},
			Faults:   map[FaultKind]int64{},

			TypeMismatches: map[string]int64{},
		},
	}
	if cfg.SharedKey != "" {
		s.key, _ = base64.StdEncoding.DecodeString(cfg.SharedKey) // checked by withDefaults
	}
	for _, d := range cfg.DCRs {
		streams := map[string]*streamInfo{}
		for _, st := range d.Streams {
			si := &streamInfo{Stream: st, declared: make(map[string]colType, len(st.Columns))}
			for _, c := range st.Columns {
				si.declared[c] = columnTypes[st.Types[c]]
			}
			if len(st.Drop) > 0 {
				si.drop = make(map[string]bool, len(st.Drop))
				for _, c := range st.Drop {
					si.drop[c] = true
				}
			}
			si.prefix = `{"_table":` + string(appendQuoted(nil, st.Table)) + `,"_api":"` + APILogsIngestion + `"`
			streams[st.Name] = si
		}
		s.dcrs[d.ImmutableID] = streams
	}
	if _, err := rand.Read(s.idPrefix[:]); err != nil {
		return nil, fmt.Errorf("emulator: request id seed: %w", err)
	}
	s.sink, err = newSink(cfg.OutFile, cfg.DiscardRows)
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState:         s.trackConn,
	}
	return s, nil
}

// Start listens on Config.Addr and serves in the background. It returns the
// address actually bound (host:port).
func (s *Server) Start() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("emulator: server closed")
	}
	if s.started {
		return s.addr, nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("emulator: listen: %w", err)
	}
	s.started = true
	s.ln = ln
	s.addr = ln.Addr().String()
	s.serveLocked(ln)
	s.stop = make(chan struct{})
	s.flushed = make(chan struct{})
	go s.flushLoop(s.stop, s.flushed)
	return s.addr, nil
}

func (s *Server) serveLocked(ln net.Listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = s.srv.Serve(ln) // returns when the listener closes (SetDown, Close)
	}()
}

func (s *Server) flushLoop(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.sink.flush(); err != nil {
				s.log.Error("emulator: periodic flush", "err", err)
			}
		}
	}
}

// Addr is the bound host:port ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is "http://host:port" ("" before Start). Clients use it as the
// endpoint override for both APIs.
func (s *Server) URL() string {
	if a := s.Addr(); a != "" {
		return "http://" + a
	}
	return ""
}

// IngestionURL is the Logs Ingestion URL for a DCR and stream.
func (s *Server) IngestionURL(dcrImmutableID, stream string) string {
	return s.URL() + "/dataCollectionRules/" + dcrImmutableID + "/streams/" + stream + "?api-version=2023-01-01"
}

// DataCollectorURL is the Data Collector API URL.
func (s *Server) DataCollectorURL() string {
	return s.URL() + "/api/logs?api-version=2016-04-01"
}

// Config returns the configuration in effect (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Flush writes buffered rows to OutFile.
func (s *Server) Flush() error { return s.sink.flush() }

// Rows flushes and returns every accepted row, in the order stored.
func (s *Server) Rows() ([]Row, error) {
	b, err := s.sink.contents()
	if err != nil {
		return nil, err
	}
	return ReadRows(bytes.NewReader(b))
}

// RawRows flushes and returns the stored NDJSON exactly as written.
func (s *Server) RawRows() ([]byte, error) { return s.sink.contents() }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats.clone()
	s.mu.Lock()
	st.Down = s.down
	s.mu.Unlock()
	return st
}

// SetDown(true) closes the listener and every open connection, so clients
// get "connection refused"; SetDown(false) listens again on the same port.
func (s *Server) SetDown(down bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed {
		return errors.New("emulator: server not running")
	}
	if down == s.down {
		return nil
	}
	if down {
		s.down = true
		err := s.ln.Close()
		s.connMu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.connMu.Unlock()
		s.log.Info("emulator: down")
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("emulator: close listener: %w", err)
		}
		return nil
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after close
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("emulator: listen again on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.down = false
	s.serveLocked(ln)
	s.log.Info("emulator: up")
	return nil
}

// Close stops serving, closes connections, flushes and closes the rows file.
// Rows still works after Close.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	var err error
	if started {
		err = s.srv.Close()
		s.serving.Wait()
		close(s.stop)
		<-s.flushed
	}
	if cerr := s.sink.close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("emulator: close: %w", err)
	}
	return nil
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// ServeHTTP routes: the two APIs, /healthz, /stats and /admin/down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/api/logs":
		s.serveAPI(w, r, APIDataCollector)
	case strings.HasPrefix(p, "/dataCollectionRules/"):
		s.serveAPI(w, r, APILogsIngestion)
	case p == "/healthz":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	case p == "/stats":
		st := s.Stats()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
	case p == "/admin/down":
		s.serveDown(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveDown handles POST /admin/down?for=DURATION: down now, up again after
// DURATION (the listener is gone meanwhile, so "up" cannot be an HTTP call).
func (s *Server) serveDown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	d, err := time.ParseDuration(r.URL.Query().Get("for"))
	if err != nil || d <= 0 || d > time.Hour {
		http.Error(w, "want ?for=DURATION (e.g. 3s, at most 1h)", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	go func() {
		time.Sleep(10 * time.Millisecond) // let the answer leave
		if err := s.SetDown(true); err != nil {
			return
		}
		time.Sleep(d)
		if err := s.SetDown(false); err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if !closed {
				s.log.Error("emulator: coming back up", "err", err)
			}
		}
	}()
}

// newRequestID returns a GUID-shaped ID unique within this server.
func (s *Server) newRequestID() string {
	var b [16]byte
	copy(b[:8], s.idPrefix[:])
	binary.BigEndian.PutUint64(b[8:], s.reqSeq.Add(1))
	b[6] = b[6]&0x0f | 0x40
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(out[:])
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveAPI applies faults, runs the API's checks and stores accepted rows.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, api string) {
	reqID := s.newRequestID()
	h := w.Header()
	h.Set("x-ms-request-id", reqID)
	if c := r.Header.Get("x-ms-client-request-id"); c != "" {
		h.Set("x-ms-client-request-id", c)
	}
	kind, slow := s.faults.draw()
	if slow {
		s.countFault(FaultSlow)
		t := time.NewTimer(s.cfg.Faults.SlowDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch kind {
	case Fault429:
		s.countFault(kind)
		secs := 0
		if ra := s.cfg.Faults.RetryAfter; ra > 0 {
			secs = int((ra + time.Second - 1) / time.Second)
		}
		h.Set("Retry-After", strconv.Itoa(secs))
		s.refuse(w, api, &apiError{429, "TooManyRequests", "Injected fault: too many requests."})
		return
	case Fault500:
		s.countFault(kind)
		s.refuse(w, api, &apiError{500, "InternalServerError", "Injected fault: internal server error."})
		return
	case Fault503:
		s.countFault(kind)
		s.refuse(w, api, &apiError{503, "ServiceUnavailable", "Injected fault: service unavailable."})
		return
	case FaultReset:
		s.countFault(kind)
		s.hangUp(w, true)
		return
	}

	out := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(out)
	out.Reset()
	var (
		table  string
		n      rowCounts
		status int
		aerr   *apiError
	)
	if api == APIDataCollector {
		table, n, aerr = s.dataCollector(r, reqID, out)
		status = http.StatusOK
	} else {
		table, n, aerr = s.logsIngestion(r, reqID, out)
		status = http.StatusNoContent
	}
	if aerr != nil {
		s.refuse(w, api, aerr)
		return
	}
	if err := s.sink.write(out.Bytes()); err != nil {
		s.log.Error("emulator: storing rows", "err", err)
		s.refuse(w, api, &apiError{500, "InternalServerError", "The emulator could not store the rows."})
		return
	}
	s.statsMu.Lock()
	if n.rows > 0 {
		s.stats.Rows[table] += int64(n.rows)
		s.stats.RowsTotal += int64(n.rows)
	}
	s.stats.DroppedFields += int64(n.dropped)
	s.stats.TruncatedFields += int64(n.truncated)
	s.stats.FilledTimeGenerated += int64(n.filled)
	for _, col := range n.mismatched {
		s.stats.TypeMismatches[table+"."+col]++
	}
	if kind != FaultDropAfterAccept {
		s.stats.Requests[status]++
	}
	s.statsMu.Unlock()
	if kind == FaultDropAfterAccept {
		s.countFault(kind)
		s.hangUp(w, false)
		return
	}
	w.WriteHeader(status)
}

func (s *Server) countFault(k FaultKind) {
	s.statsMu.Lock()
	s.stats.Faults[k]++
	s.statsMu.Unlock()
	if k != FaultSlow {
		s.log.Debug("emulator: injected fault", "kind", string(k))
	}
}

// hangUp closes the connection without answering: with a TCP reset when rst,
// else with a plain close.
func (s *Server) hangUp(w http.ResponseWriter, rst bool) {
	hj, ok := w.(http.Hijacker)
	if !ok { // not HTTP/1.x: the closest is a 503
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	c, _, err := hj.Hijack()
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if tc, ok := c.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// refuse answers with an Azure-shaped error body.
func (s *Server) refuse(w http.ResponseWriter, api string, e *apiError) {
	s.statsMu.Lock()
	s.stats.Requests[e.status]++
	s.statsMu.Unlock()
	if e.status < 429 || e.status == 413 {
		s.log.Info("emulator: refused", "api", api, "status", e.status, "code", e.code, "reason", e.msg)
	}
	var body []byte
	if api == APIDataCollector {
		body, _ = json.Marshal(map[string]string{"Error": e.code, "Message": e.msg})
	} else {
		body, _ = json.Marshal(map[string]map[string]string{"error": {"code": e.code, "message": e.msg}})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if e.status == http.StatusUnauthorized && api != APIDataCollector {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
