package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// doc is one YAML document decoded into generic maps.
type doc = map[string]any

// readYAMLDocs decodes every document of a multi-document YAML file.
func readYAMLDocs(t *testing.T, path string) []doc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []doc
	for {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// dig walks nested maps by key; nil when a step is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// envRef matches ${VAR} references in Fluent Bit configs.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func envRefs(s string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// webhookEnv is what the Azure workload identity webhook injects into a pod
// labelled azure.workload.identity/use: "true".
var webhookEnv = map[string]bool{
	"AZURE_CLIENT_ID": true, "AZURE_TENANT_ID": true,
	"AZURE_FEDERATED_TOKEN_FILE": true, "AZURE_AUTHORITY_HOST": true,
}

// TestKubernetesManifests checks what `kubectl apply --dry-run=client` cannot
// without a cluster: that names referenced across objects exist and that the
// pod meets the security and identity requirements.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests (err %v)", err)
	}
	byKind := map[string]map[string]doc{}
	for _, f := range files {
		for i, d := range readYAMLDocs(t, f) {
			kind, name := str(d["kind"]), str(dig(d, "metadata", "name"))
			if str(d["apiVersion"]) == "" || kind == "" || name == "" {
				t.Errorf("%s document %d: apiVersion, kind and metadata.name are required", f, i)
				continue
			}
			if kind != "Namespace" && str(dig(d, "metadata", "namespace")) != "nsgflow" {
				t.Errorf("%s %s/%s: metadata.namespace must be nsgflow", f, kind, name)
			}
			if byKind[kind] == nil {
				byKind[kind] = map[string]doc{}
			}
			if _, dup := byKind[kind][name]; dup {
				t.Errorf("%s/%s defined twice", kind, name)
			}
			byKind[kind][name] = d
		}
	}
	for _, kind := range []string{"Namespace", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment"} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}
	for name, dep := range byKind["Deployment"] {
		checkDeployment(t, name, dep, byKind)
	}
}

func checkDeployment(t *testing.T, name string, dep doc, byKind map[string]map[string]doc) {
	t.Helper()
	spec := dig(dep, "spec", "template", "spec")
	podLabels, _ := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	selector, _ := dig(dep, "spec", "selector", "matchLabels").(map[string]any)
	if len(selector) == 0 {
		t.Errorf("deployment %s: no selector", name)
	}
	for k, v := range selector {
		if podLabels[k] != v {
			t.Errorf("deployment %s: selector %s=%v does not match the pod labels", name, k, v)
		}
	}
	if podLabels["azure.workload.identity/use"] != "true" {
		t.Errorf(`deployment %s: pod label azure.workload.identity/use must be the string "true"`, name)
	}
	sa := str(dig(spec, "serviceAccountName"))
	if acct, ok := byKind["ServiceAccount"][sa]; !ok {
		t.Errorf("deployment %s: serviceAccountName %q is not defined", name, sa)
	} else if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(str(dig(acct, "metadata", "annotations", "azure.workload.identity/client-id"))) {
		t.Errorf("service account %s: annotation azure.workload.identity/client-id must hold a client ID (GUID)", sa)
	}
	if dig(spec, "securityContext", "runAsNonRoot") != true {
		t.Errorf("deployment %s: pod securityContext.runAsNonRoot must be true", name)
	}

	volumes := map[string]any{}
	for _, v := range list(dig(spec, "volumes")) {
		volumes[str(dig(v, "name"))] = v
	}
	for vname, v := range volumes {
		if cm := str(dig(v, "configMap", "name")); cm != "" {
			data, ok := byKind["ConfigMap"][cm]
			if !ok {
				t.Errorf("volume %s: ConfigMap %q is not defined", vname, cm)
				continue
			}
			for _, item := range list(dig(v, "configMap", "items")) {
				key := str(dig(item, "key"))
				if dig(data, "data", key) == nil {
					t.Errorf("volume %s: ConfigMap %s has no key %q", vname, cm, key)
				}
			}
		}
		if claim := str(dig(v, "persistentVolumeClaim", "claimName")); claim != "" {
			if _, ok := byKind["PersistentVolumeClaim"][claim]; !ok {
				t.Errorf("volume %s: PersistentVolumeClaim %q is not defined", vname, claim)
			}
		}
	}

	containers := list(dig(spec, "containers"))
	if len(containers) == 0 {
		t.Fatalf("deployment %s: no containers", name)
	}
	for _, c := range containers {
		cname := str(dig(c, "name"))
		image := str(dig(c, "image"))
		if image == "" || strings.HasSuffix(image, ":latest") || !strings.Contains(image, ":") && !strings.Contains(image, "@") {
			t.Errorf("container %s: image %q must be set and pinned (tag or digest, not latest)", cname, image)
		}
		sc := dig(c, "securityContext")
		if dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false {
			t.Errorf("container %s: want readOnlyRootFilesystem true and allowPrivilegeEscalation false", cname)
		}
		for _, kind := range []string{"requests", "limits"} {
			if dig(c, "resources", kind, "memory") == nil || dig(c, "resources", kind, "cpu") == nil {
				t.Errorf("container %s: resources.%s needs cpu and memory", cname, kind)
			}
		}
		mounts := map[string]string{} // mountPath -> volume
		for _, m := range list(dig(c, "volumeMounts")) {
			vname := str(dig(m, "name"))
			if _, ok := volumes[vname]; !ok {
				t.Errorf("container %s: volumeMount %q names no volume", cname, vname)
			}
			mounts[str(dig(m, "mountPath"))] = vname
		}
		ports := map[string]int{}
		for _, p := range list(dig(c, "ports")) {
			n, _ := dig(p, "containerPort").(int)
			ports[str(dig(p, "name"))] = n
		}
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			get := dig(c, probe, "httpGet")
			if str(dig(get, "path")) != "/api/v1/health" {
				t.Errorf("container %s: %s must GET /api/v1/health", cname, probe)
			}
			if port := str(dig(get, "port")); port != "" && ports[port] == 0 {
				t.Errorf("container %s: %s port %q is not a named container port", cname, probe, port)
			}
		}
		env := map[string]bool{}
		for k := range webhookEnv {
			env[k] = true
		}
		for _, e := range list(dig(c, "env")) {
			env[str(dig(e, "name"))] = true
		}
		for _, ef := range list(dig(c, "envFrom")) {
			cm := str(dig(ef, "configMapRef", "name"))
			data, ok := byKind["ConfigMap"][cm]
			if !ok {
				t.Errorf("container %s: envFrom ConfigMap %q is not defined", cname, cm)
				continue
			}
			for k := range dig(data, "data").(map[string]any) {
				env[k] = true
			}
		}
		checkFluentBitConfig(t, cname, c, mounts, volumes, byKind, env, ports["http"])
	}
}

