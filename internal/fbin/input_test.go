package fbin

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/flowgen"
)

// fakeSource hands fixed chunks to the handler, then waits for ctx.
type fakeSource struct {
	chunks []blobsource.Chunk
	mu     sync.Mutex
	taken  int
}

func (f *fakeSource) Run(ctx context.Context, fn blobsource.Handler) error {
	for _, c := range f.chunks {
		if err := fn(ctx, c); err != nil {
			return nil
		}
		f.mu.Lock()
		f.taken++
		f.mu.Unlock()
	}
	<-ctx.Done()
	return nil
}

func (f *fakeSource) Stats() blobsource.Stats { return blobsource.Stats{} }

// growingChunks cuts a generated blob into the chunks a poller hands over:
// the head alone, then one chunk per data block, never the tail. The cursor
// does not exist yet, so the generation is 0 (a real source creates it).
func growingChunks(t testing.TB, b *flowgen.Blob, key string) []blobsource.Chunk {
	t.Helper()
	var out []blobsource.Chunk
	off := int64(0)
	for i, blk := range b.Blocks[:len(b.Blocks)-1] {
		c := blobsource.Chunk{Key: key, Gen: 0, Start: off, End: off + int64(len(blk)), Data: blk}
		c.Blob.Name = b.Name
		c.Final = i == len(b.Blocks)-2
		out = append(out, c)
		off += int64(len(blk))
	}
	return out
}

func newTestInput(t *testing.T, mode string, expand bool, maxQueue int, src Source) (*Input, checkpoint.Store) {
	t.Helper()
	store, err := checkpoint.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{AckMode: mode, Expand: expand, MaxQueueBytes: maxQueue, MaxBufferBytes: 64 << 10}
	in := NewInput(cfg, src, store, &fblog.Logger{W: io.Discard})
	in.Start()
	return in, store
}

// collectAll calls Collect (and Handed) until want entries arrived.
func collectAll(t *testing.T, in *Input, want int) []entry {
	t.Helper()
	var all []entry
	deadline := time.Now().Add(10 * time.Second)
	for len(all) < want {
		buf := in.Collect()
		all = append(all, decodeEntries(t, buf)...)
		in.Handed()
		if len(buf) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("got %d entries, want %d", len(all), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return all
}

func waitCommitted(t *testing.T, store checkpoint.Store, key string, want int64) checkpoint.Cursor {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := store.Load(context.Background(), key)
		if err == nil && c.Committed == want {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor %+v (err %v), want committed %d", c, err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInputModes(t *testing.T) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 30, TuplesPerRecord: 10, Seed: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(blob.Size())
	tests := []struct {
		name   string
		mode   string
		expand bool
		want   int
		// committed is where the cursor ends up without any output ack.
		committed int64
	}{
		{"handover raw", AckHandover, false, blob.Records, size - 2},
		{"handover expand", AckHandover, true, blob.Tuples, size - 2},
		{"ack raw", AckOutput, false, blob.Records, int64(len(flowgen.Head))},
		{"ack expand", AckOutput, true, blob.Tuples, int64(len(flowgen.Head))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{chunks: growingChunks(t, blob, "k")}
			in, store := newTestInput(t, tc.mode, tc.expand, 1<<20, src)
			ents := collectAll(t, in, tc.want)
			if buf := in.Collect(); len(buf) != 0 {
				t.Fatalf("extra entries: %d bytes", len(buf))
			}
			in.Handed()
			// The head alone is self-acknowledged in both modes; the records
			// are acknowledged by the input only in handover mode.
			waitCommitted(t, store, "k", tc.committed)
			if tc.mode == AckOutput {
				// Acknowledge as the output plugin would: every record's range.
				for _, e := range ents {
					if err := checkpoint.Ack(context.Background(), store, checkpoint.Range{Key: "k", Gen: num(e.prov[checkpoint.FieldGen]), Off: num(e.prov[checkpoint.FieldOffset]), End: num(e.prov[checkpoint.FieldEnd])}); err != nil {
						t.Fatal(err)
					}
				}
				c := waitCommitted(t, store, "k", size-2)
				if !c.FullyAcked(size) {
					t.Fatalf("cursor %+v not fully acked", c)
				}
			}
			if err := in.Close(2 * time.Second); err != nil {
				t.Fatal(err)
			}
			s := in.Stats()
			if s.HandedEntries != int64(tc.want) || s.Records != int64(blob.Records) {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestInputQueueBound: the reader waits while the queue is full, and
// nothing queued ever exceeds the bound by more than one batch.
func TestInputQueueBound(t *testing.T) {
	blob, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 200, TuplesPerRecord: 20, Seed: 4}, 0)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{chunks: growingChunks(t, blob, "k")}
	const bound = 1 << 20
	in, _ := newTestInput(t, AckHandover, true, bound, src)
	defer in.Close(time.Second)
	// Let the reader fill the queue.
	deadline := time.Now().Add(5 * time.Second)
	for {
		qb, _ := in.q.len()
		if qb >= bound/2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	qb, _ := in.q.len()
	src.mu.Lock()
	taken := src.taken
	src.mu.Unlock()
	if qb > bound+batchTarget*2 {
		t.Fatalf("queue holds %d bytes, bound %d", qb, bound)
	}
	if taken >= len(src.chunks) {
		t.Fatalf("reader took all %d chunks without waiting (queue %d bytes)", taken, qb)
	}
	ents := collectAll(t, in, blob.Tuples)
	if len(ents) != blob.Tuples {
		t.Fatalf("%d entries, want %d", len(ents), blob.Tuples)
	}
}

// TestInputSelfAck: ranges with nothing to deliver (the head alone, a
// record that is not JSON, in expand mode a record without tuples) are
// acknowledged by the input, so once the delivered records are acknowledged
// the checkpoint reaches the end of the data.
func TestInputSelfAck(t *testing.T) {
	good, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 2, TuplesPerRecord: 2, Seed: 9}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec1, rec2 := good.Blocks[1], good.Blocks[2] // rec2 starts with ','
	bad := []byte(`,{"time":"2026-11-26T00:00:00Z","oops":tru}`)
	noTuples := []byte(`,{"time":"2026-11-26T00:00:00Z","category":"FlowLogFlowEvent","flowLogResourceID":"/X","flowRecords":{"flows":[]}}`)
	tests := []struct {
		name    string
		expand  bool
		blocks  [][]byte
		entries int
	}{
		{"head alone, then records", false, [][]byte{[]byte(flowgen.Head), rec1, rec2}, 2},
		{"a bad record between good ones", false, [][]byte{[]byte(flowgen.Head), rec1, bad, rec2}, 2},
		{"a record without tuples (expand)", true, [][]byte{[]byte(flowgen.Head), rec1, noTuples, rec2}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var chunks []blobsource.Chunk
			off := int64(0)
			for _, b := range tc.blocks {
				chunks = append(chunks, blobsource.Chunk{Key: "k", Start: off, End: off + int64(len(b)), Data: b})
				off += int64(len(b))
			}
			in, store := newTestInput(t, AckOutput, tc.expand, 1<<20, &fakeSource{chunks: chunks})
			defer in.Close(time.Second)
			ents := collectAll(t, in, tc.entries)
			for _, e := range ents {
				if err := checkpoint.Ack(context.Background(), store, checkpoint.Range{Key: "k", Gen: 0, Off: num(e.prov[checkpoint.FieldOffset]), End: num(e.prov[checkpoint.FieldEnd])}); err != nil {
					t.Fatal(err)
				}
			}
			waitCommitted(t, store, "k", off)
		})
	}
}
