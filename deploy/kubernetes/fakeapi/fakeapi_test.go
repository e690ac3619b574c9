package fakeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// manifests is deploy/kubernetes, relative to this package.
const manifests = ".."

// TestServer checks the documents kubectl's discovery reads and the answers
// to object GETs and writes, without kubectl.
func TestServer(t *testing.T) {
	ts := httptest.NewServer(New(Nsgflow))
	defer ts.Close()
	tests := []struct {
		method, path string
		wantStatus   int
		wantKind     string
		wantIn       []string // substrings of the body
	}{
		{"GET", "/version", 200, "", []string{`"major":"1"`, `"gitVersion":"v1.32.0`}},
		{"GET", "/api", 200, "APIVersions", []string{`"versions":["v1"]`}},
		{"GET", "/api/v1", 200, "APIResourceList", []string{
			`"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace"`,
			`"name":"serviceaccounts","singularName":"serviceaccount","namespaced":true,"kind":"ServiceAccount"`,
			`"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap"`,
			`"name":"persistentvolumeclaims","singularName":"persistentvolumeclaim","namespaced":true,"kind":"PersistentVolumeClaim"`,
		}},
		{"GET", "/apis", 200, "APIGroupList", []string{`"name":"apps"`, `"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}`}},
		{"GET", "/apis/apps/v1", 200, "APIResourceList", []string{`"groupVersion":"apps/v1"`, `"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment"`}},
		{"GET", "/apis/apps/v1/", 200, "APIResourceList", nil},
		{"GET", "/api/v1/namespaces/nsgflow", 404, "Status", []string{`"reason":"NotFound"`, `"code":404`}},
		{"GET", "/apis/apps/v1/namespaces/nsgflow/deployments/nsgflow", 404, "Status", []string{`"reason":"NotFound"`}},
		{"GET", "/apis/batch/v1", 404, "Status", nil},
		{"POST", "/api/v1/namespaces", 405, "Status", []string{`"reason":"MethodNotAllowed"`}},
		{"PATCH", "/apis/apps/v1/namespaces/nsgflow/deployments/nsgflow", 405, "Status", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var doc struct{ Kind string }
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, body)
			}
			if doc.Kind != tt.wantKind {
				t.Errorf("kind %q, want %q", doc.Kind, tt.wantKind)
			}
			for _, s := range tt.wantIn {
				if !bytes.Contains(body, []byte(s)) {
					t.Errorf("body lacks %s:\n%s", s, body)
				}
			}
		})
	}
}

