package blobsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

func markerOn(c *Config) {
	c.DoneMarker = DoneMarker{Enabled: true, Key: "OmsLogType", Value: "AzureNetworkAnalytics"}
}

// TestDoneMarker: the marker is set only once the hour is closed and every
// record was acknowledged, keeps the blob's other metadata, and a marked
// blob is skipped by a later run.
func TestDoneMarker(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, markerOn)
	ctx := context.Background()
	b := genBlob(t, flowgen.Options{RecordsPerHour: 6, TuplesPerRecord: 2, Seed: 11}, 0)
	g := e.grower(b.Name)
	if err := g.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...); err != nil {
		t.Fatal(err)
	}
	bc := e.svc.NewContainerClient(e.cont).NewBlobClient(b.Name)
	marker := func() (string, map[string]*string) {
		t.Helper()
		p, err := bc.GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range p.Metadata {
			if strings.EqualFold(k, "omslogtype") {
				return *v, p.Metadata
			}
		}
		return "", p.Metadata
	}
	e.sink.ack = false
	e.cycle()
	if m, _ := marker(); m != "" {
		t.Fatal("marker set while the hour is open")
	}
	// Someone else's metadata, set before the close.
	if _, err := bc.SetMetadata(ctx, map[string]*string{"owner": to.Ptr("netops")}, nil); err != nil {
		t.Fatal(err)
	}
	e.closeAll(b.Hour)
	e.cycle()
	if m, _ := marker(); m != "" {
		t.Fatal("marker set before the records were acknowledged")
	}
	for _, c := range e.sink.chunks {
		if err := checkpoint.Ack(ctx, e.store, checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End}); err != nil {
			t.Fatal(err)
		}
	}
	e.cycle()
	m, md := marker()
	if m != "AzureNetworkAnalytics" {
		t.Fatalf("marker = %q after ack and close; logs:\n%s", m, e.logs)
	}
	keep := false
	for k, v := range md {
		keep = keep || (strings.EqualFold(k, "owner") && *v == "netops")
	}
	if !keep {
		t.Fatalf("other metadata lost: %v", md)
	}
	if st := e.src.Stats(); st.DoneMarked != 1 || st.Pending != 0 {
		t.Fatalf("DoneMarked %d Pending %d", st.DoneMarked, st.Pending)
	}
	// A fresh source with a fresh checkpoint skips the marked blob.
	store2, _ := checkpoint.NewDir(t.TempDir())
	e.store, e.sink = store2, newSink(t, store2)
	e.src = e.newSource(markerOn)
	e.cycle()
	if len(e.sink.chunks) != 0 || e.src.Stats().DoneSkipped != 1 {
		t.Fatalf("marked blob read again: %d chunks, DoneSkipped %d", len(e.sink.chunks), e.src.Stats().DoneSkipped)
	}
}

// TestDoneMarkerWithoutWrite: a SAS without w cannot set the marker; the
// run goes on and says why.
func TestDoneMarkerWithoutWrite(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, nil)
	ctx := context.Background()
	blobs := []*flowgen.Blob{}
	o := flowgen.Options{RecordsPerHour: 4, TuplesPerRecord: 2, Seed: 12, MACs: 2}
	for i := 0; i < 2; i++ {
		b := genBlob(t, o, i)
		blobs = append(blobs, b)
		g := e.grower(b.Name)
		if err := g.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...); err != nil {
			t.Fatal(err)
		}
	}
	token := sasToken(t, e, sas.ContainerPermissions{List: true, Read: true})
	e.src = e.newSource(func(c *Config) {
		markerOn(c)
		c.Client = nil
		c.Auth = Auth{Method: AuthSAS, Endpoint: srv.Endpoint(), SASToken: "?" + token,
			Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond}}
	})
	e.cycle()
	e.closeAll(blobs[0].Hour)
	e.cycle()
	st := e.src.Stats()
	if st.DoneFailed != 2 || st.DoneMarked != 0 {
		t.Fatalf("DoneFailed %d DoneMarked %d, want 2 and 0; logs:\n%s", st.DoneFailed, st.DoneMarked, e.logs)
	}
	if !strings.Contains(e.logs.String(), "needs w (write) for the done marker") || st.Refused != 2 {
		t.Fatalf("no log line explaining the missing w permission:\n%s", e.logs)
	}
	sameIDs(t, e.sink.ids, wantIDs(t, blobs[0].Bytes(), blobs[1].Bytes()))
}

// markerOf returns the done marker's value on a blob ("" when unmarked).
func markerOf(t *testing.T, e *env, name string) string {
	t.Helper()
	p, err := e.svc.NewContainerClient(e.cont).NewBlobClient(name).GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.Metadata {
		if strings.EqualFold(k, "omslogtype") && v != nil {
			return *v
		}
	}
	return ""
}

