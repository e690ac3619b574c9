package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// ErrNotFound is returned by Load when the store has no cursor for a key.
var ErrNotFound = errors.New("checkpoint: no cursor")

// ErrConflict is returned by Save when the stored cursor changed since it
// was loaded (its Version differs), or exists when creating a new one.
var ErrConflict = errors.New("checkpoint: cursor changed since it was loaded")

// Span is a byte range [Start, End) of a blob.
type Span struct {
	Start int64 `json:"s"`
	End   int64 `json:"e"`
}

// Cursor is the persisted state of one blob.
type Cursor struct {
	Key string `json:"key"`
	// Gen counts rewrites: the reader bumps it (and resets Committed) when
	// the blob was rewritten or recreated. Acks for another Gen are ignored.
	Gen int64 `json:"gen"`
	// Committed: every byte before this offset was acknowledged. The next
	// read of the blob after a restart starts here.
	Committed int64 `json:"committed"`
	// Acked holds acknowledged ranges beyond Committed, sorted, disjoint.
	Acked []Span `json:"acked,omitempty"`

	// What the reader last saw of the blob.
	ETag    string    `json:"etag,omitempty"`
	Size    int64     `json:"size,omitempty"`
	Created time.Time `json:"created,omitzero"`
	// Head is the start of the blob (its first record) when first read: a
	// rewritten blob is recognised by a different head.
	Head []byte `json:"head,omitempty"`
	// Closed: the blob's hour ended, the grace period passed without change,
	// and the reader read it to its end.
	Closed bool `json:"closed,omitempty"`
	// Done: the done marker was set on the blob (or found there).
	Done bool `json:"done,omitempty"`
	// MarkFailed: the done marker cannot be set on this closed blob for
	// good (no write permission, the blob changed after it closed, another
	// refusal that retrying does not fix); the reader does not try again.
	// A closed, fully acknowledged cursor with neither Done nor MarkFailed
	// still owes its marker: the reader keeps it, and holds the resource
	// watermark at its hour, until the marker is set, whatever crashes or
	// restarts happen in between.
	MarkFailed bool `json:"mark_failed,omitempty"`

	// Resume is used by resource entries (not blobs): the earliest hour of
	// the resource that may still need reading or acknowledgment.
	Resume time.Time `json:"resume,omitzero"`

	Updated time.Time `json:"updated,omitzero"`

	// Version identifies the stored revision this cursor was loaded at
	// (ETag for Blob, a revision number for Dir); empty for a new cursor.
	Version string `json:"-"`
}

// MarkOwed reports whether a reader that sets done markers still has to
// mark this blob: it was closed at size, every record was acknowledged, and
// the marker was neither set nor given up.
func (c *Cursor) MarkOwed(size int64) bool {
	return c.Closed && c.Size == size && c.FullyAcked(size) && !c.Done && !c.MarkFailed
}

// FullyAcked reports whether every record of a blob of the given size was
// acknowledged: the committed offset reached the 2-byte tail.
func (c *Cursor) FullyAcked(size int64) bool { return size > 0 && c.Committed >= size-2 }

// Ack records that [start, end) of generation gen was accepted. It returns
// false when nothing changed (another generation, an empty or already
// acknowledged range). The committed offset advances over the contiguous
// prefix of acknowledged ranges.
func (c *Cursor) Ack(gen, start, end int64) bool {
	if gen != c.Gen || end <= start || end <= c.Committed || start < 0 {
		return false
	}
	c.Acked = insertSpan(c.Acked, Span{Start: start, End: end})
	c.fold()
	return true
}

// Reset starts the blob over in a new generation (rewritten blob).
func (c *Cursor) Reset() {
	c.Gen++
	c.Committed = 0
	c.Acked = nil
	c.ETag, c.Size, c.Created, c.Head = "", 0, time.Time{}, nil
	c.Closed, c.Done, c.MarkFailed = false, false, false
}

func (c *Cursor) fold() {
	i := 0
	for ; i < len(c.Acked) && c.Acked[i].Start <= c.Committed; i++ {
		if c.Acked[i].End > c.Committed {
			c.Committed = c.Acked[i].End
		}
	}
	c.Acked = append(c.Acked[:0], c.Acked[i:]...)
	if len(c.Acked) == 0 {
		c.Acked = nil
	}
}

// insertSpan adds s to a sorted, disjoint list, merging overlaps and
// adjacent ranges, in place where it can.
func insertSpan(list []Span, s Span) []Span {
	i := sort.Search(len(list), func(i int) bool { return list[i].End >= s.Start })
	j := i
	for j < len(list) && list[j].Start <= s.End {
		s.Start = min(s.Start, list[j].Start)
		s.End = max(s.End, list[j].End)
		j++
	}
	if i == j {
		return slices.Insert(list, i, s)
	}
	list[i] = s
	return append(list[:i+1], list[j:]...)
}

// Store keeps cursors by key. Implementations are safe for concurrent use.
type Store interface {
	// Load returns the cursor for key, or an error wrapping ErrNotFound.
	Load(ctx context.Context, key string) (Cursor, error)
	// Save writes c if the stored cursor is still at c.Version (a new
	// cursor, Version "", must not exist yet), and sets c.Version to the
	// new revision. Otherwise it returns an error wrapping ErrConflict.
	Save(ctx context.Context, key string, c *Cursor) error
	// Delete removes the cursor; deleting a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every cursor whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(Cursor) error) error
	// Close releases the store.
	Close() error
}

// maxUpdateTries bounds the optimistic retry loop of Update.
const maxUpdateTries = 20

// Update loads the cursor for key (a zero Cursor when there is none), calls
// fn on it and saves the result, retrying from the load on ErrConflict. If
// fn returns ErrNoChange the cursor is not written. It returns the cursor
// as stored.
func Update(ctx context.Context, s Store, key string, fn func(c *Cursor) error) (Cursor, error) {
	var lastErr error
	for try := 0; try < maxUpdateTries; try++ {
		c, err := s.Load(ctx, key)
		if errors.Is(err, ErrNotFound) {
			c, err = Cursor{Key: key}, nil
		}
		if err != nil {
			return c, err
		}
		if err := fn(&c); err != nil {
			if errors.Is(err, ErrNoChange) {
				return c, nil
			}
			return c, err
		}
		c.Key = key
		c.Updated = time.Now().UTC()
		err = s.Save(ctx, key, &c)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrConflict) {
			return c, err
		}
		lastErr = err
		if err := ctx.Err(); err != nil {
			return c, err
		}
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
	return Cursor{}, fmt.Errorf("checkpoint: update %s: gave up after %d conflicts: %w", key, maxUpdateTries, lastErr)
}

// ErrNoChange, returned by an Update callback, skips the write.
var ErrNoChange = errors.New("checkpoint: no change")
