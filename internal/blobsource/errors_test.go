package blobsource

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

// TestRewrittenBlob: a blob replaced by other content (larger, so only the
// overlap check can tell) or shrunk is read again from the start.
func TestRewrittenBlob(t *testing.T) {
	srv := azurite(t)
	tests := []struct {
		name    string
		records int // records of the replacement blob
	}{
		{"replaced by a longer blob", 15},
		{"shrunk", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, func(c *Config) { c.KeepCursors = true })
			ctx := context.Background()
			a := genBlob(t, flowgen.Options{RecordsPerHour: 8, TuplesPerRecord: 3, Seed: 1}, 0)
			g := e.grower(a.Name)
			if err := g.Append(ctx, a.Blocks[1:6]...); err != nil {
				t.Fatal(err)
			}
			e.cycle()
			// Network Watcher (or someone) recreates the blob.
			b := genBlob(t, flowgen.Options{RecordsPerHour: tt.records, TuplesPerRecord: 3, Seed: 2}, 0)
			g2 := e.grower(a.Name) // other content under the same name
			if err := g2.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...); err != nil {
				t.Fatal(err)
			}
			e.cycle()
			e.closeAll(a.Hour)
			if !strings.Contains(e.logs.String(), "blob was rewritten") {
				t.Fatalf("no rewrite warning in the logs:\n%s", e.logs)
			}
			if e.src.Stats().Rewrites != 1 {
				t.Fatalf("Rewrites = %d, want 1", e.src.Stats().Rewrites)
			}
			first := genBlobPrefix(t, a, 6)
			sameIDs(t, e.sink.ids, wantIDs(t, first, b.Bytes()))
			c, _ := e.store.Load(ctx, BlobID{azuriteAccount, e.cont, a.Name}.Key())
			if c.Gen != 1 || !c.FullyAcked(int64(b.Size())) {
				t.Fatalf("cursor after rewrite: gen %d committed %d size %d", c.Gen, c.Committed, b.Size())
			}
		})
	}
}

// genBlobPrefix is the blob as committed with its first n blocks.
func genBlobPrefix(t *testing.T, b *flowgen.Blob, n int) []byte {
	var out []byte
	for _, blk := range b.Blocks[:n] {
		out = append(out, blk...)
	}
	return append(out, flowgen.Tail...)
}

// TestTruncatedBlock: a data block cut short is counted by the parser and
// every other record is read.
func TestTruncatedBlock(t *testing.T) {
	srv := azurite(t)
	for _, maxChunk := range []int{0, 600} {
		e := newEnv(t, srv, func(c *Config) { c.MaxChunk = maxChunk })
		ctx := context.Background()
		b := genBlob(t, flowgen.Options{Format: flowgen.FormatNSGv2, RecordsPerHour: 10, TuplesPerRecord: 3, Seed: 5}, 0)
		blocks := b.Blocks[1 : len(b.Blocks)-1]
		bad := blocks[4][:len(blocks[4])/2] // a truncated data block
		g := e.grower(b.Name)
		if err := g.Append(ctx, blocks[:4]...); err != nil {
			t.Fatal(err)
		}
		e.cycle()
		if err := g.Append(ctx, append([][]byte{bad}, blocks[5:]...)...); err != nil {
			t.Fatal(err)
		}
		e.cycle()
		e.closeAll(b.Hour)
		var whole []byte
		whole = append(whole, flowgen.Head...)
		for i, blk := range blocks {
			if i != 4 {
				whole = append(whole, blk...)
			}
		}
		whole = append(whole, flowgen.Tail...)
		sameIDs(t, e.sink.ids, wantIDs(t, whole))
		if e.sink.stats.ByKind[flowparse.SkipMalformed]+e.sink.stats.ByKind[flowparse.SkipTruncated] != 1 {
			t.Fatalf("maxChunk %d: skips %v, want one truncated/malformed record", maxChunk, e.sink.stats.ByKind)
		}
	}
}

// TestDeletedMidRead: the blob disappears between two pieces of one read.
func TestDeletedMidRead(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, func(c *Config) { c.MaxChunk = 512 })
	ctx := context.Background()
	b := genBlob(t, flowgen.Options{RecordsPerHour: 10, TuplesPerRecord: 3, Seed: 9}, 0)
	g := e.grower(b.Name)
	if err := g.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...); err != nil {
		t.Fatal(err)
	}
	deleted := false
	e.sink.onChunk = func(c Chunk) error {
		if !deleted {
			deleted = true
			_, err := e.svc.NewContainerClient(e.cont).NewBlobClient(b.Name).Delete(ctx, nil)
			return err
		}
		return nil
	}
	e.cycle()
	st := e.src.Stats()
	if st.NotFound != 1 {
		t.Fatalf("NotFound = %d, want 1; logs:\n%s", st.NotFound, e.logs)
	}
	if !strings.Contains(e.logs.String(), "blob deleted while being read") {
		t.Fatalf("no log line for the deleted blob:\n%s", e.logs)
	}
	if _, err := e.store.Load(ctx, BlobID{azuriteAccount, e.cont, b.Name}.Key()); err == nil {
		t.Fatal("cursor of the deleted blob was kept")
	}
	if len(e.src.blobs) != 0 {
		t.Fatal("deleted blob still followed")
	}
	e.cycle() // and the next poll is quiet
}

