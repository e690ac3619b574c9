package fbpack_test

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/nsgflow/nsgflow/internal/fbpack"
)

type gotEntry struct {
	sec, nsec int64
	meta      bool
	record    string // JSON of the record
}

func readAll(chunk []byte) ([]gotEntry, int, error) {
	r := fbpack.NewReader(chunk)
	var out []gotEntry
	var e fbpack.Entry
	for {
		err := r.Next(&e)
		if err == io.EOF {
			return out, r.Groups(), nil
		}
		if err != nil {
			return out, r.Groups(), err
		}
		js, err := fbpack.AppendJSON(nil, e.Record)
		if err != nil {
			return out, r.Groups(), err
		}
		out = append(out, gotEntry{e.Sec, e.Nsec, e.Meta != nil, string(js)})
	}
}

func rec(k, v string) []byte {
	return fbpack.AppendStr(fbpack.AppendStr(fbpack.AppendMapHeader(nil, 1), k), v)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// v1Entry is the old [ts, record] layout with timestamp bytes ts.
func v1Entry(ts []byte, r []byte) []byte { return cat([]byte{0x92}, ts, r) }

// v2Entry is [[ts, {}], record].
func v2Entry(ts []byte, r []byte) []byte { return cat([]byte{0x92, 0x92}, ts, []byte{0x80}, r) }

func TestReader(t *testing.T) {
	et := fbpack.AppendEventTime(nil, 1700000000, 250)
	groupStart := fbpack.AppendEventTime(nil, -1, 0)
	groupEnd := fbpack.AppendEventTime(nil, -2, 0)
	tsExt1_8 := []byte{0xd7, 0xff, 0, 0, 0, 4 << 2, 0x65, 0x53, 0xf1, 0x00} // msgpack timestamp 64: nsec=4, sec=0x6553f100
	tests := []struct {
		name    string
		chunk   []byte
		want    []gotEntry
		groups  int
		wantErr bool
	}{
		{"empty", nil, nil, 0, false},
		{"v2 event time", v2Entry(et, rec("a", "b")), []gotEntry{{1700000000, 250, true, `{"a":"b"}`}}, 0, false},
		{"v1 event time", v1Entry(et, rec("a", "b")), []gotEntry{{1700000000, 250, false, `{"a":"b"}`}}, 0, false},
		{"v1 int time", v1Entry(fbpack.AppendInt(nil, 1700000001), rec("x", "y")), []gotEntry{{1700000001, 0, false, `{"x":"y"}`}}, 0, false},
		{"v2 float time", v2Entry(fbpack.AppendFloat(nil, 1700000002.5), rec("x", "y")), []gotEntry{{1700000002, 500000000, true, `{"x":"y"}`}}, 0, false},
		{"v1 uint time", v1Entry(fbpack.AppendUint(nil, 7), rec("x", "y")), []gotEntry{{7, 0, false, `{"x":"y"}`}}, 0, false},
		{"msgpack timestamp ext", v1Entry(tsExt1_8, rec("x", "y")), []gotEntry{{0x6553f100, 4, false, `{"x":"y"}`}}, 0, false},
		{"groups skipped", cat(
			v2Entry(groupStart, rec("resource", "r")),
			v2Entry(et, rec("a", "1")),
			v2Entry(et, rec("a", "2")),
			v2Entry(groupEnd, []byte{0x80}),
			v2Entry(fbpack.AppendInt(nil, -1), []byte{0x80}),
			v2Entry(et, rec("a", "3")),
		), []gotEntry{
			{1700000000, 250, true, `{"a":"1"}`},
			{1700000000, 250, true, `{"a":"2"}`},
			{1700000000, 250, true, `{"a":"3"}`},
		}, 3, false},
		{"mixed formats", cat(v1Entry(et, rec("a", "1")), v2Entry(et, rec("a", "2"))), []gotEntry{
			{1700000000, 250, false, `{"a":"1"}`}, {1700000000, 250, true, `{"a":"2"}`},
		}, 0, false},
		{"header array with ts only", cat([]byte{0x92, 0x91}, et, rec("a", "b")), []gotEntry{{1700000000, 250, false, `{"a":"b"}`}}, 0, false},
		{"extra entry element ignored", cat([]byte{0x93}, et, rec("a", "b"), []byte{0xc0}), []gotEntry{{1700000000, 250, false, `{"a":"b"}`}}, 0, false},
		{"truncated record", v2Entry(et, rec("a", "b"))[:10], nil, 0, true},
		{"good then truncated", cat(v2Entry(et, rec("a", "1")), v2Entry(et, rec("a", "2"))[:5]), []gotEntry{{1700000000, 250, true, `{"a":"1"}`}}, 0, true},
		{"not an array", []byte{0xa1, 'x'}, nil, 0, true},
		{"array of one", []byte{0x91, 0x01}, nil, 0, true},
		{"empty header array", cat([]byte{0x92, 0x90}, rec("a", "b")), nil, 0, true},
		{"invalid byte", []byte{0xc1}, nil, 0, true},
		{"huge array count", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, nil, 0, true},
		{"huge str length", cat([]byte{0x92}, et, []byte{0xdb, 0x7f, 0xff, 0xff, 0xff}), nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, groups, err := readAll(tc.chunk)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, fbpack.ErrTruncated) && err.Error() == "" {
				t.Fatalf("error has no text")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("entries\n got %+v\nwant %+v", got, tc.want)
			}
			if groups != tc.groups {
				t.Fatalf("groups = %d, want %d", groups, tc.groups)
			}
		})
	}
}

