package emulator_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/testkit/entratest"
)

// TestEntraAuth: in Entra mode the Logs Ingestion API takes only a JWT
// signed by the stand-in's key, from its issuer, for the cloud's audience,
// inside its lifetime, of a client holding the role; every refusal is 401
// (403 for the role) with Azure's error code and a WWW-Authenticate header.
func TestEntraAuth(t *testing.T) {
	st := entratest.Start(t)
	other := entratest.Start(t) // a different signing key
	const app, stranger = "11111111-aaaa-4000-8000-000000000001", "99999999-0000-4000-8000-000000000009"
	pub := "login.microsoftonline.com"
	cases := []struct {
		name     string
		audience string // emulator's configured audience
		token    string
		status   int
		code     string
	}{
		{"public", emulator.AudiencePublic, st.MintToken(pub, "https://monitor.azure.com/", app, time.Hour), 204, ""},
		{"public without slash", "", st.MintToken(pub, "https://monitor.azure.com", app, time.Hour), 204, ""},
		{"china", emulator.AudienceChina, st.MintToken("login.chinacloudapi.cn", "https://monitor.azure.cn/", app, time.Hour), 204, ""},
		{"usgov", emulator.AudienceUSGov, st.MintToken("login.microsoftonline.us", "https://monitor.azure.us/", app, time.Hour), 204, ""},
		{"storage audience", emulator.AudiencePublic, st.MintToken(pub, "https://storage.azure.com", app, time.Hour), 401, "InvalidAuthenticationTokenAudience"},
		{"public token in china", emulator.AudienceChina, st.MintToken("login.chinacloudapi.cn", "https://monitor.azure.com/", app, time.Hour), 401, "InvalidAuthenticationTokenAudience"},
		{"expired", emulator.AudiencePublic, st.MintToken(pub, "https://monitor.azure.com/", app, -time.Second), 401, "ExpiredAuthenticationToken"},
		{"other key", emulator.AudiencePublic, other.MintToken(pub, "https://monitor.azure.com/", app, time.Hour), 401, "InvalidAuthenticationToken"},
		{"china issuer in public", emulator.AudiencePublic, st.MintToken("login.chinacloudapi.cn", "https://monitor.azure.com/", app, time.Hour), 401, "InvalidAuthenticationToken"},
		{"not a JWT", emulator.AudiencePublic, "static-token-0123456789", 401, "InvalidAuthenticationToken"},
		{"client without the role", emulator.AudiencePublic, st.MintToken(pub, "https://monitor.azure.com/", stranger, time.Hour), 403, "OperationFailed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			iss := entratest.IssuerFor(pub, st.Tenant)
			if c.audience == emulator.AudienceChina {
				iss = entratest.IssuerFor("login.chinacloudapi.cn", st.Tenant)
			}
			srv, err := emulator.New(emulator.Config{Entra: &emulator.EntraAuth{
				Keys: []*rsa.PublicKey{st.PublicKey()}, Issuers: []string{iss}, Audience: c.audience, Clients: []string{app}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.IngestionURL(emulator.DefaultDCRImmutableID, emulator.DefaultStream), bytes.NewReader([]byte(`[]`)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, c.status)
			}
			if c.code == "" {
				return
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != c.code {
				t.Errorf("body %s: want error code %s", body, c.code)
			}
			if strings.Contains(string(body), c.token) {
				t.Errorf("the refusal echoes the token")
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
}
