package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
	"github.com/nsgflow/nsgflow/internal/testkit/entratest"
)

// The Entra tests share one CA and one Azurite with OAuth on over HTTPS
// (its certificate covers 127.0.0.1 and the blob hosts of the three clouds,
// reached through each test's proxy).
var (
	entraOnce sync.Once
	entraCA   *entratest.CA
	entraAz   *azuritetest.Server
	entraErr  error
	entraDir  string
)

func startEntraAzurite(t *testing.T) (*entratest.CA, *azuritetest.Server) {
	t.Helper()
	entraOnce.Do(func() {
		entraDir, entraErr = os.MkdirTemp("", "nsgflow-entra-")
		if entraErr != nil {
			return
		}
		if entraCA, entraErr = entratest.NewCA(entraDir); entraErr != nil {
			return
		}
		cert, key, err := entraCA.WriteCert(entraDir, "azurite", "127.0.0.1", "localhost",
			"*.blob.core.windows.net", "*.blob.core.chinacloudapi.cn", "*.blob.core.usgovcloudapi.net")
		if err != nil {
			entraErr = err
			return
		}
		entraAz, entraErr = azuritetest.LaunchWith(azuritetest.Options{CertFile: cert, KeyFile: key, RootCAs: entraCA.Pool(), OAuth: true, ProductStyle: true})
	})
	return entraCA, azuritetest.Require(t, entraAz, entraErr)
}

func stopEntraAzurite() {
	if entraAz != nil {
		entraAz.Stop()
	}
	if entraDir != "" {
		os.RemoveAll(entraDir)
	}
}

// Identities the stand-in knows.
const (
	entraApp      = "11111111-aaaa-4000-8000-000000000001"
	entraSecret   = "entra-e2e-client-secret-0123456789abcdef"
	entraFed      = "22222222-bbbb-4000-8000-000000000002"
	entraFedSub   = "system:serviceaccount:nsgflow:collector"
	entraUAMI     = "33333333-cccc-4000-8000-000000000003"
	storageAud    = "https://storage.azure.com"
	monitorAudPub = "https://monitor.azure.com/"
	// entraSharedKey is the emulator's Data Collector workspace key (base64).
	entraSharedKey = "ZW50cmEtZTJlLXdvcmtzcGFjZS1rZXktMDEyMzQ1Njc4OQ=="
)

// entraRig is one test's stand-in, proxy and emulator in Entra mode.
type entraRig struct {
	st    *entratest.Server
	p     *entratest.Proxy
	az    *azuritetest.Server
	em    *emulator.Server
	dir   string
	fake  *entratest.FakeAZ
	fedTk string
}

