package fbout

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

func TestFlushClassifies(t *testing.T) {
	nsg := sampleRecords(t, "msdocs-nsg-v2-fabrikam-2018.json")
	vnet := sampleRecords(t, "elastic-vnet-v4-testdata.json")
	blob := readSample(t, "msdocs-nsg-v1-fabrikam-2017.json")
	line := readSample(t, "elastic-vnet-v4-single-record.ndjson")
	flat := map[string]any{"EventId": "00000000000000aa", "SrcIp": "10.0.0.1", "_nsgflow_src": "blob-x", "_nsgflow_off": 1, "_nsgflow_end": 9}

	tests := []struct {
		name      string
		recs      []any
		events    int
		result    Result
		skipped   map[string]int64
		checkRows func(t *testing.T, rows [][]byte)
	}{
		{"raw map record", []any{asMap(t, nsg[0])}, countEvents(nsg[0]), OK, nil, nil},
		{"raw VNet map record", []any{asMap(t, vnet[0])}, countEvents(vnet[0]), OK, nil, nil},
		{"record as log string", []any{map[string]any{"log": string(nsg[1])}}, countEvents(nsg[1]), OK, nil, nil},
		{"whole blob as log string", []any{map[string]any{"log": string(blob)}}, countEvents(blob), OK, nil, nil},
		{"NDJSON line as log string", []any{map[string]any{"log": string(line)}}, countEvents(line), OK, nil, nil},
		{"flat event passes through without provenance", []any{flat}, 1, OK, nil, func(t *testing.T, rows [][]byte) {
			if string(rows[0]) != `{"EventId":"00000000000000aa","SrcIp":"10.0.0.1"}` {
				t.Fatalf("flat row %s", rows[0])
			}
		}},
		{"skips are counted", []any{map[string]any{"message": "hello"}, []any{1, 2}, map[string]any{"log": "plain text"}, map[string]any{"message": "again"}},
			0, OK, map[string]int64{kindNames[kindUnrecognised]: 2, kindNames[kindNotMap]: 1, kindNames[kindFieldNotFlow]: 1}, nil},
		{"whole blob as a map, records not first", []any{map[string]any{"_nsgflow_src": "b", "category": "x", "records": []any{asMap(t, nsg[0]), asMap(t, nsg[1])}}},
			countEvents(nsg[0]) + countEvents(nsg[1]), OK, nil, nil},
		{"raw map beats log field", []any{func() map[string]any { m := asMap(t, nsg[0]); m["log"] = "ignored"; return m }()}, countEvents(nsg[0]), OK, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := newFakeSink(t, 0)
			p := newTestPipeline(t, sink, Options{})
			var chunk []byte
			for _, r := range tc.recs {
				chunk = entry(t, chunk, r)
			}
			if got := p.Flush(chunk, "tag"); got != tc.result {
				t.Fatalf("Flush = %v, want %v", got, tc.result)
			}
			if len(sink.rows) != tc.events {
				t.Fatalf("%d events sent, want %d", len(sink.rows), tc.events)
			}
			for _, r := range sink.rows {
				if !json.Valid(r) || bytes.Contains(r, []byte("_nsgflow_")) {
					t.Fatalf("bad row %s", r)
				}
			}
			st := p.Stats()
			for k, want := range tc.skipped {
				if st.Skipped[k] != want {
					t.Fatalf("skipped[%q] = %d, want %d (all: %v)", k, st.Skipped[k], want, st.Skipped)
				}
			}
			if tc.skipped == nil && len(st.Skipped) != 0 {
				t.Fatalf("unexpected skips %v", st.Skipped)
			}
			if tc.checkRows != nil {
				tc.checkRows(t, sink.rows)
			}
		})
	}
}

// TestFlatEventTimeRenamed: with a renamed time column (Data Collector), a
// flat event written with the schema's own column is renamed the same way.
func TestFlatEventTimeRenamed(t *testing.T) {
	sink := newFakeSink(t, 0)
	p := newTestPipeline(t, sink, Options{TimeField: "FlowTime"})
	chunk := entry(t, nil, map[string]any{"TimeGenerated": "2026-11-26T09:00:00.000Z", "EventId": "00000000000000bb", "_nsgflow_src": "x"})
	if got := p.Flush(chunk, "t"); got != OK || len(sink.rows) != 1 {
		t.Fatalf("Flush = %v, %d rows", got, len(sink.rows))
	}
	if string(sink.rows[0]) != `{"EventId":"00000000000000bb","FlowTime":"2026-11-26T09:00:00.000Z"}` {
		t.Fatalf("row %s", sink.rows[0])
	}
}

