package fbpack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ugorji/go/codec"
)

// decode reads one [ts, record] entry back with an independent msgpack
// decoder and returns the time and the record as JSON-comparable values.
func decode(t *testing.T, b []byte) (codec.MsgpackSpecRpcMultiArgs, map[string]any) {
	t.Helper()
	var h codec.MsgpackHandle
	h.RawToString = true
	h.MapType = reflect.TypeOf(map[string]any(nil))
	var entry []any
	if err := codec.NewDecoderBytes(b, &h).Decode(&entry); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(entry) != 2 {
		t.Fatalf("entry has %d elements, want 2", len(entry))
	}
	rec, ok := entry[1].(map[string]any)
	if !ok {
		t.Fatalf("record is %T", entry[1])
	}
	return nil, rec
}

// normalise turns msgpack-decoded numbers into float64 as encoding/json does.
func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
		return x
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case int8, int16, int32, uint8, uint16, uint32:
		return reflect.ValueOf(x).Convert(reflect.TypeOf(float64(0))).Interface()
	case float32:
		return float64(x)
	}
	return v
}

func TestAppendEntryRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		json string
	}{
		{"empty", `{}`},
		{"scalars", `{"a":1,"b":-5,"c":-40,"d":70000,"e":-3000000000,"f":1.5,"g":true,"h":false,"i":null,"j":"x"}`},
		{"nested", `{"a":{"b":[1,[2,3],{"c":"d"}],"e":[]},"f":{}}`},
		{"escapes", `{"k\"ey":"line\nbreak \u00e9 \ud83d\ude00"}`},
		{"long string", `{"s":"` + string(make([]byte, 0)) + `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`},
		{"big uint", `{"u":18446744073709551615}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := AppendEntry(nil, 1700000000123456789, []byte(c.json), Field{Key: "_src", Str: "blob"}, Field{Key: "_off", Int: 12, IsInt: true})
			if err != nil {
				t.Fatal(err)
			}
			_, rec := decode(t, b)
			var want map[string]any
			if err := json.Unmarshal([]byte(c.json), &want); err != nil {
				t.Fatal(err)
			}
			want["_src"] = "blob"
			want["_off"] = float64(12)
			if got := normalise(rec); !reflect.DeepEqual(got, any(want)) {
				t.Errorf("got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestAppendTime(t *testing.T) {
	b := AppendTime(nil, 1700000000123456789)
	want := []byte{0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x07, 0x5b, 0xcd, 0x15}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("got % x, want % x", b, want)
	}
}

func TestAppendEntryRejectsBadInput(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{`, `{"a"`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, `{"a":tru}`, `{"a":"\x"}`, `{"a":[1,2}`} {
		dst := []byte("keep")
		out, err := AppendEntry(dst, 0, []byte(in))
		if err == nil {
			t.Errorf("%q: no error", in)
		}
		if string(out) != "keep" {
			t.Errorf("%q: dst not restored: %q", in, out)
		}
	}
}

func TestSampleRecords(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "samples", "elastic-vnet-v4-single-record.ndjson")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := AppendEntry(nil, 0, data[:len(data)-1])
	if err != nil {
		t.Fatal(err)
	}
	_, rec := decode(t, b)
	var want map[string]any
	json.Unmarshal(data, &want)
	if got := normalise(rec); !reflect.DeepEqual(got, any(want)) {
		t.Errorf("sample record differs after round trip")
	}
}

func FuzzAppendEntry(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c"}],"d":1.5e3}`))
	f.Add([]byte(`{"records":[{"x":null}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := AppendEntry(nil, 0, in)
		if err != nil {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		var h codec.MsgpackHandle
		h.MapValueReset = true // duplicate keys must not decode into the old value
		var v any
		if err := codec.NewDecoderBytes(out, &h).Decode(&v); err != nil {
			t.Fatalf("output is not msgpack: %v", err)
		}
	})
}

func TestIntegerBounds(t *testing.T) {
	for _, in := range []string{`{"n":9223372036854775807}`, `{"n":-9223372036854775808}`, `{"n":9223372036854775808}`, `{"n":-9223372036854775809}`, `{"n":0}`, `{"n":-0}`} {
		b, err := AppendEntry(nil, 0, []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var h codec.MsgpackHandle
		var entry []any
		if err := codec.NewDecoderBytes(b, &h).Decode(&entry); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var want map[string]json.Number
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		d.Decode(&want)
		got := fmt.Sprint(entry[1].(map[any]any)["n"])
		if w := want["n"].String(); got != w && !(w == "-0" && got == "0") && !strings.Contains(w, "e") {
			// Integers beyond int64 come back as float: compare as float.
			if wf, _ := want["n"].Float64(); fmt.Sprint(wf) != got && fmt.Sprint(uint64(wf)) != got {
				t.Errorf("%s: got %s", in, got)
			}
		}
	}
}

func BenchmarkAppendEntryNumbers(b *testing.B) {
	in := []byte(`{"SrcPort":55535,"DestPort":443,"PacketsSrcToDest":4,"BytesSrcToDest":4628,"PacketsDestToSrc":3,"BytesDestToSrc":510,"FlowLogVersion":4}`)
	var dst []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if dst, err = AppendEntry(dst[:0], 0, in); err != nil {
			b.Fatal(err)
		}
	}
}
