package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/redact"
)

// Config configures a Reader. Zero fields take the defaults noted.
type Config struct {
	// Queue receives the Event Grid events; DeadLetter (optional) receives
	// messages that cannot be parsed or whose blob was not checkpointed
	// after MaxDequeue deliveries. Without it such messages are deleted
	// after being logged.
	Queue, DeadLetter *azqueue.QueueClient
	// Store is the checkpoint store the Source reads and the delivery side
	// acknowledges into: a message is deleted once its blob's cursor covers
	// the event's length.
	Store checkpoint.Store
	// Account names the storage account in checkpoint keys; default the
	// one the Source passes to Run.
	Account string
	// Visibility is the visibility timeout taken on receive and renewed
	// while the blob is in flight; default 60s.
	Visibility time.Duration
	// MaxDequeue: a message delivered more often than this goes to
	// DeadLetter (poison); default 5.
	MaxDequeue int64
	// MaxHold: how long one delivery of a message is kept invisible while
	// its blob does not get checkpointed; then renewal stops, the message
	// comes back and its dequeue count grows; default 5m.
	MaxHold time.Duration
	// PollWait between receive calls when the queue was empty; default 1s.
	PollWait time.Duration
	// CheckInterval between checks of the in-flight blobs' cursors; default 500ms.
	CheckInterval time.Duration
	// MaxInFlight bounds the messages held at once; default 2048.
	MaxInFlight int
	Logger      *slog.Logger
}

// Defaults.
const (
	DefaultVisibility    = 60 * time.Second
	DefaultMaxDequeue    = 5
	DefaultMaxHold       = 5 * time.Minute
	DefaultPollWait      = time.Second
	DefaultCheckInterval = 500 * time.Millisecond
	DefaultMaxInFlight   = 2048
)

// Reader receives BlobCreated events from a storage queue and feeds the
// named blobs to a blobsource.Source (it implements blobsource.Hints).
type Reader struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	blobs   map[string]*tracked // by checkpoint key
	queued  map[string]blobsource.Hint
	inMsgs  int
	wake    chan struct{}
	st      counters
}

// tracked is one blob with messages in flight.
type tracked struct {
	hint blobsource.Hint
	msgs []*message
	// hinted is when the blob was last handed to the Source.
	hinted time.Time
}

type message struct {
	id, pop, text string
	size          int64
	dequeues      int64
	received      time.Time
	visibleAt     time.Time // when it would become visible again
	insertion     time.Time
}

type counters struct {
	received, deleted, duplicates, deadLettered, ignored, renewed, errors, skipped atomic.Int64
	depth                                                                          atomic.Int64
}

// Stats counts what a Reader did.
type Stats struct {
	Received     int64 // messages received (each delivery)
	Deleted      int64 // messages deleted: their blob's checkpoint covered them
	Duplicates   int64 // of which already covered when received (repeats, out of order)
	DeadLettered int64 // poison or unreadable messages moved to the dead-letter queue
	Ignored      int64 // events of other types, or blobs the source does not read
	Renewed      int64 // visibility timeouts extended
	Errors       int64 // queue or checkpoint errors (retried)
	InFlight     int64 // messages held now
	QueueDepth   int64 // approximate messages in the queue at the last check
}

