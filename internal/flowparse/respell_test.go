package flowparse_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// spelling controls how writeJSON spells a decoded document.
type spelling struct {
	indent    string     // "" for compact
	newline   string     // line break when indenting
	order     *rand.Rand // nil: sorted keys; else a random key order
	escapeAll bool       // every string character as \uXXXX
	unknown   bool       // add unknown keys, with decoy flow-log shapes, to every object below the top
}

// decoy is an unknown value shaped like flow-log data: the parser must skip it.
const decoy = `{"flows":[{"rule":"decoy","flowTuples":["1,2,3"]}],"properties":{"flows":[]},` +
	`"records":[{"a":1}],"s":"}]{\"x\\","n":-1.5e3,"t":true,"f":false,"z":null,"e":{},"a":[]}`

// respell writes the JSON document in data again under spelling sp. Every
// value keeps its meaning; only the text changes.
func respell(t testing.TB, data []byte, sp spelling) []byte {
	t.Helper()
	var buf bytes.Buffer
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	for {
		var v any
		if err := d.Decode(&v); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("respell: decode: %v", err)
		}
		writeJSON(&buf, v, sp, 0)
		buf.WriteString("\n")
	}
	return buf.Bytes()
}

func writeJSON(b *bytes.Buffer, v any, sp spelling, depth int) {
	nl := func(d int) {
		if sp.indent != "" {
			b.WriteString(sp.newline)
			b.WriteString(strings.Repeat(sp.indent, d))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x)+1)
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if sp.unknown && depth > 0 {
			keys = append(keys, "\x00unknown")
		}
		if sp.order != nil {
			sp.order.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			if k == "\x00unknown" {
				writeString(b, fmt.Sprintf("x-unknown-%d", depth), sp)
				b.WriteByte(':')
				b.WriteString(decoy)
				continue
			}
			writeString(b, k, sp)
			b.WriteByte(':')
			if sp.indent != "" {
				b.WriteByte(' ')
			}
			writeJSON(b, x[k], sp, depth+1)
		}
		nl(depth)
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			writeJSON(b, e, sp, depth+1)
		}
		if len(x) > 0 {
			nl(depth)
		}
		b.WriteByte(']')
	case string:
		writeString(b, x, sp)
	case json.Number:
		b.WriteString(string(x))
	case bool, nil:
		out, _ := json.Marshal(x)
		b.Write(out)
	default:
		panic(fmt.Sprintf("writeJSON: unexpected %T", v))
	}
}

func writeString(b *bytes.Buffer, s string, sp spelling) {
	if !sp.escapeAll {
		out, _ := json.Marshal(s) // escapes <, > and & as \u003c etc.
		b.Write(out)
		return
	}
	b.WriteByte('"')
	for _, r := range s {
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(b, `\u%04X`, u)
		}
	}
	b.WriteByte('"')
}

// TestRespelledInputs checks that every spelling of the same JSON gives the
// same rows as the original: key order, unknown keys, escapes, BOM, pretty
// or compact, CRLF. None of them may cost a skip.
func TestRespelledInputs(t *testing.T) {
	variants := []struct {
		name string
		make func(t testing.TB, data []byte) []byte
	}{
		{"compact sorted keys", func(t testing.TB, d []byte) []byte { return respell(t, d, spelling{}) }},
		{"pretty", func(t testing.TB, d []byte) []byte {
			return respell(t, d, spelling{indent: "  ", newline: "\n"})
		}},
		{"pretty CRLF tabs", func(t testing.TB, d []byte) []byte {
			return respell(t, d, spelling{indent: "\t", newline: "\r\n"})
		}},
		{"shuffled keys seed 1", func(t testing.TB, d []byte) []byte {
			return respell(t, d, spelling{order: rand.New(rand.NewPCG(1, 1))})
		}},
		{"shuffled keys seed 2", func(t testing.TB, d []byte) []byte {
			return respell(t, d, spelling{order: rand.New(rand.NewPCG(2, 2))})
		}},
		{"unknown keys everywhere", func(t testing.TB, d []byte) []byte {
			return respell(t, d, spelling{unknown: true, order: rand.New(rand.NewPCG(3, 3))})
		}},
		{"every string escaped", func(t testing.TB, d []byte) []byte { return respell(t, d, spelling{escapeAll: true}) }},
		{"BOM", func(_ testing.TB, d []byte) []byte { return append([]byte(bomBytes), d...) }},
		{"BOM and leading blank lines", func(_ testing.TB, d []byte) []byte {
			return append([]byte(bomBytes+"\r\n\n  "), d...)
		}},
	}
	for _, sc := range sampleCases {
		data := readSample(t, sc.file)
		want := run(data, nil, sc.parse)
		wantSeed := run(data, flowparse.SeedSchema, sc.parse)
		for _, v := range variants {
			t.Run(sc.file+"/"+v.name, func(t *testing.T) {
				in := v.make(t, data)
				if bytes.Equal(in, data) {
					t.Fatalf("variant did not change the input")
				}
				got := run(in, nil, viaBlob)
				if got.err != nil || len(got.skips) != 0 {
					t.Fatalf("error %v, skips %+v", got.err, got.skips)
				}
				equalRows(t, got.rows, want.rows)
				if got.stats != want.stats {
					t.Errorf("stats %+v, want %+v", got.stats, want.stats)
				}
				equalRows(t, run(in, flowparse.SeedSchema, viaBlob).rows, wantSeed.rows)
			})
		}
	}
}