func TestReaderSampleRoundTrip(t *testing.T) {
	for _, name := range []string{"sumologic-blob_fixtures.json", "sumologic-blob_fixtures_vnetflowlogs.json", "msdocs-nsg-v1-fabrikam-2017.json"} {
		t.Run(name, func(t *testing.T) {
			recs := sampleRecords(t, name)
			got, _, err := readAll(chunkOf(t, recs))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("got %d entries, want %d", len(got), len(recs))
			}
			for i := range recs {
				want, _ := json.Marshal(recs[i])
				var a, b any
				if err := json.Unmarshal([]byte(got[i].record), &a); err != nil {
					t.Fatalf("record %d: invalid JSON: %v", i, err)
				}
				_ = json.Unmarshal(want, &b)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("record %d differs:\n got %s\nwant %s", i, got[i].record, want)
				}
				if got[i].sec != int64(1700000000+i) || got[i].nsec != 5 {
					t.Fatalf("record %d time %d.%d", i, got[i].sec, got[i].nsec)
				}
			}
		})
	}
}

func TestLookup(t *testing.T) {
	m := fbpack.AppendMapHeader(nil, 3)
	m = fbpack.AppendInt(m, 5)
	m = fbpack.AppendStr(m, "int key")
	m = fbpack.AppendBin(m, []byte("log"))
	m = fbpack.AppendStr(m, `{"a":1}`)
	m = fbpack.AppendStr(m, "n")
	m = fbpack.AppendInt(m, -3)
	tests := []struct {
		name    string
		m       []byte
		key     string
		want    string // JSON of the value
		found   bool
		wantErr bool
	}{
		{"bin key", m, "log", `"{\"a\":1}"`, true, false},
		{"last key", m, "n", `-3`, true, false},
		{"absent", m, "zz", ``, false, false},
		{"int key not matched by string", m, "5", ``, false, false},
		{"not a map", []byte{0x91, 0x01}, "a", ``, false, true},
		{"truncated", m[:len(m)-3], "n", ``, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, found, err := fbpack.Lookup(tc.m, tc.key)
			if (err != nil) != tc.wantErr || found != tc.found {
				t.Fatalf("found=%v err=%v, want found=%v wantErr=%v", found, err, tc.found, tc.wantErr)
			}
			if found {
				js, err := fbpack.AppendJSON(nil, v)
				if err != nil || string(js) != tc.want {
					t.Fatalf("value %s (%v), want %s", js, err, tc.want)
				}
			}
		})
	}
}

func TestStrInt(t *testing.T) {
	if s, ok := fbpack.Str(fbpack.AppendStr(nil, "hello")); !ok || string(s) != "hello" {
		t.Fatalf("Str = %q %v", s, ok)
	}
	if _, ok := fbpack.Str(fbpack.AppendInt(nil, 1)); ok {
		t.Fatal("Str accepted an int")
	}
	for _, v := range []int64{0, 1, -1, -33, 127, 128, -129, 70000, -70000, 1 << 40, -(1 << 40)} {
		if got, ok := fbpack.Int(fbpack.AppendInt(nil, v)); !ok || got != v {
			t.Fatalf("Int(%d) = %d %v", v, got, ok)
		}
	}
	if _, ok := fbpack.Int(fbpack.AppendUint(nil, 1<<63)); ok {
		t.Fatal("Int accepted a uint above MaxInt64")
	}
	if fbpack.TypeOf(nil) != fbpack.TypeInvalid || fbpack.TypeOf([]byte{0x80}) != fbpack.TypeMap {
		t.Fatal("TypeOf")
	}
}
