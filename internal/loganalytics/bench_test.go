package loganalytics

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

const benchEvents = 20_000

// benchFlows returns parsed events (deep copies) from flowgen VNet v4 blobs
// with realistic settings, for encoding in the loop.
func benchFlows(b *testing.B) []flowparse.Event {
	b.Helper()
	var out []flowparse.Event
	var p flowparse.Parser
	clone := func(v []byte) []byte { return bytes.Clone(v) }
	p.OnEvent = func(e *flowparse.Event) {
		if len(out) >= benchEvents {
			return
		}
		c := *e
		for _, f := range []*[]byte{&c.RecordTime, &c.Category, &c.FlowLogResource, &c.TargetResource, &c.SubscriptionID, &c.ResourceGroup,
			&c.Name, &c.AclID, &c.Rule, &c.MAC, &c.Tuple, &c.SrcIP, &c.DestIP, &c.SrcPort, &c.DestPort, &c.Protocol, &c.Direction,
			&c.Decision, &c.State, &c.Encryption} {
			*f = clone(*f)
		}
		out = append(out, c)
	}
	opts := flowgen.Options{Format: flowgen.FormatVNetv4, Seed: 5, Resources: 10, TuplesPerRecord: 40, Rules: 4, IPv6Share: 0.1}
	err := flowgen.Generate(opts, func(bl *flowgen.Blob) error {
		if err := p.Blob(bl.Bytes()); err != nil {
			return err
		}
		if len(out) >= benchEvents {
			return errEnough
		}
		return nil
	})
	if err != nil && err != errEnough {
		b.Fatal(err)
	}
	return out
}

// cpuNow returns the process's user+system CPU time: on a shared machine
// it is a steadier measure than wall time (cpu-ns/event below).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perEvent reports wall and CPU nanoseconds per event since cpu0.
func perEvent(b *testing.B, events int, cpu0 time.Duration) {
	n := float64(b.N) * float64(events)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/n, "cpu-ns/event")
	b.ReportMetric(0, "ns/op")
}

func encodeAll(ev *Events, enc *flowparse.Encoder, flows []flowparse.Event) {
	ev.Reset()
	for i := range flows {
		f := &flows[i]
		ev.AppendWith(func(b []byte) []byte { return enc.Append(b, f) })
	}
}

// BenchmarkLogsIngestionEncodeCompress: per event, encode + cut + gzip the
// JSON array, on one core (DefaultGzipLevel).
func BenchmarkLogsIngestionEncodeCompress(b *testing.B) {
	flows := benchFlows(b)
	enc := flowparse.NewEncoder(nil)
	c := cutter{maxBody: LogsIngestionMaxBody, fieldLimit: LogsIngestionFieldLimit}
	var ev Events
	var raw, zipped int
	encodeAll(&ev, enc, flows) // grow the buffer before timing
	runtime.GC()               // setup garbage (20,000 cloned events) must not be collected inside the timing
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		encodeAll(&ev, enc, flows)
		for _, bt := range c.cut(&ev) {
			z, err := compressArray(ev.inner(bt), DefaultGzipLevel)
			if err != nil {
				b.Fatal(err)
			}
			raw, zipped = raw+bt.Bytes, zipped+z.Len()
			putBuffer(z)
		}
	}
	perEvent(b, len(flows), cpu0)
	b.ReportMetric(float64(raw)/float64(zipped), "ratio")
	b.ReportMetric(float64(raw)/float64(b.N*len(flows)), "B/event")
}

// BenchmarkEncodeOnly: the flowparse encoder alone, for reference.
func BenchmarkEncodeOnly(b *testing.B) {
	flows := benchFlows(b)
	enc := flowparse.NewEncoder(nil)
	var ev Events
	encodeAll(&ev, enc, flows) // grow the buffer before timing
	runtime.GC()               // setup garbage (20,000 cloned events) must not be collected inside the timing
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		encodeAll(&ev, enc, flows)
	}
	perEvent(b, len(flows), cpu0)
}

