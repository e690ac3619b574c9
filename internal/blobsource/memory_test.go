package blobsource

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// TestMemory measures the peak RSS of this process while the Source
// backfills 20,000 blobs and while it streams one 500 MB blob, both parsed
// with flowparse and acknowledged to a checkpoint.Dir. Heavy: it runs only
// with NSGFLOW_BLOB_BENCH=1 (make bench-blob). The target is < 128 MiB.
func TestMemory(t *testing.T) {
	if os.Getenv("NSGFLOW_BLOB_BENCH") == "" {
		t.Skip("set NSGFLOW_BLOB_BENCH=1 (make bench-blob)")
	}
	srv := azurite(t)
	blobs, _ := strconv.Atoi(os.Getenv("NSGFLOW_BLOB_BENCH_BLOBS"))
	if blobs == 0 {
		blobs = 20000
	}
	mb, _ := strconv.Atoi(os.Getenv("NSGFLOW_BLOB_BENCH_MB"))
	if mb == 0 {
		mb = 500
	}
	t.Run(fmt.Sprintf("backfill %d blobs", blobs), func(t *testing.T) {
		e := newEnv(t, srv, nil)
		o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 10, MACs: 20, Hours: blobs / 200,
			RecordsPerHour: 3, TuplesPerRecord: 5, Seed: 99, Start: time.Now().Add(-time.Duration(blobs/200+2) * time.Hour)}
		n, bytes := uploadAll(t, e, o)
		e.src = e.newSource(func(c *Config) { c.Now = nil; c.Grace = time.Second; c.Start = "beginning" })
		time.Sleep(1100 * time.Millisecond) // let the uploads age past the grace period
		measure(t, e, n, bytes)
	})
	t.Run(fmt.Sprintf("stream one %d MB blob", mb), func(t *testing.T) {
		e := newEnv(t, srv, nil)
		bytes := uploadBig(t, e, int64(mb)*1e6)
		e.src = e.newSource(func(c *Config) { c.Now = nil; c.Grace = time.Second; c.Start = "beginning" })
		time.Sleep(1100 * time.Millisecond)
		measure(t, e, 1, bytes)
	})
}

// measure runs the source until every blob is closed and acknowledged and
// reports the peak RSS of that phase.
func measure(t *testing.T, e *env, blobs int, size int64) {
	var tuples atomic.Int64
	var mu sync.Mutex
	handle := func(ctx context.Context, c Chunk) error {
		p := flowparse.Parser{OnEvent: func(*flowparse.Event) {}}
		if len(c.Data) > 0 {
			if err := p.Range(c.Data); err != nil {
				return err
			}
		}
		tuples.Add(p.Stats.Tuples)
		mu.Lock()
		defer mu.Unlock()
		return checkpoint.Ack(ctx, e.store, checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End})
	}
	e.logs = &logBuf{}
	resetPeak(t)
	start := time.Now()
	ctx := context.Background()
	for i := 0; ; i++ {
		if _, err := e.src.cycle(ctx, handle); err != nil {
			t.Fatalf("cycle: %v", err)
		}
		st := e.src.Stats()
		if st.Closed == int64(blobs) && len(e.src.pending) == 0 {
			break
		}
		if i > 100000 {
			t.Fatalf("not done: %+v", st)
		}
	}
	el := time.Since(start)
	peak := peakRSS(t)
	st := e.src.Stats()
	t.Logf("%d blobs, %.1f MB, %d tuples, %d chunks in %v (%.1f MB/s): peak RSS %.1f MiB (Go heap sys %.1f MiB)",
		blobs, float64(size)/1e6, tuples.Load(), st.Chunks, el.Round(time.Millisecond),
		float64(size)/1e6/el.Seconds(), float64(peak)/(1<<20), float64(heapSys())/(1<<20))
	if peak > 128<<20 {
		t.Errorf("peak RSS %.1f MiB is over the 128 MiB target", float64(peak)/(1<<20))
	}
}

func heapSys() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapSys
}

// resetPeak frees what setup used and resets VmHWM (Linux clear_refs 5).
func resetPeak(t *testing.T) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
}

func peakRSS(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// uploadAll puts every generated blob with one Put Blob each, 8 at a time.
func uploadAll(t *testing.T, e *env, o flowgen.Options) (int, int64) {
	ctx := context.Background()
	type item struct {
		name string
		data []byte
	}
	ch := make(chan item, 64)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				bb := e.svc.NewContainerClient(e.cont).NewBlockBlobClient(it.name)
				if _, err := bb.UploadBuffer(ctx, it.data, nil); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	n := 0
	var size int64
	err := flowgen.Generate(o, func(b *flowgen.Blob) error {
		n++
		data := b.Bytes()
		size += int64(len(data))
		ch <- item{b.Name, data}
		return nil
	})
	close(ch)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if v := firstErr.Load(); v != nil {
		t.Fatal(v)
	}
	t.Logf("uploaded %d blobs, %.1f MB", n, float64(size)/1e6)
	return n, size
}

// uploadBig stages a blob of about size bytes in blocks of up to 8 MiB,
// generated as it goes, and commits them.
func uploadBig(t *testing.T, e *env, size int64) int64 {
	ctx := context.Background()
	probe, err := flowgen.NewBlockStream(flowgen.Options{RecordsPerHour: 2, TuplesPerRecord: 500}, 0)
	if err != nil {
		t.Fatal(err)
	}
	probe.Next()
	blk, _ := probe.Next()
	records := int(size/int64(len(blk))) + 1
	s, err := flowgen.NewBlockStream(flowgen.Options{RecordsPerHour: records, TuplesPerRecord: 500, Seed: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	bb := e.svc.NewContainerClient(e.cont).NewBlockBlobClient(s.Name())
	var ids []string
	var total int64
	var buf bytes.Buffer
	flush := func() {
		if buf.Len() == 0 {
			return
		}
		id := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("block-%08d", len(ids))))
		if _, err := bb.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(buf.Bytes())), nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		total += int64(buf.Len())
		buf.Reset()
	}
	for {
		b, ok := s.Next()
		if !ok {
			break
		}
		buf.Write(b)
		if buf.Len() >= 8<<20 {
			flush()
		}
	}
	flush()
	if _, err := bb.CommitBlockList(ctx, ids, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("uploaded one blob of %.1f MB in %d blocks", float64(total)/1e6, len(ids))
	return total
}
