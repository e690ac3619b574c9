package loganalytics

import (
	"encoding/binary"
	"math/bits"
)

// Events is a reusable buffer of encoded events. Each event in Buf is
// followed by one ',' so that a run of events is already the inside of a JSON
// array and a request body needs no copy: event i is Buf[start(i):Ends[i]]
// where start(0) = 0 and start(i) = Ends[i-1]+1 (use Event). ResourceIDs,
// when not nil, holds one Azure resource ID per event (used for the Data
// Collector API's x-ms-AzureResourceId header). The zero value is ready to
// use; an Events is not safe for concurrent mutation, and must not change
// while Send runs.
type Events struct {
	Buf         []byte
	Ends        []int
	ResourceIDs []string
	// Base is, for a body a Stream hands to Send, the stream index of event
	// 0 (event i is the stream's event Base+i); 0 otherwise. Informational:
	// batch indices are always relative to this Events.
	Base int
}

// Reset empties the buffer, keeping its memory.
func (e *Events) Reset() {
	e.Base = 0
	e.Buf = e.Buf[:0]
	e.Ends = e.Ends[:0]
	if e.ResourceIDs != nil {
		e.ResourceIDs = e.ResourceIDs[:0]
	}
}

// Len returns the number of events.
func (e *Events) Len() int { return len(e.Ends) }

// Event returns the encoded bytes of event i (not a copy).
func (e *Events) Event(i int) []byte { return e.Buf[e.start(i):e.Ends[i]] }

func (e *Events) start(i int) int {
	if i == 0 {
		return 0
	}
	return e.Ends[i-1] + 1
}

// inner returns the events of b joined by commas: the body without its
// brackets.
func (e *Events) inner(b Batch) []byte { return e.Buf[e.start(b.First):e.Ends[b.First+b.Count-1]] }

// Append appends one encoded event (a JSON object) and returns its index.
func (e *Events) Append(encoded []byte) int {
	e.Buf = append(e.Buf, encoded...)
	return e.end()
}

// AppendWith appends the event that f appends to dst (e.g.
// func(b []byte) []byte { return enc.Append(b, ev) }) and returns its index.
// f must only append to dst.
func (e *Events) AppendWith(f func(dst []byte) []byte) int {
	e.Buf = f(e.Buf)
	return e.end()
}

func (e *Events) end() int {
	e.Ends = append(e.Ends, len(e.Buf))
	e.Buf = append(e.Buf, ',')
	if e.ResourceIDs != nil {
		e.ResourceIDs = append(e.ResourceIDs, "")
	}
	return len(e.Ends) - 1
}

// SetResourceID sets the resource ID of the last appended event, starting
// ResourceIDs (with "" for earlier events) on first use.
func (e *Events) SetResourceID(id string) {
	n := len(e.Ends)
	if n == 0 {
		return
	}
	if e.ResourceIDs == nil {
		e.ResourceIDs = make([]string, n, cap(e.Ends))
	}
	for len(e.ResourceIDs) < n {
		e.ResourceIDs = append(e.ResourceIDs, "")
	}
	e.ResourceIDs[n-1] = id
}

// resourceID returns event i's resource ID, or "".
func (e *Events) resourceID(i int) string {
	if i < len(e.ResourceIDs) {
		return e.ResourceIDs[i]
	}
	return ""
}

// Batch is a contiguous run of events sent as one request body.
type Batch struct {
	First, Count int // event index range [First, First+Count) in Events
	// Bytes is the uncompressed body size: the JSON array "[e1,e2,...]".
	Bytes int
	// Key is a deterministic 64-bit hash of the batch's events (and resource
	// ID): the same events give the same Key in any process. Callers use it to
	// remember accepted batches.
	Key uint64
	// ResourceID is the batch's x-ms-AzureResourceId (Data Collector with
	// AzureResourceID on), else "".
	ResourceID string
	// Reason, when not empty, says why this one-event batch cannot be sent
	// (it exceeds the body cap even after field truncation). Send rejects it
	// without a request.
	Reason string
}

// SplitMark is XORed into a Key to remember that the batch with that Key was
// split in halves after a 413 (see Remaining).
const SplitMark uint64 = 0x5b1f_a7c3_e94d_2860

// batchOf builds the batch of events [first, first+count).
func batchOf(ev *Events, first, count int, rid string) Batch {
	s, end := ev.start(first), ev.Ends[first+count-1]
	return Batch{
		First:      first,
		Count:      count,
		Bytes:      end - s + 2, // '[' + events and their commas + ']'
		Key:        batchKey(ev.Buf[s:end], count, rid),
		ResourceID: rid,
	}
}

// halves splits b deterministically: the left half holds Count/2 events.
func halves(ev *Events, b Batch) (Batch, Batch) {
	l := b.Count / 2
	return batchOf(ev, b.First, l, b.ResourceID), batchOf(ev, b.First+l, b.Count-l, b.ResourceID)
}

