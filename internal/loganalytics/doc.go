// Package oms delivers encoded flow events to Log Analytics, through the Logs
// Ingestion API (primary) or the HTTP Data Collector API (legacy), and says
// exactly which events were accepted.
//
// # Data flow
//
// A caller fills an Events buffer with encoded JSON objects (one per event,
// e.g. from flowparse.Encoder.Append), asks the Sink to Cut it into batches,
// and hands the batches to Send:
//
//	var ev loganalytics.Events
//	for each event { ev.AppendWith(func(b []byte) []byte { return enc.Append(b, e) }) }
//	batches := sink.Cut(&ev)
//	rep := sink.Send(ctx, &ev, batches)
//
// A caller with more events than it wants to hold (a big Fluent Bit chunk, a
// large file) appends them to a Stream instead: it cuts as it goes, exactly
// as Cut would, sends each body while the next is encoded and keeps at most
// Concurrency sealed bodies alive (see Stream).
//
// Each event is stored in ev.Buf followed by one comma, so a run of events is
// already the inside of a JSON array: request bodies are streamed (or
// gzipped) straight from the buffer, never copied. Read event i with
// ev.Event(i). When the Data Collector sink sends x-ms-AzureResourceId,
// ResourceIDs holds one resource ID per event (SetResourceID); otherwise it
// may be nil. Events must not change while Send runs.
//
// # Cutting
//
// Cut is deterministic: the same events always give the same batches with the
// same Keys, in any process. A batch is a contiguous run of events whose JSON
// array body ("[" + events joined by "," + "]") is at most the sink's
// MaxBodyBytes (Logs Ingestion default 1,048,576 bytes uncompressed, the way
// Microsoft's SDKs cut; Data Collector default 25 MiB, hard cap 30,000,000).
// With x-ms-AzureResourceId on, a batch holds events of one resource only.
// An event that cannot fit alone has its long string fields truncated in place
// to the API's field limit (64 KiB Logs Ingestion, 32 KiB Data Collector);
// if it still does not fit, Cut gives it a batch of its own with Reason set,
// and Send rejects that batch without a request, counting it.
//
// # Sending and retries
//
// Send posts up to Concurrency batches at once (each worker gzips its own
// batch, at DefaultGzipLevel unless configured; writers and buffers are
// pooled), retries inside, and returns a Report with per-batch outcome:
//
//   - 2xx success (204 Logs Ingestion, 200 Data Collector): accepted.
//   - 429: wait Retry-After (seconds or HTTP date), else exponential backoff
//     with full jitter; then retry.
//   - 408, 500, 502, 503, 504, connection resets, timeouts: backoff, retry.
//   - 413 (and a Data Collector 404 whose body says the payload is too
//     large): split the batch in two halves by event count (left half
//     Count/2 events) and send each half; a one-event piece is rejected.
//   - 400, 403, 404 and other 4xx: permanent, not retried; the error says
//     what to fix. A Logs Ingestion 401 fetches a new token and retries once.
//
// Backoff is exponential with full jitter between MinBackoff and MaxBackoff.
// Retries stop when MaxRetries is reached or when the next wait would pass
// ctx's deadline; the batch is then reported as not accepted (transient).
// Every attempt carries a fresh x-ms-client-request-id that error messages
// quote; the Data Collector signature and x-ms-date are recomputed on every
// attempt. docs/oms.md is the full reference.
//
// # Partial acceptance and resending without duplicates
//
// After a split, one half may be accepted and the other not. Within one Send
// call an accepted half is never sent again. The Report lists accepted halves
// in Parts, and Remember lists every key a caller should keep to avoid
// re-sending on a later attempt: keys of accepted batches and parts, and a
// split mark (Key ^ SplitMark) for every batch or part that was split.
// Because splitting is deterministic, Remaining(ev, batches, seen) rebuilds,
// from the same events and those remembered keys, exactly the pieces that
// still need sending. A caller that re-sends a chunk (e.g. a Fluent Bit
// retry) should Cut, call Remaining with its memory, and Send the result.
//
// Delivery is at least once: when the service stored a body but the client
// did not see the answer (connection dropped after acceptance, response
// slower than RequestTimeout), the retry stores it again. Neither Azure API
// is idempotent; every default-schema row carries a deterministic EventId for
// de-duplication in KQL. See docs/oms.md.
//
// # Secrets
//
// Shared keys, bearer tokens and client secrets never appear in errors or log
// lines: errors are built from status, request ID and the redacted URL
// (scheme, host and path, no query), and every message passes through a
// scrubber that replaces any configured secret.
package loganalytics
