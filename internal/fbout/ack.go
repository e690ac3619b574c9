package fbout

import (
	"context"
	"fmt"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
)

// CheckpointAcker acknowledges delivered records in a checkpoint store (the
// one the blob input plugin reads its cursors from): one conditional update
// per blob per Ack call, however many records of that blob were delivered.
type CheckpointAcker struct {
	Store checkpoint.Store
}

// Ack records every range of recs as accepted. Ranges are idempotent, so a
// record acknowledged twice is harmless. Records without a source are ignored.
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
		_, err := checkpoint.Update(ctx, a.Store, key, func(c *checkpoint.Cursor) error {
			changed := false
			for _, r := range rs {
				changed = c.Ack(r.Gen, r.Off, r.End) || changed
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
