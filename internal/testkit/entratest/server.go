// Package entratest is a local Entra ID stand-in for tests: an HTTPS server
// (certificate from a CA made at test time) that answers what azidentity and
// MSAL ask of Entra ID — tenant discovery, instance discovery, the OAuth2
// token endpoint for the client-secret and client-assertion (federated
// token, workload identity) grants — and an App Service-shaped managed
// identity endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER). It mints RS256
// JWTs whose issuer, audience, tenant, client ID and expiry tests can check
// (the emulator and Azurite check them), records every token request, and
// fails on demand.
//
// A recording proxy (Proxy) carries the SDK's traffic for real Azure host
// names (login.microsoftonline.com, login.chinacloudapi.cn,
// *.blob.core.chinacloudapi.cn, ...) to loopback stand-ins, so production
// code runs with its real cloud configuration and the tests see which hosts
// it asked for; nothing leaves the machine. A fake `az` (FakeAZ) prints
// tokens as the Azure CLI does.
package entratest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults of a new Server.
const (
	DefaultTenant = "72f988bf-0000-4000-8000-00000000e17a"
	// DefaultLifetime is how long minted tokens are valid.
	DefaultLifetime = time.Hour
	// FederatedIssuer is the issuer of the federated (Kubernetes service
	// account) tokens FederatedToken mints.
	FederatedIssuer = "https://oidc.entratest.invalid/cluster"
)

// Grant kinds, as recorded in Request.Grant.
const (
	GrantClientSecret    = "client_secret"
	GrantClientAssertion = "client_assertion"
	GrantManagedIdentity = "managed_identity"
)

// Request is one token request the stand-in answered.
type Request struct {
	Time     time.Time
	Grant    string // Grant* constant, or "" for a request it could not classify
	Host     string // the Host the client asked (the authority host through the proxy)
	Tenant   string
	ClientID string
	Scope    string // the scope (token endpoint) or resource (managed identity) asked for
	Audience string // aud of the token minted; "" when refused
	Status   int
	Error    string // the OAuth error code when refused
}

// Server is one running stand-in.
type Server struct {
	URL    string // https://127.0.0.1:PORT
	Addr   string // 127.0.0.1:PORT
	Tenant string
	CA     *CA

	key   *rsa.PrivateKey
	kid   string
	srv   *http.Server
	ln    net.Listener
	miHdr string

	mu        sync.Mutex
	lifetime  time.Duration
	apps      map[string]string // client ID -> secret
	federated map[string]string // client ID -> subject of the accepted federated token
	mis       map[string]bool   // managed identity client IDs; "" is the system-assigned one
	miDefault string            // client ID of the system-assigned identity
	fail      []fault           // answers of the next token requests
	requests  []Request
}

// Start runs a stand-in with a new CA in a temporary directory of tb, and
// stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ca, err := NewCA(tb.TempDir())
	if err != nil {
		tb.Fatalf("entratest: %v", err)
	}
	s, err := New(ca)
	if err != nil {
		tb.Fatalf("entratest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New starts a stand-in whose certificate comes from ca.
func New(ca *CA) (*Server, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr: ln.Addr().String(), Tenant: DefaultTenant, CA: ca,
		key: key, kid: "entratest-1", ln: ln, miHdr: randHex(16),
		lifetime:  DefaultLifetime,
		apps:      map[string]string{},
		federated: map[string]string{},
		mis:       map[string]bool{"": true},
		miDefault: "5a1d0000-0000-4000-8000-00000000005a",
	}
	s.URL = "https://" + s.Addr
	mux := http.NewServeMux()
	mux.HandleFunc("GET /common/discovery/instance", s.instanceDiscovery)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfig)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.keys)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("GET /msi/token", s.managedIdentity)
	s.srv = &http.Server{Handler: mux, TLSConfig: ca.serverConfig("127.0.0.1", "localhost"), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// SetLifetime sets how long tokens minted from now on are valid.
func (s *Server) SetLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// AddApp registers an application (service principal) with a client secret.
func (s *Server) AddApp(clientID, secret string) {
	s.mu.Lock()
	s.apps[clientID] = secret
	s.mu.Unlock()
}

// AddFederated registers an application that accepts a federated token
// with subject sub from FederatedIssuer (workload identity).
func (s *Server) AddFederated(clientID, sub string) {
	s.mu.Lock()
	s.federated[clientID] = sub
	s.mu.Unlock()
}

// AddUserAssigned registers a user-assigned managed identity.
func (s *Server) AddUserAssigned(clientID string) {
	s.mu.Lock()
	s.mis[clientID] = true
	s.mu.Unlock()
}

// SystemAssignedClientID is the client ID of the system-assigned identity.
func (s *Server) SystemAssignedClientID() string { return s.miDefault }

type fault struct {
	aud    string
	status int
}

// FailNext makes the next n token requests (any grant) answer status
// (503: temporarily_unavailable, 500, 429, ...).
func (s *Server) FailNext(n, status int) { s.FailNextFor("", n, status) }

// FailNextFor is FailNext for requests for audience aud only ("" for any).
func (s *Server) FailNextFor(aud string, n, status int) {
	s.mu.Lock()
	for i := 0; i < n; i++ {
		s.fail = append(s.fail, fault{aud, status})
	}
	s.mu.Unlock()
}

// Requests returns every token request so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count counts the answered (200) token requests whose audience is aud
// ("" counts all).
func (s *Server) Count(aud string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Status == 200 && (aud == "" || r.Audience == aud) {
			n++
		}
	}
	return n
}

