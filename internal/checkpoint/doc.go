// Package checkpoint remembers, per flow-log blob, how far its records have
// been acknowledged as delivered, so a restarted reader resumes there.
//
// A Cursor holds the committed offset (every byte of the blob before it was
// read, parsed and accepted by the destination) and the acknowledged ranges
// beyond it that arrived out of order. The reader never advances the
// committed offset itself: the delivery side calls AckRanges with the Range
// (blob key, generation, byte range) of every record once all of its events
// were accepted, and the offset moves only over a contiguous prefix.
// Anything read but not acknowledged when the process stops is read again:
// delivery is at-least-once. Range and its wire field names (FieldSource and
// the others, which carry it through Fluent Bit from the input plugin to the
// output plugin) are defined here and nowhere else; AckRanges is the one
// acker every delivery path uses.
//
// A Store keeps cursors. Save is conditional: a cursor carries the Version
// it was loaded at, and saving over a newer version fails with ErrConflict
// instead of overwriting it. Update wraps Load, a change and Save in a retry
// loop, which is how both the reader and the ackers write, so two writers
// (the input and output plugins of one Fluent Bit process, or two processes
// on one machine) never lose each other's changes.
//
// Two stores are provided:
//
//   - Dir (NewDir): one JSON file per blob in a local directory, written
//     atomically (temporary file, fsync, rename, fsync of the directory) under
//     an open-file-description lock, so a kill -9 at any moment leaves either
//     the old or the new cursor, never a torn one.
//   - Blob (NewBlob): one JSON blob per cursor in an Azure Storage container,
//     written with If-Match / If-None-Match conditions (412/409 → ErrConflict).
package checkpoint
