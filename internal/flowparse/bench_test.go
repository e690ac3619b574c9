package flowparse_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	jsoniter "github.com/json-iterator/go"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// Benchmarks run on generated blobs far larger than the samples: one hour of
// one NIC, 60 records (one a minute) of 50 tuples, 5 rules with long
// GUID-suffixed names, 20% IPv6 flows. Each reports tuples/s and allocs per
// tuple; see docs/benchmarks.md.
//
//	go test -run '^$' -bench . -benchmem -cpu 1 ./internal/flowparse/

type benchBlob struct {
	name   string
	data   []byte
	tuples int
}

var (
	benchOnce  sync.Once
	benchBlobs []benchBlob
	benchErr   error
)

func loadBenchBlobs(b *testing.B) []benchBlob {
	b.Helper()
	benchOnce.Do(func() {
		for _, f := range []struct {
			name   string
			format flowgen.Format
		}{{"nsg-v2", flowgen.FormatNSGv2}, {"vnet-v4", flowgen.FormatVNetv4}} {
			blob, err := flowgen.GenerateBlob(flowgen.Options{
				Format: f.format, Seed: 42, RecordsPerHour: 60, TuplesPerRecord: 50,
				Rules: 5, LongRuleNames: true, IPv6Share: 0.2,
			}, 0)
			if err != nil {
				benchErr = fmt.Errorf("generate %s blob: %w", f.name, err)
				return
			}
			benchBlobs = append(benchBlobs, benchBlob{f.name, blob.Bytes(), blob.Tuples})
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchBlobs
}

// measure runs body b.N times and reports tuples/s, ns/tuple and allocations
// per tuple. body must process every tuple of bb once and return the count.
func measure(b *testing.B, bb benchBlob, body func() int) {
	b.SetBytes(int64(len(bb.data)))
	b.ReportAllocs()
	if got := body(); got != bb.tuples { // warm-up, and a correctness check
		b.Fatalf("%s: processed %d tuples, want %d", bb.name, got, bb.tuples)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body()
	}
	b.StopTimer()
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&m1)
	total := float64(b.N) * float64(bb.tuples)
	b.ReportMetric(total/b.Elapsed().Seconds(), "tuples/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/tuple")
	// CPU time per tuple, and the rate one core would reach at that cost:
	// stable when other processes share the machine, unlike the wall clock.
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/total, "cpu-ns/tuple")
		b.ReportMetric(total/cpu.Seconds(), "cpu-tuples/s")
	}
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/total, "allocs/tuple")
}

// (a) parse and expand: OnEvent does nothing.
func BenchmarkParse(b *testing.B) {
	for _, bb := range loadBenchBlobs(b) {
		b.Run(bb.name, func(b *testing.B) {
			n := 0
			p := flowparse.Parser{OnEvent: func(*flowparse.Event) { n++ }}
			measure(b, bb, func() int {
				n = 0
				_ = p.Blob(bb.data)
				return n
			})
		})
	}
}

// (b) parse, expand and encode every event to the API JSON in a reused buffer.
func BenchmarkParseEncode(b *testing.B) {
	for _, bb := range loadBenchBlobs(b) {
		for _, s := range flowparse.Schemas {
			b.Run(bb.name+"/"+s.Name, func(b *testing.B) {
				enc := flowparse.NewEncoder(s)
				buf := make([]byte, 0, 4<<20)
				n := 0
				p := flowparse.Parser{OnEvent: func(ev *flowparse.Event) {
					buf = enc.Append(buf, ev)
					buf = append(buf, ',')
					n++
				}}
				measure(b, bb, func() int {
					buf, n = buf[:0], 0
					_ = p.Blob(bb.data)
					return n
				})
			})
		}
	}
}