// New checks the configuration.
func New(cfg Config) (*Reader, error) {
	if cfg.Queue == nil {
		return nil, errors.New("notify: a queue is required (queue_name)")
	}
	if cfg.Store == nil {
		return nil, errors.New("notify: a checkpoint store is required")
	}
	if cfg.Visibility <= 0 {
		cfg.Visibility = DefaultVisibility
	}
	if cfg.Visibility < time.Second {
		cfg.Visibility = time.Second
	}
	if cfg.MaxDequeue <= 0 {
		cfg.MaxDequeue = DefaultMaxDequeue
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = DefaultMaxHold
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = DefaultPollWait
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reader{cfg: cfg, log: cfg.Logger, blobs: map[string]*tracked{}, queued: map[string]blobsource.Hint{},
		wake: make(chan struct{}, 1)}, nil
}

// Stats returns a snapshot of the counters.
func (r *Reader) Stats() Stats {
	r.mu.Lock()
	n := r.inMsgs
	r.mu.Unlock()
	return Stats{Received: r.st.received.Load(), Deleted: r.st.deleted.Load(), Duplicates: r.st.duplicates.Load(),
		DeadLettered: r.st.deadLettered.Load(), Ignored: r.st.ignored.Load(), Renewed: r.st.renewed.Load(),
		Errors: r.st.errors.Load(), InFlight: int64(n), QueueDepth: r.st.depth.Load()}
}

// Wake implements blobsource.Hints.
func (r *Reader) Wake() <-chan struct{} { return r.wake }

// Take implements blobsource.Hints: the blobs named by messages since the
// last call, each once.
func (r *Reader) Take() []blobsource.Hint {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]blobsource.Hint, 0, len(r.queued))
	for _, h := range r.queued {
		out = append(out, h)
	}
	clear(r.queued)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Skip implements blobsource.Hints: the source will not read this blob
// (not a flow log it reads, filtered out, deleted, finished long ago), so
// its messages are deleted.
func (r *Reader) Skip(h blobsource.Hint, reason string) {
	key := r.key(h)
	r.mu.Lock()
	t := r.blobs[key]
	delete(r.blobs, key)
	if t != nil {
		r.inMsgs -= len(t.msgs)
	}
	r.mu.Unlock()
	if t == nil {
		return
	}
	r.log.Debug("notification for a blob that is not read; message deleted", "blob", h.Name, "reason", reason)
	for _, m := range t.msgs {
		r.st.ignored.Add(1)
		r.delete(context.Background(), m)
	}
}

func (r *Reader) key(h blobsource.Hint) string {
	return r.cfg.Account + "/" + h.Container + "/" + h.Name
}

func (r *Reader) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run receives and settles messages until ctx is done (blobsource.Source
// runs it); account names the storage account in checkpoint keys unless
// Config.Account is set. Queue errors are logged and retried with backoff;
// it returns nil when ctx is cancelled.
func (r *Reader) Run(ctx context.Context, account string) error {
	if r.cfg.Account == "" {
		r.cfg.Account = account
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.cfg.CheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.check(ctx)
			}
		}
	}()
	failures := 0
	for ctx.Err() == nil {
		n, err := r.receive(ctx)
		wait := time.Duration(0)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			failures++
			r.st.errors.Add(1)
			wait = min(time.Second<<min(failures-1, 6), time.Minute)
			r.log.Warn("queue receive failed, retrying", "err", redact.Error(err), "retry_in", wait)
		case n == 0:
			failures = 0
			wait = r.cfg.PollWait
		default:
			failures = 0
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
	wg.Wait()
	return nil
}

// receive takes up to 32 messages. It returns 0 when it took none (empty
// queue or MaxInFlight reached).
func (r *Reader) receive(ctx context.Context) (int, error) {
	r.mu.Lock()
	room := r.cfg.MaxInFlight - r.inMsgs
	r.mu.Unlock()
	if room <= 0 {
		return 0, nil
	}
	vis := int32(r.cfg.Visibility / time.Second)
	resp, err := r.cfg.Queue.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
		NumberOfMessages: to.Ptr(int32(min(room, 32))), VisibilityTimeout: to.Ptr(vis)})
	if err != nil {
		return 0, err
	}
	now := time.Now()
	for _, dm := range resp.Messages {
		if dm == nil || dm.MessageID == nil || dm.PopReceipt == nil || dm.MessageText == nil {
			continue
		}
		r.st.received.Add(1)
		m := &message{id: *dm.MessageID, pop: *dm.PopReceipt, text: *dm.MessageText, received: now,
			visibleAt: now.Add(r.cfg.Visibility)}
		if dm.DequeueCount != nil {
			m.dequeues = *dm.DequeueCount
		}
		if dm.InsertionTime != nil {
			m.insertion = *dm.InsertionTime
		}
		r.take(ctx, m)
	}
	return len(resp.Messages), nil
}