// ManagedIdentityEnv is the environment App Service gives a process with a
// managed identity: IDENTITY_ENDPOINT and IDENTITY_HEADER.
func (s *Server) ManagedIdentityEnv() []string {
	return []string{"IDENTITY_ENDPOINT=" + s.URL + "/msi/token", "IDENTITY_HEADER=" + s.miHdr}
}

// PublicKey is the key the minted tokens are signed with.
func (s *Server) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// IssuerFor is the v1 token issuer Entra ID uses for tenant when asked on
// authority host: https://sts.chinacloudapi.cn/{tenant}/ in Azure China,
// https://sts.windows.net/{tenant}/ elsewhere (public and US Government).
func IssuerFor(host, tenant string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	switch host {
	case "login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return "https://sts.chinacloudapi.cn/" + tenant + "/"
	}
	return "https://sts.windows.net/" + tenant + "/"
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

// ClearFaults drops the injected failures not yet answered.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
}

// takeFault pops the next injected failure for aud, if any.
func (s *Server) takeFault(aud string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.fail {
		if f.aud == "" || f.aud == aud {
			s.fail = append(s.fail[:i:i], s.fail[i+1:]...)
			return f.status
		}
	}
	return 0
}

func (s *Server) base(r *http.Request) string { return "https://" + r.Host }

func (s *Server) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	auth, _ := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	host := r.Host
	tenant := s.Tenant
	if auth != nil && auth.Host != "" {
		host = auth.Host
		if parts := strings.Split(strings.Trim(auth.Path, "/"), "/"); len(parts) > 0 && parts[0] != "" {
			tenant = parts[0]
		}
	}
	writeJSON(w, 200, map[string]any{
		"tenant_discovery_endpoint": "https://" + host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host, "preferred_cache": host, "aliases": []string{host},
		}},
	})
}

func (s *Server) openIDConfig(w http.ResponseWriter, r *http.Request) {
	t := r.PathValue("tenant")
	b := s.base(r)
	writeJSON(w, 200, map[string]any{
		"token_endpoint":                        b + "/" + t + "/oauth2/v2.0/token",
		"authorization_endpoint":                b + "/" + t + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         b + "/" + t + "/oauth2/v2.0/devicecode",
		"jwks_uri":                              b + "/" + t + "/discovery/v2.0/keys",
		"issuer":                                b + "/" + s.Tenant + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"tenant_region_scope":                   "WW",
	})
}

