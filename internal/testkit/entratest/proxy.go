package entratest

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy is an HTTP proxy on loopback (HTTPS_PROXY, HTTP_PROXY) that carries
// requests for Azure host names to loopback stand-ins and refuses every
// other host, recording both. A route either tunnels the TLS connection to a
// TLS backend (the stand-in, Azurite over HTTPS: the client checks the
// backend's certificate for the host it asked), or ends TLS itself with a
// certificate from the CA for the asked host and forwards the plain bytes
// (the emulator, which speaks HTTP).
type Proxy struct {
	URL string // http://127.0.0.1:PORT

	ca *CA
	ln net.Listener

	mu      sync.Mutex
	routes  []route
	seen    []string
	refused []string
	conns   map[net.Conn]bool
	closed  bool
}

type route struct {
	pattern   string // exact host, or "*.suffix"
	addr      string
	terminate bool
}

// StartProxy runs a proxy and stops it when the test ends.
func StartProxy(tb testing.TB, ca *CA) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("entratest: proxy: %v", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ca: ca, ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	tb.Cleanup(p.Close)
	return p
}

// Route tunnels CONNECTs to host (or "*.suffix") to the TLS backend at addr.
func (p *Proxy) Route(pattern, addr string) {
	p.mu.Lock()
	p.routes = append(p.routes, route{pattern: pattern, addr: addr})
	p.mu.Unlock()
}

// RouteTerminate ends TLS for host (or "*.suffix") with a certificate from
// the CA and forwards the plain connection to addr.
func (p *Proxy) RouteTerminate(pattern, addr string) {
	p.mu.Lock()
	p.routes = append(p.routes, route{pattern: pattern, addr: addr, terminate: true})
	p.mu.Unlock()
}

// RouteEntra sends the authority hosts of the public, China and US
// Government clouds to the stand-in s.
func (p *Proxy) RouteEntra(s *Server) {
	for _, h := range []string{"login.microsoftonline.com", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.microsoftonline.us"} {
		p.Route(h, s.Addr)
	}
}

// Seen returns the hosts (host:port) of every CONNECT routed so far.
func (p *Proxy) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// Refused returns the hosts the proxy refused (no route): a test that sees
// any here tried to reach something off this machine.
func (p *Proxy) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...)
}

// Env is the environment a child process needs to use the proxy and trust
// the CA: SSL_CERT_FILE, HTTPS_PROXY and HTTP_PROXY (both cases), and an
// empty NO_PROXY (loopback addresses are never proxied by Go).
func (p *Proxy) Env() []string {
	return []string{
		"SSL_CERT_FILE=" + p.ca.File, "SSL_CERT_DIR=" + p.ca.File + ".d",
		"HTTPS_PROXY=" + p.URL, "https_proxy=" + p.URL, "HTTP_PROXY=" + p.URL, "http_proxy=" + p.URL,
		"NO_PROXY=", "no_proxy=",
	}
}

// Close stops the proxy and its connections.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
}

func (p *Proxy) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		if p.closed {
			c.Close()
			return false
		}
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *Proxy) lookup(hostport string) (route, bool) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.routes {
		if r.pattern == host || (strings.HasPrefix(r.pattern, "*.") && strings.HasSuffix(host, r.pattern[1:])) {
			return r, true
		}
	}
	return route{}, false
}

func (p *Proxy) handle(c net.Conn) {
	if !p.track(c, true) {
		return
	}
	defer p.track(c, false)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect {
		// A plain-HTTP proxy request (e.g. the IMDS probe): never forwarded.
		p.mu.Lock()
		p.refused = append(p.refused, req.Host)
		p.mu.Unlock()
		_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	r, ok := p.lookup(req.Host)
	p.mu.Lock()
	if ok {
		p.seen = append(p.seen, req.Host)
	} else {
		p.refused = append(p.refused, req.Host)
	}
	p.mu.Unlock()
	if !ok {
		_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", r.addr, 5*time.Second)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	if !p.track(up, true) {
		return
	}
	defer p.track(up, false)
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	var down net.Conn = &bufConn{Conn: c, r: br}
	if r.terminate {
		tc := tls.Server(down, p.ca.serverConfig())
		if err := tc.Handshake(); err != nil {
			return
		}
		down = tc
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, down); closeWrite(up); done <- struct{}{} }()
	go func() { _, _ = io.Copy(down, up); closeWrite(down); done <- struct{}{} }()
	<-done
	<-done
}

// bufConn reads first what the request reader buffered.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func closeWrite(c net.Conn) {
	switch v := c.(type) {
	case *net.TCPConn:
		_ = v.CloseWrite()
	case *tls.Conn:
		_ = v.CloseWrite()
	case *bufConn:
		closeWrite(v.Conn)
	}
}

// Client is an HTTP client for the test process itself: it trusts only the
// CA and sends every non-loopback request through the proxy (as a child
// process does with Env).
func (p *Proxy) Client() *http.Client {
	pu, _ := url.Parse(p.URL)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: p.ca.ClientTLS(),
		Proxy: func(r *http.Request) (*url.URL, error) {
			h := r.URL.Hostname()
			if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
				return nil, nil
			}
			return pu, nil
		},
	}}
}