// (e) the Fluent Bit path: records already decoded into maps (decoding is
// not timed), expanded with RecordMap and encoded.
func BenchmarkRecordMapEncode(b *testing.B) {
	for _, bb := range loadBenchBlobs(b) {
		b.Run(bb.name, func(b *testing.B) {
			recs := decodeRecords(b, bb.data, false)
			enc := flowparse.NewEncoder(nil)
			buf := make([]byte, 0, 4<<20)
			n := 0
			p := flowparse.Parser{OnEvent: func(ev *flowparse.Event) {
				buf = enc.Append(buf, ev)
				n++
			}}
			measure(b, bb, func() int {
				buf, n = buf[:0], 0
				for _, r := range recs {
					_ = p.RecordMap(r)
				}
				return n
			})
		})
	}
}

// (c) the plain encoding/json baseline: unmarshal into structs mirroring the
// record, split tuples with strings.Split, build one map per event, marshal.

type stdBlob struct {
	Records []stdRecord `json:"records"`
}

type stdRecord struct {
	Time              string `json:"time"`
	MacAddress        string `json:"macAddress"`
	Category          string `json:"category"`
	ResourceID        string `json:"resourceId"`
	FlowLogResourceID string `json:"flowLogResourceID"`
	TargetResourceID  string `json:"targetResourceID"`
	FlowLogVersion    int    `json:"flowLogVersion"`
	Properties        *struct {
		Version int `json:"Version"`
		Flows   []struct {
			Rule  string `json:"rule"`
			Flows []struct {
				Mac        string   `json:"mac"`
				FlowTuples []string `json:"flowTuples"`
			} `json:"flows"`
		} `json:"flows"`
	} `json:"properties"`
	FlowRecords *struct {
		Flows []struct {
			AclID      string `json:"aclID"`
			FlowGroups []struct {
				Rule       string   `json:"rule"`
				FlowTuples []string `json:"flowTuples"`
			} `json:"flowGroups"`
		} `json:"flows"`
	} `json:"flowRecords"`
}

var stdNames = map[string]string{"T": "TCP", "U": "UDP", "6": "TCP", "17": "UDP", "1": "ICMP",
	"I": "Inbound", "O": "Outbound", "A": "Allowed", "B": "Begin", "C": "Continuing", "E": "End"}

func stdEvent(r *stdRecord, version int, resource, target, name, acl, rule, mac, tuple string) map[string]any {
	f := strings.Split(tuple, ",")
	ts, _ := strconv.ParseInt(f[0], 10, 64)
	if version != 4 {
		ts *= 1000
	}
	parts := strings.Split(target, "/")
	m := map[string]any{
		"TimeGenerated":     time.UnixMilli(ts).UTC().Format("2006-01-02T15:04:05.000Z"),
		"RecordTime":        r.Time,
		"FlowLogVersion":    version,
		"Category":          r.Category,
		"FlowLogResourceId": resource,
		"TargetResourceId":  target,
		"Rule":              rule,
		"MacAddress":        strings.ToUpper(strings.ReplaceAll(mac, "-", "")),
		"SrcIp":             f[1],
		"DestIp":            f[2],
		"Protocol":          stdNames[f[5]],
		"FlowDirection":     stdNames[f[6]],
	}
	if len(parts) > 4 {
		m["SubscriptionId"], m["ResourceGroup"] = parts[2], parts[4]
	}
	if version == 4 {
		m["FlowLogName"], m["AclId"] = name, acl
	} else {
		m["NsgName"] = name
	}
	for i, k := range []string{"SrcPort", "DestPort"} {
		if p, err := strconv.Atoi(f[3+i]); err == nil {
			m[k] = p
		}
	}
	if version == 4 {
		m["FlowStatus"] = "Allowed"
		if f[7] == "D" {
			m["FlowStatus"] = "Denied"
		}
		m["FlowState"], m["Encryption"] = f[7], f[8]
	} else {
		m["FlowStatus"] = stdNames[f[7]]
		if len(f) > 8 {
			m["FlowState"] = stdNames[f[8]]
		}
	}
	if len(f) == 13 && f[9] != "" {
		for i, k := range []string{"PacketsSrcToDest", "BytesSrcToDest", "PacketsDestToSrc", "BytesDestToSrc"} {
			v, _ := strconv.ParseInt(f[9+i], 10, 64)
			m[k] = v
		}
	}
	h := fnv.New64a()
	h.Write([]byte(resource + "\x00" + mac + "\x00" + rule + "\x00" + tuple))
	m["EventId"] = fmt.Sprintf("%016x", h.Sum64())
	return m
}

