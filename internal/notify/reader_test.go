package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/notify"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

// eventGridMessage is a BlobCreated event as Event Grid's storage-queue
// delivery writes it: the event JSON in the Event Grid schema, base64.
func eventGridMessage(t *testing.T, container, name string, size int64, seq int) string {
	t.Helper()
	ev := map[string]any{
		"topic":       "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/" + azuritetest.Account,
		"subject":     "/blobServices/default/containers/" + container + "/blobs/" + name,
		"eventType":   notify.BlobCreated,
		"eventTime":   time.Now().UTC().Format(time.RFC3339Nano),
		"id":          fmt.Sprintf("ev-%s-%d", name, seq),
		"dataVersion": "", "metadataVersion": "1",
		"data": map[string]any{
			"api": "PutBlockList", "eTag": "0x8D000000000000" + fmt.Sprint(seq), "contentType": "application/json",
			"contentLength": size, "blobType": "BlockBlob",
			"url":       "https://" + azuritetest.Account + ".blob.core.windows.net/" + container + "/" + name,
			"sequencer": fmt.Sprintf("%032x", seq),
		},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// collector parses every chunk, counts EventIds and acknowledges, except
// for refused blobs (a poison blob whose chunks are never taken).
type collector struct {
	mu     sync.Mutex
	ids    map[string]map[uint64]int // blob name -> EventId -> count
	store  checkpoint.Store
	refuse string
}

func (c *collector) handle(ctx context.Context, ch blobsource.Chunk) error {
	if ch.Blob.Name == c.refuse {
		return fmt.Errorf("refused (test poison blob)")
	}
	p := flowparse.Parser{}
	got := map[uint64]int{}
	p.OnEvent = func(e *flowparse.Event) { got[e.EventID()]++ }
	if len(ch.Data) > 0 {
		if err := p.Range(ch.Data); err != nil {
			return err
		}
	}
	c.mu.Lock()
	m := c.ids[ch.Blob.Name]
	if m == nil {
		m = map[uint64]int{}
		c.ids[ch.Blob.Name] = m
	}
	for id, n := range got {
		m[id] += n
	}
	c.mu.Unlock()
	return checkpoint.Ack(ctx, c.store, ch.Range())
}

func (c *collector) count(name string) (events, repeats int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.ids[name] {
		events += n
		if n > 1 {
			repeats += n - 1
		}
	}
	return events, repeats
}

func blobSize(t *testing.T, svc *service.Client, container, name string) int64 {
	t.Helper()
	p, err := svc.NewContainerClient(container).NewBlobClient(name).GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return *p.ContentLength
}

func tuples(t *testing.T, b *flowgen.Blob) int {
	t.Helper()
	n := 0
	p := flowparse.Parser{OnEvent: func(*flowparse.Event) { n++ }}
	if err := p.Blob(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNotificationMode drives reads of growing blobs by Event Grid
// messages in a real (Azurite) queue: duplicated messages (blob A),
// out-of-order and lost ones (blob B: only some events, newest first), a
// poison blob whose chunks are never taken (P: dead-lettered after
// MaxDequeue deliveries), and a blob with no events at all (C: read by
// the listing pass only). Every tuple of A, B and C arrives exactly once.
func TestNotificationMode(t *testing.T) {
	blobSrv := azuritetest.Start(t)
	queueSrv := azuritetest.StartQueue(t)
	ctx := context.Background()
	svc := blobSrv.Client()
	const cont = "insights-logs-flowlogflowevent"
	if err := azuritetest.CreateContainer(ctx, svc, cont); err != nil {
		t.Fatal(err)
	}
	qs := queueSrv.QueueService()
	for _, q := range []string{"events", "events-poison"} {
		if _, err := qs.CreateQueue(ctx, q, nil); err != nil {
			t.Fatal(err)
		}
	}
	queue, dead := queueSrv.QueueClient("events"), queueSrv.QueueClient("events-poison")

	opts := flowgen.Options{MACs: 4, RecordsPerHour: 5, TuplesPerRecord: 7, Seed: 16}
	var blobs []*flowgen.Blob
	var growers []*azuritetest.Grower
	for i := 0; i < 4; i++ {
		b, err := flowgen.GenerateBlob(opts, i)
		if err != nil {
			t.Fatal(err)
		}
		g, err := azuritetest.NewGrower(ctx, svc, cont, b.Name)
		if err != nil {
			t.Fatal(err)
		}
		blobs, growers = append(blobs, b), append(growers, g)
	}
	A, B, P, C := blobs[0], blobs[1], blobs[2], blobs[3]

	store, err := checkpoint.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("logs:\n%s", logs.String())
			logMu.Unlock()
		}
	}()
	rd, err := notify.New(notify.Config{Queue: queue, DeadLetter: dead, Store: store, Account: azuritetest.Account,
		Visibility: time.Second, MaxHold: 1500 * time.Millisecond, MaxDequeue: 2,
		PollWait: 100 * time.Millisecond, CheckInterval: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{ids: map[string]map[uint64]int{}, store: store, refuse: P.Name}
	now := func() time.Time { return flowgen.DefaultStart.Add(30 * time.Minute) }
	newSource := func(poll time.Duration, hints blobsource.Hints) *blobsource.Source {
		src, err := blobsource.New(blobsource.Config{Client: svc, Auth: blobsource.Auth{AccountName: azuritetest.Account},
			Containers: []string{cont}, Start: "beginning", Store: store, PollInterval: poll, Hints: hints,
			Logger: log, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	src := newSource(time.Hour, rd) // one listing at start, then notifications only
	wg.Add(1)
	go func() { defer wg.Done(); _ = src.Run(runCtx, col.handle) }() // runs rd too
	waitFor(t, "the first listing pass", 60*time.Second, func() bool { return src.Stats().Cycles > 0 })

	send := func(b *flowgen.Blob, size int64, seq int) {
		t.Helper()
		if _, err := queue.EnqueueMessage(ctx, eventGridMessage(t, cont, b.Name, size, seq), nil); err != nil {
			t.Fatal(err)
		}
	}
	var bSizes []int64
	for rec := 0; rec < opts.RecordsPerHour; rec++ {
		for i, g := range growers {
			if err := g.Append(ctx, blobs[i].Blocks[1+rec]); err != nil {
				t.Fatal(err)
			}
		}
		send(A, blobSize(t, svc, cont, A.Name), rec)
		send(A, blobSize(t, svc, cont, A.Name), rec) // duplicate delivery
		send(P, blobSize(t, svc, cont, P.Name), rec)
		bSizes = append(bSizes, blobSize(t, svc, cont, B.Name))
	}
	// B: the newest event first, then an older one; the others are lost.
	send(B, bSizes[len(bSizes)-1], 9)
	send(B, bSizes[1], 1)

	for _, b := range []*flowgen.Blob{A, B} {
		want := tuples(t, b)
		waitFor(t, "every tuple of "+b.Name, 60*time.Second, func() bool { n, _ := col.count(b.Name); return n >= want })
	}
	waitFor(t, "the poison blob's messages in the dead-letter queue", 60*time.Second, func() bool {
		return rd.Stats().DeadLettered >= int64(opts.RecordsPerHour)
	})
	waitFor(t, "an empty queue", 30*time.Second, func() bool {
		p, err := queue.GetProperties(ctx, nil)
		return err == nil && *p.ApproximateMessagesCount == 0 && rd.Stats().InFlight == 0
	})
	if n, _ := col.count(C.Name); n != 0 {
		t.Errorf("blob C has no events and no listing pass ran, yet %d of its tuples arrived", n)
	}
	st := rd.Stats()
	if st.Duplicates == 0 {
		t.Errorf("no message was found already covered: %+v", st)
	}
	if st.Deleted < int64(2*opts.RecordsPerHour+2) {
		t.Errorf("deleted %d messages, want at least %d: %+v", st.Deleted, 2*opts.RecordsPerHour+2, st)
	}
	dl, err := dead.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
	if err != nil {
		t.Fatal(err)
	}
	if len(dl.Messages) != opts.RecordsPerHour {
		t.Errorf("dead-letter queue holds %d messages, want the poison blob's %d", len(dl.Messages), opts.RecordsPerHour)
	}
	for _, m := range dl.Messages {
		evs, err := notify.Parse(*m.MessageText)
		if err != nil || len(evs) != 1 || evs[0].Name != P.Name {
			t.Errorf("dead-letter message is not the poison blob's event: %v %+v", err, evs)
		}
	}
	stop()
	wg.Wait()

	// The listing pass catches the blob whose events were lost: a source
	// polling quickly, same checkpoints, no duplicates of A or B.
	runCtx, stop = context.WithCancel(ctx)
	defer stop()
	src = newSource(200*time.Millisecond, nil)
	go func() { _ = src.Run(runCtx, col.handle) }()
	want := tuples(t, C)
	waitFor(t, "every tuple of C from the listing pass", 60*time.Second, func() bool { n, _ := col.count(C.Name); return n >= want })
	time.Sleep(500 * time.Millisecond)
	for _, b := range []*flowgen.Blob{A, B, C} {
		n, rep := col.count(b.Name)
		if want := tuples(t, b); n != want || rep != 0 {
			t.Errorf("%s: %d tuples (%d repeated), want %d exactly once", b.Name, n, rep, want)
		}
	}
	stop()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestMain(m *testing.M) { os.Exit(m.Run()) }
