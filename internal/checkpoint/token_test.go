package checkpoint

import (
	"context"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		tok  Token
	}{
		{"whole range", Token{Key: "acct/c/resourceId=/SUBSCRIPTIONS/S/y=2026/m=11/PT1H.json", Gen: 2, Start: 12, End: 4096}},
		{"with total", Token{Key: "a/b/c:d", Gen: 0, Start: 0, End: 1, Total: 77}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseToken(tt.tok.String())
			if err != nil || got != tt.tok {
				t.Fatalf("ParseToken(%q) = %+v, %v", tt.tok.String(), got, err)
			}
		})
	}
	for _, bad := range []string{"", "1:2:3:key", "x:0:1:0:k", "0:5:1:0:k", "0:0:1:-1:k", "0:0:1:0:"} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

// TestBatch: events of two chunks delivered over two flushes; a range is
// committed only when all its events were acknowledged.
func TestBatch(t *testing.T) {
	s, _ := NewDir(t.TempDir())
	ctx := context.Background()
	a := Token{Key: "k", Start: 0, End: 100, Total: 3}.String()
	b := Token{Key: "k", Start: 100, End: 180, Total: 2}.String()
	var flush1 Batch
	for _, tok := range []string{a, a, b} {
		if err := flush1.Add(tok); err != nil {
			t.Fatal(err)
		}
	}
	if flush1.Len() != 2 {
		t.Fatalf("Len = %d", flush1.Len())
	}
	if err := flush1.Commit(ctx, s); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Load(ctx, "k")
	if c.Committed != 0 || len(c.Partial) != 2 {
		t.Fatalf("after flush 1: %+v", c)
	}
	var flush2 Batch
	_ = flush2.Add(b)
	_ = flush2.Add(a)
	if err := flush2.Commit(ctx, s); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Load(ctx, "k")
	if c.Committed != 180 || c.Partial != nil || c.Acked != nil {
		t.Fatalf("after flush 2: %+v", c)
	}
	if err := flush2.Add("garbage"); err == nil {
		t.Fatal("bad token accepted")
	}
}
