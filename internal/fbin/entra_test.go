package fbin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
	"github.com/nsgflow/nsgflow/internal/testkit/entratest"
)

// The Entra tests run the input as a child process of the test binary, so
// each gets the environment a platform would give it (managed identity
// endpoint, federated token file, az on PATH, proxy and CA) and nothing of
// it leaks into the other tests.
const (
	entraChildEnv = "FBIN_ENTRA_CHILD" // JSON of the plugin keys
	entraWantEnv  = "FBIN_ENTRA_WANT"  // records to collect
)

func TestMain(m *testing.M) {
	if conf := os.Getenv(entraChildEnv); conf != "" {
		os.Exit(entraChild(conf, os.Getenv(entraWantEnv)))
	}
	os.Exit(m.Run())
}

// entraChild runs the input as the plugin does (ParseConfig on its keys,
// OpenSource, NewInput, Collect once in a while) until want records were
// handed over, and prints "handed N".
func entraChild(conf, wantS string) int {
	var keys map[string]string
	if err := json.Unmarshal([]byte(conf), &keys); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	want, _ := strconv.ParseInt(wantS, 10, 64)
	log := &fblog.Logger{W: os.Stderr, Level: fblog.LevelDebug, Prefix: "input:nsgflow_blob:entra"}
	cfg, err := ParseConfig(MapConfig(keys))
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		return 1
	}
	src, store, err := OpenSource(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	in := NewInput(cfg, src, store, log)
	in.Start()
	deadline := time.Now().Add(60 * time.Second)
	for in.Stats().HandedEntries < want && time.Now().Before(deadline) {
		if len(in.Collect()) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		in.Handed()
	}
	err = in.Close(5 * time.Second)
	st := in.Stats()
	fmt.Printf("handed %d\n", st.HandedEntries)
	if err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

const (
	eApp    = "11111111-aaaa-4000-8000-000000000001"
	eSecret = "fbin-entra-client-secret-0123456789abcdef"
	eFed    = "22222222-bbbb-4000-8000-000000000002"
	eFedSub = "system:serviceaccount:fluent-bit:nsgflow"
	eUAMI   = "33333333-cccc-4000-8000-000000000003"
)

// TestEntraInputCredentials: the input plugin's core, configured by its
// keys, reads Azurite with OAuth on over HTTPS with each Entra ID
// credential kind (storage_auth managed-identity, workload-identity,
// client-secret, cli, default), keeps its checkpoints in a container of the
// account through the same credential, and hands over every record; the
// tokens come from the stand-in (or the fake az) for the storage audience.
func TestEntraInputCredentials(t *testing.T) {
	dir := t.TempDir()
	ca, err := entratest.NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.WriteCert(dir, "azurite", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	az := azuritetest.StartWith(t, azuritetest.Options{CertFile: cert, KeyFile: key, RootCAs: ca.Pool(), OAuth: true})
	if az == nil {
		return
	}
	st, err := entratest.New(ca)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.AddApp(eApp, eSecret)
	st.AddFederated(eFed, eFedSub)
	st.AddUserAssigned(eUAMI)
	p := entratest.StartProxy(t, ca)
	p.RouteEntra(st)
	p.Route("*.blob.core.windows.net", net.JoinHostPort("127.0.0.1", strconv.Itoa(az.Port)))
	fed := filepath.Join(dir, "federated")
	if err := os.WriteFile(fed, []byte(st.FederatedToken(eFedSub, time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	fake, err := st.FakeAZ(t.TempDir(), eApp, time.Hour, "https://storage.azure.com")
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(eSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		keys  map[string]string
		env   []string
		grant string
	}{
		{"managed identity user-assigned", map[string]string{"storage_auth": "managed-identity", "storage_client_id": eUAMI}, st.ManagedIdentityEnv(), entratest.GrantManagedIdentity},
		{"workload identity", map[string]string{"storage_auth": "workload_identity"},
			[]string{"AZURE_FEDERATED_TOKEN_FILE=" + fed, "AZURE_CLIENT_ID=" + eFed, "AZURE_TENANT_ID=" + st.Tenant}, entratest.GrantClientAssertion},
		{"client secret", map[string]string{"storage_auth": "client-secret", "storage_tenant_id": st.Tenant, "storage_client_id": eApp, "storage_client_secret_file": secretFile}, nil, entratest.GrantClientSecret},
		{"azure cli", map[string]string{"storage_auth": "cli"}, []string{fake.PathEnv()}, ""},
		{"default chain", map[string]string{"storage_auth": "default"},
			[]string{"AZURE_TENANT_ID=" + st.Tenant, "AZURE_CLIENT_ID=" + eApp, "AZURE_CLIENT_SECRET=" + eSecret}, entratest.GrantClientSecret},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 5, TuplesPerRecord: 3,
				Seed: uint64(40 + i), Start: time.Now().UTC().Add(-3 * time.Hour)}
			records, sub, container := 0, "", ""
			err := flowgen.Generate(o, func(b *flowgen.Blob) error {
				if err := azuritetest.CreateContainer(ctx, az.Client(), b.Container); err != nil {
					return err
				}
				pp, err := blobsource.ParsePath(b.Name)
				if err != nil {
					return err
				}
				records, sub, container = records+b.Records, pp.SubscriptionID, b.Container
				return azuritetest.UploadBlob(ctx, az.Client(), b)
			})
			if err != nil {
				t.Fatal(err)
			}
			cp := fmt.Sprintf("fbin-entra-cp-%d", i)
			keys := map[string]string{"storage_account": azuritetest.Account, "storage_endpoint": az.Endpoint(),
				"containers": container, "subscriptions": sub, "start": "beginning", "poll_interval": "200ms", "grace": "1s",
				"checkpoint_container": cp, "ack_mode": "handover", "nsgflow_log_level": "debug"}
			for k, v := range c.keys {
				keys[k] = v
			}
			conf, _ := json.Marshal(keys)
			before := len(st.Requests())
			cmd := exec.Command(os.Args[0], "-test.run", "^$")
			cmd.Env = append(append(append(cleanEnv(), entraChildEnv+"="+string(conf), entraWantEnv+"="+strconv.Itoa(records)), p.Env()...), c.env...)
			var errb strings.Builder
			cmd.Stderr = &errb
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("input: %v\n%s", err, errb.String())
			}
			if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("handed %d", records) {
				t.Errorf("%s, want handed %d\n%s", got, records, errb.String())
			}
			n := 0
			pager := az.Client().NewContainerClient(cp).NewListBlobsFlatPager(nil)
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				n += len(page.Segment.BlobItems)
			}
			if n == 0 {
				t.Errorf("checkpoint container %s is empty", cp)
			}
			reqs := st.Requests()[before:]
			if c.grant == "" {
				if len(reqs) != 0 || len(fake.Calls()) == 0 {
					t.Errorf("cli: %d token requests, az calls %q", len(reqs), fake.Calls())
				}
			} else if len(reqs) == 0 {
				t.Errorf("no token request")
			}
			for _, q := range reqs {
				if q.Grant != c.grant || q.Status != 200 || q.Audience != "https://storage.azure.com" {
					t.Errorf("token request %+v: want %s for https://storage.azure.com", q, c.grant)
				}
			}
			if s := errb.String(); strings.Contains(s, eSecret) || strings.Contains(s, "eyJ") {
				t.Errorf("the input's debug log holds the secret or a token")
			}
		})
	}
	if r := p.Refused(); len(r) > 0 {
		t.Errorf("the proxy refused %q", r)
	}
}

// cleanEnv is the environment without credentials, proxies or CA settings.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		u := strings.ToUpper(k)
		if strings.HasPrefix(u, "AZURE_") || strings.HasPrefix(u, "IDENTITY_") || strings.HasPrefix(u, "MSI_") ||
			u == "HTTPS_PROXY" || u == "HTTP_PROXY" || u == "NO_PROXY" || u == "SSL_CERT_FILE" || u == "SSL_CERT_DIR" {
			continue
		}
		out = append(out, kv)
	}
	return out
}