// checkFluentBitConfig follows the container's -c argument to the ConfigMap
// key it reads and checks that config against the pod: every ${VAR} is set,
// the plugins are the image's, the health port is the probed port, and the
// storage paths are on a writable volume.
func checkFluentBitConfig(t *testing.T, cname string, c any, mounts map[string]string, volumes map[string]any,
	byKind map[string]map[string]doc, env map[string]bool, httpPort int) {
	t.Helper()
	args := list(dig(c, "args"))
	var cfgPath string
	for i, a := range args {
		if a == "-c" && i+1 < len(args) {
			cfgPath = str(args[i+1])
		}
	}
	vname, ok := mounts[filepath.Dir(cfgPath)]
	if cfgPath == "" || !ok {
		t.Fatalf("container %s: -c %q is not on a mounted volume", cname, cfgPath)
	}
	cm := str(dig(volumes[vname], "configMap", "name"))
	text := str(dig(byKind["ConfigMap"][cm], "data", filepath.Base(cfgPath)))
	if text == "" {
		t.Fatalf("container %s: ConfigMap %s has no %s", cname, cm, filepath.Base(cfgPath))
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("ConfigMap %s %s is not YAML: %v", cm, filepath.Base(cfgPath), err)
	}
	for _, v := range envRefs(text) {
		if !env[v] {
			t.Errorf("%s uses ${%s}, which the pod does not set", filepath.Base(cfgPath), v)
		}
	}
	checkPluginsAndPipeline(t, "ConfigMap "+cm, cfg)
	if p, _ := dig(cfg, "service", "http_port").(int); p != httpPort || httpPort == 0 {
		t.Errorf("service.http_port %d is not the probed container port %d", p, httpPort)
	}
	if dig(cfg, "service", "health_check") != true && dig(cfg, "service", "health_check") != "on" {
		t.Errorf("service.health_check must be on for /api/v1/health to reflect errors")
	}
	storage := str(dig(cfg, "service", "storage.path"))
	writable := false
	for mp, v := range mounts {
		if strings.HasPrefix(storage, mp+"/") && dig(volumes[v], "configMap") == nil {
			writable = true
		}
	}
	if !writable {
		t.Errorf("storage.path %q is not on a writable volume (the root filesystem is read-only)", storage)
	}
}

// checkPluginsAndPipeline checks a Fluent Bit YAML config loads the image's
// two plugins and wires nsgflow_blob to nsgflow.
func checkPluginsAndPipeline(t *testing.T, where string, cfg map[string]any) {
	t.Helper()
	var plugins []string
	for _, p := range list(cfg["plugins"]) {
		plugins = append(plugins, str(p))
	}
	sort.Strings(plugins)
	want := []string{"/fluent-bit/plugins/in_nsgflow.so", "/fluent-bit/plugins/out_nsgflow.so"}
	if strings.Join(plugins, ",") != strings.Join(want, ",") {
		t.Errorf("%s: plugins %v, want %v (the Dockerfile's paths)", where, plugins, want)
	}
	in := list(dig(cfg, "pipeline", "inputs"))
	out := list(dig(cfg, "pipeline", "outputs"))
	if len(in) != 1 || len(out) != 1 {
		t.Fatalf("%s: want one input and one output, got %d and %d", where, len(in), len(out))
	}
	if str(dig(in[0], "name")) != "nsgflow_blob" || str(dig(out[0], "name")) != "nsgflow" {
		t.Errorf("%s: input %q output %q, want nsgflow_blob and nsgflow", where, dig(in[0], "name"), dig(out[0], "name"))
	}
	tag, match := str(dig(in[0], "tag")), str(dig(out[0], "match"))
	if ok, _ := filepath.Match(match, tag); !ok || tag == "" {
		t.Errorf("%s: output match %q does not match input tag %q", where, match, tag)
	}
	if w, _ := dig(out[0], "workers").(int); w < 1 {
		t.Errorf("%s: output workers must be at least 1 (a Go flush must not run on the engine thread)", where)
	}
}
