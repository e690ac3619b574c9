// Package pipeline is the core of the Fluent Bit output plugin, in plain Go:
// it turns one Fluent Bit chunk into delivered Log Analytics rows and decides
// the flush's return code.
//
// Each record of the chunk (read by fbpack) is one of:
//
//   - a raw flow-log record decoded into a map (keys properties, flowRecords
//     or records): transcoded to JSON and expanded by flowparse;
//   - a record whose record_field (default "log") holds flow-log JSON as a
//     string (tail without a parser): a record, a whole blob or an NDJSON line;
//   - an already flat event (EventId, SrcIp or SourceIp keys): shipped as is;
//   - anything else: counted and skipped, with one log line per kind.
//
// A flush streams: the events are appended to a loganalytics.Stream as they
// are decoded, which cuts them into bodies of at most max_body_bytes and
// sends each (compressed) while the next is encoded, with at most
// concurrency bodies alive per flush. The batches are exactly those a cut of
// the whole chunk would give, so the retry memory below does not depend on
// timing.
//
// Fields named _nsgflow_* (provenance from the blob input plugin) are stripped
// and, once every event of their record was accepted, handed to an Acker.
//
// A flush is all-or-nothing towards Fluent Bit: OK when every event was
// accepted; RETRY when some were not, after remembering (per chunk, keyed by
// a hash of the chunk bytes and tag, in a bounded LRU) which deterministic
// batches were accepted, so the retried chunk sends only the rest; ERROR when
// the destination refused the data permanently. Config parsing and
// validation (ParseConfig over a ConfigGetter) live here too, so the cgo
// plugin package holds only the exported functions.
package fbout
