package blobsource

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

// TestGrowingBlobExactlyOnce grows a blob block by block while polling it
// and checks every tuple arrives exactly once, whatever the chunk size.
func TestGrowingBlobExactlyOnce(t *testing.T) {
	srv := azurite(t)
	tests := []struct {
		name     string
		format   flowgen.Format
		maxChunk int
		step     int // blocks per commit
	}{
		{"vnet one block per poll", flowgen.FormatVNetv4, 0, 1},
		{"nsg2 three blocks per poll", flowgen.FormatNSGv2, 0, 3},
		{"vnet small chunks", flowgen.FormatVNetv4, 1000, 4},
		{"nsg1 tiny chunks grow past records", flowgen.FormatNSGv1, 64, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, func(c *Config) { c.MaxChunk = tt.maxChunk; c.KeepCursors = true })
			b := genBlob(t, flowgen.Options{Format: tt.format, RecordsPerHour: 20, TuplesPerRecord: 4, Seed: 7}, 0)
			g := e.grower(b.Name)
			e.cycle() // head only: nothing to read
			if len(e.sink.chunks) != 0 {
				t.Fatalf("chunks from a head-only blob: %v", e.sink.chunks)
			}
			data := b.Blocks[1 : len(b.Blocks)-1]
			for i := 0; i < len(data); i += tt.step {
				if err := g.Append(context.Background(), data[i:min(i+tt.step, len(data))]...); err != nil {
					t.Fatal(err)
				}
				e.cycle()
			}
			e.cycle() // nothing new
			e.closeAll(b.Hour)
			sameIDs(t, e.sink.ids, wantIDs(t, b.Bytes()))
			if e.sink.finals != 1 {
				t.Fatalf("%d final chunks, want 1", e.sink.finals)
			}
			c, err := e.store.Load(context.Background(), BlobID{azuriteAccount, e.cont, b.Name}.Key())
			if err != nil {
				t.Fatal(err)
			}
			if !c.Closed || !c.FullyAcked(int64(b.Size())) {
				t.Fatalf("cursor %+v: want closed and fully acked at size %d", c, b.Size())
			}
			if tt.maxChunk > 0 {
				for _, ch := range e.sink.chunks {
					if ch.End-ch.Start > int64(max(tt.maxChunk, 2048)) {
						t.Errorf("chunk of %d bytes with MaxChunk %d", ch.End-ch.Start, tt.maxChunk)
					}
				}
			}
		})
	}
}

const azuriteAccount = "devstoreaccount1"

// TestRestartResumesAtCommitted: unacknowledged ranges are read again by a
// new Source on the same checkpoint; acknowledged ones are not.
func TestRestartResumesAtCommitted(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, nil)
	b := genBlob(t, flowgen.Options{RecordsPerHour: 12, TuplesPerRecord: 3, Seed: 3}, 0)
	g := e.grower(b.Name)
	data := b.Blocks[1 : len(b.Blocks)-1]
	ctx := context.Background()
	if err := g.Append(ctx, data[:6]...); err != nil {
		t.Fatal(err)
	}
	e.cycle()
	// Read but not acknowledged.
	e.sink.ack = false
	if err := g.Append(ctx, data[6:9]...); err != nil {
		t.Fatal(err)
	}
	e.cycle()
	// "Restart": a new Source, same store; the new sink acks.
	first := e.sink.ids
	e.sink = newSink(t, e.store)
	e.src = e.newSource(nil)
	if err := g.Append(ctx, data[9:]...); err != nil {
		t.Fatal(err)
	}
	e.cycle()
	e.closeAll(b.Hour)
	want := wantIDs(t, b.Bytes())
	// Everything arrives at least once; the unacknowledged blocks twice.
	got := map[uint64]int{}
	for id, n := range first {
		got[id] += n
	}
	for id, n := range e.sink.ids {
		got[id] += n
	}
	repeated := 0
	for id, n := range want {
		if got[id] < n {
			t.Fatalf("event %x lost across the restart", id)
		}
		repeated += got[id] - n
	}
	wantRepeated := 3 * 3 // 3 unacknowledged records of 3 tuples
	if repeated != wantRepeated {
		t.Fatalf("%d events repeated after restart, want %d (the unacknowledged ones)", repeated, wantRepeated)
	}
	if strings.Contains(e.logs.String(), "rewritten") {
		t.Fatalf("restart was taken for a rewrite:\n%s", e.logs)
	}
	_ = checkpoint.ErrNotFound
}

