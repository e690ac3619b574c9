// Package azuritetest runs the Azurite blob emulator for tests: it starts
// ./node_modules/.bin/azurite-blob (installed by `make setup`) on a free
// loopback port with a temporary data directory, waits until it answers, and
// stops it when the test ends.
//
// When the binary is missing the test is skipped, or fails with "run make
// setup" when CI=true, so CI can never pass by skipping the integration tests.
package azuritetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/flowgen"
)

// Azurite's well-known development account (public, documented by Microsoft).
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Server is one running Azurite blob service.
type Server struct {
	Port int
	Dir  string // --location: blobs survive Stop/Start

	bin  string
	opt  Options
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}

	ownDir bool
}

// Binary returns the path of azurite-blob: $AZURITE_BLOB if set, else
// node_modules/.bin/azurite-blob in the module root above the working dir.
func Binary() (string, error) { return binary("blob") }

func binary(svc string) (string, error) {
	env, p := "AZURITE_BLOB", os.Getenv("AZURITE_BLOB")
	if svc == "queue" {
		env, p = "AZURITE_QUEUE", os.Getenv("AZURITE_QUEUE")
	}
	if p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("azuritetest: %s=%s: %w", env, p, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("azuritetest: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "node_modules", ".bin", "azurite-"+svc)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("azuritetest: %s not found", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("azuritetest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start launches Azurite and registers its shutdown with tb.Cleanup. It
// skips the test (fails it under CI=true) when Azurite is not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Launch()
	if err != nil {
		if errors.Is(err, ErrNotInstalled) {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("Azurite is required under CI: %v", err)
			}
			tb.Skipf("%v", err)
		}
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// ErrNotInstalled is returned by Launch when azurite-blob is missing.
var ErrNotInstalled = errors.New("azuritetest: Azurite is not installed (run make setup)")

// Launch starts Azurite outside a test, e.g. once in TestMain for a whole
// package; the caller must Stop it. Use Require in each test to turn a
// missing binary into a skip, or a failure under CI=true.
func Launch() (*Server, error) { return LaunchWith(Options{}) }

// Options start Azurite over HTTPS, optionally with OAuth on.
type Options struct {
	// CertFile and KeyFile (PEM) serve HTTPS (--cert, --key); Endpoint and
	// Client then speak https and Client trusts RootCAs.
	CertFile, KeyFile string
	RootCAs           *x509.CertPool
	// OAuth turns on bearer tokens (--oauth basic: issuer, audience and
	// lifetime are checked, the signature is not). Needs HTTPS.
	OAuth bool
	// ProductStyle lets Azurite take the account from the host name
	// (devstoreaccount1.blob.core.chinacloudapi.cn, through a test proxy);
	// path-style URLs on 127.0.0.1 keep working.
	ProductStyle bool
	// Queue runs Azurite's queue service (azurite-queue) instead of blob;
	// use QueueService and QueueClient (StartQueue sets it).
	Queue bool
}

func (o Options) service() string {
	if o.Queue {
		return "queue"
	}
	return "blob"
}

// StartWith is Start with options.
func StartWith(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := LaunchWith(o)
	s = Require(tb, s, err)
	if s != nil {
		tb.Cleanup(s.Stop)
	}
	return s
}

// LaunchWith is Launch with options.
func LaunchWith(o Options) (*Server, error) {
	if o.OAuth && o.CertFile == "" {
		return nil, errors.New("azuritetest: OAuth needs HTTPS (CertFile, KeyFile)")
	}
	bin, err := binary(o.service())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	dir, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		return nil, fmt.Errorf("azuritetest: %w", err)
	}
	s := &Server{bin: bin, Dir: dir, ownDir: true, opt: o}
	if err := s.start(0); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Require is for tests sharing a server from Launch: s and err are what
// Launch returned. It skips (or fails under CI=true) when Azurite is not
// installed, fails on any other launch error, and returns s.
func Require(tb testing.TB, s *Server, err error) *Server {
	tb.Helper()
	if err != nil {
		if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
			tb.Skipf("%v", err)
			return nil
		}
		tb.Fatalf("%v", err)
		return nil
	}
	return s
}

var listenRE = regexp.MustCompile(`listens on https?://127\.0\.0\.1:(\d+)`)

func (s *Server) start(port int) error {
	// Port 0 lets Azurite pick a free port and print it: no race with
	// other tests for a port chosen in advance.
	svc := s.opt.service()
	args := []string{"--" + svc + "Host", "127.0.0.1", "--" + svc + "Port", strconv.Itoa(port),
		"--location", s.Dir, "--skipApiVersionCheck", "--loose", "--silent"}
	if !s.opt.ProductStyle {
		args = append(args, "--disableProductStyleUrl")
	}
	if s.opt.CertFile != "" {
		args = append(args, "--cert", s.opt.CertFile, "--key", s.opt.KeyFile)
	}
	if s.opt.OAuth {
		args = append(args, "--oauth", "basic")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("azuritetest: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("azuritetest: start %s: %w", s.bin, err)
	}
	portc := make(chan int, 1)
	done := make(chan struct{})
	var tail strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent {
				if m := listenRE.FindStringSubmatch(line); m != nil {
					p, _ := strconv.Atoi(m[1])
					portc <- p
					sent = true
					continue
				}
				if tail.Len() < 4096 {
					tail.WriteString(line + "\n")
				}
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case p := <-portc:
		s.mu.Lock()
		s.Port, s.cmd, s.done = p, cmd, done
		s.mu.Unlock()
	case <-done:
		return fmt.Errorf("azuritetest: azurite-%s exited before listening:\n%s", s.opt.service(), tail.String())
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("azuritetest: azurite-%s did not start within 60s", s.opt.service())
	}
	return s.waitReady()
}

// waitReady polls the service until it answers a real request.
func (s *Server) waitReady() error {
	if s.opt.Queue {
		return s.waitQueueReady()
	}
	c := s.Client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.GetProperties(ctx, nil)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("azuritetest: Azurite on port %d not answering: %v", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends Azurite (SIGTERM to its process group, SIGKILL after 10 s)
// and, for a server from Launch or Start, removes its data directory.
func (s *Server) Stop() {
	s.halt()
	if s.ownDir {
		os.RemoveAll(s.Dir)
	}
}

// halt ends the process and keeps the data. Halting a halted server does nothing.
func (s *Server) halt() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Kill stops the process but keeps the data, as if Azurite went down.
func (s *Server) Kill() { s.halt() }

// Restart starts Azurite again on the same port and data directory.
func (s *Server) Restart() error {
	s.halt()
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly
		if err = s.start(s.Port); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Endpoint is the path-style account URL, e.g. http://127.0.0.1:PORT/devstoreaccount1.
func (s *Server) Endpoint() string {
	scheme := "http://"
	if s.opt.CertFile != "" {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) + "/" + Account
}

// ConnectionString returns a connection string for the development account.
func (s *Server) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + Account + ";AccountKey=" + Key +
		";BlobEndpoint=" + s.Endpoint() + ";"
}

// Client returns a shared-key service client with few retries (tests want
// errors fast).
func (s *Server) Client() *service.Client {
	cred, err := azblob.NewSharedKeyCredential(Account, Key)
	if err != nil {
		panic(err) // constant, valid key
	}
	opts := &service.ClientOptions{}
	opts.Retry = policy.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}
	if s.opt.CertFile != "" {
		opts.Transport = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.opt.RootCAs, MinVersion: tls.VersionTLS12}}}
	}
	c, err := service.NewClientWithSharedKeyCredential(s.Endpoint()+"/", cred, opts)
	if err != nil {
		panic(err) // constant, valid URL
	}
	return c
}

// CreateContainer creates a container, accepting one that already exists.
func CreateContainer(ctx context.Context, svc *service.Client, name string) error {
	_, err := svc.NewContainerClient(name).Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("azuritetest: create container %s: %w", name, err)
	}
	return nil
}