// TestDoneMarkerAfterRestart: a reader stopped after a blob was closed and
// fully acknowledged, but before its done marker was written, leaves the
// marker owed in the checkpoint; the next reader on the same checkpoint
// sets it, even though the blob needs no reading. The marker is never set
// on a blob not fully acknowledged, nor on the open blob of the current
// hour (acknowledged up to its current end).
func TestDoneMarkerAfterRestart(t *testing.T) {
	srv := azurite(t)
	o := flowgen.Options{RecordsPerHour: 6, TuplesPerRecord: 2, Seed: 31, Hours: 2}
	tests := []struct {
		name string
		// ackFirst: the first reader's callback acknowledges each chunk;
		// with cancelOnFinal the reader is stopped right after the final
		// chunk of the closed blob was acknowledged.
		ackFirst, cancelOnFinal bool
		// lateAck: after the first reader stopped, the delivery side
		// acknowledges the chunks it read, except the last lack ones of
		// the closed blob.
		lateAck, lack int
		wantMarked    bool
	}{
		{name: "stopped right after the final ack", ackFirst: true, cancelOnFinal: true, wantMarked: true},
		{name: "acknowledged after the reader stopped", lateAck: 1, wantMarked: true},
		{name: "not fully acknowledged", lateAck: 1, lack: 1, wantMarked: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, markerOn)
			ctx := context.Background()
			closed, open := genBlob(t, o, 0), genBlob(t, o, 1)
			for _, b := range []*flowgen.Blob{closed, open} {
				if err := azuritetest.UploadBlob(ctx, e.svc, &flowgen.Blob{Container: e.cont, Name: b.Name, Blocks: b.Blocks}); err != nil {
					t.Fatal(err)
				}
			}
			closedKey := BlobID{azuriteAccount, e.cont, closed.Name}.Key()
			// The closed blob's hour and grace are over; open's hour is now.
			e.clock.Set(closed.Hour.Add(time.Hour + 6*time.Minute))
			e.sink.ack = tt.ackFirst
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			if tt.cancelOnFinal {
				stopAfterFinal := func(ctx context.Context, c Chunk) error {
					err := e.sink.handle(ctx, c) // acknowledges c
					if c.Final {
						cancel()
					}
					return err
				}
				for i := 0; i < 5 && runCtx.Err() == nil; i++ {
					if _, err := e.src.cycle(runCtx, stopAfterFinal); err != nil && runCtx.Err() == nil {
						t.Fatalf("cycle: %v", err)
					}
				}
				if runCtx.Err() == nil {
					t.Fatal("the blob was never closed")
				}
			} else {
				for i := 0; i < 5 && len(e.src.pending) == 0; i++ {
					e.cycle()
				}
			}
			if markerOf(t, e, closed.Name) != "" {
				t.Fatal("marker set by the first reader: the test does not reach the gap")
			}
			c, err := e.store.Load(ctx, closedKey)
			if err != nil || !c.Closed {
				t.Fatalf("first reader did not close the blob: %+v %v", c, err)
			}
			if tt.lateAck > 0 {
				var mine []Chunk
				for _, ch := range e.sink.chunks {
					if ch.Key == closedKey && ch.End > ch.Start {
						mine = append(mine, ch)
					}
				}
				for _, ch := range mine[:len(mine)-tt.lack] {
					if err := checkpoint.Ack(ctx, e.store, checkpoint.Range{Key: ch.Key, Gen: ch.Gen, Off: ch.Start, End: ch.End}); err != nil {
						t.Fatal(err)
					}
				}
				// The open blob is acknowledged to its current end too.
				for _, ch := range e.sink.chunks {
					if ch.Key != closedKey {
						if err := checkpoint.Ack(ctx, e.store, checkpoint.Range{Key: ch.Key, Gen: ch.Gen, Off: ch.Start, End: ch.End}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			// Restart on the same checkpoint; the new reader acknowledges
			// nothing, so only what the first one left counts.
			e.sink = newSink(t, e.store)
			e.sink.ack = false
			e.src = e.newSource(markerOn)
			for i := 0; i < 3; i++ {
				e.cycle()
			}
			if got := markerOf(t, e, closed.Name) != ""; got != tt.wantMarked {
				t.Fatalf("closed blob marked = %v, want %v; logs:\n%s", got, tt.wantMarked, e.logs)
			}
			if markerOf(t, e, open.Name) != "" {
				t.Fatal("the open blob of the current hour was marked")
			}
			for _, ch := range e.sink.chunks {
				if ch.Key == closedKey && tt.lack == 0 {
					t.Fatalf("fully acknowledged blob read again: [%d,%d)", ch.Start, ch.End)
				}
			}
			if len(e.src.resources) != 1 {
				t.Fatalf("%d resources, want 1", len(e.src.resources))
			}
			var res *resource
			for _, r := range e.src.resources {
				res = r
			}
			if tt.wantMarked {
				if st := e.src.Stats(); st.DoneMarked != 1 || st.Pending != 0 {
					t.Fatalf("DoneMarked %d Pending %d, want 1 and 0", st.DoneMarked, st.Pending)
				}
				// Marked: the cursor is dropped once the watermark passed it.
				if _, err := e.store.Load(ctx, closedKey); !errors.Is(err, checkpoint.ErrNotFound) {
					t.Fatalf("cursor of the marked blob kept: %v", err)
				}
				return
			}
			// Still owed: the watermark stays at its hour and the cursor is kept.
			if res.resume.After(closed.Hour) {
				t.Fatalf("watermark %v passed the hour %v of a blob still owing its marker", res.resume, closed.Hour)
			}
			if _, err := e.store.Load(ctx, closedKey); err != nil {
				t.Fatalf("cursor of an unfinished blob: %v", err)
			}
		})
	}
}

// TestMarkOutcome: refusals give the marker up; what may pass is retried.
func TestMarkOutcome(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want markResult
	}{
		{"forbidden", &azcore.ResponseError{StatusCode: 403}, markGiveUp},
		{"precondition failed", &azcore.ResponseError{StatusCode: 412}, markGiveUp},
		{"bad request", &azcore.ResponseError{StatusCode: 400}, markGiveUp},
		{"not found", &azcore.ResponseError{StatusCode: 404}, markGiveUp},
		{"request timeout", &azcore.ResponseError{StatusCode: 408}, markRetry},
		{"throttled", &azcore.ResponseError{StatusCode: 429}, markRetry},
		{"server busy", &azcore.ResponseError{StatusCode: 503}, markRetry},
		{"wrapped server error", fmt.Errorf("set metadata: %w", &azcore.ResponseError{StatusCode: 500}), markRetry},
		{"network", errors.New("dial tcp 127.0.0.1:1: connection refused"), markRetry},
		{"deadline", context.DeadlineExceeded, markRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := markOutcome(tt.err); got != tt.want {
				t.Fatalf("markOutcome = %d, want %d", got, tt.want)
			}
		})
	}
}

