package fbpack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsgflow/nsgflow/internal/fbpack"
)

func TestAppendJSON(t *testing.T) {
	b := func(parts ...[]byte) []byte { return cat(parts...) }
	long := strings.Repeat("x", 300)
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{"nil", []byte{0xc0}, `null`, false},
		{"true", []byte{0xc3}, `true`, false},
		{"false", []byte{0xc2}, `false`, false},
		{"fixint", []byte{0x05}, `5`, false},
		{"negative fixint", []byte{0xff}, `-1`, false},
		{"int8", []byte{0xd0, 0x80}, `-128`, false},
		{"int16", []byte{0xd1, 0xff, 0x00}, `-256`, false},
		{"int32", []byte{0xd2, 0x00, 0x01, 0x00, 0x00}, `65536`, false},
		{"int64", fbpack.AppendInt(nil, -1<<40), `-1099511627776`, false},
		{"uint8", []byte{0xcc, 0xff}, `255`, false},
		{"uint16", []byte{0xcd, 0xff, 0xff}, `65535`, false},
		{"uint32", []byte{0xce, 0xff, 0xff, 0xff, 0xff}, `4294967295`, false},
		{"uint64", fbpack.AppendUint(nil, 1<<63), `9223372036854775808`, false},
		{"float64", fbpack.AppendFloat(nil, 1.5), `1.5`, false},
		{"float32", fbpack.AppendFloat32(nil, 0.1), `0.1`, false},
		{"NaN", []byte{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, `null`, false},
		{"str escapes", fbpack.AppendStr(nil, "a\"b\\c\nd\te\x01"), `"a\"b\\c\nd\te\u0001"`, false},
		{"str utf8", fbpack.AppendStr(nil, "héllo €"), `"héllo €"`, false},
		{"str invalid utf8", fbpack.AppendStr(nil, "a\xffb"), `"a\ufffdb"`, false},
		{"str8", fbpack.AppendStr(nil, long), `"` + long + `"`, false},
		{"bin", fbpack.AppendBin(nil, []byte("raw")), `"raw"`, false},
		{"fixext", []byte{0xd4, 0x01, 0x02}, `null`, false},
		{"ext8", []byte{0xc7, 0x02, 0x05, 0x01, 0x02}, `null`, false},
		{"empty map", []byte{0x80}, `{}`, false},
		{"empty array", []byte{0x90}, `[]`, false},
		{"nested", b(fbpack.AppendMapHeader(nil, 2), fbpack.AppendStr(nil, "a"), fbpack.AppendArrayHeader(nil, 3),
			[]byte{0x01, 0xc0}, fbpack.AppendMapHeader(nil, 1), fbpack.AppendStr(nil, "b"), []byte{0xc3},
			fbpack.AppendStr(nil, "c"), fbpack.AppendFloat(nil, -2.25)), `{"a":[1,null,{"b":true}],"c":-2.25}`, false},
		{"int key", b([]byte{0x81, 0x07}, fbpack.AppendStr(nil, "v")), `{"7":"v"}`, false},
		{"nil and bool keys", b([]byte{0x82, 0xc0, 0x01, 0xc3, 0x02}), `{"null":1,"true":2}`, false},
		{"map key", b([]byte{0x82, 0x81}, fbpack.AppendStr(nil, "k"), []byte{0x01, 0x02, 0x91, 0x01, 0x03}), `{"_key0":2,"_key1":3}`, false},
		{"float key", b([]byte{0x81}, fbpack.AppendFloat(nil, 1.5), []byte{0x02}), `{"1.5":2}`, false},
		{"array16", b([]byte{0xdc, 0x00, 0x02, 0x01, 0x02}), `[1,2]`, false},
		{"map16", b([]byte{0xde, 0x00, 0x01, 0xa1, 'k', 0x01}), `{"k":1}`, false},
		{"truncated str", []byte{0xa5, 'a', 'b'}, ``, true},
		{"truncated map", []byte{0x82, 0xa1, 'k', 0x01}, ``, true},
		{"truncated float", []byte{0xcb, 0x00}, ``, true},
		{"reserved byte", []byte{0xc1}, ``, true},
		{"empty", nil, ``, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("PREFIX")
			got, err := fbpack.AppendJSON(prefix, tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if string(got[:6]) != "PREFIX" {
				t.Fatalf("prefix clobbered: %q", got)
			}
			if tc.wantErr {
				if len(got) != 6 {
					t.Fatalf("on error the buffer must be cut back, got %q", got)
				}
				return
			}
			if string(got[6:]) != tc.want {
				t.Fatalf("got %s, want %s", got[6:], tc.want)
			}
			if !json.Valid(got[6:]) {
				t.Fatalf("invalid JSON %s", got[6:])
			}
		})
	}
}

func TestAppendJSONOmit(t *testing.T) {
	m := fbpack.AppendMapHeader(nil, 4)
	m = fbpack.AppendStr(m, "EventId")
	m = fbpack.AppendStr(m, "abc")
	m = fbpack.AppendStr(m, "_nsgflow_src")
	m = fbpack.AppendStr(m, "blob")
	m = fbpack.AppendStr(m, "SrcPort")
	m = fbpack.AppendInt(m, 443)
	m = fbpack.AppendStr(m, "_nsgflow_off")
	m = fbpack.AppendInt(m, 12)
	got, err := fbpack.AppendJSONOmit(nil, m, "_nsgflow_")
	if err != nil || string(got) != `{"EventId":"abc","SrcPort":443}` {
		t.Fatalf("got %s, %v", got, err)
	}
	got, err = fbpack.AppendJSONRename(nil, m, "_nsgflow_", "EventId", "Id")
	if err != nil || string(got) != `{"Id":"abc","SrcPort":443}` {
		t.Fatalf("rename: got %s, %v", got, err)
	}
	if _, err := fbpack.AppendJSONOmit(nil, []byte{0x90}, "_"); err == nil {
		t.Fatal("AppendJSONOmit accepted an array")
	}
}

// TestAppendJSONNestedKeys: maps used as keys of maps used as keys... must
// not make the output grow with each level (it once did, exponentially).
func TestAppendJSONNestedKeys(t *testing.T) {
	var in []byte
	for i := 0; i < 200; i++ {
		in = append(in, 0x81) // a map of one member whose key is the next map
	}
	in = append(in, 0xc0) // innermost key
	for i := 0; i < 200; i++ {
		in = append(in, 0x01) // the values, innermost first
	}
	out, err := fbpack.AppendJSON(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 100 || !json.Valid(out) {
		t.Fatalf("%d bytes: %.200s", len(out), out)
	}
}

func TestAppendJSONDeepNesting(t *testing.T) {
	deep := make([]byte, 0, 1000)
	for i := 0; i < 1000; i++ {
		deep = append(deep, 0x91)
	}
	deep = append(deep, 0x01)
	if _, err := fbpack.AppendJSON(nil, deep); err == nil {
		t.Fatal("1000 nested arrays accepted")
	}
	if _, err := fbpack.Skip(deep, 0); err == nil {
		t.Fatal("Skip accepted 1000 nested arrays")
	}
}
