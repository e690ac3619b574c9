// Package blobinput is the core of the Fluent Bit input plugin
// (in_nsgflow.so, registered as nsgflow_blob) and of `nsgflow run`, in plain
// Go: it runs the incremental blob reader (package blobsource) in the
// background and turns each byte range it hands over into something to
// deliver, keeping track of which blob bytes each piece came from.
//
// For the plugin (Input):
//
//   - ParseConfig reads and validates the plugin keys over a ConfigGetter
//     (Keys documents them).
//   - Split cuts a range into its records, with contiguous provenance ranges
//     [off, end) in blob offsets; Encoder turns each record into Fluent Bit
//     [ts, record] msgpack entries: one per record (raw), or one flat event
//     per flow tuple (expand), all carrying _nsgflow_src, _nsgflow_gen,
//     _nsgflow_off, _nsgflow_end (and _nsgflow_n, _nsgflow_total in expand
//     mode), which the nsgflow output strips.
//   - The entries of whole records go through a queue bounded in bytes:
//     the reader waits when it is full, and Collect (Fluent Bit's 1 s
//     callback) takes whole records up to a byte budget, so all entries of a
//     record land in one callback buffer and so in one Fluent Bit chunk.
//   - Acknowledgment: in ack mode the output plugin acknowledges delivered
//     ranges in the shared checkpoint store; in handover mode the Input does
//     so once Fluent Bit took the buffer (Handed). Ranges with nothing to
//     deliver (the blob head, records that are not JSON or hold no tuple)
//     are acknowledged by the Input itself, so the committed offset never
//     sticks on them.
//
// For `nsgflow run` (Shipper): every range is expanded with flowparse and
// sent through an loganalytics.Sink in batches spanning several blobs; a range is
// acknowledged once all its events were accepted.
package fbin
