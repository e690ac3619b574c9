package checkpoint

import (
	"context"
	"reflect"
	"testing"
)

func TestAck(t *testing.T) {
	type ack struct{ gen, s, e int64 }
	tests := []struct {
		name      string
		acks      []ack
		committed int64
		acked     []Span
	}{
		{"in order", []ack{{0, 0, 100}, {0, 100, 250}}, 250, nil},
		{"out of order", []ack{{0, 100, 250}, {0, 250, 300}}, 0, []Span{{Start: 100, End: 300}}},
		{"gap filled", []ack{{0, 100, 250}, {0, 300, 400}, {0, 0, 100}}, 250, []Span{{Start: 300, End: 400}}},
		{"all filled", []ack{{0, 300, 400}, {0, 100, 300}, {0, 0, 100}}, 400, nil},
		{"duplicate", []ack{{0, 0, 100}, {0, 0, 100}}, 100, nil},
		{"overlap", []ack{{0, 50, 150}, {0, 100, 200}}, 0, []Span{{Start: 50, End: 200}}},
		{"stale generation ignored", []ack{{1, 0, 100}}, 0, nil},
		{"empty range ignored", []ack{{0, 10, 10}}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Cursor
			for _, a := range tt.acks {
				c.Ack(a.gen, a.s, a.e)
			}
			if c.Committed != tt.committed {
				t.Errorf("Committed = %d, want %d", c.Committed, tt.committed)
			}
			if !reflect.DeepEqual(c.Acked, tt.acked) {
				t.Errorf("Acked = %v, want %v", c.Acked, tt.acked)
			}
		})
	}
}

func TestResetBumpsGeneration(t *testing.T) {
	c := Cursor{Committed: 500, Size: 502, Closed: true, Head: []byte("x")}
	c.Ack(0, 600, 700)
	c.Reset()
	if c.Gen != 1 || c.Committed != 0 || c.Acked != nil || c.Closed || c.Head != nil {
		t.Fatalf("after Reset: %+v", c)
	}
	if c.Ack(0, 0, 10) {
		t.Fatal("ack of the old generation was applied")
	}
	if !c.Ack(1, 0, 10) || c.Committed != 10 {
		t.Fatalf("ack of the new generation: %+v", c)
	}
}

func TestFullyAcked(t *testing.T) {
	c := Cursor{Committed: 98}
	if !c.FullyAcked(100) || c.FullyAcked(101) || c.FullyAcked(0) {
		t.Fatal("FullyAcked wrong")
	}
}

func TestMarkOwed(t *testing.T) {
	const size = 100
	tests := []struct {
		name string
		c    Cursor
		want bool
	}{
		{"closed and fully acked", Cursor{Closed: true, Size: size, Committed: size - 2}, true},
		{"open", Cursor{Size: size, Committed: size - 2}, false},
		{"not fully acked", Cursor{Closed: true, Size: size, Committed: size - 3}, false},
		{"already marked", Cursor{Closed: true, Size: size, Committed: size - 2, Done: true}, false},
		{"marker given up", Cursor{Closed: true, Size: size, Committed: size - 2, MarkFailed: true}, false},
		{"blob grew after close", Cursor{Closed: true, Size: size - 10, Committed: size - 12}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.MarkOwed(size); got != tt.want {
				t.Fatalf("MarkOwed = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMarkStateSurvivesStore: the marker state is persisted, and a reset
// (rewritten blob) clears it.
func TestMarkStateSurvivesStore(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "acct/c/blob"
	if _, err := Update(ctx, d, key, func(c *Cursor) error {
		c.Closed, c.Size, c.Committed, c.MarkFailed = true, 100, 98, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c, err := d.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !c.MarkFailed || c.MarkOwed(100) {
		t.Fatalf("loaded %+v: want MarkFailed kept", c)
	}
	c.Reset()
	if c.MarkFailed || c.Closed || c.Done {
		t.Fatalf("after Reset: %+v", c)
	}
}