// newEntraRig starts the rig; cloud picks the emulator's audience and issuer.
func newEntraRig(t *testing.T, cloud string) *entraRig {
	t.Helper()
	ca, az := startEntraAzurite(t)
	st, err := entratest.New(ca)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	st.AddApp(entraApp, entraSecret)
	st.AddFederated(entraFed, entraFedSub)
	st.AddUserAssigned(entraUAMI)
	p := entratest.StartProxy(t, ca)
	p.RouteEntra(st)
	azAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(az.Port))
	for _, h := range []string{"*.blob.core.windows.net", "*.blob.core.chinacloudapi.cn", "*.blob.core.usgovcloudapi.net"} {
		p.Route(h, azAddr)
	}
	aud, host := emulator.AudiencePublic, "login.microsoftonline.com"
	switch cloud {
	case "china":
		aud, host = emulator.AudienceChina, "login.chinacloudapi.cn"
	case "usgov":
		aud, host = emulator.AudienceUSGov, "login.microsoftonline.us"
	}
	em, err := emulator.New(emulator.Config{SharedKey: entraSharedKey, Entra: &emulator.EntraAuth{
		Keys: []*rsa.PublicKey{st.PublicKey()}, Issuers: []string{entratest.IssuerFor(host, st.Tenant)}, Audience: aud,
		Clients: []string{entraApp, entraFed, entraUAMI, st.SystemAssignedClientID()}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := em.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	r := &entraRig{st: st, p: p, az: az, em: em, dir: t.TempDir()}
	r.fedTk = filepath.Join(r.dir, "federated-token")
	if err := os.WriteFile(r.fedTk, []byte(st.FederatedToken(entraFedSub, time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	if r.fake, err = st.FakeAZ(t.TempDir(), entraApp, time.Hour, storageAud, monitorAudPub); err != nil {
		t.Fatal(err)
	}
	return r
}

// hermeticEnv is the test process's environment without anything that
// would pick a credential, a proxy or a CA.
func hermeticEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AZURE_"), strings.HasPrefix(k, "IDENTITY_"), strings.HasPrefix(k, "MSI_"),
			strings.HasPrefix(k, "NSGFLOW_"), strings.EqualFold(k, "HTTPS_PROXY"), strings.EqualFold(k, "HTTP_PROXY"),
			strings.EqualFold(k, "NO_PROXY"), k == "SSL_CERT_FILE", k == "SSL_CERT_DIR", k == "IMDS_ENDPOINT":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// credCase is one way to sign in: the storage and Logs Ingestion flags and
// the environment the platform would give the process.
type credCase struct {
	name        string
	storageArgs []string
	liArgs      []string
	env         func(r *entraRig) []string
	// grant is the stand-in grant each token request must be ("" for the
	// CLI: the fake az answers, the stand-in sees nothing).
	grant string
}

func credCases() []credCase {
	return []credCase{
		{name: "managed identity", storageArgs: []string{"--storage-auth", "managed-identity"},
			liArgs: []string{"--credential", "managed_identity", "--client-id", entraUAMI},
			env:    func(r *entraRig) []string { return r.st.ManagedIdentityEnv() }, grant: entratest.GrantManagedIdentity},
		{name: "workload identity", storageArgs: []string{"--storage-auth", "workload-identity"},
			liArgs: []string{"--credential", "workload_identity"},
			env: func(r *entraRig) []string {
				return []string{"AZURE_FEDERATED_TOKEN_FILE=" + r.fedTk, "AZURE_CLIENT_ID=" + entraFed, "AZURE_TENANT_ID=" + r.st.Tenant,
					"AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/"}
			}, grant: entratest.GrantClientAssertion},
		{name: "client secret", storageArgs: []string{"--storage-auth", "client-secret", "--storage-client-id", entraApp, "--storage-tenant-id", entratest.DefaultTenant},
			liArgs: []string{"--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant},
			env: func(r *entraRig) []string {
				return []string{envStorageSecret + "=" + entraSecret, envClientSecret + "=" + entraSecret}
			}, grant: entratest.GrantClientSecret},
		{name: "azure cli", storageArgs: []string{"--storage-auth", "cli"}, liArgs: []string{"--credential", "azure_cli"},
			env: func(r *entraRig) []string { return []string{r.fake.PathEnv()} }},
		{name: "default chain", storageArgs: []string{"--storage-auth", "default"}, liArgs: []string{"--credential", "default"},
			env: func(r *entraRig) []string {
				return []string{"AZURE_TENANT_ID=" + r.st.Tenant, "AZURE_CLIENT_ID=" + entraApp, "AZURE_CLIENT_SECRET=" + entraSecret}
			}, grant: entratest.GrantClientSecret},
	}
}

// entraArgs are run's flags for blobs in the OAuth Azurite (path-style on
// 127.0.0.1, or the cloud's host name through the proxy when endpoint is
// "") delivering to the Entra-mode emulator.
func entraArgs(t *testing.T, r *entraRig, endpoint, cpContainer string, blobs ...*flowgen.Blob) []string {
	t.Helper()
	seen := map[string]bool{}
	var subs []string
	for _, b := range blobs {
		p, err := blobsource.ParsePath(b.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[p.SubscriptionID] {
			seen[p.SubscriptionID] = true
			subs = append(subs, p.SubscriptionID)
		}
	}
	a := []string{"--storage-account", azuritetest.Account,
		"--containers", blobs[0].Container, "--start", "beginning", "--grace", "1s", "--poll-interval", "200ms",
		"--checkpoint-container", cpContainer, "--subscriptions", strings.Join(subs, ","), "--done-marker",
		"--destination", "logs_ingestion", "--endpoint", r.em.URL(), "--dcr-id", emulator.DefaultDCRImmutableID,
		"--stream", emulator.DefaultStream, "--min-backoff", "10ms", "--max-backoff", "200ms", "--linger", "100ms"}
	if endpoint != "" {
		a = append(a, "--storage-endpoint", endpoint)
	}
	return a
}

// runEntraChild runs `nsgflow run` as a child process with env added to
// the hermetic environment and the proxy's, and returns its exit code and
// stderr.
func runEntraChild(t *testing.T, r *entraRig, args, env []string, timeout time.Duration) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"run"}, args...)...)
	cmd.Env = append(append(append(hermeticEnv(), childEnv+"=1"), r.p.Env()...), env...)
	var errb syncBuffer
	cmd.Stderr = &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			t.Fatalf("nsgflow run: %v", err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("nsgflow run did not finish within %v:\n%s", timeout, errb.String())
	}
	return code, errb.String()
}

// checkpointBlobs counts the blobs of a checkpoint container.
func checkpointBlobs(t *testing.T, az *azuritetest.Server, container string) int {
	t.Helper()
	n := 0
	pager := az.Client().NewContainerClient(container).NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", container, err)
		}
		n += len(page.Segment.BlobItems)
	}
	return n
}

// TestEntraRunCredentials: nsgflow run reads Azurite (OAuth on, HTTPS) and
// delivers to the emulator (JWT checked) with each credential kind on both
// sides: every tuple once, every blob done-marked and the checkpoints in
// the storage account, all through tokens of the stand-in for the storage
// and the Monitor audiences of the public cloud; no host off this machine
// asked for.
func TestEntraRunCredentials(t *testing.T) {
	for i, c := range credCases() {
		t.Run(c.name, func(t *testing.T) {
			r := newEntraRig(t, "public")
			o := flowgen.Options{Format: flowgen.FormatVNetv4, Resources: 1, MACs: 1, Hours: 2, RecordsPerHour: 4, TuplesPerRecord: 5,
				Seed: uint64(700 + i), Start: time.Now().UTC().Add(-5 * time.Hour)}
			datas, blobs := uploadSet(t, r.az.Client(), o)
			want := expectedIDs(t, datas...)
			cp := fmt.Sprintf("nsgflow-cp-%d", i)
			args := append(entraArgs(t, r, r.az.Endpoint(), cp, blobs...), "--once")
			args = append(append(args, c.storageArgs...), c.liArgs...)
			code, stderr := runEntraChild(t, r, args, c.env(r), 2*time.Minute)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			compareIDs(t, want, gotIDs(t, r.em))
			for _, b := range blobs {
				if !hasDoneMarker(t, r.az.Client(), b.Container, b.Name) {
					t.Errorf("blob %s has no done marker", b.Name)
				}
			}
			if n := checkpointBlobs(t, r.az, cp); n == 0 {
				t.Errorf("checkpoint container %s is empty", cp)
			}
			if st := r.em.Stats(); st.Requests[401]+st.Requests[403] != 0 {
				t.Errorf("emulator refused requests: %v", st.Requests)
			}
			if c.grant == "" {
				calls := strings.Join(r.fake.Calls(), "\n")
				for _, res := range []string{storageAud, monitorAudPub} {
					if !strings.Contains(calls, "account get-access-token -o json --resource "+res) {
						t.Errorf("az was not asked for %s: %q", res, calls)
					}
				}
				if n := len(r.st.Requests()); n != 0 {
					t.Errorf("the CLI path made %d token requests to the stand-in", n)
				}
			} else {
				auds := map[string]int{}
				for _, q := range r.st.Requests() {
					if q.Status != 200 || q.Grant != c.grant {
						t.Errorf("token request %+v: want grant %s answered 200", q, c.grant)
					}
					if q.Grant != entratest.GrantManagedIdentity && q.Host != "login.microsoftonline.com" {
						t.Errorf("token request to %s, want login.microsoftonline.com", q.Host)
					}
					auds[q.Audience]++
				}
				if auds[storageAud] == 0 || auds[monitorAudPub] == 0 {
					t.Errorf("tokens by audience %v: want %s and %s", auds, storageAud, monitorAudPub)
				}
			}
			if ref := r.p.Refused(); len(ref) > 0 {
				t.Errorf("the proxy refused %q: something tried to leave the machine", ref)
			}
			for _, leak := range []string{entraSecret, r.fakeToken(t)} {
				if leak != "" && strings.Contains(stderr, leak) {
					t.Errorf("a secret or token is in the log")
				}
			}
			t.Logf("%d tuples; token requests %d; proxy saw %q", len(want), len(r.st.Requests()), r.p.Seen())
		})
	}
}

// fakeToken is the storage token the fake az hands out (for leak checks).
func (r *entraRig) fakeToken(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(r.fake.Dir, "tok-https___storage_azure_com"))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.Index(s, `"accessToken": "`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`"accessToken": "`):]
	return s[:strings.IndexByte(s, '"')]
}