func BenchmarkBaselineEncodingJSON(b *testing.B) {
	for _, bb := range loadBenchBlobs(b) {
		b.Run(bb.name, func(b *testing.B) {
			buf := make([]byte, 0, 4<<20)
			measure(b, bb, func() int {
				buf = buf[:0]
				var blob stdBlob
				if err := json.Unmarshal(bb.data, &blob); err != nil {
					b.Fatal(err)
				}
				n := 0
				emit := func(m map[string]any) {
					out, err := json.Marshal(m)
					if err != nil {
						b.Fatal(err)
					}
					buf = append(buf, out...)
					n++
				}
				for i := range blob.Records {
					r := &blob.Records[i]
					if r.Properties != nil {
						name := r.ResourceID[strings.LastIndexByte(r.ResourceID, '/')+1:]
						for _, g := range r.Properties.Flows {
							for _, mf := range g.Flows {
								for _, t := range mf.FlowTuples {
									emit(stdEvent(r, r.Properties.Version, r.ResourceID, r.ResourceID, name, "", g.Rule, mf.Mac, t))
								}
							}
						}
						continue
					}
					name := r.FlowLogResourceID[strings.LastIndexByte(r.FlowLogResourceID, '/')+1:]
					for _, fl := range r.FlowRecords.Flows {
						for _, g := range fl.FlowGroups {
							for _, t := range g.FlowTuples {
								emit(stdEvent(r, 4, r.FlowLogResourceID, r.TargetResourceID, name, fl.AclID, g.Rule, r.MacAddress, t))
							}
						}
					}
				}
				return n
			})
		})
	}
}

// (d) a json-iterator Iterator walker over the same structure, producing the
// same flat fields as (a) (no encoding): tuple fields split, time, ports and
// counters parsed as numbers, the resource ID split once per record. It reads
// the context keys in the order Azure writes them (the flowparse scanner also
// copes with any order), and does not hash or count skips. Tuples are read
// with ReadString (a copy each) or, in the "slice" variant, with
// ReadStringAsSlice (no copy; valid only for strings without escapes).

type iterEvent struct {
	recordTime, category, resource, target, mac, acl, rule string
	sub, rg, name                                          []byte
	srcIP, destIP, proto, dir, f7, f8                      string
	srcPort, destPort                                      int64
	counters                                               [4]int64
	timeMillis                                             int64
}

type iterWalker struct {
	ev       iterEvent
	n        int
	asSlice  bool
	resource []byte
}

func (w *iterWalker) tuple(t []byte, version int) {
	var f [13][]byte
	k := 0
	for k < 12 {
		i := bytes.IndexByte(t, ',')
		if i < 0 {
			break
		}
		f[k], t = t[:i], t[i+1:]
		k++
	}
	f[k] = t
	e := &w.ev
	e.timeMillis = atoi(f[0])
	if version != 4 {
		e.timeMillis *= 1000
	}
	e.srcPort, e.destPort = atoi(f[3]), atoi(f[4])
	e.srcIP, e.destIP, e.proto, e.dir, e.f7, e.f8 = bstr(f[1]), bstr(f[2]), bstr(f[5]), bstr(f[6]), bstr(f[7]), bstr(f[8])
	for i := range e.counters {
		e.counters[i] = atoi(f[9+i])
	}
	w.n++
}

