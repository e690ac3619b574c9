package emulator

import (
	"bytes"
	"testing"
)

// FuzzEncodeRows feeds arbitrary bodies to both APIs' row checks: they must
// answer (rows or a 400-class error), never panic, and every accepted body
// must give lines that parse back.
func FuzzEncodeRows(f *testing.F) {
	for _, seed := range []string{
		`[{"TimeGenerated":"2026-11-26T01:00:00Z","EventId":"a","SrcPort":1}]`,
		`{"A":"x","B":1.5e3,"C":true,"D":null}`,
		`[{"Ev\u0065ntId":"x","Deep":{"a":[1,{"b":null}]}}]`,
		`[{"A":"x",}]`, `[`, `[{"A":"\"}]`, `[] x`, ``, `[{"":1}]`,
	} {
		f.Add([]byte(seed))
	}
	s, err := New(Config{BearerToken: "t", DiscardRows: true})
	if err != nil {
		f.Fatal(err)
	}
	si := s.dcrs[DefaultDCRImmutableID][DefaultStream]
	li := rowRules{prefix: []byte(si.prefix), declared: si.declared, fillTime: true,
		now: []byte(`"2026-11-26T00:00:00Z"`), maxField: 16, errCode: "InvalidPayload"}
	dc := rowRules{prefix: []byte(`{"_table":"T_CL"`), dataCollector: true, maxField: 16, errCode: "InvalidDataFormat"}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, r := range []*rowRules{&li, &dc} {
			out, n, aerr := encodeRows(body, r, nil)
			if aerr != nil {
				if aerr.status != 400 {
					t.Fatalf("status %d for a bad body", aerr.status)
				}
				continue
			}
			rows, err := ReadRows(bytesReader(out))
			if err != nil || len(rows) != n.rows {
				t.Fatalf("accepted %q: %d lines parse back as %d rows, %v\n%s", body, n.rows, len(rows), err, out)
			}
		}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
