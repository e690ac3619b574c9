// Package flowgen generates synthetic Azure flow-log blobs (NSG flow logs
// version 1 and 2, VNet flow logs version 4) with the real blob paths and the
// real committed-block layout, deterministically from a seed.
//
// It does no I/O. Generate hands each blob to a callback, one at a time, so
// a set of 20,000 blobs never sits in memory; BlockStream yields one blob's
// blocks one at a time (and is an io.Reader), so a blob of any size can be
// produced in constant memory. Every blob, and every byte in it, depends only
// on the Options and the blob's index, never on generation order: the same
// seed gives the same bytes.
//
// A Blob's Blocks are the committed block list as Network Watcher leaves it
// at the end of the hour: the 12-byte head {"records":[, one data block per
// record (each after the first starts with ','), and the 2-byte tail ]}. The
// blob as committed after k minutes is Blocks[:k+1] followed by the tail.
//
// What the data looks like (see shared/reference/azure.md sections 2-3):
// upper-case resource IDs; blob names
// resourceId=/SUBSCRIPTIONS/.../y=YYYY/m=MM/d=DD/h=HH/m=00/macAddress=MAC/PT1H.json
// (container insights-logs-networksecuritygroupflowevent) and
// flowLogResourceID=/SUBSCRIPTIONS/.../FLOWLOGS/NAME/y=.../PT1H.json
// (insights-logs-flowlogflowevent); NSG tuples in epoch seconds with T/U and
// A/D (v2 adds state B/C/E and counters, empty on B); VNet tuples in epoch
// milliseconds with protocol numbers 6/17/1, state B/C/E/D, encryption
// values, aclID and flowGroups. Each record holds the tuples of one interval
// (a minute at 60 records an hour) and is stamped a little after it, so the
// first record of an hour holds the end of the previous hour. C and E tuples
// continue flows begun earlier in the blob; D tuples are inbound scans under
// DefaultRule_DenyAllInBound.
package flowgen
