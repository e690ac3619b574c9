// Package blobsource reads Azure NSG and VNet flow-log blobs incrementally
// from Blob Storage: it finds the PT1H.json blobs, follows each while
// Network Watcher appends to it, and hands every new byte range, cut at
// record boundaries, to a callback. It never parses JSON records (the
// caller runs flowparse.Parser.Range on each chunk) and never writes to a
// flow-log blob, except the optional done marker on closed blobs; it never
// leases one.
//
// Use:
//
//	src, err := blobsource.New(blobsource.Config{
//		Auth:          blobsource.Auth{AccountName: "acct", Method: blobsource.AuthManagedIdentity},
//		CheckpointDir: "/var/lib/nsgflow/checkpoints",
//		Start:         "now",
//	})
//	err = src.Run(ctx, func(ctx context.Context, c blobsource.Chunk) error {
//		// parse c.Data with flowparse.Parser.Range, send the events, then,
//		// once the destination accepted them all:
//		return checkpoint.Ack(ctx, src.Store(), c.Range()) // or later, from the delivery side
//	})
//
// Each blob has a checkpoint.Cursor keyed by account/container/name. Reading
// advances an in-memory read offset; only acknowledgments (checkpoint.AckRanges
// with Chunk.Range, from whichever side delivers) advance the persisted committed
// offset. After a restart a blob is read again from its committed offset:
// delivery is at-least-once, and Chunk.Start/End are stable byte offsets,
// so EventIds (flowparse) let the destination drop repeats.
//
// Listing scales with resources, not blobs: resources are discovered by a
// hierarchical listing ('/' delimiter) every DiscoveryInterval (sooner,
// from 15 s doubling up to it, while a discovery finds nothing or a
// configured container is missing or refused); each poll then lists only hour prefixes that can still change (the current hour,
// the previous one during the grace period, and hours of blobs not yet
// closed). Backfill (Start "beginning" or a past time, or a watermark left
// by an earlier run) walks closed hours a page at a time. Memory is bounded
// by Concurrency × MaxChunk plus one listing page, whatever the blob sizes.
//
// Incremental reads: a blob's committed length L and ETag come from the
// listing; the new data is [r, L-2) where r is the read offset (the 2-byte
// tail "]}" is never read). Each ranged GET carries If-Match: ETag, and
// re-reads the 32 bytes before r: if they differ, or the blob shrank, or
// (after a restart) its first bytes differ from the cursor's, the blob was
// rewritten and is read again from 0 in a new cursor generation, with a
// warning. A blob is closed when its hour plus Grace has passed and it has
// been quiet (Last-Modified older than Grace, or unchanged since the
// previous poll); its last chunk then has Final set.
//
// The done marker is owed, in the checkpoint, by every closed and fully
// acknowledged blob not yet marked (checkpoint.Cursor.MarkOwed): such a blob
// holds its resource watermark back and keeps its cursor until the marker is
// set or refused for good, so a reader stopped between the last
// acknowledgment and the marker leaves it to the next start.
//
// With Config.Once, Run returns after the first poll cycle that is caught up
// (Stats.CaughtUp: every listed blob read to its committed end and handed
// over, no backfill left, every finished hour's blob closed) with no closed
// blob still waiting for acknowledgment or marker: a backfill's explicit end.
//
// Errors: 403 is logged and counted and the blob (or container) is skipped
// until the next discovery; 404 during a read drops the cursor; other errors
// (throttling, timeouts, storage unreachable) are retried by the SDK and then
// by the poll loop with backoff. Every error is logged through package
// redact: SAS signatures and keys never reach the logs.
//
// Auth: account key, SAS token, connection string, or Entra ID (managed
// identity incl. user-assigned client ID, workload identity, client secret,
// Azure CLI, DefaultAzureCredential), in the public, China or US Government
// cloud, or against an explicit endpoint such as Azurite's
// http://127.0.0.1:10000/devstoreaccount1.
package blobsource