// bigChunk holds every record of the sumologic NSG sample, alternating shapes.
func bigChunk(t testing.TB) ([]byte, int) {
	var chunk []byte
	n := 0
	for i, r := range sampleRecords(t, "sumologic-blob_fixtures.json") {
		n += countEvents(r)
		var rec any = map[string]any{"log": string(r), "_nsgflow_src": "blob", "_nsgflow_off": i * 100, "_nsgflow_end": i*100 + 100}
		if i%2 == 0 {
			m := asMap(t, r)
			m["_nsgflow_src"], m["_nsgflow_off"], m["_nsgflow_end"] = "blob", i*100, i*100+100
			rec = m
		}
		chunk = entry(t, chunk, rec)
	}
	return chunk, n
}

func TestRetrySendsOnlyWhatWasNotAccepted(t *testing.T) {
	chunk, events := bigChunk(t)
	sink := newFakeSink(t, 4096)
	// First call: the batches of the second half of the events fail. Later
	// calls: all accepted.
	sink.answer = func(call int, b loganalytics.Batch) string {
		if call == 1 && b.First >= events/2 {
			return "fail"
		}
		return "ok"
	}
	acker := &recordingAcker{}
	p := newTestPipeline(t, sink, Options{Acker: acker})
	if got := p.Flush(chunk, "flow"); got != Retry {
		t.Fatalf("first flush = %v, want RETRY", got)
	}
	if p.Stats().RememberedChunks != 1 {
		t.Fatalf("remembered %d chunks, want 1", p.Stats().RememberedChunks)
	}
	firstAcks := len(acker.recs)
	if firstAcks == 0 || firstAcks >= 8 {
		t.Fatalf("after a partial flush %d of 8 records acked, want some but not all", firstAcks)
	}
	if got := p.Flush(append([]byte(nil), chunk...), "flow"); got != OK {
		t.Fatalf("retried flush = %v, want OK", got)
	}
	for k, n := range sink.sent {
		if n > 2 {
			t.Fatalf("batch %x sent %d times", k, n)
		}
	}
	if len(sink.rows) != events {
		t.Fatalf("%d events accepted in total, want exactly %d (no duplicates)", len(sink.rows), events)
	}
	seen := map[string]bool{}
	for _, r := range sink.rows {
		if seen[string(r)] {
			t.Fatalf("event accepted twice: %s", r)
		}
		seen[string(r)] = true
	}
	if got := acker.sources()["blob"]; got != 8 {
		t.Fatalf("acked %d records, want all 8 exactly once", got)
	}
	if p.Stats().RememberedChunks != 0 {
		t.Fatalf("memory kept a delivered chunk")
	}
	// Same bytes under another tag are another chunk: sent again.
	if got := p.Flush(chunk, "other"); got != OK || len(sink.rows) != 2*events {
		t.Fatalf("other tag: %v, %d rows", got, len(sink.rows))
	}
}

func TestPermanentErrorDropsChunk(t *testing.T) {
	chunk, _ := bigChunk(t)
	sink := newFakeSink(t, 0)
	sink.answer = func(int, loganalytics.Batch) string { return "reject" }
	var log strings.Builder
	p := newTestPipeline(t, sink, Options{Log: &fblog.Logger{W: &log, Prefix: LogPrefix("nsgflow.0")}})
	if got := p.Flush(chunk, "flow"); got != Error {
		t.Fatalf("Flush = %v, want ERROR", got)
	}
	if p.Stats().RememberedChunks != 0 {
		t.Fatal("a dropped chunk is remembered")
	}
	if !strings.Contains(log.String(), "[error] [output:nsgflow:nsgflow.0]") || !strings.Contains(log.String(), "refused") {
		t.Fatalf("no clear error line: %q", log.String())
	}
}

func TestFlushDeadlineReachesSend(t *testing.T) {
	chunk, _ := bigChunk(t)
	sink := newFakeSink(t, 0)
	p := newTestPipeline(t, sink, Options{FlushDeadline: 7 * time.Second})
	before := time.Now()
	p.Flush(chunk, "flow")
	if sink.deadline.IsZero() || sink.deadline.Before(before) || sink.deadline.After(time.Now().Add(7*time.Second)) {
		t.Fatalf("Send got deadline %v, want within 7s of the flush", sink.deadline)
	}
}

func TestCloseAbandonsStuckFlush(t *testing.T) {
	chunk, _ := bigChunk(t)
	sink := newFakeSink(t, 0)
	sink.block = true
	p := newTestPipeline(t, sink, Options{FlushDeadline: time.Hour})
	var wg sync.WaitGroup
	var got Result
	wg.Add(1)
	go func() { defer wg.Done(); got = p.Flush(chunk, "flow") }()
	for p.inflightCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	left := p.Close(10 * time.Millisecond)
	wg.Wait()
	if got != Retry {
		t.Fatalf("stuck flush returned %v, want RETRY", got)
	}
	if left != 0 {
		t.Fatalf("%d flushes left after Close", left)
	}
	if r := p.Flush(chunk, "flow"); r != Retry {
		t.Fatalf("flush after Close = %v, want RETRY", r)
	}
}

