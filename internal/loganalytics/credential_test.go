package loganalytics

import (
	"testing"
	"time"
)

// TestRefreshTime: a token is replaced two minutes before it expires, or
// halfway through a life shorter than four minutes (never on every call).
func TestRefreshTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		life, after time.Duration
	}{
		{time.Hour, 58 * time.Minute},
		{90 * time.Minute, 88 * time.Minute},
		{4 * time.Minute, 2 * time.Minute},
		{3 * time.Minute, 90 * time.Second},
		{59 * time.Second, 29500 * time.Millisecond},
		{0, 0},
	}
	for _, c := range cases {
		if got := refreshTime(now, now.Add(c.life)).Sub(now); got != c.after {
			t.Errorf("token living %v: refreshed after %v, want %v", c.life, got, c.after)
		}
	}
}
