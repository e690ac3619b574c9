package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

const runTestToken = "run-test-bearer-token-0123456789"

// azurite is shared by the run tests (one Azurite per package run).
var (
	azuriteOnce sync.Once
	azuriteSrv  *azuritetest.Server
	azuriteErr  error
)

func startAzurite(t *testing.T) *azuritetest.Server {
	t.Helper()
	azuriteOnce.Do(func() { azuriteSrv, azuriteErr = azuritetest.Launch() })
	return azuritetest.Require(t, azuriteSrv, azuriteErr)
}

// childEnv makes the test binary act as bin/nsgflow (TestRunKill9 runs it as
// a child process it can kill -9).
const childEnv = "NSGFLOW_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if azuriteSrv != nil {
		azuriteSrv.Stop()
	}
	stopEntraAzurite()
	os.Exit(code)
}

func startRunEmulator(t *testing.T) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{BearerToken: runTestToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// runArgs are the flags pointing nsgflow run at Azurite and the emulator,
// reading only the subscriptions of blobs (the tests share one Azurite and
// flowgen's container names).
func runArgs(t *testing.T, az *azuritetest.Server, em *emulator.Server, cpDir string, blobs ...*flowgen.Blob) []string {
	t.Helper()
	subs := map[string]bool{}
	var list []string
	for _, b := range blobs {
		p, err := blobsource.ParsePath(b.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !subs[p.SubscriptionID] {
			subs[p.SubscriptionID] = true
			list = append(list, p.SubscriptionID)
		}
	}
	container := blobs[0].Container
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(runTestToken), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"--storage-account", azuritetest.Account, "--storage-key", azuritetest.Key, "--storage-endpoint", az.Endpoint(),
		"--containers", container, "--start", "beginning", "--grace", "1s", "--poll-interval", "200ms",
		"--checkpoint-dir", cpDir, "--subscriptions", strings.Join(list, ","),
		"--destination", "logs_ingestion", "--endpoint", em.URL(), "--dcr-id", emulator.DefaultDCRImmutableID,
		"--stream", emulator.DefaultStream, "--credential", "static", "--token-file", tok,
		"--min-backoff", "10ms", "--max-backoff", "200ms", "--linger", "100ms",
	}
}

// expectedIDs parses blobs as the pipeline does and counts each EventId.
func expectedIDs(t *testing.T, blobs ...[]byte) map[string]int {
	t.Helper()
	want := map[string]int{}
	enc := flowparse.NewEncoder(nil)
	var buf []byte
	p := flowparse.Parser{OnEvent: func(e *flowparse.Event) {
		buf = enc.Append(buf[:0], e)
		var row struct{ EventId string }
		if err := json.Unmarshal(buf, &row); err != nil || row.EventId == "" {
			t.Fatalf("event without EventId: %s", buf)
		}
		want[row.EventId]++
	}}
	for _, b := range blobs {
		if err := p.Blob(b); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// gotIDs counts the EventIds the emulator accepted.
func gotIDs(t *testing.T, em *emulator.Server) map[string]int {
	t.Helper()
	rows, err := em.Rows()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[fmt.Sprint(r["EventId"])]++
	}
	return got
}

// compareIDs fails unless every expected EventId arrived exactly as often as
// expected (once, for generated data) and nothing else arrived.
func compareIDs(t *testing.T, want, got map[string]int) {
	t.Helper()
	missing, extra := 0, 0
	for id, n := range want {
		if got[id] < n {
			missing += n - got[id]
		} else if got[id] > n {
			extra += got[id] - n
		}
	}
	for id, n := range got {
		if _, ok := want[id]; !ok {
			extra += n
		}
	}
	if missing > 0 || extra > 0 {
		t.Fatalf("%d events missing, %d duplicated or unexpected (want %d distinct)", missing, extra, len(want))
	}
}

// uploadSet generates blobs into Azurite as fully written (closed-looking)
// blobs and returns their bytes.
func uploadSet(t *testing.T, svc *service.Client, o flowgen.Options) ([][]byte, []*flowgen.Blob) {
	t.Helper()
	ctx := context.Background()
	var datas [][]byte
	var blobs []*flowgen.Blob
	err := flowgen.Generate(o, func(b *flowgen.Blob) error {
		if err := azuritetest.CreateContainer(ctx, svc, b.Container); err != nil {
			return err
		}
		if err := azuritetest.UploadBlob(ctx, svc, b); err != nil {
			return err
		}
		datas = append(datas, b.Bytes())
		blobs = append(blobs, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return datas, blobs
}

func hasDoneMarker(t *testing.T, svc *service.Client, container, name string) bool {
	t.Helper()
	p, err := svc.NewContainerClient(container).NewBlobClient(name).GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.Metadata {
		if strings.EqualFold(k, "OmsLogType") && v != nil && *v == "NSGFlowLogs" {
			return true
		}
	}
	return false
}

// TestRunOnce: a backfill over closed blobs of past hours delivers every
// tuple exactly once, marks every blob done, and a second run finds
// nothing to do.
func TestRunOnce(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	em := startRunEmulator(t)
	o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 2, MACs: 2, Hours: 2, RecordsPerHour: 6, TuplesPerRecord: 8,
		Seed: 21, Start: time.Now().UTC().Add(-5 * time.Hour)}
	datas, blobs := uploadSet(t, svc, o)
	want := expectedIDs(t, datas...)
	cp := t.TempDir()
	args := append(runArgs(t, az, em, cp, blobs...), "--once", "--done-marker")
	var errb bytes.Buffer
	code := runRun(context.Background(), args, &bytes.Buffer{}, &errb)
	t.Logf("nsgflow run: %s", errb.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	compareIDs(t, want, gotIDs(t, em))
	for _, b := range blobs {
		if !hasDoneMarker(t, svc, b.Container, b.Name) {
			t.Errorf("blob %s has no done marker", b.Name)
		}
	}
	// Run again: nothing new arrives.
	errb.Reset()
	if code := runRun(context.Background(), args, &bytes.Buffer{}, &errb); code != 0 {
		t.Fatalf("second run exit %d: %s", code, errb.String())
	}
	compareIDs(t, want, gotIDs(t, em))
	if !strings.Contains(errb.String(), " 0 events;") {
		t.Errorf("second run summary: %s", errb.String())
	}
}

// TestRunOnceLongBackfill: --once over a backfill of 24 hours of 2
// resources, whose first 22 hours hold only empty blobs (head and tail: no
// traffic, as after VMs were stopped), read at 64 blobs a cycle
// (--read-concurrency 1), so several poll cycles hand nothing over before
// the data comes. nsgflow run must not take that for the end: it exits
// only after every tuple was delivered and every closed blob marked done.
func TestRunOnceLongBackfill(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	em := startRunEmulator(t)
	ctx := context.Background()
	const hours, idleHours = 24, 22
	o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 2, MACs: 10, Hours: hours, RecordsPerHour: 3, TuplesPerRecord: 4,
		Seed: 77, Start: time.Now().UTC().Truncate(time.Hour).Add(-(hours + 1) * time.Hour)}
	var all []*flowgen.Blob
	var datas [][]byte
	if err := flowgen.Generate(o, func(b *flowgen.Blob) error {
		if b.Hour.Before(o.Start.Add(idleHours * time.Hour)) {
			b.Blocks = [][]byte{b.Blocks[0], b.Blocks[len(b.Blocks)-1]}
		} else {
			datas = append(datas, b.Bytes())
		}
		all = append(all, b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := azuritetest.CreateContainer(ctx, svc, all[0].Container); err != nil {
		t.Fatal(err)
	}
	// Upload from a few goroutines: 480 blobs.
	var wg sync.WaitGroup
	errs := make(chan error, len(all))
	next := make(chan *flowgen.Blob)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				errs <- azuritetest.UploadBlob(ctx, svc, b)
			}
		}()
	}
	for _, b := range all {
		next <- b
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := expectedIDs(t, datas...)
	args := append(runArgs(t, az, em, t.TempDir(), all...), "--once", "--done-marker", "--read-concurrency", "1")
	var errb bytes.Buffer
	code := runRun(ctx, args, &bytes.Buffer{}, &errb)
	t.Logf("nsgflow run: %s", lastLine(errb.String()))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	compareIDs(t, want, gotIDs(t, em))
	unmarked := 0
	for _, b := range all {
		if !hasDoneMarker(t, svc, b.Container, b.Name) {
			unmarked++
		}
	}
	if unmarked > 0 {
		t.Fatalf("%d of %d closed blobs without the done marker after --once", unmarked, len(all))
	}
}

// TestRunGrowing: a blob of the current hour grows block by block while
// nsgflow run polls every 200 ms; every tuple arrives exactly once, and the
// open blob gets no done marker.
func TestRunGrowing(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	em := startRunEmulator(t)
	ctx := context.Background()
	b, err := flowgen.GenerateBlob(flowgen.Options{Format: flowgen.FormatVNetv4, RecordsPerHour: 40, TuplesPerRecord: 6, Seed: 8,
		Start: time.Now().UTC()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := azuritetest.CreateContainer(ctx, svc, b.Container); err != nil {
		t.Fatal(err)
	}
	g, err := azuritetest.NewGrower(ctx, svc, b.Container, b.Name)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var errb syncBuffer
	done := make(chan int, 1)
	args := append(runArgs(t, az, em, t.TempDir(), b), "--done-marker")
	go func() { done <- runRun(runCtx, args, &bytes.Buffer{}, &errb) }()
	// Grow: one to three blocks per commit, at uneven intervals.
	data := b.Blocks[1 : len(b.Blocks)-1]
	for i := 0; i < len(data); {
		n := min(1+i%3, len(data)-i)
		if err := g.Append(ctx, data[i:i+n]...); err != nil {
			t.Fatal(err)
		}
		i += n
		time.Sleep(time.Duration(40+(i*37)%160) * time.Millisecond)
	}
	want := expectedIDs(t, b.Bytes())
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := gotIDs(t, em)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	t.Logf("nsgflow run: %s", lastLine(errb.String()))
	compareIDs(t, want, gotIDs(t, em))
	if hasDoneMarker(t, svc, b.Container, b.Name) {
		t.Errorf("the open blob of the current hour got a done marker")
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// startChild runs this test binary as `nsgflow run ARGS...`.
func startChild(t *testing.T, args []string, stderr io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdout = io.Discard
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestRunKill9 kills `nsgflow run --once` with SIGKILL at random moments,
// 20 times, restarting it on the same checkpoints, then lets it finish: no
// tuple is lost; repeats (what was in flight at a kill) are counted and
// logged. After every kill, each blob that carries the done marker has all
// its tuples in the emulator already, and the open blob of the current hour
// never gets one; after the final run every blob of a past hour has it.
func TestRunKill9(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	// Slow answers now and then keep batches in flight when the kill comes.
	em, err := emulator.New(emulator.Config{BearerToken: runTestToken,
		Faults: emulator.Faults{Slow: 0.3, SlowDelay: 150 * time.Millisecond, Seed: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := em.Start(); err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	o := flowgen.Options{Format: flowgen.FormatVNetv4, Resources: 3, MACs: 2, Hours: 3, RecordsPerHour: 40, TuplesPerRecord: 25,
		Seed: 99, Start: time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)}
	datas, blobs := uploadSet(t, svc, o)
	want := expectedIDs(t, datas...)
	perBlob := make([]map[string]int, len(blobs))
	for i, d := range datas {
		perBlob[i] = expectedIDs(t, d)
	}
	cur := time.Now().UTC().Truncate(time.Hour)
	cp := t.TempDir()
	args := append(runArgs(t, az, em, cp, blobs...), "--once", "--done-marker", "--max-body-bytes", "65536", "--read-concurrency", "2")
	rng := rand.New(rand.NewPCG(7, 7))
	kills := 0
	for i := 0; i < 20; i++ {
		var errb syncBuffer
		cmd := startChild(t, args, &errb)
		time.Sleep(time.Duration(100+rng.IntN(1000)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		_ = cmd.Wait()
		got := gotIDs(t, em)
		for j, b := range blobs {
			if !hasDoneMarker(t, svc, b.Container, b.Name) {
				continue
			}
			if b.Hour.Equal(cur) {
				t.Fatalf("kill %d: the open blob %s got a done marker", i, b.Name)
			}
			for id := range perBlob[j] {
				if got[id] == 0 {
					t.Fatalf("kill %d: blob %s is marked done but event %s was not delivered", i, b.Name, id)
				}
			}
		}
	}
	var errb syncBuffer
	cmd := startChild(t, args, &errb)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v: %s", err, errb.String())
	}
	got := gotIDs(t, em)
	missing, dups, total := 0, 0, 0
	for id, n := range want {
		total += n
		switch {
		case got[id] < n:
			missing += n - got[id]
		case got[id] > n:
			dups += got[id] - n
		}
	}
	t.Logf("%d kill -9 of nsgflow run, then a full run: %d events, %d missing, %d delivered twice or more (in flight at a kill: %.1f%%); final run: %s",
		kills, total, missing, dups, 100*float64(dups)/float64(total), lastLine(errb.String()))
	if missing > 0 {
		t.Fatalf("%d events lost", missing)
	}
	// What a kill can send twice is what was accepted but not yet
	// acknowledged: about one send window (8 batches of at most 64 KiB, and
	// an event is over 300 bytes) plus the acknowledgment being written.
	if perKill := 2 * 8 * 65536 / 300; dups > kills*perKill {
		t.Fatalf("%d repeats: more than %d per kill", dups, perKill)
	}
	if kills < 20 {
		t.Fatalf("only %d kills", kills)
	}
	// A kill between a blob's last acknowledgment and its marker leaves the
	// marker owed in the checkpoint: the final run sets it.
	unmarked := 0
	for _, b := range blobs {
		marked := hasDoneMarker(t, svc, b.Container, b.Name)
		if b.Hour.Equal(cur) && marked {
			t.Errorf("open blob %s is marked done", b.Name)
		}
		if !b.Hour.Equal(cur) && !marked {
			unmarked++
			t.Errorf("closed, fully delivered blob %s has no done marker after the final run", b.Name)
		}
	}
	t.Logf("%d closed blobs without the done marker after the final run", unmarked)
}

// TestRunSIGTERM: SIGTERM stops a polling nsgflow run within the shutdown
// bound, with a summary, and exit status 0 when everything was delivered.
func TestRunSIGTERM(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	em := startRunEmulator(t)
	o := flowgen.Options{Format: flowgen.FormatNSGv1, Resources: 1, Hours: 1, RecordsPerHour: 10, TuplesPerRecord: 4, Seed: 4,
		Start: time.Now().UTC().Add(-3 * time.Hour)}
	datas, blobs := uploadSet(t, svc, o)
	want := expectedIDs(t, datas...)
	var errb syncBuffer
	cmd := startChild(t, append(runArgs(t, az, em, t.TempDir(), blobs...), "--shutdown-timeout", "10s"), &errb)
	deadline := time.Now().Add(30 * time.Second)
	for len(gotIDs(t, em)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(start)
	t.Logf("SIGTERM to exit: %v; %s", took.Round(time.Millisecond), lastLine(errb.String()))
	if err != nil {
		t.Fatalf("exit: %v: %s", err, errb.String())
	}
	if took > 11*time.Second {
		t.Fatalf("shutdown took %v, bound 10s", took)
	}
	if !strings.Contains(errb.String(), "0 not delivered") {
		t.Errorf("summary: %s", lastLine(errb.String()))
	}
	compareIDs(t, want, gotIDs(t, em))
}

// TestLatency measures, with a 30 s poll interval, the time from a block's
// commit to the moment all its rows were accepted by the emulator: p50 and
// p95 over every block committed during the run. It is a benchmark (about 4
// minutes): it runs only with NSGFLOW_LATENCY_BENCH=1 (make bench-latency).
// NSGFLOW_LATENCY_DURATION and NSGFLOW_LATENCY_POLL change the defaults.
func TestLatency(t *testing.T) {
	if os.Getenv("NSGFLOW_LATENCY_BENCH") != "1" {
		t.Skip("benchmark: set NSGFLOW_LATENCY_BENCH=1 (make bench-latency)")
	}
	dur, poll := 4*time.Minute, "30s"
	if v := os.Getenv("NSGFLOW_LATENCY_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	if v := os.Getenv("NSGFLOW_LATENCY_POLL"); v != "" {
		poll = v
	}
	az := startAzurite(t)
	svc := az.Client()
	em := startRunEmulator(t)
	ctx := context.Background()
	// Three live blobs of the current hour, grown at random moments.
	o := flowgen.Options{Format: flowgen.FormatVNetv4, Resources: 3, RecordsPerHour: 200, TuplesPerRecord: 20, Seed: 31, Start: time.Now().UTC()}
	var growers []*azuritetest.Grower
	var blobs []*flowgen.Blob
	for i := 0; i < 3; i++ {
		b, err := flowgen.GenerateBlob(o, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := azuritetest.CreateContainer(ctx, svc, b.Container); err != nil {
			t.Fatal(err)
		}
		g, err := azuritetest.NewGrower(ctx, svc, b.Container, b.Name)
		if err != nil {
			t.Fatal(err)
		}
		growers, blobs = append(growers, g), append(blobs, b)
	}
	args := runArgs(t, az, em, t.TempDir(), blobs...)
	for i, a := range args {
		if a == "--poll-interval" {
			args[i+1] = poll
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- runRun(runCtx, args, &bytes.Buffer{}, &errb) }()

	type block struct {
		committed time.Time
		ids       map[string]int
	}
	var mu sync.Mutex
	var blocks []*block
	firstSeen := map[string]time.Time{}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for runCtx.Err() == nil {
			rows, err := em.Rows()
			now := time.Now()
			if err == nil {
				mu.Lock()
				for _, r := range rows {
					id := fmt.Sprint(r["EventId"])
					if _, ok := firstSeen[id]; !ok {
						firstSeen[id] = now
					}
				}
				mu.Unlock()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewPCG(3, 4))
	next := make([]int, len(blobs))
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(2000+rng.IntN(6000)) * time.Millisecond)
		i := rng.IntN(len(blobs))
		b := blobs[i]
		k := 1 + next[i]
		if k >= len(b.Blocks)-1 {
			continue
		}
		blk := b.Blocks[k]
		if err := growers[i].Append(ctx, blk); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		next[i]++
		// The block's events (every block after the first starts with ',').
		rec := blk
		if k > 1 {
			rec = blk[1:]
		}
		ids := expectedIDs(t, append(append([]byte(flowgen.Head), rec...), flowgen.Tail...))
		mu.Lock()
		blocks = append(blocks, &block{committed: at, ids: ids})
		mu.Unlock()
	}
	// Let the last blocks arrive: one poll interval and some.
	pd, _ := time.ParseDuration(poll)
	time.Sleep(pd + 5*time.Second)
	stop()
	<-done
	<-watchDone
	var lat []time.Duration
	missing := 0
	for _, b := range blocks {
		var last time.Time
		complete := true
		for id := range b.ids {
			ts, ok := firstSeen[id]
			if !ok {
				complete = false
				break
			}
			if ts.After(last) {
				last = ts
			}
		}
		if !complete {
			missing++
			continue
		}
		lat = append(lat, last.Sub(b.committed))
	}
	if len(lat) == 0 {
		t.Fatalf("no block arrived (%d committed): %s", len(blocks), errb.String())
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("poll %s: %d blocks committed over %v, %d arrived (%d not yet): commit-to-accepted p50 %v, p95 %v, min %v, max %v (rows polled every 200 ms)",
		poll, len(blocks), dur, len(lat), missing, pct(0.50).Round(100*time.Millisecond), pct(0.95).Round(100*time.Millisecond),
		lat[0].Round(100*time.Millisecond), lat[len(lat)-1].Round(100*time.Millisecond))
	if missing > 0 {
		t.Errorf("%d blocks did not arrive within a poll interval after the run", missing)
	}
}

// TestRunDocs: docs/run.md names every storage flag of nsgflow run and every
// flag of nsgflow feed.
func TestRunDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "run.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, s := range runStorageSettings {
		if f := "--" + strings.ReplaceAll(s.key, "_", "-"); !strings.Contains(doc, "`"+f) && !strings.Contains(doc, ", `"+f) {
			t.Errorf("docs/run.md lacks %s", f)
		}
	}
	var help bytes.Buffer
	runFeed(context.Background(), []string{"-h"}, &help, &help)
	for _, line := range strings.Split(help.String(), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-") {
			continue
		}
		name := "--" + strings.Fields(strings.TrimPrefix(line, "-"))[0]
		if !strings.Contains(doc, name) {
			t.Errorf("docs/run.md (nsgflow feed) lacks %s", name)
		}
	}
}

// TestFeedResumes: a restarted `nsgflow feed` keeps the blobs an earlier run
// with the same flags left and grows them on (no commit from the first
// block, which the input would take for a rewrite and read again); a blob
// of other blocks is replaced.
func TestFeedResumes(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	ctx := context.Background()
	conn := filepath.Join(t.TempDir(), "conn")
	if err := os.WriteFile(conn, []byte(az.ConnectionString()), 0o600); err != nil {
		t.Fatal(err)
	}
	o := flowgen.Options{Format: flowgen.FormatVNetv4, Resources: 1, MACs: 1, Hours: 1, RecordsPerHour: 12, TuplesPerRecord: 2,
		Seed: 17017, Start: time.Now().UTC().Truncate(time.Hour)}
	b, err := flowgen.GenerateBlob(o, 0)
	if err != nil {
		t.Fatal(err)
	}
	bc := svc.NewContainerClient(b.Container).NewBlockBlobClient(b.Name)
	feed := func(initial int) string {
		t.Helper()
		var out, errb bytes.Buffer
		args := []string{"--storage-connection-string-file", conn, "--format", "vnet4", "--resources", "1", "--macs", "1",
			"--hours", "1", "--records-per-hour", "12", "--tuples-per-record", "2", "--seed", "17017",
			"--initial-blocks", fmt.Sprint(initial), "--grow-every", "1h", "--grow-for", "1ms", "--quiet"}
		if code := runFeed(ctx, args, &out, &errb); code != 0 {
			t.Fatalf("feed exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	state := func() (int, azcore.ETag) {
		t.Helper()
		bl, err := bc.GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(bl.CommittedBlocks) - 2, *bl.ETag
	}
	steps := []struct {
		name    string
		foreign bool // another writer's blob of that name first
		initial int
		blocks  int    // data blocks committed after the run
		same    bool   // ETag unchanged (nothing committed)
		says    string // in feed's output
	}{
		{"first run", false, 5, 5, false, "0 of them resumed"},
		{"restart, fewer initial blocks: kept", false, 2, 5, true, "1 of them resumed"},
		{"restart, more initial blocks: grown on", false, 7, 7, false, "1 of them resumed"},
		{"another writer's blocks: replaced", true, 3, 3, false, "replacing"},
	}
	var etag azcore.ETag
	for _, st := range steps {
		if st.foreign {
			g, err := azuritetest.NewGrower(ctx, svc, b.Container, b.Name)
			if err != nil {
				t.Fatal(err)
			}
			o2 := o
			o2.TuplesPerRecord = 3
			other, err := flowgen.GenerateBlob(o2, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Append(ctx, other.Blocks[1:3]...); err != nil {
				t.Fatal(err)
			}
			_, etag = state()
		}
		out := feed(st.initial)
		n, tag := state()
		if n != st.blocks {
			t.Fatalf("%s: %d data blocks committed, want %d\n%s", st.name, n, st.blocks, out)
		}
		if (tag == etag) != st.same {
			t.Fatalf("%s: ETag unchanged = %v, want %v", st.name, tag == etag, st.same)
		}
		if !strings.Contains(out, st.says) {
			t.Fatalf("%s: output lacks %q:\n%s", st.name, st.says, out)
		}
		etag = tag
		// The committed bytes are the generated blob's first blocks.
		resp, err := bc.DownloadStream(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := append(bytes.Join(b.Blocks[:n+1], nil), b.Blocks[len(b.Blocks)-1]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: blob content is not the generated blob's first %d blocks", st.name, n)
		}
	}
}
