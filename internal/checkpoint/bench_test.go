package checkpoint

import (
	"context"
	"testing"
)

// BenchmarkDirAck: one acknowledgment written to a Dir (lock, load, atomic
// write with two fsyncs). The delivery side should batch (Batch) so this
// happens once per range per flush.
func BenchmarkDirAck(b *testing.B) {
	s, err := NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	var off int64
	for b.Loop() {
		if err := Ack(ctx, s, Range{Key: "acct/container/blob", Gen: 0, Off: off, End: off+100}); err != nil {
			b.Fatal(err)
		}
		off += 100
	}
}

// BenchmarkCursorAck: the in-memory range bookkeeping, out of order.
func BenchmarkCursorAck(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var c Cursor
		for i := int64(15); i >= 0; i-- {
			c.Ack(0, i*10, i*10+10)
		}
		if c.Committed != 160 {
			b.Fatal(c.Committed)
		}
	}
}