func (s *Server) keys(w http.ResponseWriter, _ *http.Request) {
	pub := s.key.PublicKey
	writeJSON(w, 200, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": s.kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// oauthError answers as Entra ID does: {"error", "error_description"
// starting with the AADSTS code, "error_codes", ...}. The description
// never echoes a secret or assertion.
func (s *Server) oauthError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	corr := randUUID()
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, randUUID(), corr, time.Now().UTC().Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          randUUID(),
		"correlation_id":    corr,
		"error_uri":         "https://login.microsoftonline.com/error?code=" + strconv.Itoa(aadsts),
	})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	req := Request{Time: time.Now(), Host: r.Host, Tenant: r.PathValue("tenant")}
	fail := func(status int, code string, aadsts int, desc string) {
		req.Status, req.Error = status, code
		s.record(req)
		s.oauthError(w, status, code, aadsts, desc)
	}
	if err := r.ParseForm(); err != nil {
		fail(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	req.ClientID = r.PostForm.Get("client_id")
	req.Scope = r.PostForm.Get("scope")
	switch {
	case r.PostForm.Get("client_secret") != "":
		req.Grant = GrantClientSecret
	case r.PostForm.Get("client_assertion") != "":
		req.Grant = GrantClientAssertion
	}
	aud, ok := audienceOf(req.Scope)
	if st := s.takeFault(aud); st != 0 {
		w.Header().Set("Retry-After", "0")
		fail(st, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
		return
	}
	if req.Tenant != s.Tenant {
		fail(400, "invalid_request", 90002, fmt.Sprintf("Tenant '%.40s' not found. Check to make sure you have the correct tenant ID.", req.Tenant))
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		fail(400, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%.40s'.", g))
		return
	}
	if !ok {
		fail(400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %.80s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", req.Scope))
		return
	}
	s.mu.Lock()
	secret, isApp := s.apps[req.ClientID]
	sub, isFed := s.federated[req.ClientID]
	s.mu.Unlock()
	if !isApp && !isFed {
		fail(400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%.40s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", req.ClientID, s.Tenant))
		return
	}
	switch req.Grant {
	case GrantClientSecret:
		if !isApp || r.PostForm.Get("client_secret") != secret {
			fail(401, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%.40s'.", req.ClientID))
			return
		}
	case GrantClientAssertion:
		if t := r.PostForm.Get("client_assertion_type"); t != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			fail(400, "invalid_request", 50027, "Invalid client_assertion_type.")
			return
		}
		claims, err := s.verify(r.PostForm.Get("client_assertion"))
		switch {
		case errors.Is(err, errExpired):
			fail(400, "invalid_client", 700024, "Client assertion is not within its valid time range.")
			return
		case err != nil:
			fail(400, "invalid_client", 50027, "JWT token is invalid or malformed.")
			return
		case !isFed || claims.Iss != FederatedIssuer || claims.Sub != sub:
			fail(400, "invalid_client", 70021, "No matching federated identity record found for presented assertion.")
			return
		}
	default:
		fail(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	tok, life := s.mint(IssuerFor(r.Host, s.Tenant), aud, req.ClientID)
	req.Status, req.Audience = 200, aud
	s.record(req)
	writeJSON(w, 200, map[string]any{
		"token_type": "Bearer", "expires_in": int(life.Seconds()) - 1, "ext_expires_in": int(life.Seconds()) - 1,
		"access_token": tok,
	})
}

// managedIdentity answers as App Service's identity endpoint (API version
// 2019-08-01): GET ?resource=...&client_id=... with X-IDENTITY-HEADER.
func (s *Server) managedIdentity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := Request{Time: time.Now(), Grant: GrantManagedIdentity, Host: r.Host, Tenant: s.Tenant, ClientID: q.Get("client_id"), Scope: q.Get("resource")}
	fail := func(status int, msg string) {
		req.Status, req.Error = status, strconv.Itoa(status)
		s.record(req)
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": randUUID()})
	}
	if st := s.takeFault(strings.TrimSuffix(req.Scope, "/.default")); st != 0 {
		fail(st, "The managed identity endpoint is temporarily unavailable.")
		return
	}
	if r.Header.Get("X-IDENTITY-HEADER") != s.miHdr {
		fail(401, "The X-IDENTITY-HEADER header is missing or does not match.")
		return
	}
	if q.Get("api-version") != "2019-08-01" {
		fail(400, "The api-version is not supported.")
		return
	}
	if req.Scope == "" {
		fail(400, "The resource parameter is required.")
		return
	}
	s.mu.Lock()
	known := s.mis[req.ClientID]
	s.mu.Unlock()
	if !known || q.Get("principal_id") != "" || q.Get("mi_res_id") != "" {
		fail(400, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}
	cid := req.ClientID
	if cid == "" {
		cid = s.miDefault
	}
	aud := strings.TrimSuffix(req.Scope, "/.default")
	tok, life := s.mint(IssuerFor("login.microsoftonline.com", s.Tenant), aud, cid)
	req.Status, req.Audience = 200, aud
	s.record(req)
	writeJSON(w, 200, map[string]any{
		"access_token": tok, "expires_on": strconv.FormatInt(time.Now().Add(life-time.Second).Unix(), 10),
		"resource": aud, "token_type": "Bearer", "client_id": cid,
	})
}

// audienceOf turns a client-credentials scope ("<resource>/.default") into
// the audience of the token.
func audienceOf(scope string) (string, bool) {
	f := strings.Fields(scope)
	var res []string
	for _, s := range f {
		switch s {
		case "openid", "profile", "offline_access":
			continue
		}
		res = append(res, s)
	}
	if len(res) != 1 || !strings.HasSuffix(res[0], "/.default") {
		return "", false
	}
	aud := strings.TrimSuffix(res[0], "/.default")
	return aud, aud != ""
}

// Claims are the claims of a minted token that tests check.
type Claims struct {
	Iss   string `json:"iss"`
	Aud   string `json:"aud"`
	Sub   string `json:"sub"`
	Tid   string `json:"tid"`
	AppID string `json:"appid"`
	Oid   string `json:"oid"`
	Iat   int64  `json:"iat"`
	Nbf   int64  `json:"nbf"`
	Exp   int64  `json:"exp"`
	Ver   string `json:"ver"`
}

// mint signs a v1 access token for aud. It returns the token and its
// lifetime; the response tells the client one second less (expires_in
// 3599 for an hour, as Entra ID does).
func (s *Server) mint(iss, aud, clientID string) (string, time.Duration) {
	s.mu.Lock()
	life := s.lifetime
	s.mu.Unlock()
	now := time.Now()
	c := Claims{Iss: iss, Aud: aud, Sub: clientID, Tid: s.Tenant, AppID: clientID, Oid: clientID,
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(life).Unix(), Ver: "1.0"}
	return s.sign(c), life
}

// MintToken signs a token as the token endpoint would, valid for life from
// now (negative: already expired). For the fake az and for tests sending
// tokens by hand.
func (s *Server) MintToken(host, aud, clientID string, life time.Duration) string {
	now := time.Now()
	c := Claims{Iss: IssuerFor(host, s.Tenant), Aud: aud, Sub: clientID, Tid: s.Tenant, AppID: clientID, Oid: clientID,
		Iat: now.Add(-time.Minute).Unix(), Nbf: now.Add(-time.Minute).Unix(), Exp: now.Add(life).Unix(), Ver: "1.0"}
	return s.sign(c)
}

// FederatedToken signs a service-account token (the file workload identity
// reads) for sub with audience api://AzureADTokenExchange.
func (s *Server) FederatedToken(sub string, life time.Duration) string {
	now := time.Now()
	c := Claims{Iss: FederatedIssuer, Aud: "api://AzureADTokenExchange", Sub: sub,
		Iat: now.Add(-time.Minute).Unix(), Nbf: now.Add(-time.Minute).Unix(), Exp: now.Add(life).Unix()}
	return s.sign(c)
}

func (s *Server) sign(c Claims) string {
	h, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": s.kid})
	p, _ := json.Marshal(c)
	in := b64(h) + "." + b64(p)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err) // cannot fail with a valid key
	}
	return in + "." + b64(sig)
}

var errExpired = errors.New("token expired")

// verify checks a token this server signed and returns its claims.
func (s *Server) verify(tok string) (Claims, error) {
	var c Claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return c, err
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(p, &c); err != nil {
		return c, err
	}
	if time.Now().Unix() >= c.Exp {
		return c, errExpired
	}
	return c, nil
}

// ParseClaims decodes the claims of a JWT without checking it (tests read
// what a client sent).
func ParseClaims(tok string) (Claims, error) {
	var c Claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("entratest: not a JWT")
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(p, &c)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randUUID() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
