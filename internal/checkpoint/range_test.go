package checkpoint

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func rng(key string, gen, off, end int64) Range { return Range{Key: key, Gen: gen, Off: off, End: end} }

func TestCoalesce(t *testing.T) {
	in := []Range{
		rng("b", 1, 10, 20), rng("a", 1, 5, 9), rng("a", 1, 0, 5), rng("a", 2, 9, 12),
		rng("a", 1, 9, 12), rng("a", 1, 20, 30), rng("b", 1, 20, 25),
	}
	got := Coalesce(in)
	want := []Range{rng("a", 1, 0, 12), rng("a", 1, 20, 30), rng("a", 2, 9, 12), rng("b", 1, 10, 25)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAckRanges(t *testing.T) {
	ctx := context.Background()
	store, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		ranges []Range
		want   map[string]int64 // committed offset per key afterwards
	}{
		{"two blobs, in order", []Range{rng("b1", 0, 0, 12), rng("b1", 0, 12, 100), rng("b2", 0, 0, 7)}, map[string]int64{"b1": 100, "b2": 7}},
		{"out of order waits for the gap", []Range{rng("b3", 0, 50, 90)}, map[string]int64{"b3": 0}},
		{"gap filled", []Range{rng("b3", 0, 0, 50)}, map[string]int64{"b3": 90}},
		{"twice is harmless", []Range{rng("b1", 0, 0, 12)}, map[string]int64{"b1": 100}},
		{"other generation ignored", []Range{rng("b2", 5, 7, 200)}, map[string]int64{"b2": 7}},
		{"no key and empty ranges ignored", []Range{{Off: 0, End: 10}, rng("b4", 0, 5, 5)}, map[string]int64{}},
	}
	for _, st := range steps {
		if err := AckRanges(ctx, store, st.ranges); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for key, want := range st.want {
			c, err := store.Load(ctx, key)
			if err != nil {
				t.Fatalf("%s: load %s: %v", st.name, key, err)
			}
			if c.Committed != want {
				t.Errorf("%s: %s committed %d, want %d", st.name, key, c.Committed, want)
			}
		}
	}
	if _, err := store.Load(ctx, "b4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an empty range created a cursor: %v", err)
	}
}

// failingStore refuses every save of one key.
type failingStore struct {
	Store
	bad string
}

func (s failingStore) Save(ctx context.Context, key string, c *Cursor) error {
	if key == s.bad {
		return errors.New("disk full")
	}
	return s.Store.Save(ctx, key, c)
}

func TestAckRangesTriesEveryBlob(t *testing.T) {
	ctx := context.Background()
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = AckRanges(ctx, failingStore{dir, "a"}, []Range{rng("a", 0, 0, 10), rng("b", 0, 0, 10)})
	if err == nil || !strings.Contains(err.Error(), "ack a") || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v should name blob a and the cause", err)
	}
	if c, err := dir.Load(ctx, "b"); err != nil || c.Committed != 10 {
		t.Fatalf("blob b after a failure on a: %+v, %v", c, err)
	}
}

func TestProvenanceFieldsShareThePrefix(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range ProvenanceFields {
		if !strings.HasPrefix(f, ProvenancePrefix) || len(f) == len(ProvenancePrefix) || seen[f] {
			t.Errorf("wire field %q: every name must be unique and start with %q", f, ProvenancePrefix)
		}
		seen[f] = true
	}
}
