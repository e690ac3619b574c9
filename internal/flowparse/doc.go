// Package flowparse turns Azure Network Watcher flow-log records (NSG flow
// logs version 1 and 2, VNet flow logs version 4) into flat events, one per
// flow tuple, and encodes those events as the JSON rows Log Analytics takes.
//
// It does no I/O. Inputs are byte slices: a whole blob, a byte range of a
// growing blob, one bare record, NDJSON of bare records, or a record already
// decoded into a map. The parser walks the JSON with a small zero-copy
// scanner: as fast as json-iterator's Iterator while accepting any key order,
// validating structure and allocating nothing per tuple (docs/benchmarks.md
// has the comparison). It hands each tuple to a callback as a reused *Event
// whose byte fields point into the input, and counts every skipped record or
// tuple with a reason instead of failing the whole input.
package flowparse