// Remaining returns the pieces of batches that still need sending, given
// seen, a caller's memory of keys from earlier Reports (Report.Remember): a
// batch whose Key was seen is dropped; a batch whose split mark (Key ^
// SplitMark) was seen is replaced by its two halves, each treated the same
// way; any other batch is kept. With seen nil, batches is returned as is.
func Remaining(ev *Events, batches []Batch, seen func(key uint64) bool) []Batch {
	if seen == nil {
		return batches
	}
	out := make([]Batch, 0, len(batches))
	var walk func(b Batch)
	walk = func(b Batch) {
		switch {
		case seen(b.Key):
		case b.Count > 1 && b.Reason == "" && seen(b.Key^SplitMark):
			l, r := halves(ev, b)
			walk(l)
			walk(r)
		default:
			out = append(out, b)
		}
	}
	for _, b := range batches {
		walk(b)
	}
	return out
}

// cutter implements Cut for both sinks.
type cutter struct {
	maxBody    int  // body cap, bytes of the uncompressed JSON array
	fieldLimit int  // per-field limit for truncating oversize events
	byResource bool // one resource per batch
}

func (c cutter) cut(ev *Events) []Batch {
	n := ev.Len()
	if n == 0 {
		return nil
	}
	out := make([]Batch, 0, 1+len(ev.Buf)/max(c.maxBody, 1))
	first, size := 0, 0 // current run and its body size so far ("[" + events + commas)
	flush := func(end int) {
		if end > first {
			rid := ""
			if c.byResource {
				rid = ev.resourceID(first)
			}
			out = append(out, batchOf(ev, first, end-first, rid))
		}
		first, size = end, 0
	}
	for i := 0; i < n; i++ {
		l := ev.Ends[i] - ev.start(i)
		if l+2 > c.maxBody {
			flush(i)
			nl, ok := c.shrink(ev, i)
			rid := ""
			if c.byResource {
				rid = ev.resourceID(i)
			}
			b := batchOf(ev, i, 1, rid)
			if !ok {
				b.Reason = oversizeReason(l, nl, c.maxBody, c.fieldLimit)
			}
			out = append(out, b)
			first = i + 1
			continue
		}
		if i > first {
			if size+1+l+1 > c.maxBody || (c.byResource && ev.resourceID(i) != ev.resourceID(first)) {
				flush(i)
			}
		}
		if i == first {
			size = 1 + l
		} else {
			size += 1 + l
		}
	}
	flush(n)
	return out
}

// shrink truncates the long string fields of event i in place (shifting the
// following events) and reports whether it now fits the body cap, with its
// new length.
func (c cutter) shrink(ev *Events, i int) (int, bool) {
	s, e := ev.start(i), ev.Ends[i]
	t := truncateFields(nil, ev.Buf[s:e], c.fieldLimit)
	if t == nil || len(t) >= e-s {
		return e - s, e-s+2 <= c.maxBody
	}
	d := (e - s) - len(t)
	copy(ev.Buf[s:], t)
	copy(ev.Buf[s+len(t):], ev.Buf[e:]) // from this event's comma on
	ev.Buf = ev.Buf[:len(ev.Buf)-d]
	for k := i; k < len(ev.Ends); k++ {
		ev.Ends[k] -= d
	}
	return len(t), len(t)+2 <= c.maxBody
}

// batchKey hashes a batch's bytes (deterministic, platform independent):
// three lanes fold 48-byte blocks with 64x64->128-bit multiplies, then the
// tail, the length, the event count and the resource ID are folded in the
// same way. It is not a cryptographic hash; flow logs are not adversarial
// input. Changing it changes every Key: callers' memories from older
// versions stop matching (TestCutDeterministicKeys pins one value).
func batchKey(b []byte, count int, rid string) uint64 {
	const (
		k0 uint64 = 0xa0761d6478bd642f
		k1 uint64 = 0xe7037ed1a0b428db
		k2 uint64 = 0x8ebc6af09c88c6e3
		k3 uint64 = 0x589965cc75374cc3
	)
	le := binary.LittleEndian
	n := uint64(len(b))
	s0, s1, s2 := k0^n, k1^n, k2^n
	for len(b) >= 48 {
		s0 = mix(le.Uint64(b)^k1, le.Uint64(b[8:])^s0)
		s1 = mix(le.Uint64(b[16:])^k2, le.Uint64(b[24:])^s1)
		s2 = mix(le.Uint64(b[32:])^k3, le.Uint64(b[40:])^s2)
		b = b[48:]
	}
	s0 ^= s1 ^ s2
	for len(b) >= 16 {
		s0 = mix(le.Uint64(b)^k1, le.Uint64(b[8:])^s0)
		b = b[16:]
	}
	var tail [16]byte
	copy(tail[:], b)
	s0 = mix(le.Uint64(tail[:])^k1, le.Uint64(tail[8:])^s0^uint64(len(b)))
	s0 = mix(s0^k2, uint64(count)^k3)
	for i := 0; i < len(rid); i++ {
		s0 = (s0 ^ uint64(rid[i])) * 0x100000001b3
	}
	return mix(s0^k0, n^k3)
}

// mix multiplies to 128 bits and folds the halves.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
