package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Range is the unit of acknowledgment between the reading side and the
// delivery side: the bytes [Off, End) of one generation of one blob, named by
// its checkpoint key. The blob reader hands records over with their Range,
// the input plugin writes it into each record (the Field* names below), the
// output plugin or nsgflow run's shipper reads it back and, once every event
// of the range was accepted, calls AckRanges. It is the only type that crosses
// that boundary.
type Range struct {
	Key      string // checkpoint key: account/container/blob
	Gen      int64  // cursor generation (bumped when the blob is rewritten)
	Off, End int64  // byte range [Off, End) of the blob
}

// Wire names of the record fields that carry a Range through Fluent Bit, from
// the input plugin to the output plugin. The output strips every field that
// starts with ProvenancePrefix before shipping.
const (
	ProvenancePrefix = "_nsgflow_"
	FieldSource      = ProvenancePrefix + "src"   // Range.Key
	FieldGen         = ProvenancePrefix + "gen"   // Range.Gen
	FieldOffset      = ProvenancePrefix + "off"   // Range.Off
	FieldEnd         = ProvenancePrefix + "end"   // Range.End
	FieldN           = ProvenancePrefix + "n"     // expand mode: 1-based index of the event in its record
	FieldTotal       = ProvenancePrefix + "total" // expand mode: events of the record
)

// ProvenanceFields lists every wire name, in the order the input writes them.
var ProvenanceFields = []string{FieldSource, FieldGen, FieldOffset, FieldEnd, FieldN, FieldTotal}

// Coalesce sorts ranges by key, generation and offset and merges overlapping
// or adjacent ones, so each blob costs one checkpoint write. It reorders rs
// and returns the merged prefix of it.
func Coalesce(rs []Range) []Range {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Gen != b.Gen {
			return a.Gen < b.Gen
		}
		return a.Off < b.Off
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].Key == r.Key && out[n-1].Gen == r.Gen && r.Off <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// AckRanges records in s that every range of rs was accepted by the
// destination: one conditional update per blob, however many ranges of it
// there are. Ranges are idempotent (acknowledging one twice is harmless) and
// may arrive in any order; empty ranges and ranges without a key are ignored.
// rs is reordered. Every blob is tried; the error joins the failures, each
// naming its blob.
func AckRanges(ctx context.Context, s Store, rs []Range) error {
	keep := rs[:0]
	for _, r := range rs {
		if r.Key != "" && r.End > r.Off {
			keep = append(keep, r)
		}
	}
	rs = Coalesce(keep)
	var errs []error
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j].Key == rs[i].Key {
			j++
		}
		blob := rs[i:j]
		_, err := Update(ctx, s, blob[0].Key, func(c *Cursor) error {
			changed := false
			for _, r := range blob {
				changed = c.Ack(r.Gen, r.Off, r.End) || changed
			}
			if !changed {
				return ErrNoChange
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: ack %s: %w", blob[0].Key, err))
		}
		i = j
	}
	return errors.Join(errs...)
}

// Ack records in s that r was accepted (AckRanges of one range).
func Ack(ctx context.Context, s Store, r Range) error {
	return AckRanges(ctx, s, []Range{r})
}
