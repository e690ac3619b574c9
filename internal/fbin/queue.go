package fbin

import (
	"context"
	"errors"
	"sync"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
)

var errQueueClosed = errors.New("blobinput: queue closed")

// batch is the encoded entries of whole records, with their ranges.
type batch struct {
	data    []byte
	acks    []checkpoint.Range
	entries int
}

// queue is a FIFO of batches bounded by the bytes they hold. Put blocks while
// the queue is full (a batch larger than the bound still goes into an empty
// queue, so one huge record cannot wedge it); Take never blocks.
type queue struct {
	mu     sync.Mutex
	items  []*batch
	head   int
	bytes  int
	max    int
	space  chan struct{} // closed (and replaced) when bytes drop
	closed bool
}

func newQueue(max int) *queue {
	return &queue{max: max, space: make(chan struct{})}
}

// wake releases every waiting put; q.mu must be held.
func (q *queue) wake() {
	close(q.space)
	q.space = make(chan struct{})
}

// put appends b, waiting for room. It fails only when ctx ends or the queue
// was closed.
func (q *queue) put(ctx context.Context, b *batch) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return errQueueClosed
		}
		if q.bytes == 0 || q.bytes+len(b.data) <= q.max {
			q.items = append(q.items, b)
			q.bytes += len(b.data)
			q.mu.Unlock()
			return nil
		}
		wait := q.space
		q.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take appends whole batches to dst while the result stays within budget
// (at least one batch when any is queued), and their acks to acks.
func (q *queue) take(dst []byte, acks []checkpoint.Range, budget int) ([]byte, []checkpoint.Range, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	entries := 0
	n0 := len(dst)
	for q.head < len(q.items) {
		b := q.items[q.head]
		if len(dst) > n0 && len(dst)-n0+len(b.data) > budget {
			break
		}
		dst = append(dst, b.data...)
		acks = append(acks, b.acks...)
		entries += b.entries
		q.bytes -= len(b.data)
		q.items[q.head] = nil
		q.head++
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	if entries > 0 || n0 != len(dst) {
		q.wake()
	}
	return dst, acks, entries
}

// drain empties the queue and returns what it held.
func (q *queue) drain() (bytes, batches int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	batches = len(q.items) - q.head
	bytes = q.bytes
	q.items, q.head, q.bytes = nil, 0, 0
	q.wake()
	return bytes, batches
}

// len returns the queued bytes and batches.
func (q *queue) len() (bytes, batches int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes, len(q.items) - q.head
}

// close makes put fail from now on and wakes a waiting producer.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.wake()
	q.mu.Unlock()
}