// take settles one received message or starts tracking it.
func (r *Reader) take(ctx context.Context, m *message) {
	evs, err := Parse(m.text)
	if err != nil {
		r.log.Warn("queue message is not an Event Grid BlobCreated event; moved to the dead-letter queue",
			"message_id", m.id, "err", err)
		r.deadLetter(ctx, m)
		return
	}
	var blobs []Event
	for _, e := range evs {
		if e.Type == BlobCreated {
			blobs = append(blobs, e)
		}
	}
	if len(blobs) == 0 {
		r.st.ignored.Add(1)
		r.delete(ctx, m)
		return
	}
	if len(blobs) > 1 {
		// Several events in one message (not Event Grid's queue delivery,
		// which sends one): settle the message by its first blob once the
		// others are covered too. Rare: hint all, track by the first.
		for _, e := range blobs[1:] {
			r.hint(blobsource.Hint{Container: e.Container, Name: e.Name})
		}
	}
	e := blobs[0]
	m.size = e.Size
	h := blobsource.Hint{Container: e.Container, Name: e.Name}
	if r.covered(ctx, r.key(h), e.Size) {
		r.st.duplicates.Add(1)
		r.delete(ctx, m)
		return
	}
	if m.dequeues > r.cfg.MaxDequeue {
		r.log.Error("blob not checkpointed after repeated deliveries of its notification; message moved to the dead-letter queue (the listing pass still reads the blob)",
			"message_id", m.id, "dequeue_count", m.dequeues, "max", r.cfg.MaxDequeue, "blob", eventNames(evs))
		r.deadLetter(ctx, m)
		return
	}
	key := r.key(h)
	r.mu.Lock()
	t := r.blobs[key]
	if t == nil {
		t = &tracked{hint: h}
		r.blobs[key] = t
	}
	t.msgs = append(t.msgs, m)
	r.inMsgs++
	t.hinted = time.Now()
	r.queued[key] = h
	r.mu.Unlock()
	r.signal()
}

func (r *Reader) hint(h blobsource.Hint) {
	r.mu.Lock()
	r.queued[r.key(h)] = h
	r.mu.Unlock()
	r.signal()
}

func eventNames(evs []Event) string {
	for _, e := range evs {
		if e.Name != "" {
			return e.Container + "/" + e.Name
		}
	}
	return ""
}

// covered reports whether the blob's checkpoint already covers size bytes
// (every record before the 2-byte tail acknowledged), or there is nothing
// to read (a blob of only the head and tail).
func (r *Reader) covered(ctx context.Context, key string, size int64) bool {
	if size <= int64(len(`{"records":[`))+2 {
		return true
	}
	c, err := r.cfg.Store.Load(ctx, key)
	if err != nil {
		if !errors.Is(err, checkpoint.ErrNotFound) {
			r.st.errors.Add(1)
			r.log.Warn("cannot load checkpoint of notified blob", "key", key, "err", err)
		}
		return false
	}
	return c.Done || c.FullyAcked(size)
}