// failMetadata answers metadata writes (PUT ?comp=metadata) with status
// while on is set, without sending them.
type failMetadata struct {
	on     atomic.Bool
	status int
	calls  atomic.Int64
}

func (f *failMetadata) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	if !f.on.Load() || r.Method != http.MethodPut || r.URL.Query().Get("comp") != "metadata" {
		return req.Next()
	}
	f.calls.Add(1)
	h := http.Header{}
	h.Set("x-ms-error-code", http.StatusText(f.status))
	return &http.Response{StatusCode: f.status, Status: http.StatusText(f.status), Header: h, Request: r,
		Body: io.NopCloser(strings.NewReader(""))}, nil
}

// TestDoneMarkerFailures: a marker write failing for a reason that may pass
// (503) keeps the blob pending, its hour under the watermark and its cursor,
// and is set once storage answers; a refusal (403) is given up for good,
// persisted (MarkFailed), and not tried again when a restart lists the blob.
func TestDoneMarkerFailures(t *testing.T) {
	srv := azurite(t)
	tests := []struct {
		status     int
		wantMarked bool
	}{
		{http.StatusServiceUnavailable, true},
		{http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			e := newEnv(t, srv, markerOn)
			ctx := context.Background()
			b := genBlob(t, flowgen.Options{RecordsPerHour: 4, TuplesPerRecord: 2, Seed: 51}, 0)
			if err := azuritetest.UploadBlob(ctx, e.svc, &flowgen.Blob{Container: e.cont, Name: b.Name, Blocks: b.Blocks}); err != nil {
				t.Fatal(err)
			}
			key := BlobID{azuriteAccount, e.cont, b.Name}.Key()
			fail := &failMetadata{status: tt.status}
			fail.on.Store(true)
			client := func() *service.Client {
				cred, err := azblob.NewSharedKeyCredential(azuritetest.Account, azuritetest.Key)
				if err != nil {
					t.Fatal(err)
				}
				o := &service.ClientOptions{}
				o.Retry = policy.RetryOptions{MaxRetries: -1}
				o.PerCallPolicies = []policy.Policy{fail}
				c, err := service.NewClientWithSharedKeyCredential(srv.Endpoint()+"/", cred, o)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			// Cursors are kept so that the restart below, without the
			// watermark, lists the blob again and sees what was persisted.
			withClient := func(c *Config) { markerOn(c); c.Client, c.KeepCursors = client(), true }
			e.src = e.newSource(withClient)
			e.clock.Set(b.Hour.Add(time.Hour + 6*time.Minute))
			for i := 0; i < 4; i++ {
				e.cycle()
			}
			if fail.calls.Load() == 0 {
				t.Fatal("no marker write attempted")
			}
			c, err := e.store.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if markerOf(t, e, b.Name) != "" || !c.Closed || !c.FullyAcked(int64(b.Size())) {
				t.Fatalf("after failed marker writes: marked %q, cursor %+v", markerOf(t, e, b.Name), c)
			}
			var res *resource
			for _, r := range e.src.resources {
				res = r
			}
			retried := tt.status == http.StatusServiceUnavailable
			if retried {
				if c.MarkFailed || e.src.Stats().Pending != 1 || res.resume.After(b.Hour) {
					t.Fatalf("transient failure: MarkFailed %v Pending %d watermark %v (hour %v)",
						c.MarkFailed, e.src.Stats().Pending, res.resume, b.Hour)
				}
				if n := fail.calls.Load(); n < 2 {
					t.Fatalf("%d marker writes in 4 cycles, want a retry each cycle", n)
				}
			} else if !c.MarkFailed || e.src.Stats().Pending != 0 || fail.calls.Load() != 1 {
				t.Fatalf("refusal: MarkFailed %v Pending %d writes %d, want given up after one",
					c.MarkFailed, e.src.Stats().Pending, fail.calls.Load())
			}
			// Storage answers again; a restart on the same checkpoint, less
			// the resource watermark (so the hour is listed whatever it was).
			fail.on.Store(false)
			err = e.store.List(ctx, "resource/", func(c checkpoint.Cursor) error { return e.store.Delete(ctx, c.Key) })
			if err != nil {
				t.Fatal(err)
			}
			e.sink = newSink(t, e.store)
			e.src = e.newSource(withClient)
			for i := 0; i < 3; i++ {
				e.cycle()
			}
			if got := markerOf(t, e, b.Name) != ""; got != tt.wantMarked {
				t.Fatalf("marked = %v after storage recovered, want %v; logs:\n%s", got, tt.wantMarked, e.logs)
			}
			if len(e.sink.chunks) != 0 {
				t.Fatalf("blob read again: %d chunks", len(e.sink.chunks))
			}
		})
	}
}