// BenchmarkGzipLevels measures compression alone on 1 MiB bodies of real
// events per level: the basis of DefaultGzipLevel.
func BenchmarkGzipLevels(b *testing.B) {
	flows := benchFlows(b)
	var ev Events
	encodeAll(&ev, flowparse.NewEncoder(nil), flows)
	bs := cutter{maxBody: LogsIngestionMaxBody, fieldLimit: LogsIngestionFieldLimit}.cut(&ev)
	var bodies [][]byte
	for _, bt := range bs {
		bodies = append(bodies, buildBody(nil, &ev, bt))
	}
	// -3: stateless, -2: Huffman only (klauspost/compress), then 1..9.
	for _, level := range []int{-3, -2, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		b.Run("level="+strconv.Itoa(level), func(b *testing.B) {
			var raw, zipped int
			b.ReportAllocs()
			cpu0 := cpuNow()
			for i := 0; i < b.N; i++ {
				for _, body := range bodies {
					z, err := compress(body, level)
					if err != nil {
						b.Fatal(err)
					}
					raw, zipped = raw+len(body), zipped+z.Len()
					putBuffer(z)
				}
			}
			perEvent(b, len(flows), cpu0)
			b.ReportMetric(float64(raw)/float64(zipped), "ratio")
		})
	}
}

// BenchmarkDataCollectorEncode: per event, encode + cut + stream the body
// (no compression in this API).
func BenchmarkDataCollectorEncode(b *testing.B) {
	flows := benchFlows(b)
	enc := flowparse.NewEncoder(nil)
	enc.TimeField = "FlowTime"
	c := cutter{maxBody: DataCollectorDefaultBody, fieldLimit: DataCollectorFieldLimit}
	var ev Events
	encodeAll(&ev, enc, flows) // grow the buffer before timing
	runtime.GC()               // setup garbage (20,000 cloned events) must not be collected inside the timing
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		encodeAll(&ev, enc, flows)
		for _, bt := range c.cut(&ev) {
			// What the transport does with the body: stream it, no copy.
			if _, err := (&arrayReader{inner: ev.inner(bt)}).WriteTo(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	}
	perEvent(b, len(flows), cpu0)
}

// benchSend measures encode + cut + compress + send to a loopback server.
func benchSend(b *testing.B, s Sink, api string) {
	flows := benchFlows(b)
	enc := encoderFor(api)
	var ev Events
	var requests int
	encodeAll(&ev, enc, flows) // grow the buffer before timing
	runtime.GC()               // setup garbage (20,000 cloned events) must not be collected inside the timing
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		encodeAll(&ev, enc, flows)
		rep := s.Send(context.Background(), &ev, s.Cut(&ev))
		if !rep.OK() {
			b.Fatal(rep.Err)
		}
		requests += rep.Requests
	}
	perEvent(b, len(flows), cpu0)
	b.ReportMetric(float64(b.N*len(flows))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(requests)*1e6/float64(b.N*len(flows)), "req/Mevent")
}

func discardServer(b *testing.B, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkSendLoopback: end to end to an httptest server that discards.
func BenchmarkSendLoopback(b *testing.B) {
	b.Run("api=li", func(b *testing.B) {
		srv := discardServer(b, 204)
		s, err := NewLogsIngestion(liConfig(srv.URL, &fakeClock{}, nil))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchSend(b, s, "li")
	})
	b.Run("api=dc", func(b *testing.B) {
		srv := discardServer(b, 200)
		s, err := NewDataCollector(dcConfig(srv.URL, &fakeClock{}, nil))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchSend(b, s, "dc")
	})
}

// BenchmarkSendEmulator: end to end to the emulator (checks on, rows counted
// but not stored).
func BenchmarkSendEmulator(b *testing.B) {
	for _, api := range []string{"li", "dc"} {
		b.Run("api="+api, func(b *testing.B) {
			srv, err := emulator.New(emulator.Config{SharedKey: testSharedKey, BearerToken: testToken, WorkspaceID: testWorkspace, DiscardRows: true})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := srv.Start(); err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			benchSend(b, emulatorSink(b, api, srv, Delivery{}), api)
		})
	}
}

// BenchmarkBatchKey: the batch key hash alone, over 1 MiB of events.
func BenchmarkBatchKey(b *testing.B) {
	ev := synthEvents(4000, 200)
	bt := cutter{maxBody: LogsIngestionMaxBody}.cut(ev)[0]
	in := ev.inner(bt)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		batchKey(in, bt.Count, "")
	}
	b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/float64(b.N)/float64(len(in))*1080, "cpu-ns/1080B")
}

