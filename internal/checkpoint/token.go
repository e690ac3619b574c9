package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Token identifies an acknowledgeable range: the blob key, the cursor
// generation, the byte range and, optionally, how many events the range
// produced (Total). Its string form "gen:start:end:total:key" can travel with
// records (e.g. as a Fluent Bit record field) to the delivery side, which
// counts them in a Batch and commits the batch after a successful flush.
type Token struct {
	Key        string
	Gen        int64
	Start, End int64
	// Total is the number of events (records) produced from the range; 0
	// means the range is acknowledged as a whole by one acknowledgment.
	Total int64
}

// String encodes the token as gen:start:end:total:key.
func (t Token) String() string {
	b := make([]byte, 0, 48+len(t.Key))
	b = strconv.AppendInt(b, t.Gen, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, t.Start, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, t.End, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, t.Total, 10)
	b = append(b, ':')
	return string(append(b, t.Key...))
}

// ParseToken decodes Token.String's form.
func ParseToken(s string) (Token, error) {
	parts := strings.SplitN(s, ":", 5)
	if len(parts) != 5 || parts[4] == "" {
		return Token{}, fmt.Errorf("checkpoint: token %q: want gen:start:end:total:key", s)
	}
	var t Token
	var errs [4]error
	t.Gen, errs[0] = strconv.ParseInt(parts[0], 10, 64)
	t.Start, errs[1] = strconv.ParseInt(parts[1], 10, 64)
	t.End, errs[2] = strconv.ParseInt(parts[2], 10, 64)
	t.Total, errs[3] = strconv.ParseInt(parts[3], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return Token{}, fmt.Errorf("checkpoint: token %q: %w", s, err)
	}
	if t.Start < 0 || t.End < t.Start || t.Total < 0 {
		return Token{}, fmt.Errorf("checkpoint: token %q: bad range or total", s)
	}
	t.Key = parts[4]
	return t, nil
}

// AckToken acknowledges n events of the token's range in s (the whole
// range when Total is 0 or n reaches Total).
func AckToken(ctx context.Context, s Store, t Token, n int64) error {
	if t.Total == 0 {
		return Ack(ctx, s, t.Key, t.Gen, t.Start, t.End)
	}
	return AckPart(ctx, s, t.Key, t.Gen, t.Start, t.End, n, t.Total)
}

// Batch counts the events of one delivery (e.g. one Fluent Bit flush) per
// token, so that the store is written once per range, not once per event.
// Call Add for each delivered event's token string, then Commit once the
// destination accepted the whole delivery; drop the Batch if it failed.
// A Batch is not safe for concurrent use.
type Batch struct {
	n map[Token]int64
}

// Add counts one event with the token string s.
func (b *Batch) Add(s string) error {
	t, err := ParseToken(s)
	if err != nil {
		return err
	}
	if b.n == nil {
		b.n = map[Token]int64{}
	}
	b.n[t]++
	return nil
}

// Len returns the number of distinct ranges in the batch.
func (b *Batch) Len() int { return len(b.n) }

// Commit acknowledges every counted range in s and empties the batch. It
// goes on after an error and returns the first one.
func (b *Batch) Commit(ctx context.Context, s Store) error {
	var first error
	for t, n := range b.n {
		if err := AckToken(ctx, s, t, n); err != nil && first == nil {
			first = err
		}
	}
	b.n = nil
	return first
}
