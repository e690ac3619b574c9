package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

// TestRunRefusals (issue 9 items 1-2): a storage setting that cannot read
// ends `nsgflow run --once` non-zero within 10 s, with a message naming the
// --storage-auth kind, where its credential came from, and a hint that fits
// the kind. Before, a wrong key logged "cannot list container (403)", then
// "every blob read" and exited 0.
func TestRunRefusals(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	em := startRunEmulator(t)
	o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 2, TuplesPerRecord: 2,
		Seed: 91, Start: time.Now().UTC().Add(-3 * time.Hour)}
	_, blobs := uploadSet(t, svc, o)
	cont := blobs[0].Container
	wrongKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64))
	// A SAS signed with another key: well-formed, wrong signature.
	otherCred, err := service.NewSharedKeyCredential(azuritetest.Account, wrongKey)
	if err != nil {
		t.Fatal(err)
	}
	wrongSAS, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		ContainerName: cont, Permissions: (&sas.ContainerPermissions{Read: true, List: true}).String()}.SignWithSharedKey(otherCred)
	if err != nil {
		t.Fatal(err)
	}
	// A valid SAS that may list but not read.
	listOnly := containerSAS(t, svc, cont, sas.ContainerPermissions{List: true})
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(wrongKey), 0o600); err != nil {
		t.Fatal(err)
	}
	connStr := "DefaultEndpointsProtocol=http;AccountName=" + azuritetest.Account + ";AccountKey=" + wrongKey + ";BlobEndpoint=" + az.Endpoint() + ";"

	tests := []struct {
		name string
		env  map[string]string
		args []string // replace the storage credential of runArgs
		want []string
	}{
		{"wrong key", nil, []string{"--storage-key", wrongKey},
			[]string{"storage refused to list container " + cont, "403", "--storage-auth key", "credential from --storage-key", "Access keys"}},
		{"wrong key from a file, auth named", nil, []string{"--storage-auth", "key", "--storage-key-file", keyFile},
			[]string{"--storage-auth key,", "credential from --storage-key-file", "does not sign for account " + azuritetest.Account}},
		{"wrong key from the environment", map[string]string{envStorageKey: wrongKey}, nil,
			[]string{"--storage-auth key", "credential from $" + envStorageKey}},
		{"wrong SAS", nil, []string{"--storage-auth", "sas", "--storage-sas", wrongSAS.Encode()},
			[]string{"storage refused to list container " + cont, "--storage-auth sas", "credential from --storage-sas", "SAS in --storage-sas is not valid"}},
		{"SAS without read", nil, []string{"--storage-sas", listOnly},
			[]string{"storage refused to read blob", "AuthorizationPermissionMismatch", "--storage-auth sas", "needs r (read)"}},
		{"wrong connection string", nil, []string{"--storage-connection-string", connStr},
			[]string{"--storage-auth connection-string", "credential from --storage-connection-string", "AccountKey or SharedAccessSignature"}},
		{"missing container", nil, []string{"--storage-key", azuritetest.Key, "--containers", "no-such-container"},
			[]string{"container does not exist: check --containers", "none of the containers to read exists", "no-such-container"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := withoutStorageKey(runArgs(t, az, em, t.TempDir(), blobs...))
			if strings.Contains(strings.Join(tt.args, " "), "--containers") {
				args = withoutFlag(args, "--containers")
			}
			if strings.Contains(strings.Join(tt.args, " "), "connection-string") {
				args = withoutFlag(withoutFlag(args, "--storage-endpoint"), "--storage-account")
			}
			args = append(append(args, tt.args...), "--once")
			var errb bytes.Buffer
			start := time.Now()
			code := runRun(context.Background(), args, &bytes.Buffer{}, &errb)
			took := time.Since(start)
			out := errb.String()
			t.Logf("exit %d after %v:\n%s", code, took.Round(time.Millisecond), out)
			if code == 0 {
				t.Fatal("exit 0: a run that could not read reported success")
			}
			if took > 10*time.Second {
				t.Errorf("took %v, want under 10s", took)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, secret := range []string{wrongKey, wrongSAS.Signature(), url.QueryEscape(wrongSAS.Signature())} {
				if strings.Contains(out, secret) {
					t.Errorf("a secret is in the output")
				}
			}
		})
	}
}

func containerSAS(t *testing.T, svc *service.Client, cont string, perms sas.ContainerPermissions) string {
	t.Helper()
	u, err := svc.NewContainerClient(cont).GetSASURL(perms, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.RawQuery
}

func withoutStorageKey(args []string) []string { return withoutFlag(args, "--storage-key") }

// withoutFlag drops "name value" from args.
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == name {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// TestCredentialFailsFast (issue 9 item 3): a credential that cannot heal
// (here: azure_cli without an az executable) ends the command within 5 s
// naming the setting; before, send retried 9 times over about a minute.
func TestCredentialFailsFast(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no az
	sample := filepath.Join("..", "..", "..", "shared", "samples", "msdocs-nsg-v2-fabrikam-2018.json")
	if _, err := os.Stat(sample); err != nil {
		t.Fatalf("sample: %v", err)
	}
	cp := t.TempDir()
	tests := []struct {
		name string
		run  func(stderr *bytes.Buffer) int
		want []string
	}{
		{"send --credential azure_cli", func(stderr *bytes.Buffer) int {
			return runSend(context.Background(), []string{"--endpoint", "https://127.0.0.1:1", "--dcr-id", "dcr-00000000000000000000000000000000",
				"--stream", "Custom-X", "--credential", "azure_cli", sample}, &bytes.Buffer{}, stderr)
		}, []string{"credential azure_cli cannot get a token", "not retried", "az login"}},
		{"run --storage-auth cli", func(stderr *bytes.Buffer) int {
			return runRun(context.Background(), []string{"--once", "--storage-auth", "cli", "--storage-endpoint", "https://127.0.0.1:1/devstoreaccount1",
				"--checkpoint-dir", cp, "--endpoint", "https://127.0.0.1:1", "--dcr-id", "dcr-00000000000000000000000000000000",
				"--stream", "Custom-X", "--credential", "static", "--token", "x"}, &bytes.Buffer{}, stderr)
		}, []string{"--storage-auth cli", "az login", "executable not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errb bytes.Buffer
			start := time.Now()
			code := tt.run(&errb)
			took := time.Since(start)
			t.Logf("exit %d after %v:\n%s", code, took.Round(time.Millisecond), errb.String())
			if code == 0 {
				t.Fatal("exit 0")
			}
			if took > 5*time.Second {
				t.Errorf("took %v, want under 5s", took)
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("output lacks %q", w)
				}
			}
		})
	}
}
