package flowparse_test

import (
	"testing"
	"unicode/utf8"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// TestEncodeStrings checks that rows are valid UTF-8 JSON whatever bytes the
// input strings hold (RFC 8259 requires UTF-8; Log Analytics rejects a whole
// batch otherwise): invalid sequences become U+FFFD, everything else is kept.
func TestEncodeStrings(t *testing.T) {
	cases := []struct {
		name, rule, want string
	}{
		{"ascii", "UserRule_allow-https", "UserRule_allow-https"},
		{"multi-byte", "café-日本-😀", "café-日本-😀"},
		{"escaped controls", `a\tb\u0001c\"d\\e`, "a\tb\x01c\"d\\e"},
		{"invalid byte", "rule\xff", "rule\uFFFD"},
		{"truncated sequence", "caf\xc3", "caf\uFFFD"},
		{"invalid then valid", "\xc3(é", "\uFFFD(é"},
		{"surrogate half from \\u escape", `x\ud800y`, "x\uFFFDy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := nsgRecord(testNSG, "000D3AF87856", tc.rule, "1795683600,10.0.0.4,203.0.113.1,50001,443,T,O,A,E,3,180,2,120")
			for _, s := range flowparse.Schemas {
				r := run([]byte(rec), s, viaRecord)
				if len(r.rows) != 1 {
					t.Fatalf("%d rows, skips %+v", len(r.rows), r.skips)
				}
				if !utf8.Valid(r.rows[0]) {
					t.Errorf("schema %s: row is not valid UTF-8: %q", s.Name, r.rows[0])
				}
				col := "Rule"
				if s == flowparse.AsimSchema {
					col = "NetworkRuleName"
				}
				if got := decodeRows(t, r.rows)[0][col]; got != tc.want {
					t.Errorf("schema %s: Rule %q, want %q", s.Name, got, tc.want)
				}
			}
		})
	}
}