// check deletes the messages whose blobs are now checkpointed, renews the
// visibility of the others, and lets go of those held longer than MaxHold.
func (r *Reader) check(ctx context.Context) {
	r.mu.Lock()
	keys := make([]string, 0, len(r.blobs))
	for k := range r.blobs {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	now := time.Now()
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		t := r.blobs[k]
		var msgs []*message
		if t != nil {
			msgs = append(msgs, t.msgs...)
		}
		r.mu.Unlock()
		if t == nil {
			continue
		}
		var c checkpoint.Cursor
		found := false
		if lc, err := r.cfg.Store.Load(ctx, k); err == nil {
			c, found = lc, true
		} else if !errors.Is(err, checkpoint.ErrNotFound) {
			r.st.errors.Add(1)
			continue
		}
		var keep []*message
		rehint := false
		for _, m := range msgs {
			switch {
			case found && (c.Done || c.FullyAcked(m.size)):
				r.delete(ctx, m)
			case now.Sub(m.received) >= r.cfg.MaxHold:
				// Let it come back: its dequeue count grows, and after
				// MaxDequeue deliveries it is dead-lettered.
				r.log.Warn("blob not checkpointed while its notification was held; releasing the message",
					"blob", t.hint.Name, "held", now.Sub(m.received).Round(time.Second), "dequeue_count", m.dequeues)
			default:
				if m.visibleAt.Sub(now) < r.cfg.Visibility/2 {
					r.renew(ctx, m)
					rehint = true
				}
				keep = append(keep, m)
			}
		}
		r.mu.Lock()
		if cur := r.blobs[k]; cur == t {
			// Messages added since the snapshot stay.
			added := cur.msgs[len(msgs):]
			r.inMsgs -= len(msgs) - len(keep)
			cur.msgs = append(keep, added...)
			if len(cur.msgs) == 0 {
				delete(r.blobs, k)
			} else if rehint {
				// Still not covered after half a visibility timeout: the
				// source may have failed the read; offer it again.
				r.queued[k] = t.hint
			}
		}
		r.mu.Unlock()
		if rehint {
			r.signal()
		}
	}
	if props, err := r.cfg.Queue.GetProperties(ctx, nil); err == nil && props.ApproximateMessagesCount != nil {
		r.st.depth.Store(int64(*props.ApproximateMessagesCount))
	}
}

func (r *Reader) renew(ctx context.Context, m *message) {
	vis := int32(r.cfg.Visibility / time.Second)
	resp, err := r.cfg.Queue.UpdateMessage(ctx, m.id, m.pop, m.text, &azqueue.UpdateMessageOptions{VisibilityTimeout: to.Ptr(vis)})
	if err != nil {
		r.st.errors.Add(1)
		r.log.Warn("cannot renew a notification's visibility; it may be delivered again", "message_id", m.id, "err", redact.Error(err))
		return
	}
	r.st.renewed.Add(1)
	if resp.PopReceipt != nil {
		m.pop = *resp.PopReceipt
	}
	m.visibleAt = time.Now().Add(r.cfg.Visibility)
	if resp.TimeNextVisible != nil {
		m.visibleAt = *resp.TimeNextVisible
	}
}

func (r *Reader) delete(ctx context.Context, m *message) {
	_, err := r.cfg.Queue.DeleteMessage(ctx, m.id, m.pop, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.MessageNotFound) {
		r.st.errors.Add(1)
		r.log.Warn("cannot delete a settled notification; it will be delivered again (and found covered)",
			"message_id", m.id, "err", redact.Error(err))
		return
	}
	r.st.deleted.Add(1)
}

// deadLetter copies the message to the dead-letter queue and deletes it.
func (r *Reader) deadLetter(ctx context.Context, m *message) {
	if r.cfg.DeadLetter != nil {
		ttl := int32(-1)
		if _, err := r.cfg.DeadLetter.EnqueueMessage(ctx, m.text, &azqueue.EnqueueMessageOptions{TimeToLive: &ttl}); err != nil {
			r.st.errors.Add(1)
			r.log.Warn("cannot write to the dead-letter queue; the message stays", "message_id", m.id, "err", redact.Error(err))
			return
		}
	}
	r.st.deadLettered.Add(1)
	if _, err := r.cfg.Queue.DeleteMessage(ctx, m.id, m.pop, nil); err != nil && !queueerror.HasCode(err, queueerror.MessageNotFound) {
		r.st.errors.Add(1)
		r.log.Warn("cannot delete a dead-lettered message", "message_id", m.id, "err", redact.Error(err))
	}
}

// String describes the reader for logs.
func (r *Reader) String() string { return fmt.Sprintf("queue %s", redact.String(r.cfg.Queue.URL())) }