// Grower writes a flow-log blob the way Network Watcher does: a committed
// block list head, data..., tail, where each Append stages new data blocks
// and commits a list with them inserted before the tail. Block IDs all have
// the same length (flowgen.BlockID).
type Grower struct {
	c    *blockblob.Client
	name string
	head string
	tail string
	data []string
}

const growerMaxBlocks = 1 << 20

// NewGrower stages the 12-byte head and 2-byte tail and commits [head, tail].
func NewGrower(ctx context.Context, svc *service.Client, container, name string) (*Grower, error) {
	g := &Grower{
		c:    svc.NewContainerClient(container).NewBlockBlobClient(name),
		name: name,
		head: flowgen.BlockID(name, 0, growerMaxBlocks),
		tail: flowgen.BlockID(name, growerMaxBlocks-1, growerMaxBlocks),
	}
	if err := g.stage(ctx, g.head, []byte(flowgen.Head)); err != nil {
		return nil, err
	}
	if err := g.stage(ctx, g.tail, []byte(flowgen.Tail)); err != nil {
		return nil, err
	}
	return g, g.commit(ctx)
}

func (g *Grower) stage(ctx context.Context, id string, b []byte) error {
	_, err := g.c.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(b)), nil)
	if err != nil {
		return fmt.Errorf("azuritetest: stage block of %s: %w", g.name, err)
	}
	return nil
}

func (g *Grower) commit(ctx context.Context) error {
	ids := make([]string, 0, len(g.data)+2)
	ids = append(ids, g.head)
	ids = append(ids, g.data...)
	ids = append(ids, g.tail)
	if _, err := g.c.CommitBlockList(ctx, ids, nil); err != nil {
		return fmt.Errorf("azuritetest: commit block list of %s: %w", g.name, err)
	}
	return nil
}

// Append stages data blocks (each after the blob's first starting with ',')
// and commits them before the tail in one block list.
func (g *Grower) Append(ctx context.Context, blocks ...[]byte) error {
	for _, b := range blocks {
		id := flowgen.BlockID(g.name, len(g.data)+1, growerMaxBlocks)
		if err := g.stage(ctx, id, b); err != nil {
			return err
		}
		g.data = append(g.data, id)
	}
	return g.commit(ctx)
}

// UploadBlob writes a generated blob as its committed block list in one go.
func UploadBlob(ctx context.Context, svc *service.Client, b *flowgen.Blob) error {
	g, err := NewGrower(ctx, svc, b.Container, b.Name)
	if err != nil {
		return err
	}
	return g.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...)
}
