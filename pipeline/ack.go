package pipeline

import (
	"context"
	"fmt"

	"github.com/nsgflow/nsgflow/checkpoint"
)

// CheckpointAcker acknowledges delivered records in a checkpoint store (the
// one the blob input plugin reads its cursors from): one conditional update
// per blob per Ack call, however many records of that blob were delivered.
type CheckpointAcker struct {
	Store checkpoint.Store
}

// Ack records every range of recs as accepted; flat events of an expanded
// record (N of Total) are counted as pieces of its range. Each record must be
// acknowledged once (the pipeline guarantees it). Records without a source
// are ignored.
func (a CheckpointAcker) Ack(ctx context.Context, recs []Provenance) error {
	byKey := map[string][]Provenance{}
	var order []string
	for _, r := range recs {
		if r.Source == "" || r.End <= r.Off {
			continue
		}
		if _, ok := byKey[r.Source]; !ok {
			order = append(order, r.Source)
		}
		byKey[r.Source] = append(byKey[r.Source], r)
	}
	var first error
	for _, key := range order {
		rs := byKey[key]
		// Events of an expanded record (N of Total) count as pieces.
		type rng struct{ gen, off, end, total int64 }
		parts := map[rng]int64{}
		var whole []Provenance
		for _, r := range rs {
			if r.N > 0 && r.Total > 0 {
				parts[rng{r.Gen, r.Off, r.End, r.Total}]++
			} else {
				whole = append(whole, r)
			}
		}
		_, err := checkpoint.Update(ctx, a.Store, key, func(c *checkpoint.Cursor) error {
			changed := false
			for _, r := range whole {
				changed = c.Ack(r.Gen, r.Off, r.End) || changed
			}
			for k, n := range parts {
				changed = c.AckPart(k.gen, k.off, k.end, n, k.total) || changed
			}
			if !changed {
				return checkpoint.ErrNoChange
			}
			return nil
		})
		if err != nil && first == nil {
			first = fmt.Errorf("checkpoint %s: %w", key, err)
		}
	}
	return first
}
