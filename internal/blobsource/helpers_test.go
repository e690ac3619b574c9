package blobsource

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

var (
	shared    *azuritetest.Server
	sharedErr error
	once      sync.Once
)

// azurite returns the Azurite shared by this package's tests, started on
// first use and stopped by TestMain.
func azurite(t *testing.T) *azuritetest.Server {
	t.Helper()
	once.Do(func() { shared, sharedErr = azuritetest.Launch() })
	return azuritetest.Require(t, shared, sharedErr)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

var containerSeq atomic.Int64

// newContainer creates a container with a name unique to the test.
func newContainer(t *testing.T, svc *service.Client) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d-%s", containerSeq.Add(1), strings.Trim(name, "-"))
	if err := azuritetest.CreateContainer(context.Background(), svc, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// sink parses every chunk like a caller would, keeps EventIds and checks
// that the chunks of a blob are contiguous.
type sink struct {
	t       *testing.T
	mu      sync.Mutex
	ids     map[uint64]int
	stats   flowparse.Stats
	next    map[string]int64 // blob key -> expected next Start
	chunks  []Chunk          // without Data
	finals  int
	store   checkpoint.Store
	ack     bool
	onChunk func(c Chunk) error
}

func newSink(t *testing.T, store checkpoint.Store) *sink {
	return &sink{t: t, ids: map[uint64]int{}, next: map[string]int64{}, store: store, ack: true}
}

func (k *sink) handle(ctx context.Context, c Chunk) error {
	if k.onChunk != nil {
		if err := k.onChunk(c); err != nil {
			return err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.Rewritten {
		k.next[c.Key] = 0
	}
	if want, ok := k.next[c.Key]; ok && c.Start != want {
		k.t.Errorf("%s: chunk starts at %d, previous ended at %d", c.Blob.Name, c.Start, want)
	}
	if c.Start == 0 && len(c.Data) > 0 && !bytes.HasPrefix(c.Data, []byte(flowgen.Head)) {
		k.t.Errorf("first chunk does not start with the head: %.20q", c.Data)
	}
	if c.Start > 0 && len(c.Data) > 0 && c.Data[0] != ',' {
		k.t.Errorf("chunk at %d starts with %q, want ','", c.Start, c.Data[0])
	}
	if int64(len(c.Data)) != c.End-c.Start {
		k.t.Errorf("chunk [%d,%d) has %d bytes", c.Start, c.End, len(c.Data))
	}
	k.next[c.Key] = c.End
	p := flowparse.Parser{OnEvent: func(e *flowparse.Event) { k.ids[e.EventID()]++ }}
	if len(c.Data) > 0 {
		if err := p.Range(c.Data); err != nil {
			k.t.Errorf("parse chunk [%d,%d): %v", c.Start, c.End, err)
		}
	}
	k.stats.Tuples += p.Stats.Tuples
	k.stats.Records += p.Stats.Records
	for i, n := range p.Stats.ByKind {
		k.stats.ByKind[i] += n
	}
	if c.Final {
		k.finals++
	}
	c.Data = nil
	k.chunks = append(k.chunks, c)
	if k.ack {
		return checkpoint.Ack(ctx, k.store, checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End})
	}
	return nil
}

// wantIDs parses whole blobs and returns their EventId multiset.
func wantIDs(t *testing.T, blobs ...[]byte) map[uint64]int {
	t.Helper()
	ids := map[uint64]int{}
	for _, b := range blobs {
		p := flowparse.Parser{OnEvent: func(e *flowparse.Event) { ids[e.EventID()]++ }}
		if err := p.Blob(b); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func sameIDs(t *testing.T, got, want map[uint64]int) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("no expected events")
	}
	missing, extra := 0, 0
	for id, n := range want {
		if got[id] < n {
			missing += n - got[id]
		}
	}
	for id, n := range got {
		if n > want[id] {
			extra += n - want[id]
		}
	}
	if missing > 0 || extra > 0 {
		t.Fatalf("events: %d missing, %d extra (got %d distinct, want %d)", missing, extra, len(got), len(want))
	}
}

// env is one test's source on its own container.
type env struct {
	t     *testing.T
	srv   *azuritetest.Server
	svc   *service.Client
	cont  string
	clock *clock
	store checkpoint.Store
	logs  *logBuf
	src   *Source
	sink  *sink
}

func newEnv(t *testing.T, srv *azuritetest.Server, mod func(*Config)) *env {
	t.Helper()
	e := &env{t: t, srv: srv, svc: srv.Client(), clock: &clock{t: flowgen.DefaultStart.Add(30 * time.Minute)}, logs: &logBuf{}}
	e.cont = newContainer(t, e.svc)
	var err error
	if e.store, err = checkpoint.NewDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	e.sink = newSink(t, e.store)
	e.src = e.newSource(mod)
	return e
}

func (e *env) newSource(mod func(*Config)) *Source {
	cfg := Config{
		Client:     e.svc,
		Auth:       Auth{AccountName: azuritetest.Account},
		Containers: []string{e.cont},
		Start:      "beginning",
		Grace:      5 * time.Minute,
		Store:      e.store,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        e.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	src, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return src
}

// cycle runs one poll and fails the test on error.
func (e *env) cycle() {
	e.t.Helper()
	if _, err := e.src.cycle(context.Background(), e.sink.handle); err != nil {
		e.t.Fatalf("cycle: %v\nlogs:\n%s", err, e.logs)
	}
}

// closeHour moves the clock past the hour and grace and polls until every
// open blob is closed.
func (e *env) closeAll(hour time.Time) {
	e.t.Helper()
	e.clock.Set(hour.Add(time.Hour + 6*time.Minute))
	for i := 0; i < 5 && len(e.src.blobs) > 0; i++ {
		e.cycle()
	}
	if len(e.src.blobs) > 0 {
		e.t.Fatalf("%d blobs still open after closing", len(e.src.blobs))
	}
}

func (e *env) grower(name string) *azuritetest.Grower {
	e.t.Helper()
	g, err := azuritetest.NewGrower(context.Background(), e.svc, e.cont, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func genBlob(t *testing.T, o flowgen.Options, i int) *flowgen.Blob {
	t.Helper()
	b, err := flowgen.GenerateBlob(o, i)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flowgenStart() time.Time { return flowgen.DefaultStart.Add(17 * time.Minute) }
