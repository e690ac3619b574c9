package blobsource

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

// failingLoads fails Load of the keys containing match, the first n times.
type failingLoads struct {
	checkpoint.Store
	mu    sync.Mutex
	match string
	n     int
}

func (f *failingLoads) Load(ctx context.Context, key string) (checkpoint.Cursor, error) {
	f.mu.Lock()
	fail := strings.Contains(key, f.match) && f.n > 0
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		return checkpoint.Cursor{}, errors.New("checkpoint store unreachable (injected)")
	}
	return f.Store.Load(ctx, key)
}

// TestCursorLoadFailureLosesNothing: a blob of a backfill hour whose cursor
// cannot be loaded is retried in later cycles, and the resource watermark
// never passes its hour meanwhile; every tuple arrives exactly once.
func TestCursorLoadFailureLosesNothing(t *testing.T) {
	srv := azurite(t)
	o := flowgen.Options{Resources: 1, MACs: 1, Hours: 4, RecordsPerHour: 3, TuplesPerRecord: 4, Seed: 77}
	var flaky *failingLoads
	e := newEnv(t, srv, func(c *Config) {
		flaky = &failingLoads{Store: c.Store, match: "/h=01/", n: 3}
		c.Store = flaky
		c.Concurrency = 1
	})
	ctx := context.Background()
	var blobs [][]byte
	err := flowgen.Generate(o, func(b *flowgen.Blob) error {
		b.Container = e.cont
		blobs = append(blobs, b.Bytes())
		return azuritetest.UploadBlob(ctx, e.svc, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	// All four hours are over: everything is backfill.
	e.clock.Set(flowgen.DefaultStart.Add(5 * time.Hour))
	for i := 0; i < 12; i++ {
		e.cycle()
		for _, r := range e.src.resources {
			if flaky.n > 0 && !r.resume.IsZero() && r.resume.After(flowgen.DefaultStart.Add(time.Hour)) {
				t.Fatalf("cycle %d: watermark %v passed hour 01 while its cursor could not be loaded", i, r.resume)
			}
		}
	}
	if flaky.n != 0 {
		t.Fatalf("the failing loads were not all tried (%d left)", flaky.n)
	}
	if len(e.src.unloaded) != 0 {
		t.Fatalf("%d blobs still unloaded", len(e.src.unloaded))
	}
	sameIDs(t, e.sink.ids, wantIDs(t, blobs...))
	if !strings.Contains(e.logs.String(), "cannot load cursor") {
		t.Fatal("the load failure was not logged")
	}
}