// BenchmarkLogsIngestionEncodeCompressParallel: the flush path as Send runs
// it: one goroutine encodes and cuts, the batches are gzipped concurrently
// (one worker per CPU, as Concurrency allows). Run with -cpu 2: wall
// ns/event is the time per event on this machine, cpu-ns/event the CPU cost.
func BenchmarkLogsIngestionEncodeCompressParallel(b *testing.B) {
	flows := benchFlows(b)
	enc := flowparse.NewEncoder(nil)
	c := cutter{maxBody: LogsIngestionMaxBody, fieldLimit: LogsIngestionFieldLimit}
	var ev Events
	encodeAll(&ev, enc, flows)
	workers := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	for i := 0; i < b.N; i++ {
		encodeAll(&ev, enc, flows)
		batches := c.cut(&ev)
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := int(next.Add(1)) - 1
					if k >= len(batches) {
						return
					}
					z, err := compressArray(ev.inner(batches[k]), DefaultGzipLevel)
					if err != nil {
						b.Error(err)
						return
					}
					putBuffer(z)
				}
			}()
		}
		wg.Wait()
	}
	perEvent(b, len(flows), cpu0)
}

// BenchmarkLogsIngestionEncodeCompressFlushes: independent flushes at once
// (Fluent Bit's `workers`, or nsgflow run's concurrent chunks), each encoding,
// cutting and gzipping its own events; b.RunParallel runs one per CPU. With
// -cpu 2, wall ns/event is the cost per event on this machine's two cores.
func BenchmarkLogsIngestionEncodeCompressFlushes(b *testing.B) {
	flows := benchFlows(b)
	c := cutter{maxBody: LogsIngestionMaxBody, fieldLimit: LogsIngestionFieldLimit}
	var events atomic.Int64
	runtime.GC() // setup garbage must not be collected inside the timing
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		enc := flowparse.NewEncoder(nil)
		var ev Events
		for pb.Next() {
			encodeAll(&ev, enc, flows)
			for _, bt := range c.cut(&ev) {
				z, err := compressArray(ev.inner(bt), DefaultGzipLevel)
				if err != nil {
					b.Error(err)
					return
				}
				putBuffer(z)
			}
			events.Add(int64(len(flows)))
		}
	})
	n := float64(events.Load())
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/n, "cpu-ns/event")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDataCollectorEncodeFlushes: the same for the Data Collector API
// (encode, cut, stream the body; no compression).
func BenchmarkDataCollectorEncodeFlushes(b *testing.B) {
	flows := benchFlows(b)
	c := cutter{maxBody: DataCollectorDefaultBody, fieldLimit: DataCollectorFieldLimit}
	var events atomic.Int64
	runtime.GC() // setup garbage must not be collected inside the timing
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNow()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		enc := flowparse.NewEncoder(nil)
		enc.TimeField = "FlowTime"
		var ev Events
		for pb.Next() {
			encodeAll(&ev, enc, flows)
			for _, bt := range c.cut(&ev) {
				if _, err := (&arrayReader{inner: ev.inner(bt)}).WriteTo(io.Discard); err != nil {
					b.Error(err)
					return
				}
			}
			events.Add(int64(len(flows)))
		}
	})
	n := float64(events.Load())
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/n, "cpu-ns/event")
	b.ReportMetric(0, "ns/op")
}