// TestEntraRunSovereign: with --storage-cloud and --cloud set to china or
// usgov and no endpoint overrides, nsgflow run asks the cloud's authority
// host for tokens, reads the account at the cloud's blob host with the
// account's own audience, asks for the cloud's Monitor audience (checked by
// the emulator), and the Data Collector goes to the cloud's ODS host — each
// seen by the proxy and the stand-in, never a host of another cloud.
func TestEntraRunSovereign(t *testing.T) {
	cases := []struct {
		cloud, authority, blobHost, storageAud, monitorAud, odsHost string
	}{
		{"china", "login.chinacloudapi.cn", "devstoreaccount1.blob.core.chinacloudapi.cn", "https://devstoreaccount1.blob.core.chinacloudapi.cn",
			"https://monitor.azure.cn/", emulator.DefaultWorkspaceID + ".ods.opinsights.azure.cn"},
		{"usgov", "login.microsoftonline.us", "devstoreaccount1.blob.core.usgovcloudapi.net", "https://devstoreaccount1.blob.core.usgovcloudapi.net",
			"https://monitor.azure.us/", emulator.DefaultWorkspaceID + ".ods.opinsights.azure.us"},
	}
	for i, c := range cases {
		t.Run(c.cloud, func(t *testing.T) {
			r := newEntraRig(t, c.cloud)
			r.p.RouteTerminate("*.ods.opinsights.azure.cn", r.em.Addr())
			r.p.RouteTerminate("*.ods.opinsights.azure.us", r.em.Addr())
			o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 3, TuplesPerRecord: 4,
				Seed: uint64(800 + i), Start: time.Now().UTC().Add(-4 * time.Hour)}
			datas, blobs := uploadSet(t, r.az.Client(), o)
			want := expectedIDs(t, datas...)
			secrets := []string{envStorageSecret + "=" + entraSecret, envClientSecret + "=" + entraSecret}
			creds := []string{"--storage-cloud", c.cloud, "--cloud", c.cloud,
				"--storage-auth", "client-secret", "--storage-client-id", entraApp, "--storage-tenant-id", entratest.DefaultTenant,
				"--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant}
			args := append(append(entraArgs(t, r, "", "nsgflow-cp-"+c.cloud, blobs...), "--once"), creds...)
			code, stderr := runEntraChild(t, r, args, secrets, 2*time.Minute)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			compareIDs(t, want, gotIDs(t, r.em))
			auds := map[string]int{}
			for _, q := range r.st.Requests() {
				if q.Host != c.authority || q.Status != 200 {
					t.Errorf("token request %+v: want %s answered 200", q, c.authority)
				}
				auds[q.Audience]++
			}
			if auds[c.storageAud] == 0 || auds[c.monitorAud] == 0 || len(auds) != 2 {
				t.Errorf("token audiences %v: want %s and %s", auds, c.storageAud, c.monitorAud)
			}

			// The Data Collector at the cloud's ODS host (shared key; the
			// proxy ends TLS with a certificate for that host).
			o.Seed += 50
			datas2, blobs2 := uploadSet(t, r.az.Client(), o)
			for id, n := range expectedIDs(t, datas2...) {
				want[id] += n
			}
			keyFile := filepath.Join(r.dir, "shared-key")
			if err := os.WriteFile(keyFile, []byte(entraSharedKey), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(entraArgs(t, r, "", "nsgflow-cp-dc-"+c.cloud, blobs2...), "--once")
			// No endpoint: the cloud's ODS host.
			args = dropFlags(args, "--endpoint", "--dcr-id", "--stream", "--destination")
			args = append(args, "--destination", "data_collector", "--workspace-id", emulator.DefaultWorkspaceID, "--shared-key-file", keyFile,
				"--log-type", "NsgFlow", "--storage-cloud", c.cloud, "--cloud", c.cloud,
				"--storage-auth", "client-secret", "--storage-client-id", entraApp, "--storage-tenant-id", entratest.DefaultTenant)
			code, stderr = runEntraChild(t, r, args, secrets, 2*time.Minute)
			if code != 0 {
				t.Fatalf("data collector run: exit %d:\n%s", code, stderr)
			}
			compareIDs(t, want, gotIDs(t, r.em))
			seen := map[string]bool{}
			for _, h := range r.p.Seen() {
				seen[h] = true
			}
			for _, h := range []string{c.authority, c.blobHost, c.odsHost} {
				if !seen[h+":443"] {
					t.Errorf("proxy never saw %s (saw %v)", h, r.p.Seen())
				}
			}
			if len(seen) != 3 {
				t.Errorf("proxy saw %v: want only %s, %s and %s", r.p.Seen(), c.authority, c.blobHost, c.odsHost)
			}
			if ref := r.p.Refused(); len(ref) > 0 {
				t.Errorf("the proxy refused %q", ref)
			}
		})
	}
}

// dropFlags removes each named flag and its value from args.
func dropFlags(args []string, names ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if slices.Contains(names, args[i]) {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// TestEntraTokenLifetime: with 6-second tokens (the stand-in says
// expires_in 5), a 20-second stream through nsgflow run sees several
// refreshes on both sides and no refused request: every storage and Logs
// Ingestion request carried a token inside its lifetime (Azurite and the
// emulator check exp with no leeway), and tokens were reused between
// refreshes rather than fetched per request.
//
// What the SDK does with short tokens: azidentity (MSAL) treats a cached
// token within five minutes of expiry as expired, so every GetToken call
// goes to the token endpoint. The blob client's bearer policy calls it when
// the token has expired or, inside those five minutes, at most once per 30
// seconds; nsgflow's Logs Ingestion token cache calls it halfway through a
// token's life when that life is under four minutes (two minutes before
// expiry otherwise). So a 6-second token is refreshed about every 5
// seconds for storage and every 2.5 seconds for Logs Ingestion, and each
// is used by many requests in between.
func TestEntraTokenLifetime(t *testing.T) {
	r := newEntraRig(t, "public")
	r.st.SetLifetime(6 * time.Second)
	ctx := context.Background()
	svc := r.az.Client()
	b, err := flowgen.GenerateBlob(flowgen.Options{Format: flowgen.FormatVNetv4, RecordsPerHour: 40, TuplesPerRecord: 4, Seed: 31,
		Start: time.Now().UTC()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := azuritetest.CreateContainer(ctx, svc, b.Container); err != nil {
		t.Fatal(err)
	}
	g, err := azuritetest.NewGrower(ctx, svc, b.Container, b.Name)
	if err != nil {
		t.Fatal(err)
	}
	args := append(entraArgs(t, r, r.az.Endpoint(), "nsgflow-cp-lifetime", b),
		"--storage-auth", "managed-identity", "--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant)
	cmd := exec.Command(os.Args[0], append([]string{"run"}, args...)...)
	cmd.Env = append(append(append(hermeticEnv(), childEnv+"=1"), r.p.Env()...), append(r.st.ManagedIdentityEnv(), envClientSecret+"="+entraSecret)...)
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	data := b.Blocks[1 : len(b.Blocks)-1]
	start := time.Now()
	const stream = 20 * time.Second
	for i := range data {
		if err := g.Append(ctx, data[i]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(start.Add(stream * time.Duration(i+1) / time.Duration(len(data)))))
	}
	want := expectedIDs(t, b.Bytes())
	deadline := time.Now().Add(30 * time.Second)
	for len(gotIDs(t, r.em)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("nsgflow run: %v\n%s", err, errb.String())
	}
	compareIDs(t, want, gotIDs(t, r.em))
	st := r.em.Stats()
	storageTok, liTok := r.st.Count(storageAud), r.st.Count(monitorAudPub)
	t.Logf("%v stream, %d blocks: %d storage tokens, %d Logs Ingestion tokens for %d accepted requests; emulator answers %v",
		time.Since(start).Round(time.Second), len(data), storageTok, liTok, st.Requests[204], st.Requests)
	if storageTok < 3 || liTok < 3 {
		t.Errorf("%d storage and %d Logs Ingestion tokens over %v of 6-second tokens: want several refreshes of each", storageTok, liTok, stream)
	}
	if int64(liTok) >= st.Requests[204] {
		t.Errorf("%d Logs Ingestion tokens for %d requests: tokens are not reused", liTok, st.Requests[204])
	}
	if storageTok > 12 {
		t.Errorf("%d storage tokens in %v: fetched far more often than the token lifetime needs", storageTok, stream)
	}
	if n := st.Requests[401] + st.Requests[403]; n != 0 {
		t.Errorf("%d Logs Ingestion requests refused", n)
	}
	for _, bad := range []string{"AuthenticationFailed", "401", "403", "expired"} {
		if strings.Contains(errb.String(), bad) {
			t.Errorf("nsgflow run logged %q:\n%s", bad, errb.String())
		}
	}
	for _, q := range r.st.Requests() {
		if q.Status != 200 {
			t.Errorf("token request refused: %+v", q)
		}
	}
}

// TestEntraTransient: the token endpoint answering 503 is retried on both
// sides: for storage within the SDK's retries (two 503s), for Logs
// Ingestion beyond them (six 503s: the first token fetch gives up, the
// batch is retried and the next fetch succeeds); every tuple arrives once.
func TestEntraTransient(t *testing.T) {
	r := newEntraRig(t, "public")
	r.st.FailNextFor(storageAud, 2, 503)
	r.st.FailNextFor(monitorAudPub, 6, 503)
	o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 4, TuplesPerRecord: 5,
		Seed: 951, Start: time.Now().UTC().Add(-3 * time.Hour)}
	datas, blobs := uploadSet(t, r.az.Client(), o)
	want := expectedIDs(t, datas...)
	args := append(append(entraArgs(t, r, r.az.Endpoint(), "nsgflow-cp-transient", blobs...), "--once"),
		"--storage-auth", "client-secret", "--storage-client-id", entraApp, "--storage-tenant-id", entratest.DefaultTenant,
		"--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant)
	code, stderr := runEntraChild(t, r, args, []string{envStorageSecret + "=" + entraSecret, envClientSecret + "=" + entraSecret}, 2*time.Minute)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	compareIDs(t, want, gotIDs(t, r.em))
	n503 := map[string]int{}
	for _, q := range r.st.Requests() {
		if q.Status == 503 {
			n503[strings.TrimSuffix(strings.Fields(q.Scope + " x")[0], "/.default")]++
		}
	}
	if n503[storageAud] != 2 || n503[monitorAudPub] != 6 {
		t.Errorf("503s answered by scope %v: want 2 for storage and 6 for Logs Ingestion", n503)
	}
	if strings.Contains(stderr, entraSecret) {
		t.Errorf("the output holds the secret")
	}
}

// TestEntraServiceRefusals: a token the Logs Ingestion API refuses (issued
// for another cloud's audience; expired by the service's clock) ends
// nsgflow run quickly with Azure's error code, after one retry (the cached
// token is dropped; azidentity hands out the same, still valid token from
// its own cache, so the stand-in sees one token request), and no token in
// the output.
func TestEntraServiceRefusals(t *testing.T) {
	cases := []struct {
		name string
		auth func(r *entraRig) emulator.Config
		code string
	}{
		{"audience of another cloud", func(r *entraRig) emulator.Config {
			return emulator.Config{Entra: &emulator.EntraAuth{Keys: []*rsa.PublicKey{r.st.PublicKey()},
				Issuers: []string{entratest.IssuerFor("login.microsoftonline.com", r.st.Tenant)}, Audience: emulator.AudienceUSGov}}
		}, "InvalidAuthenticationTokenAudience"},
		{"expired", func(r *entraRig) emulator.Config {
			return emulator.Config{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }, Entra: &emulator.EntraAuth{Keys: []*rsa.PublicKey{r.st.PublicKey()},
				Issuers: []string{entratest.IssuerFor("login.microsoftonline.com", r.st.Tenant)}}}
		}, "ExpiredAuthenticationToken"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newEntraRig(t, "public")
			em, err := emulator.New(c.auth(r))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := em.Start(); err != nil {
				t.Fatal(err)
			}
			defer em.Close()
			r.em = em
			o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 2, TuplesPerRecord: 3,
				Seed: uint64(960 + i), Start: time.Now().UTC().Add(-3 * time.Hour)}
			_, blobs := uploadSet(t, r.az.Client(), o)
			args := append(append(entraArgs(t, r, r.az.Endpoint(), fmt.Sprintf("nsgflow-cp-refused-%d", i), blobs...), "--once"),
				"--storage-auth", "managed-identity", "--credential", "managed_identity")
			start := time.Now()
			code, stderr := runEntraChild(t, r, args, r.st.ManagedIdentityEnv(), time.Minute)
			took := time.Since(start)
			if code == 0 {
				t.Fatalf("nsgflow run succeeded:\n%s", stderr)
			}
			if took > 5*time.Second {
				t.Errorf("took %v to give up", took)
			}
			if !strings.Contains(stderr, c.code) || !strings.Contains(stderr, "https://monitor.azure.com") {
				t.Errorf("the error does not say %s and the audience asked for:\n%s", c.code, stderr)
			}
			if n := em.Stats().Requests[401]; n != 2 {
				t.Errorf("%d requests refused with 401, want 2 (one retry after dropping the cached token)", n)
			}
			if strings.Contains(stderr, "eyJ") {
				t.Errorf("a JWT is in the output")
			}
		})
	}
}

// TestEntraFailures: each permanent credential failure ends nsgflow run in
// under five seconds with an error naming the setting to fix, and neither
// the secret nor a token appears in its output.
func TestEntraFailures(t *testing.T) {
	const wrong = "wrong-secret-value-abcdef0123456789"
	cases := []struct {
		name  string
		args  []string
		env   []string
		names []string // what the error must mention
		// localCheckpoints keeps checkpoints in a directory, so the first
		// storage request is the listing, not the checkpoint container.
		localCheckpoints bool
	}{
		{name: "storage bad secret",
			args:  []string{"--storage-auth", "client-secret", "--storage-client-id", entraApp, "--storage-tenant-id", entratest.DefaultTenant, "--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant},
			env:   []string{envStorageSecret + "=" + wrong, envClientSecret + "=" + entraSecret},
			names: []string{"storage-client-secret", "AADSTS7000215"}},
		{name: "storage bad secret, local checkpoints", localCheckpoints: true,
			args:  []string{"--storage-auth", "client-secret", "--storage-client-id", entraApp, "--storage-tenant-id", entratest.DefaultTenant, "--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant},
			env:   []string{envStorageSecret + "=" + wrong, envClientSecret + "=" + entraSecret},
			names: []string{"storage-client-secret", "AADSTS7000215"}},
		{name: "logs ingestion bad secret",
			args:  []string{"--storage-auth", "client-secret", "--storage-client-id", entraApp, "--storage-tenant-id", entratest.DefaultTenant, "--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant},
			env:   []string{envStorageSecret + "=" + entraSecret, envClientSecret + "=" + wrong},
			names: []string{"NSGFLOW_CLIENT_SECRET", "AADSTS7000215"}},
		{name: "unknown client",
			args:  []string{"--storage-auth", "client-secret", "--storage-client-id", "99999999-0000-4000-8000-000000000009", "--storage-tenant-id", entratest.DefaultTenant, "--credential", "client_secret", "--client-id", entraApp, "--tenant-id", entratest.DefaultTenant},
			env:   []string{envStorageSecret + "=" + entraSecret, envClientSecret + "=" + entraSecret},
			names: []string{"storage-client-id", "AADSTS700016"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newEntraRig(t, "public")
			o := flowgen.Options{Format: flowgen.FormatVNetv4, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 2, TuplesPerRecord: 3,
				Seed: uint64(900 + i), Start: time.Now().UTC().Add(-3 * time.Hour)}
			_, blobs := uploadSet(t, r.az.Client(), o)
			args := append(append(entraArgs(t, r, r.az.Endpoint(), fmt.Sprintf("nsgflow-cp-fail-%d", i), blobs...), "--once"), c.args...)
			if c.localCheckpoints {
				args = append(dropFlags(args, "--checkpoint-container"), "--checkpoint-dir", t.TempDir())
			}
			start := time.Now()
			code, stderr := runEntraChild(t, r, args, c.env, time.Minute)
			took := time.Since(start)
			t.Logf("exit %d after %v:\n%s", code, took.Round(time.Millisecond), stderr)
			if code == 0 {
				t.Fatal("nsgflow run succeeded")
			}
			if took > 5*time.Second {
				t.Errorf("took %v to fail: a permanent credential error must fail fast", took)
			}
			for _, n := range c.names {
				if !strings.Contains(stderr, n) {
					t.Errorf("the error does not name %q", n)
				}
			}
			for _, s := range []string{wrong, entraSecret} {
				if strings.Contains(stderr, s) {
					t.Errorf("the output holds a secret")
				}
			}
		})
	}
}
