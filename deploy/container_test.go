package deploy

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// repoRoot is the repository root, seen from this package's folder.
var repoRoot = ".."

// dockerfile is what the tests need from the Dockerfile.
type dockerfile struct {
	stages   map[string]bool
	copies   []string // COPY sources from the build context
	packages []string // go build package paths
}

var (
	fromRe    = regexp.MustCompile(`(?i)^FROM\s+\S+\s+AS\s+(\S+)`)
	copyRe    = regexp.MustCompile(`(?i)^COPY\s+(.*)$`)
	goBuildRe = regexp.MustCompile(`go build [^;]*?(\./[A-Za-z0-9_/]+)\s*;`)
)

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{stages: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := fromRe.FindStringSubmatch(line); m != nil {
			d.stages[m[1]] = true
		}
		if m := copyRe.FindStringSubmatch(line); m != nil && !strings.Contains(m[1], "--from=") {
			f := strings.Fields(m[1])
			d.copies = append(d.copies, f[:len(f)-1]...) // last field is the destination
		}
	}
	for _, m := range goBuildRe.FindAllStringSubmatch(string(b), -1) {
		d.packages = append(d.packages, m[1])
	}
	return d
}

// TestDockerfile checks the build context paths the Dockerfile names exist.
func TestDockerfile(t *testing.T) {
	d := readDockerfile(t)
	for _, stage := range []string{"build", "cli", "fluent-bit"} {
		if !d.stages[stage] {
			t.Errorf("no stage %q", stage)
		}
	}
	if len(d.copies) == 0 {
		t.Fatal("no COPY from the build context found")
	}
	for _, src := range d.copies {
		if src == "." {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
			t.Errorf("COPY %s: %v", src, err)
		}
	}
	// A "# syntax=" directive makes BuildKit fetch a frontend image from a
	// registry: the build would fail wherever none is reachable.
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if l := strings.ToLower(strings.ReplaceAll(line, " ", "")); strings.HasPrefix(l, "#syntax=") {
			t.Errorf("Dockerfile has a parser directive %q: BuildKit would fetch that frontend from a registry", line)
		}
	}
	sort.Strings(d.packages)
	if want := "./cmd/nsgflow,./plugin/input,./plugin/output"; strings.Join(d.packages, ",") != want {
		t.Errorf("go build packages %v, want %s", d.packages, want)
	}
	for _, pkg := range d.packages {
		dir := filepath.Join(repoRoot, pkg)
		if _, err := os.Stat(dir); os.IsNotExist(err) && strings.HasPrefix(pkg, "./plugin/") {
			t.Logf("%s does not exist yet: the image build needs it", pkg)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 {
			t.Errorf("%s: no Go files to build", pkg)
		}
	}
}

// TestImageFluentBitConfig checks the configs baked into the image agree
// with each other and with the plugins the Dockerfile installs.
func TestImageFluentBitConfig(t *testing.T) {
	yb, err := os.ReadFile(filepath.Join("docker", "fluent-bit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(yb, &cfg); err != nil {
		t.Fatalf("fluent-bit.yaml: %v", err)
	}
	checkPluginsAndPipeline(t, "docker/fluent-bit.yaml", cfg)
	if p, _ := dig(cfg, "service", "http_port").(int); p != 2020 {
		t.Errorf("http_port %d, want 2020 (EXPOSE and the docs)", p)
	}

	cb, err := os.ReadFile(filepath.Join("docker", "fluent-bit.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if y, c := strings.Join(envRefs(string(yb)), ","), strings.Join(envRefs(string(cb)), ","); y != c {
		t.Errorf("fluent-bit.yaml and fluent-bit.conf use different variables:\n yaml %s\n conf %s", y, c)
	}
	pb, err := os.ReadFile(filepath.Join("docker", "plugins.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, line := range strings.Split(string(pb), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.EqualFold(f[0], "Path") {
			paths = append(paths, f[1])
		}
	}
	var yamlPaths []string
	for _, p := range list(cfg["plugins"]) {
		yamlPaths = append(yamlPaths, str(p))
	}
	sort.Strings(paths)
	sort.Strings(yamlPaths)
	if strings.Join(paths, ",") != strings.Join(yamlPaths, ",") {
		t.Errorf("plugins.conf %v and fluent-bit.yaml %v load different plugins", paths, yamlPaths)
	}
}

// composeFile is the part of a Compose file the tests read.
type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		NetworkMode string            `yaml:"network_mode"`
	} `yaml:"services"`
}

func readCompose(t *testing.T, name string) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// flagValue returns the argument after flag in a command.
func flagValue(cmd []string, flag string) string {
	for i, a := range cmd {
		if a == flag && i+1 < len(cmd) {
			return cmd[i+1]
		}
	}
	return ""
}