// TestOnce: with Config.Once, Run returns after the first pass that read
// everything up to now and saw every closed blob acknowledged and marked;
// acknowledgments that arrive late (asynchronously, as from a delivery
// side) are waited for. The backfill spans many hours, the oldest holding
// only empty blobs (head and tail: no traffic), more than one cycle's
// budget; the blobs of the current hour are read to their end but not
// waited for.
func TestOnce(t *testing.T) {
	srv := azurite(t)
	const hours, idleHours = 13, 8
	o := flowgen.Options{Resources: 2, MACs: 3, Hours: hours, RecordsPerHour: 3, TuplesPerRecord: 2, Seed: 41}
	tests := []struct {
		name  string
		acks  bool // the delivery side acknowledges
		cycle bool // drive cycles by hand instead of Run
	}{
		{name: "late acknowledgments", acks: true},
		{name: "nothing acknowledged", acks: false, cycle: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, func(c *Config) {
				markerOn(c)
				c.Once, c.Concurrency, c.PollInterval = true, 1, 10*time.Millisecond
			})
			ctx := context.Background()
			cur := o.Start
			if cur.IsZero() {
				cur = flowgen.DefaultStart
			}
			cur = cur.Add((hours - 1) * time.Hour)
			var want [][]byte
			var past []string
			var live []string
			idle := map[string]bool{}
			err := flowgen.Generate(o, func(b *flowgen.Blob) error {
				b.Container = e.cont
				if b.Hour.Before(flowgen.DefaultStart.Add(idleHours * time.Hour)) {
					b.Blocks = [][]byte{b.Blocks[0], b.Blocks[len(b.Blocks)-1]}
					idle[b.Name] = true
				} else {
					want = append(want, b.Bytes())
				}
				if b.Hour.Equal(cur) {
					live = append(live, b.Name)
				} else {
					past = append(past, b.Name)
				}
				return azuritetest.UploadBlob(ctx, e.svc, b)
			})
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Set(cur.Add(30 * time.Minute))
			// The delivery side: acknowledges every chunk from another
			// goroutine, after the callback returned.
			e.sink.ack = false
			acks := make(chan Chunk, 1<<12)
			e.sink.onChunk = func(c Chunk) error { c.Data = nil; acks <- c; return nil }
			ackDone := make(chan struct{})
			go func() {
				defer close(ackDone)
				for c := range acks {
					if !tt.acks {
						continue
					}
					if err := checkpoint.Ack(ctx, e.store, checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End}); err != nil {
						t.Error(err)
					}
				}
			}()
			if tt.cycle {
				for i := 0; i < 8; i++ {
					e.cycle()
				}
				st := e.src.Stats()
				if !st.CaughtUp || e.src.finished || st.Pending == 0 {
					t.Fatalf("CaughtUp %v finished %v Pending %d: want caught up, not finished, blobs pending their acknowledgment",
						st.CaughtUp, e.src.finished, st.Pending)
				}
			} else {
				// Run must end by itself; the timeout only guards a hang.
				rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				err := e.src.Run(rctx, e.sink.handle)
				hung := rctx.Err() != nil
				cancel()
				if err != nil || hung {
					t.Fatalf("Run: %v, hung %v; stats %+v", err, hung, e.src.Stats())
				}
				st := e.src.Stats()
				// 72 blobs of backfill at 64 a cycle: at least two cycles.
				if !st.CaughtUp || st.Pending != 0 || st.Cycles < 2 {
					t.Fatalf("after Run: CaughtUp %v Pending %d Cycles %d", st.CaughtUp, st.Pending, st.Cycles)
				}
			}
			close(acks)
			<-ackDone
			sameIDs(t, e.sink.ids, wantIDs(t, want...))
			// Empty blobs have nothing to acknowledge: marked at close.
			for _, n := range past {
				if got := markerOf(t, e, n) != ""; got != (tt.acks || idle[n]) {
					t.Fatalf("blob %s of a past hour (empty %v) marked = %v, want %v", n, idle[n], got, !got)
				}
			}
			for _, n := range live {
				if markerOf(t, e, n) != "" {
					t.Fatalf("blob %s of the current hour marked", n)
				}
			}
		})
	}
}