// TestLateCommitAfterClose: a block committed after the blob's hour was
// closed (Network Watcher late, or a writer that grows a blob past its
// hour) is found when the closed blob is checked once more before its
// cursor is let go or its done marker set, and read from the committed
// offset: every record arrives once.
func TestLateCommitAfterClose(t *testing.T) {
	srv := azurite(t)
	for _, tt := range []struct {
		name   string
		mod    func(*Config)
		marked int64
	}{
		{"no done marker", nil, 0},
		{"done marker", markerOn, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, tt.mod)
			ctx := context.Background()
			b := genBlob(t, flowgen.Options{RecordsPerHour: 6, TuplesPerRecord: 2, Seed: 12}, 0)
			g := e.grower(b.Name)
			data := b.Blocks[1 : len(b.Blocks)-1]
			if err := g.Append(ctx, data[:4]...); err != nil {
				t.Fatal(err)
			}
			e.sink.ack = false
			e.cycle()
			e.closeAll(b.Hour)
			if st := e.src.Stats(); st.Closed != 1 || st.Pending != 1 {
				t.Fatalf("closed %d pending %d, want 1 and 1", st.Closed, st.Pending)
			}
			// Committed after the close, before the acknowledgments.
			if err := g.Append(ctx, data[4:]...); err != nil {
				t.Fatal(err)
			}
			for _, c := range e.sink.chunks {
				if err := checkpoint.Ack(ctx, e.store, checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End}); err != nil {
					t.Fatal(err)
				}
			}
			e.sink.ack = true
			for i := 0; i < 4; i++ {
				e.cycle()
			}
			sameIDs(t, e.sink.ids, wantIDs(t, bytes.Join(b.Blocks, nil)))
			st := e.src.Stats()
			if st.LateCommits != 1 || st.Pending != 0 || len(e.src.blobs) != 0 || st.Rewrites != 0 {
				t.Fatalf("late commits %d, pending %d, open %d, rewrites %d; want 1, 0, 0, 0; logs:\n%s",
					st.LateCommits, st.Pending, len(e.src.blobs), st.Rewrites, e.logs)
			}
			if st.DoneMarked != tt.marked {
				t.Fatalf("%d done markers set, want %d", st.DoneMarked, tt.marked)
			}
			if !strings.Contains(e.logs.String(), "committed to after its hour was closed") {
				t.Errorf("the late commit is not logged:\n%s", e.logs)
			}
		})
	}
}
