package checkpoint

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
)

// testStore runs the behaviour every Store must have.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	key := "acct/insights-logs-flowlogflowevent/flowLogResourceID=/X/y=2026/m=11/d=26/h=09/m=00/macAddress=00/PT1H.json"

	t.Run("missing", func(t *testing.T) {
		if _, err := s.Load(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Load of a missing key: %v, want ErrNotFound", err)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		c := Cursor{Committed: 1234, ETag: `"0x1"`, Size: 2000, Head: []byte(`{"records":[{"time"`)}
		c.Ack(0, 2000, 2100)
		if err := s.Save(ctx, key, &c); err != nil {
			t.Fatal(err)
		}
		if c.Version == "" {
			t.Fatal("Save did not set Version")
		}
		got, err := s.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Key != key || got.Committed != 1234 || got.Size != 2000 || string(got.Head) != string(c.Head) ||
			len(got.Acked) != 1 || got.Version != c.Version {
			t.Fatalf("loaded %+v, saved %+v", got, c)
		}
	})
	t.Run("conflict detected", func(t *testing.T) {
		a, err := s.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		b := a
		a.Committed = 1500
		if err := s.Save(ctx, key, &a); err != nil {
			t.Fatal(err)
		}
		b.Committed = 1600
		if err := s.Save(ctx, key, &b); !errors.Is(err, ErrConflict) {
			t.Fatalf("second Save from the same version: %v, want ErrConflict", err)
		}
		got, _ := s.Load(ctx, key)
		if got.Committed != 1500 {
			t.Fatalf("conflicting save overwrote: Committed = %d", got.Committed)
		}
		fresh := Cursor{Committed: 1}
		if err := s.Save(ctx, key, &fresh); !errors.Is(err, ErrConflict) {
			t.Fatalf("creating over an existing cursor: %v, want ErrConflict", err)
		}
	})
	t.Run("concurrent acks", func(t *testing.T) {
		k := key + ".concurrent"
		var wg sync.WaitGroup
		const n = 16
		errs := make(chan error, n)
		for i := n - 1; i >= 0; i-- {
			wg.Add(1)
			go func(i int64) {
				defer wg.Done()
				errs <- Ack(ctx, s, Range{Key: k, Gen: 0, Off: i*10, End: i*10+10})
			}(int64(i))
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Load(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if got.Committed != n*10 || got.Acked != nil {
			t.Fatalf("after %d concurrent acks: Committed=%d Acked=%v", n, got.Committed, got.Acked)
		}
	})
	t.Run("list and delete", func(t *testing.T) {
		var keys []string
		if err := s.List(ctx, "acct/", func(c Cursor) error { keys = append(keys, c.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		sort.Strings(keys)
		if len(keys) != 2 || keys[0] != key {
			t.Fatalf("List = %q", keys)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
		if _, err := s.Load(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Load after Delete: %v", err)
		}
	})
}

func TestDirStore(t *testing.T) {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, d)
}

// TestDirTwoOpeners: two stores on one directory (as the input and output
// plugins of one Fluent Bit process) do not lose each other's acks.
func TestDirTwoOpeners(t *testing.T) {
	dir := t.TempDir()
	a, _ := NewDir(dir)
	b, _ := NewDir(dir)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		s := Store(a)
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func(s Store, i int64) {
			defer wg.Done()
			if err := Ack(ctx, s, Range{Key: "k", Gen: 0, Off: i*5, End: i*5+5}); err != nil {
				t.Error(err)
			}
		}(s, int64(i))
	}
	wg.Wait()
	c, err := a.Load(ctx, "k")
	if err != nil || c.Committed != 100 {
		t.Fatalf("Committed = %d (%v), want 100", c.Committed, err)
	}
}