// atoi parses decimal digits without allocating (-1 when not a number).
func atoi(b []byte) int64 {
	if len(b) == 0 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// bstr views b as a string without copying (b outlives the event).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (w *iterWalker) tuples(it *jsoniter.Iterator, version int) {
	for it.ReadArray() {
		if w.asSlice {
			w.tuple(it.ReadStringAsSlice(), version)
			continue
		}
		s := it.ReadString()
		w.tuple(unsafe.Slice(unsafe.StringData(s), len(s)), version)
	}
}

// setResource splits the record's resource ID once, as flowparse does.
func (w *iterWalker) setResource(id string) {
	w.resource = append(w.resource[:0], id...)
	rp := flowparse.ParseResourceID(w.resource)
	w.ev.sub, w.ev.rg, w.ev.name = rp.SubscriptionID, rp.ResourceGroup, rp.Name
}

func (w *iterWalker) record(it *jsoniter.Iterator) {
	version := 0
	for k := it.ReadObject(); k != ""; k = it.ReadObject() {
		switch k {
		case "time":
			w.ev.recordTime = it.ReadString()
		case "category":
			w.ev.category = it.ReadString()
		case "macAddress":
			w.ev.mac = it.ReadString()
		case "resourceId", "flowLogResourceID":
			w.ev.resource = it.ReadString()
			w.setResource(w.ev.resource)
		case "targetResourceID":
			w.ev.target = it.ReadString()
		case "flowLogVersion":
			version = it.ReadInt()
		case "properties":
			for pk := it.ReadObject(); pk != ""; pk = it.ReadObject() {
				switch pk {
				case "Version":
					version = it.ReadInt()
				case "flows":
					for it.ReadArray() {
						for rk := it.ReadObject(); rk != ""; rk = it.ReadObject() {
							switch rk {
							case "rule":
								w.ev.rule = it.ReadString()
							case "flows":
								for it.ReadArray() {
									for mk := it.ReadObject(); mk != ""; mk = it.ReadObject() {
										switch mk {
										case "mac":
											w.ev.mac = it.ReadString()
										case "flowTuples":
											w.tuples(it, version)
										default:
											it.Skip()
										}
									}
								}
							default:
								it.Skip()
							}
						}
					}
				default:
					it.Skip()
				}
			}
		case "flowRecords":
			for fk := it.ReadObject(); fk != ""; fk = it.ReadObject() {
				if fk != "flows" {
					it.Skip()
					continue
				}
				for it.ReadArray() {
					for ak := it.ReadObject(); ak != ""; ak = it.ReadObject() {
						switch ak {
						case "aclID":
							w.ev.acl = it.ReadString()
						case "flowGroups":
							for it.ReadArray() {
								for gk := it.ReadObject(); gk != ""; gk = it.ReadObject() {
									switch gk {
									case "rule":
										w.ev.rule = it.ReadString()
									case "flowTuples":
										w.tuples(it, 4)
									default:
										it.Skip()
									}
								}
							}
						default:
							it.Skip()
						}
					}
				}
			}
		default:
			it.Skip()
		}
	}
}

func BenchmarkJsoniterIterator(b *testing.B) {
	for _, bb := range loadBenchBlobs(b) {
		for _, asSlice := range []bool{false, true} {
			name := bb.name + "/ReadString"
			if asSlice {
				name = bb.name + "/ReadStringAsSlice"
			}
			b.Run(name, func(b *testing.B) {
				w := iterWalker{asSlice: asSlice}
				measure(b, bb, func() int {
					w.n = 0
					it := jsoniter.ParseBytes(jsoniter.ConfigDefault, bb.data)
					for k := it.ReadObject(); k != ""; k = it.ReadObject() {
						if k != "records" {
							it.Skip()
							continue
						}
						for it.ReadArray() {
							w.record(it)
						}
					}
					if it.Error != nil {
						b.Fatal(it.Error)
					}
					return w.n
				})
			})
		}
	}
}
