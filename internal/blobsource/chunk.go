package blobsource

import (
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
)

// BlobID names one blob.
type BlobID struct {
	Account, Container, Name string
}

// Key is the blob's checkpoint key: account/container/name.
func (b BlobID) Key() string { return b.Account + "/" + b.Container + "/" + b.Name }

// Chunk is one piece of new data of a blob, handed to the Run callback.
type Chunk struct {
	Blob BlobID
	// Key is Blob.Key(): the checkpoint key to acknowledge with.
	Key string
	// Gen is the cursor generation; it changes when the blob was rewritten
	// and read again from the start. Acknowledge with it.
	Gen int64
	// Start and End are the byte range [Start, End) of the blob in Data.
	Start, End int64
	// Data starts at a record boundary: with the head {"records":[ when
	// Start is 0, else with the ',' before a record. It ends at a record
	// boundary (unless one record exceeds Config.MaxRecord) and never
	// includes the tail ]}. It is what flowparse.Parser.Range takes. Data
	// is reused after the callback returns: copy what must outlive it.
	Data []byte
	// Final: the blob's hour is closed and this is its last chunk. A final
	// chunk may have no data (Start == End).
	Final bool
	// Path is what the blob name says: resource, MAC, hour.
	Path Path
	// Rewritten: the blob was found rewritten and this generation starts
	// over at 0; records seen before may come again.
	Rewritten bool
}

// Range is the chunk's acknowledgeable range, as the delivery side passes it
// to checkpoint.AckRanges once every record in it was accepted.
func (c *Chunk) Range() checkpoint.Range {
	return checkpoint.Range{Key: c.Key, Gen: c.Gen, Off: c.Start, End: c.End}
}

// Stats counts what a Source did. Read with Source.Stats.
type Stats struct {
	Cycles        int64 // poll cycles run
	CycleErrors   int64 // cycles that failed (e.g. storage unreachable) and were retried
	Discoveries   int64
	Resources     int64 // resources known
	BlobsListed   int64 // blob entries seen in listings
	BlobsRead     int64 // blobs with at least one range read
	Chunks        int64
	BytesRead     int64
	Rewrites      int64 // blobs found rewritten or shrunk and read again from 0
	Forbidden     int64 // 403 on a blob or container: skipped until the next discovery
	NotFound      int64 // blobs deleted while being read
	ReadErrors    int64 // other read failures (retried with backoff)
	Changed       int64 // 412: blob changed during a read, re-polled
	DeliveryFails int64 // callback errors: the range is read again later
	Closed        int64 // blobs closed (hour over, quiet, read to the end)
	Pending       int64 // closed blobs waiting for acknowledgment
	DoneMarked    int64 // done markers set
	DoneSkipped   int64 // blobs skipped because they carried the done marker
	DoneFailed    int64 // done markers that could not be set (e.g. SAS without w)
	LateCommits   int64 // closed blobs found grown when checked once more, and read again from their committed offset
	// Refused counts storage refusals that retrying does not fix (401/403,
	// a credential that cannot get a token); Source.LastRefusal says the
	// latest, naming the setting to fix. A --once run ends with an error.
	Refused int64
	// CaughtUp: the last poll cycle ran without error, no backfill is left,
	// every listed blob was read to its committed end and handed to the
	// callback, and every blob whose hour is over (plus Grace) was closed.
	// Acknowledgments may still be missing (Pending counts those blobs).
	CaughtUp bool

	// Hinted: blobs named by notifications (Config.Hints) and looked at.
	Hinted int64
}

// hourEnd is the end of the hour starting at h.
func hourEnd(h time.Time) time.Time { return h.Add(time.Hour) }

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
