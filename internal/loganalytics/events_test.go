package loganalytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestEventsAppendAndReset(t *testing.T) {
	var ev Events
	ev.Append([]byte(`{"a":1}`))
	ev.AppendWith(func(b []byte) []byte { return append(b, `{"b":22}`...) })
	ev.SetResourceID("/subscriptions/x")
	if ev.Len() != 2 || string(ev.Event(0)) != `{"a":1}` || string(ev.Event(1)) != `{"b":22}` {
		t.Fatalf("events: %d %q %q", ev.Len(), ev.Event(0), ev.Event(1))
	}
	if len(ev.ResourceIDs) != 2 || ev.ResourceIDs[0] != "" || ev.ResourceIDs[1] != "/subscriptions/x" {
		t.Fatalf("resource IDs %q", ev.ResourceIDs)
	}
	ev.Append([]byte(`{}`))
	if len(ev.ResourceIDs) != 3 {
		t.Fatalf("resource IDs not kept in step: %q", ev.ResourceIDs)
	}
	ev.Reset()
	if ev.Len() != 0 || len(ev.Buf) != 0 || len(ev.ResourceIDs) != 0 {
		t.Fatal("Reset did not empty")
	}
}

// checkCover asserts batches cover events [0,n) in order, each within cap.
func checkCover(t *testing.T, ev *Events, bs []Batch, maxBody int) {
	t.Helper()
	next := 0
	for i, b := range bs {
		if b.First != next || b.Count < 1 {
			t.Fatalf("batch %d = [%d,+%d), want first %d", i, b.First, b.Count, next)
		}
		body := buildBody(nil, ev, b)
		if len(body) != b.Bytes {
			t.Fatalf("batch %d Bytes %d, body %d", i, b.Bytes, len(body))
		}
		if b.Reason == "" && len(body) > maxBody {
			t.Fatalf("batch %d body %d > cap %d", i, len(body), maxBody)
		}
		if !json.Valid(body) {
			t.Fatalf("batch %d body is not JSON", i)
		}
		next += b.Count
	}
	if next != ev.Len() {
		t.Fatalf("batches cover %d of %d events", next, ev.Len())
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		name    string
		n, pad  int
		maxBody int
		want    []int // counts per batch
	}{
		// each event (n <= 10) is 45+pad bytes; body = 2 + sum + commas
		{"one batch", 3, 0, 1 << 20, []int{3}},
		{"exact fit", 4, 55, 4*100 + 3 + 2, []int{4}},
		{"one byte short", 4, 55, 4*100 + 3 + 1, []int{3, 1}},
		{"even split", 10, 55, 2 + 5*100 + 4, []int{5, 5}},
		{"empty", 0, 0, 1024, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := synthEvents(tc.n, tc.pad)
			if tc.n > 0 && len(ev.Event(0)) != 45+tc.pad {
				t.Fatalf("event size %d, test assumes %d", len(ev.Event(0)), 45+tc.pad)
			}
			bs := cutter{maxBody: tc.maxBody, fieldLimit: 1 << 10}.cut(ev)
			var got []int
			for _, b := range bs {
				got = append(got, b.Count)
			}
			if !equalInts(got, tc.want) {
				t.Fatalf("counts %v, want %v", got, tc.want)
			}
			checkCover(t, ev, bs, tc.maxBody)
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCutDeterministicKeys(t *testing.T) {
	a, b := synthEvents(500, 200), synthEvents(500, 200)
	c := cutter{maxBody: 10_000, fieldLimit: 1 << 10}
	ba, bb := c.cut(a), c.cut(b)
	if len(ba) != len(bb) || len(ba) < 10 {
		t.Fatalf("%d vs %d batches", len(ba), len(bb))
	}
	seen := map[uint64]bool{}
	for i := range ba {
		if ba[i] != bb[i] {
			t.Fatalf("batch %d differs: %+v vs %+v", i, ba[i], bb[i])
		}
		if seen[ba[i].Key] {
			t.Fatalf("duplicate key in batch %d", i)
		}
		seen[ba[i].Key] = true
	}
	// Changing one byte changes the key.
	b.Buf[b.Ends[0]-3] ^= 1
	if c.cut(b)[0].Key == ba[0].Key {
		t.Fatal("key did not change with content")
	}
	// A fixed value pins the hash across versions and platforms.
	one := &Events{}
	one.Append([]byte(`{"EventId":"0000000000000000"}`))
	if k := batchOf(one, 0, 1, "").Key; k != pinnedKey {
		t.Fatalf("key of the pinned event is %#x, want %#x: the hash changed, so remembered keys from older versions would no longer match", k, pinnedKey)
	}
}

func TestCutByResource(t *testing.T) {
	ev := &Events{}
	rids := []string{"/r/a", "/r/a", "/r/b", "/r/b", "/r/b", "/r/a", ""}
	for i, r := range rids {
		ev.Append([]byte(`{"i":` + string(rune('0'+i)) + `}`))
		ev.SetResourceID(r)
	}
	bs := cutter{maxBody: 1 << 20, fieldLimit: 1 << 10, byResource: true}.cut(ev)
	want := []struct {
		n   int
		rid string
	}{{2, "/r/a"}, {3, "/r/b"}, {1, "/r/a"}, {1, ""}}
	if len(bs) != len(want) {
		t.Fatalf("%d batches, want %d: %+v", len(bs), len(want), bs)
	}
	for i, w := range want {
		if bs[i].Count != w.n || bs[i].ResourceID != w.rid {
			t.Fatalf("batch %d = %d events of %q, want %d of %q", i, bs[i].Count, bs[i].ResourceID, w.n, w.rid)
		}
	}
	checkCover(t, ev, bs, 1<<20)
	// Without byResource, one batch.
	if bs := (cutter{maxBody: 1 << 20}).cut(ev); len(bs) != 1 || bs[0].ResourceID != "" {
		t.Fatalf("without byResource: %+v", bs)
	}
}

func TestCutOversize(t *testing.T) {
	long := strings.Repeat("R", 5000)
	ev := &Events{}
	ev.Append([]byte(`{"a":"small"}`))
	ev.Append([]byte(`{"Rule":"` + long + `","N":7}`)) // truncatable: one long field
	ev.Append([]byte(`{"b":"small"}`))
	many := `{` // many medium fields: still too big after truncation
	for i := 0; i < 10; i++ {
		if i > 0 {
			many += ","
		}
		many += `"f` + string(rune('0'+i)) + `":"` + strings.Repeat("m", 900) + `"`
	}
	many += `}`
	ev.Append([]byte(many))
	ev.Append([]byte(`{"c":"small"}`))
	c := cutter{maxBody: 4096, fieldLimit: 1000}
	bs := c.cut(ev)
	checkCover(t, ev, bs, 4096)
	if ev.Len() != 5 || string(ev.Event(0)) != `{"a":"small"}` || string(ev.Event(2)) != `{"b":"small"}` || string(ev.Event(4)) != `{"c":"small"}` {
		t.Fatalf("neighbours damaged: %q %q %q", ev.Event(0), ev.Event(2), ev.Event(4))
	}
	want := `{"Rule":"` + long[:1000] + `","N":7}`
	if string(ev.Event(1)) != want {
		t.Fatalf("truncated event %q...", ev.Event(1)[:40])
	}
	var rejected []Batch
	for _, b := range bs {
		if b.Reason != "" {
			rejected = append(rejected, b)
		}
	}
	if len(rejected) != 1 || rejected[0].First != 3 || rejected[0].Count != 1 || !strings.Contains(rejected[0].Reason, "4096-byte body cap") {
		t.Fatalf("rejected %+v", rejected)
	}
}

func TestTruncateFields(t *testing.T) {
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"untouched", `{"a":"abc","n":12,"o":{"x":[1,2]},"t":true}`, 10, `{"a":"abc","n":12,"o":{"x":[1,2]},"t":true}`},
		{"cut plain", `{"a":"abcdefgh","b":1}`, 4, `{"a":"abcd","b":1}`},
		{"not inside simple escape", `{"a":"abc\"def"}`, 4, `{"a":"abc"}`},
		{"escaped backslash kept whole", `{"a":"ab\\\\cd"}`, 4, `{"a":"ab\\"}`},
		{"not between an escaped backslash's halves", `{"a":"ab\\\\cd"}`, 3, `{"a":"ab"}`},
		{"not inside unicode escape", `{"a":"ab\u00e9cd"}`, 5, `{"a":"ab"}`},
		{"not inside utf-8", `{"a":"abé"}`, 3, `{"a":"ab"}`},
		{"whitespace", ` { "a" : "abcdef" , "b" : 2 } `, 3, `{"a":"abc","b":2}`},
		{"key with escape", `{"k\"ey":"abcdef"}`, 2, `{"k\"ey":"ab"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := truncateFields(nil, []byte(tc.in), tc.limit)
			if string(got) != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON %s", got)
			}
		})
	}
	for _, bad := range []string{``, `[1]`, `{"a":"x`, `{"a" 1}`, `{"a":1`} {
		if got := truncateFields(nil, []byte(bad), 3); got != nil {
			t.Errorf("%q: want nil, got %q", bad, got)
		}
	}
}

func TestRemaining(t *testing.T) {
	ev := synthEvents(10, 0)
	bs := cutter{maxBody: 1 << 20}.cut(ev)
	if len(bs) != 1 {
		t.Fatal("want one batch")
	}
	b := bs[0]
	l, r := halves(ev, b)
	ll, lr := halves(ev, l)
	mem := map[uint64]bool{}
	seen := func(k uint64) bool { return mem[k] }
	if got := Remaining(ev, bs, seen); len(got) != 1 || got[0] != b {
		t.Fatalf("nothing remembered: %+v", got)
	}
	// b split, l split, ll accepted, r accepted: lr remains.
	mem[b.Key^SplitMark], mem[l.Key^SplitMark], mem[ll.Key], mem[r.Key] = true, true, true, true
	got := Remaining(ev, bs, seen)
	if len(got) != 1 || got[0] != lr {
		t.Fatalf("got %+v, want %+v", got, lr)
	}
	mem[lr.Key] = true
	if got := Remaining(ev, bs, seen); len(got) != 0 {
		t.Fatalf("all accepted, got %+v", got)
	}
	if got := Remaining(ev, bs, nil); len(got) != 1 {
		t.Fatal("nil memory must keep all")
	}
	if !bytes.Equal(buildBody(nil, ev, l)[1:], append(bytes.Clone(buildBody(nil, ev, ll)[1:len(buildBody(nil, ev, ll))-1]), append([]byte{','}, buildBody(nil, ev, lr)[1:]...)...)) {
		t.Fatal("halves do not partition the batch")
	}
}

const pinnedKey uint64 = 0x6001d325b231c310

func TestArrayReader(t *testing.T) {
	ev := synthEvents(7, 3)
	b := cutter{maxBody: 1 << 20}.cut(ev)[0]
	want := buildBody(nil, ev, b)
	if !json.Valid(want) || want[0] != '[' || want[len(want)-1] != ']' || len(want) != b.Bytes {
		t.Fatalf("body %q", want)
	}
	for _, chunk := range []int{1, 2, 7, 64, 4096} {
		r := &arrayReader{inner: ev.inner(b)}
		var got []byte
		buf := make([]byte, chunk)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("chunk %d: %q", chunk, got)
		}
	}
	var w bytes.Buffer
	if n, err := (&arrayReader{inner: ev.inner(b)}).WriteTo(&w); err != nil || n != int64(len(want)) || !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("WriteTo %d %v %q", n, err, w.Bytes())
	}
	// Empty inner still gives [].
	var e bytes.Buffer
	(&arrayReader{}).WriteTo(&e)
	if e.String() != "[]" {
		t.Fatalf("%q", e.String())
	}
}

// TestBatchKeySpread: keys of many similar batches (every run of 1..40
// consecutive events, and every one-bit change of one body) never collide.
func TestBatchKeySpread(t *testing.T) {
	ev := synthEvents(3000, 20)
	seen := map[uint64]string{}
	add := func(k uint64, what string) {
		if prev, ok := seen[k]; ok {
			t.Fatalf("key collision: %s and %s", prev, what)
		}
		seen[k] = what
	}
	for first := 0; first < ev.Len(); first++ {
		for c := 1; c <= 40 && first+c <= ev.Len(); c++ {
			add(batchOf(ev, first, c, "").Key, fmt.Sprint(first, "+", c))
		}
	}
	body := []byte(strings.Repeat(`{"a":"0123456789abcdef"},`, 7) + `{"z":1}`)
	for i := range body {
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(body)
			b[i] ^= 1 << bit
			add(batchKey(b, 8, ""), fmt.Sprint("flip ", i, ".", bit))
		}
	}
	add(batchKey(body, 8, ""), "original")
	add(batchKey(body, 8, "/r/1"), "rid")
	add(batchKey(body, 7, ""), "count")
	if len(seen) < 100_000 {
		t.Fatalf("only %d keys", len(seen))
	}
}