func TestBadChunk(t *testing.T) {
	good := entry(t, nil, map[string]any{"log": string(readSample(t, "elastic-nsg-v2-single-record.ndjson"))})
	tests := []struct {
		name   string
		chunk  []byte
		result Result
		events int
	}{
		{"empty", nil, OK, 0},
		{"garbage", []byte{0xc1, 0x00}, Error, 0},
		{"good then cut", append(append([]byte(nil), good...), good[:len(good)/2]...), Error, 1},
		{"forged length", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, Error, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := newFakeSink(t, 0)
			p := newTestPipeline(t, sink, Options{})
			if got := p.Flush(tc.chunk, "t"); got != tc.result || len(sink.rows) != tc.events {
				t.Fatalf("Flush = %v with %d events, want %v with %d", got, len(sink.rows), tc.result, tc.events)
			}
		})
	}
}

func TestMemoryLRU(t *testing.T) {
	m := newMemory(2)
	m.remember(1, []uint64{10})
	m.remember(2, []uint64{20})
	_ = m.seen(1) // 1 is now the most recent
	m.remember(3, []uint64{30})
	if m.seen(2) != nil {
		t.Fatal("least recently used chunk 2 was kept")
	}
	if _, ok := m.seen(1)[10]; !ok {
		t.Fatal("chunk 1 was forgotten")
	}
	if _, ok := m.seen(3)[30]; !ok {
		t.Fatal("chunk 3 was forgotten")
	}
	m.forget(3)
	if m.len() != 1 {
		t.Fatalf("len %d after forget", m.len())
	}
	off := newMemory(0)
	off.remember(1, []uint64{1})
	if off.seen(1) != nil {
		t.Fatal("memory 0 remembers")
	}
}

func TestLoggerFormat(t *testing.T) {
	var b strings.Builder
	l := &fblog.Logger{W: &b, Level: 1, Prefix: LogPrefix("nsgflow.3"), Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }}
	l.Debugf("hidden")
	l.Infof("hello %d\nworld", 1)
	l.Errorf("bad")
	want := "[2026/11/26 09:00:00] [ info] [output:nsgflow:nsgflow.3] hello 1 world\n[2026/11/26 09:00:00] [error] [output:nsgflow:nsgflow.3] bad\n"
	if b.String() != want {
		t.Fatalf("got %q\nwant %q", b.String(), want)
	}
}

func BenchmarkFlush(b *testing.B) {
	chunk, events := bigChunk(b)
	sink := newFakeSink(b, 0)
	sink.answer = func(int, loganalytics.Batch) string { return "ok" }
	p := newTestPipeline(b, &discardSink{sink}, Options{})
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if p.Flush(chunk, "flow") != OK {
			b.Fatal("flush failed")
		}
	}
	b.StopTimer()
	total := float64(events) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
	// Per second of process CPU: steadier than wall time on a shared machine.
	b.ReportMetric(total/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardSink accepts everything without keeping rows.
type discardSink struct{ *fakeSink }

func (d *discardSink) Send(_ context.Context, _ *loganalytics.Events, batches []loganalytics.Batch) loganalytics.Report {
	rep := loganalytics.Report{Accepted: make([]bool, len(batches))}
	for i := range rep.Accepted {
		rep.Accepted[i] = true
	}
	return rep
}

// TestConcurrentFlushes flushes 8 chunks from 8 goroutines on one pipeline
// (Fluent Bit's workers); every batch fails on its first send, so each chunk
// goes through RETRY and the memory. Every event must be accepted once.
func TestConcurrentFlushes(t *testing.T) {
	// (the NSG capture: the VNet one repeats records, which would share batches)
	recs := sampleRecords(t, "sumologic-blob_fixtures.json")
	sink := newFakeSink(t, 4096)
	sink.answer = func(_ int, b loganalytics.Batch) string {
		if sink.sent[b.Key] == 1 {
			return "fail"
		}
		return "ok"
	}
	p := newTestPipeline(t, sink, Options{})
	var wg sync.WaitGroup
	want := 0
	results := make([][]Result, len(recs))
	for i, r := range recs {
		want += countEvents(r)
		chunk := entry(t, nil, map[string]any{"log": string(r), "n": i})
		wg.Add(1)
		go func(i int, chunk []byte) {
			defer wg.Done()
			for attempt := 0; attempt < 5; attempt++ {
				res := p.Flush(chunk, "flow")
				results[i] = append(results[i], res)
				if res == OK {
					return
				}
			}
		}(i, chunk)
	}
	wg.Wait()
	for i, rs := range results {
		if len(rs) != 2 || rs[0] != Retry || rs[1] != OK {
			t.Fatalf("chunk %d results %v, want [RETRY OK]", i, rs)
		}
	}
	if len(sink.rows) != want {
		t.Fatalf("%d events accepted, want %d", len(sink.rows), want)
	}
	if st := p.Stats(); st.RememberedChunks != 0 || st.Retry != int64(len(recs)) || st.OK != int64(len(recs)) {
		t.Fatalf("stats %+v", st)
	}
}