// TestCheckCreated checks the output assertion on its own: kubectl has been
// seen to exit 0 after printing only errors, so the output decides.
func TestCheckCreated(t *testing.T) {
	want := []string{"deployment.apps/nsgflow", "namespace/nsgflow"}
	tests := []struct {
		name, out string
		wantErr   bool
	}{
		{"all created", "namespace/nsgflow created (dry run)\ndeployment.apps/nsgflow created (dry run)\n", false},
		{"one missing", "namespace/nsgflow created (dry run)\n", true},
		{"errors only", "unable to recognize \"x.yaml\": connection refused\n", true},
		{"configured, not created", "namespace/nsgflow created (dry run)\ndeployment.apps/nsgflow configured (dry run)\n", true},
		{"not a dry run", "namespace/nsgflow created\ndeployment.apps/nsgflow created\n", true},
		{"an extra object", "namespace/nsgflow created (dry run)\ndeployment.apps/nsgflow created (dry run)\nconfigmap/x created (dry run)\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkCreated(want, tt.out)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestKubectlDryRun runs `kubectl apply --dry-run=client --validate=false -f`
// against the fake API server: on deploy/kubernetes every object must be
// reported "created (dry run)"; on a copy with one broken manifest added
// kubectl must fail. Without kubectl on PATH it is skipped, unless
// NSGFLOW_REQUIRE_KUBECTL=1 (see docs/deploy.md).
func TestKubectlDryRun(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		msg := fmt.Sprintf("kubectl not found on PATH (CI=%q): the kubectl dry run of deploy/kubernetes did not run", os.Getenv("CI"))
		if os.Getenv("NSGFLOW_REQUIRE_KUBECTL") == "1" {
			t.Fatal(msg + ", and NSGFLOW_REQUIRE_KUBECTL=1 requires it")
		}
		t.Skip("SKIP: " + msg)
	}
	tests := []struct {
		name    string
		extra   string // testdata file added to a copy of the manifests
		wantErr string // in kubectl's output; empty: must succeed
	}{
		{name: "shipped manifests"},
		{name: "unknown kind", extra: "unknown-kind.yaml", wantErr: `no matches for kind "Deploymnt" in version "apps/v1"`},
		{name: "unknown version", extra: "unknown-version.yaml", wantErr: `no matches for kind "Deployment" in version "apps/v1beta9"`},
		{name: "malformed YAML", extra: "malformed.yaml", wantErr: "error parsing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, shown := manifests, "deploy/kubernetes"
			if tt.extra != "" {
				dir = copyManifests(t, filepath.Join("testdata", tt.extra))
				shown = "deploy/kubernetes + testdata/" + tt.extra
			}
			srv := New(Nsgflow)
			out, runErr := dryRun(t, kubectl, srv, dir)
			t.Logf("kubectl apply --dry-run=client --validate=false -f (%s):\n%s", shown, out)
			for _, r := range srv.Requests() {
				if r.Method != http.MethodGet {
					t.Errorf("a client-side dry run wrote: %v", r)
				}
			}
			if tt.wantErr != "" {
				if runErr == nil {
					t.Fatalf("kubectl succeeded on a broken manifest")
				}
				if !strings.Contains(out, tt.wantErr) {
					t.Errorf("output lacks %q", tt.wantErr)
				}
				return
			}
			if runErr != nil {
				t.Fatal(runErr)
			}
			want, err := objects(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 6 {
				t.Errorf("%d objects in %s, want at least 6 (namespace, service account, 2 ConfigMaps, PVC, Deployment): %v", len(want), dir, want)
			}
			if err := checkCreated(want, out); err != nil {
				t.Error(err)
			}
			if !slices.ContainsFunc(srv.Requests(), func(r Request) bool { return r.Path == "/apis/apps/v1" }) {
				t.Error("kubectl never read /apis/apps/v1: discovery did not go through the fake server")
			}
		})
	}
}

// dryRun serves srv on a loopback port and runs kubectl against it with a
// kubeconfig, home and discovery cache of its own. The error says how
// kubectl exited.
func dryRun(t *testing.T, kubectl string, srv *Server, dir string) (string, error) {
	t.Helper()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	tmp := t.TempDir()
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, Kubeconfig(ts.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), kubectl, "apply", "--dry-run=client", "--validate=false",
		"--cache-dir", filepath.Join(tmp, "cache"), "-f", dir)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("kubectl apply --dry-run=client -f %s: %w", dir, err)
	}
	return string(out), err
}

// copyManifests copies deploy/kubernetes/*.yaml and the extra file into a
// temporary directory and returns it.
func copyManifests(t *testing.T, extra string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifests, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (err %v)", manifests, err)
	}
	dir := t.TempDir()
	for _, f := range append(files, extra) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if f == extra {
			name = "99-" + name
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// objects lists the objects of the manifests kubectl reads from dir (files
// ending in .yaml, .yml or .json, not recursing), named as kubectl prints
// them: kind in lower case, ".group" unless core, "/name".
func objects(dir string) ([]string, error) {
	var names []string
	for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
		files, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, fmt.Errorf("list manifests in %s: %w", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read manifest: %w", err)
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			for i := 0; ; i++ {
				var d struct {
					APIVersion string `yaml:"apiVersion"`
					Kind       string `yaml:"kind"`
					Metadata   struct{ Name string }
				}
				err := dec.Decode(&d)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("%s document %d: %w", f, i, err)
				}
				if d.Kind == "" {
					continue // an empty document
				}
				name := strings.ToLower(d.Kind)
				if group, _, ok := strings.Cut(d.APIVersion, "/"); ok {
					name += "." + group
				}
				names = append(names, name+"/"+d.Metadata.Name)
			}
		}
	}
	return names, nil
}

// checkCreated requires kubectl's output to say "created (dry run)" for each
// wanted object and for nothing else.
func checkCreated(want []string, out string) error {
	const suffix = " created (dry run)"
	var got []string
	for line := range strings.Lines(out) {
		if obj, ok := strings.CutSuffix(strings.TrimSpace(line), suffix); ok {
			got = append(got, obj)
		}
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		return fmt.Errorf("objects created (dry run): %v, want %v", got, want)
	}
	return nil
}
