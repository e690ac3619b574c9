package fbout

import (
	"context"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
)

// CheckpointAcker acknowledges delivered records in a checkpoint store (the
// one the blob input plugin reads its cursors from), through
// checkpoint.AckRanges: one conditional update per blob per Ack call,
// however many records of that blob were delivered.
type CheckpointAcker struct {
	Store checkpoint.Store
}

// Ack records every range as accepted. Ranges are idempotent, so a record
// acknowledged twice is harmless. Ranges without a key are ignored.
func (a CheckpointAcker) Ack(ctx context.Context, ranges []checkpoint.Range) error {
	return checkpoint.AckRanges(ctx, a.Store, ranges)
}
