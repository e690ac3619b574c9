package checkpoint

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Token identifies an acknowledgeable range: the blob key, the cursor
// generation and the byte range. Its string form "gen:start:end:key" can
// travel with records (e.g. as a Fluent Bit record field) to the delivery
// side, which parses it and calls Ack.
type Token struct {
	Key        string
	Gen        int64
	Start, End int64
}

// String encodes the token as gen:start:end:key.
func (t Token) String() string {
	return strconv.FormatInt(t.Gen, 10) + ":" + strconv.FormatInt(t.Start, 10) + ":" +
		strconv.FormatInt(t.End, 10) + ":" + t.Key
}

// ParseToken decodes Token.String's form.
func ParseToken(s string) (Token, error) {
	parts := strings.SplitN(s, ":", 4)
	if len(parts) != 4 || parts[3] == "" {
		return Token{}, fmt.Errorf("checkpoint: token %q: want gen:start:end:key", s)
	}
	var t Token
	var err [3]error
	t.Gen, err[0] = strconv.ParseInt(parts[0], 10, 64)
	t.Start, err[1] = strconv.ParseInt(parts[1], 10, 64)
	t.End, err[2] = strconv.ParseInt(parts[2], 10, 64)
	for _, e := range err {
		if e != nil {
			return Token{}, fmt.Errorf("checkpoint: token %q: %w", s, e)
		}
	}
	if t.Start < 0 || t.End < t.Start {
		return Token{}, fmt.Errorf("checkpoint: token %q: bad range", s)
	}
	t.Key = parts[3]
	return t, nil
}

// AckToken acknowledges the token's range in s.
func AckToken(ctx context.Context, s Store, t Token) error {
	return Ack(ctx, s, t.Key, t.Gen, t.Start, t.End)
}