// sasToken returns a container SAS with the given permissions.
func sasToken(t *testing.T, e *env, perms sas.ContainerPermissions) string {
	t.Helper()
	u, err := e.svc.NewContainerClient(e.cont).GetSASURL(perms, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.RawQuery
}

// TestForbiddenBlob: a SAS that can list but not read: the blob is logged
// as unreadable (403), counted, skipped, and the SAS never reaches the logs.
func TestForbiddenBlob(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, nil)
	ctx := context.Background()
	b := genBlob(t, flowgen.Options{RecordsPerHour: 3, TuplesPerRecord: 2}, 0)
	if err := azuritetest.UploadBlob(ctx, e.svc, &flowgen.Blob{Container: e.cont, Name: b.Name, Blocks: b.Blocks}); err != nil {
		t.Fatal(err)
	}
	token := sasToken(t, e, sas.ContainerPermissions{List: true})
	e.src = e.newSource(func(c *Config) {
		c.Client = nil
		c.Auth = Auth{Method: AuthSAS, Endpoint: srv.Endpoint(), SASToken: token,
			Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond}}
	})
	e.cycle()
	e.cycle() // skipped until the next discovery: no second 403
	st := e.src.Stats()
	if st.Forbidden != 1 || st.Refused != 1 {
		t.Fatalf("Forbidden = %d, want 1; logs:\n%s", st.Forbidden, e.logs)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "storage refused to read blob") || !strings.Contains(logs, "403 AuthorizationPermissionMismatch") ||
		!strings.Contains(logs, "storage_auth sas") || !strings.Contains(logs, "needs r (read)") {
		t.Fatalf("no 403 log line:\n%s", logs)
	}
	sig, _ := url.ParseQuery(token)
	if strings.Contains(logs, sig.Get("sig")) || strings.Contains(logs, url.QueryEscape(sig.Get("sig"))) {
		t.Fatalf("SAS signature in the logs:\n%s", logs)
	}
	if len(e.sink.chunks) != 0 {
		t.Fatal("chunks from an unreadable blob")
	}
}

// TestAzuriteRestart: storage goes away mid-run and comes back; Run logs,
// retries with backoff and nothing is lost.
func TestAzuriteRestart(t *testing.T) {
	srv := azuritetest.Start(t) // its own server: this test stops it
	e := newEnv(t, srv, func(c *Config) { c.PollInterval = 50 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := genBlob(t, flowgen.Options{RecordsPerHour: 10, TuplesPerRecord: 3, Seed: 4}, 0)
	blocks := b.Blocks[1 : len(b.Blocks)-1]
	g := e.grower(b.Name)
	if err := g.Append(ctx, blocks[:5]...); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.src.Run(ctx, e.sink.handle) }()
	waitFor(t, "first chunks", func() bool { return e.src.Stats().Chunks > 0 })
	srv.Kill()
	waitFor(t, "a failed cycle", func() bool { return e.src.Stats().CycleErrors > 0 })
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := g.Append(ctx, blocks[5:]...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all tuples", func() bool {
		e.sink.mu.Lock()
		defer e.sink.mu.Unlock()
		return int(e.sink.stats.Tuples) >= b.Tuples
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	e.sink.mu.Lock()
	sameIDs(t, e.sink.ids, wantIDs(t, b.Bytes()))
	e.sink.mu.Unlock()
	if !strings.Contains(e.logs.String(), "blob poll failed, retrying") {
		t.Fatalf("no retry log line:\n%s", e.logs)
	}
}

// waitFor polls cond (a condition on work done, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestChangedDuringRead: a commit lands between two pieces of one read; the
// next piece gets 412, the source takes the new size and goes on.
func TestChangedDuringRead(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, func(c *Config) { c.MaxChunk = 512 })
	ctx := context.Background()
	b := genBlob(t, flowgen.Options{RecordsPerHour: 12, TuplesPerRecord: 3, Seed: 31}, 0)
	blocks := b.Blocks[1 : len(b.Blocks)-1]
	g := e.grower(b.Name)
	if err := g.Append(ctx, blocks[:8]...); err != nil {
		t.Fatal(err)
	}
	appended := false
	e.sink.onChunk = func(c Chunk) error {
		if !appended {
			appended = true
			return g.Append(ctx, blocks[8:]...)
		}
		return nil
	}
	e.cycle()
	if e.src.Stats().Changed == 0 {
		t.Fatalf("no 412 seen; logs:\n%s", e.logs)
	}
	e.closeAll(b.Hour)
	sameIDs(t, e.sink.ids, wantIDs(t, b.Bytes()))
}

// TestCallbackError: a chunk the callback refuses is read again later and
// nothing is lost or repeated.
func TestCallbackError(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, nil)
	ctx := context.Background()
	b := genBlob(t, flowgen.Options{RecordsPerHour: 6, TuplesPerRecord: 3, Seed: 32}, 0)
	g := e.grower(b.Name)
	if err := g.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...); err != nil {
		t.Fatal(err)
	}
	refused := 0
	e.sink.onChunk = func(c Chunk) error {
		if refused < 2 {
			refused++
			return errors.New("queue full")
		}
		return nil
	}
	e.cycle()
	e.clock.Set(e.clock.Now().Add(3 * time.Second)) // past the retry backoff
	e.cycle()
	e.clock.Set(e.clock.Now().Add(5 * time.Second))
	e.cycle()
	e.closeAll(b.Hour)
	if st := e.src.Stats(); st.DeliveryFails != 2 {
		t.Fatalf("DeliveryFails = %d, want 2", st.DeliveryFails)
	}
	sameIDs(t, e.sink.ids, wantIDs(t, b.Bytes()))
}
