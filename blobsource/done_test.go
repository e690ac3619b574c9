package blobsource

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/nsgflow/nsgflow/blobsource/azuritetest"
	"github.com/nsgflow/nsgflow/checkpoint"
	"github.com/nsgflow/nsgflow/flowgen"
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
		if err := checkpoint.Ack(ctx, e.store, c.Key, c.Gen, c.Start, c.End); err != nil {
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
	if !strings.Contains(e.logs.String(), "a SAS needs the w permission") {
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
					if err := checkpoint.Ack(ctx, e.store, ch.Key, ch.Gen, ch.Start, ch.End); err != nil {
						t.Fatal(err)
					}
				}
				// The open blob is acknowledged to its current end too.
				for _, ch := range e.sink.chunks {
					if ch.Key != closedKey {
						if err := checkpoint.Ack(ctx, e.store, ch.Key, ch.Gen, ch.Start, ch.End); err != nil {
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
