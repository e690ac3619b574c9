// Package fbpack is Fluent Bit's msgpack format, both ways: it reads the
// chunks Fluent Bit hands an output plugin (without reflection and without
// copying the chunk) and writes the entries an input plugin hands Fluent Bit.
//
// A chunk is a sequence of entries, either `[[timestamp, metadata], record]`
// (Fluent Bit 2.1 and later) or `[timestamp, record]` (older). Timestamps are
// the event-time extension (ext type 0, 4 bytes seconds + 4 bytes
// nanoseconds, big endian), the msgpack timestamp extension (type -1), an
// integer or a float. Group markers (`[[-1, ...], ...]` and `[[-2, ...], ...]`)
// are skipped. Each record comes back as a span of the chunk (a sub-slice,
// valid as long as the chunk is); Lookup finds a key's value in such a span,
// MapIter walks its members, and AppendJSON transcodes a span to JSON into a
// caller's reused buffer.
//
// Every function bounds nesting depth and checks every length against the
// bytes that remain, so truncated or hostile input gives an error, never a
// panic or a runaway loop.
package fbpack