// TestComposeStacks checks the local stack is wired to the emulator's
// defaults and the template's names, and that every NSGFLOW_* variable the
// Compose files set is one the image's Fluent Bit config reads.
func TestComposeStacks(t *testing.T) {
	yb, err := os.ReadFile(filepath.Join("docker", "fluent-bit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, v := range envRefs(string(yb)) {
		used[v] = true
	}
	stages := readDockerfile(t).stages

	local := readCompose(t, "docker-compose.yml")
	for _, name := range []string{"azurite", "emulator", "generator", "fluent-bit"} {
		if _, ok := local.Services[name]; !ok {
			t.Errorf("docker-compose.yml: no service %s", name)
		}
	}
	for name, s := range local.Services {
		if target := str(dig(s.Build, "target")); s.Build != nil && !stages[target] {
			t.Errorf("service %s builds target %q, which the Dockerfile does not define", name, target)
		}
		if name != "azurite" && s.NetworkMode != "service:azurite" {
			t.Errorf("service %s: network_mode %q, want service:azurite (loopback-only hops)", name, s.NetworkMode)
		}
	}
	fb, em := local.Services["fluent-bit"], local.Services["emulator"]
	for k := range fb.Environment {
		if strings.HasPrefix(k, "NSGFLOW_") && !used[k] {
			t.Errorf("docker-compose.yml sets %s, which deploy/docker/fluent-bit.yaml never reads", k)
		}
	}
	names, err := NamesFor(Options{Schema: flowparse.DefaultSchema})
	if err != nil {
		t.Fatal(err)
	}
	seedNames, err := NamesFor(Options{Schema: flowparse.SeedSchema})
	if err != nil {
		t.Fatal(err)
	}
	if names.Stream != emulator.DefaultStream || seedNames.Stream != emulator.SeedStream {
		t.Errorf("template streams %s, %s differ from the emulator's %s, %s", names.Stream, seedNames.Stream, emulator.DefaultStream, emulator.SeedStream)
	}
	if fb.Environment["NSGFLOW_STREAM"] != emulator.DefaultStream {
		t.Errorf("NSGFLOW_STREAM %q, want the emulator's %s", fb.Environment["NSGFLOW_STREAM"], emulator.DefaultStream)
	}
	dcr := flagValue(em.Command, "--dcr-id")
	if dcr == "" {
		dcr = emulator.DefaultDCRImmutableID
	}
	if fb.Environment["NSGFLOW_DCR_ID"] != dcr {
		t.Errorf("NSGFLOW_DCR_ID %q, but the emulator serves %s", fb.Environment["NSGFLOW_DCR_ID"], dcr)
	}
	u, err := url.Parse(fb.Environment["NSGFLOW_ENDPOINT"])
	if err != nil || u.Host != flagValue(em.Command, "--addr") {
		t.Errorf("NSGFLOW_ENDPOINT %q does not point at the emulator's --addr %q", fb.Environment["NSGFLOW_ENDPOINT"], flagValue(em.Command, "--addr"))
	}
	// The token Fluent Bit presents is the file the emulator accepts.
	hostFile := func(volumes []string, containerPath string) string {
		for _, v := range volumes {
			if p := strings.Split(v, ":"); len(p) >= 2 && p[1] == containerPath {
				return p[0]
			}
		}
		return ""
	}
	emTok := hostFile(em.Volumes, flagValue(em.Command, "--token-file"))
	fbTok := hostFile(fb.Volumes, fb.Environment["NSGFLOW_TOKEN_FILE"])
	if emTok == "" || emTok != fbTok {
		t.Errorf("token files differ: emulator mounts %q, fluent-bit mounts %q", emTok, fbTok)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, emTok)); err != nil {
		t.Errorf("token file: %v", err)
	}

	azure := readCompose(t, "docker-compose.azure.yml")
	afb, ok := azure.Services["fluent-bit"]
	if !ok || len(azure.Services) != 1 {
		t.Fatalf("docker-compose.azure.yml should override the fluent-bit service only")
	}
	if afb.NetworkMode == "" || strings.HasPrefix(afb.NetworkMode, "service:") {
		t.Errorf("azure override: network_mode %q must leave azurite's namespace", afb.NetworkMode)
	}
	required := regexp.MustCompile(`\$\{([A-Z_]+):\?`)
	example, err := os.ReadFile(filepath.Join("docker", "azure.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range afb.Environment {
		if strings.HasPrefix(k, "NSGFLOW_") && !used[k] {
			t.Errorf("docker-compose.azure.yml sets %s, which deploy/docker/fluent-bit.yaml never reads", k)
		}
		for _, m := range required.FindAllStringSubmatch(v, -1) {
			if !regexp.MustCompile(`(?m)^` + m[1] + `=`).Match(example) {
				t.Errorf("required %s is missing from docker/azure.env.example", m[1])
			}
		}
	}
	// Everything the local stack sets must be overridden for Azure, so no
	// local value (the emulator endpoint, the static token) leaks through.
	for k := range fb.Environment {
		if _, ok := afb.Environment[k]; !ok {
			t.Errorf("docker-compose.azure.yml does not override %s from the local stack", k)
		}
	}
}
