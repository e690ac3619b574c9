package flowgen

import (
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// BlockStream yields the blocks of one blob in order, one at a time, so a
// blob of any size (say 500 MB for a streaming test) can be produced without
// holding it: raise RecordsPerHour or TuplesPerRecord for size.
//
// Use either Next or Read, not both. A BlockStream is not safe for
// concurrent use.
type BlockStream struct {
	o      Options
	blob   Blob
	res    resource
	rng    *rand.Rand
	next   int // 0 head, 1..RecordsPerHour data, RecordsPerHour+1 tail
	tuples int

	buf     []byte
	pending []byte // unread part of the current block, for Read
	tups    []tup
	open    []flow // allowed flows that have begun and not ended
}

// NewBlockStream returns a stream for blob number index (0-based, in
// Generate's order: index = hour×Resources×MACs + resource×MACs + mac).
func NewBlockStream(opts Options, index int) (*BlockStream, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if n := o.Resources * o.MACs * o.Hours; index < 0 || index >= n {
		return nil, errIndex(index, n)
	}
	return newStream(o, index), nil
}

type indexError struct{ index, n int }

func (e indexError) Error() string {
	return "flowgen: blob index " + strconv.Itoa(e.index) + " out of range [0," + strconv.Itoa(e.n) + ")"
}

func errIndex(i, n int) error { return indexError{i, n} }

func newStream(o Options, index int) *BlockStream {
	perHour := o.Resources * o.MACs
	h := index / perHour
	r := (index % perHour) / o.MACs
	m := index % o.MACs
	res := newResource(o, r, m)
	hour := o.Start.Add(time.Duration(h) * time.Hour)
	s := &BlockStream{
		o:   o,
		res: res,
		rng: rand.New(rand.NewPCG(o.Seed^0x6a09e667f3bcc908, mix64(uint64(index)+0x243f6a8885a308d3))),
		blob: Blob{
			Container:  o.Format.Container(),
			Name:       blobName(o.Format, res.id, res.mac, hour),
			ResourceID: res.id,
			MAC:        res.mac,
			Hour:       hour,
			Records:    o.RecordsPerHour,
		},
		tups: make([]tup, o.TuplesPerRecord),
	}
	return s
}

// Blob returns the blob's metadata (no Blocks; Tuples counts the blocks
// yielded so far).
func (s *BlockStream) Blob() *Blob {
	b := s.blob
	b.Tuples = s.tuples
	return &b
}

// Container returns the blob's container.
func (s *BlockStream) Container() string { return s.blob.Container }

// Name returns the blob's path in its container.
func (s *BlockStream) Name() string { return s.blob.Name }

// NumBlocks returns the number of blocks the stream yields in all.
func (s *BlockStream) NumBlocks() int { return s.o.RecordsPerHour + 2 }

// Tuples returns the number of tuples in the blocks yielded so far.
func (s *BlockStream) Tuples() int { return s.tuples }

// Next returns the next block, or false after the tail. The slice is reused:
// it is valid until the next call.
func (s *BlockStream) Next() ([]byte, bool) {
	n := s.o.RecordsPerHour
	i := s.next
	switch {
	case i == 0:
		s.next++
		return []byte(Head), true
	case i <= n:
		s.next++
		s.buf = s.buf[:0]
		if i > 1 {
			s.buf = append(s.buf, ',')
		}
		s.buf = s.appendRecord(s.buf, i-1)
		return s.buf, true
	case i == n+1:
		s.next++
		return []byte(Tail), true
	}
	return nil, false
}

// Read implements io.Reader over the concatenated blocks.
func (s *BlockStream) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if len(s.pending) == 0 {
			blk, ok := s.Next()
			if !ok {
				break
			}
			s.pending = blk
		}
		k := copy(p, s.pending)
		s.pending = s.pending[k:]
		p = p[k:]
		total += k
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// WriteTo implements io.WriterTo: it writes the remaining blocks to w.
func (s *BlockStream) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if len(s.pending) > 0 {
		k, err := w.Write(s.pending)
		n += int64(k)
		s.pending = nil
		if err != nil {
			return n, err
		}
	}
	for {
		blk, ok := s.Next()
		if !ok {
			return n, nil
		}
		k, err := w.Write(blk)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
}

// flow is one connection as the tuples of a blob see it.
type flow struct {
	v6          bool
	outbound    bool
	remote      uint64
	clientPort  uint16
	servicePort uint16
	proto       uint8 // 6, 17 or 1
	rule        uint8 // index into resource.rules
	enc         uint8 // index into encryptions
}

// tup is one tuple of the record being built.
type tup struct {
	ms    int64
	f     flow
	state byte // B, C, E or D
}

// appendRecord writes record number rec (0-based) of the blob.
func (s *BlockStream) appendRecord(b []byte, rec int) []byte {
	o := &s.o
	hourMs := s.blob.Hour.UnixMilli()
	interval := int64(3600*1000) / int64(o.RecordsPerHour)
	// Record k carries the flows of the interval before its write time; the
	// first record of an hour holds the last interval of the previous hour.
	winStart := hourMs + int64(rec-1)*interval
	s.fillTuples(winStart, interval)

	// Write time: a little after the window closes, 100 ns precision.
	ticks := (hourMs+int64(rec)*interval)*10000 + interval*10000/50 + s.rng.Int64N(interval*10000/10+1)
	wt := time.Unix(ticks/1e7, (ticks%1e7)*100).UTC()

	b = append(b, `{"time":"`...)
	b = wt.AppendFormat(b, "2006-01-02T15:04:05.0000000Z")
	if o.Format == FormatVNetv4 {
		b = append(b, `","flowLogVersion":4,"flowLogGUID":"`...)
		b = append(b, s.res.guid...)
		b = append(b, `","macAddress":"`...)
		b = append(b, s.res.mac...)
		b = append(b, `","category":"FlowLogFlowEvent","flowLogResourceID":"`...)
		b = append(b, s.res.id...)
		b = append(b, `","targetResourceID":"`...)
		b = append(b, s.res.target...)
		b = append(b, `","operationName":"FlowLogFlowEvent","flowRecords":{"flows":[`...)
		first := true
		for _, ri := range s.res.order {
			if !s.hasRule(ri) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, `{"aclID":"`...)
			b = append(b, s.res.acl[ri]...)
			b = append(b, `","flowGroups":[{"rule":"`...)
			b = append(b, s.res.rules[ri]...)
			b = append(b, `","flowTuples":[`...)
			b = s.appendTuples(b, ri)
			b = append(b, `]}]}`...)
		}
		return append(b, `]}}`...)
	}
	b = append(b, `","systemId":"`...)
	b = append(b, s.res.guid...)
	if o.Format == FormatNSGv2 {
		b = append(b, `","macAddress":"`...)
		b = append(b, s.res.mac...)
	}
	b = append(b, `","category":"NetworkSecurityGroupFlowEvent","resourceId":"`...)
	b = append(b, s.res.id...)
	b = append(b, `","operationName":"NetworkSecurityGroupFlowEvents","properties":{"Version":`...)
	if o.Format == FormatNSGv1 {
		b = append(b, '1')
	} else {
		b = append(b, '2')
	}
	b = append(b, `,"flows":[`...)
	first := true
	for _, ri := range s.res.order {
		if !s.hasRule(ri) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"rule":"`...)
		b = append(b, s.res.rules[ri]...)
		b = append(b, `","flows":[{"mac":"`...)
		b = append(b, s.res.mac...)
		b = append(b, `","flowTuples":[`...)
		b = s.appendTuples(b, ri)
		b = append(b, `]}]}`...)
	}
	return append(b, `]}}`...)
}

func (s *BlockStream) hasRule(ri int) bool {
	for i := range s.tups {
		if int(s.tups[i].f.rule) == ri {
			return true
		}
	}
	return false
}

const maxOpenFlows = 256

// fillTuples draws the record's tuples: times in [start, start+width), then
// a state per tuple, continuing flows that began earlier in the blob.
func (s *BlockStream) fillTuples(start, width int64) {
	r := s.rng
	for i := range s.tups {
		s.tups[i].ms = start + r.Int64N(width)
	}
	slices.SortFunc(s.tups, func(a, b tup) int {
		switch {
		case a.ms < b.ms:
			return -1
		case a.ms > b.ms:
			return 1
		}
		return 0
	})
	m := s.o.StateMix
	total := m.sum()
	for i := range s.tups {
		t := &s.tups[i]
		x := r.Float64() * total
		switch {
		case x < m.Deny:
			t.state = 'D'
			t.f = s.deniedFlow()
		case x < m.Deny+m.Begin:
			t.state = 'B'
			t.f = s.newFlow()
			if len(s.open) < maxOpenFlows {
				s.open = append(s.open, t.f)
			} else {
				s.open[r.IntN(len(s.open))] = t.f
			}
		case x < m.Deny+m.Begin+m.Continuing:
			t.state = 'C'
			if len(s.open) == 0 {
				s.open = append(s.open, s.newFlow())
			}
			t.f = s.open[r.IntN(len(s.open))]
		default:
			t.state = 'E'
			if len(s.open) == 0 {
				t.f = s.newFlow()
			} else {
				k := r.IntN(len(s.open))
				t.f = s.open[k]
				last := len(s.open) - 1
				s.open[k] = s.open[last]
				s.open = s.open[:last]
			}
		}
	}
}

// service ports for allowed flows: port, protocol, weight.
var services = []struct {
	port  uint16
	proto uint8
	w     int
}{{443, 6, 12}, {80, 6, 2}, {53, 17, 2}, {123, 17, 1}, {22, 6, 1}, {3389, 6, 1}, {0, 1, 1}}

var serviceWeight = func() int {
	t := 0
	for _, sv := range services {
		t += sv.w
	}
	return t
}()

// ports scanners probe, for denied inbound flows.
var scanPorts = []uint16{22, 23, 80, 443, 445, 1433, 2323, 3389, 5900, 8080, 8443, 8728}

// encryptions for VNet tuples; index 0 is by far the most common.
var encryptions = []string{"NX", "X", "NX_HW_NOT_SUPPORTED", "NX_SW_NOT_READY", "NX_NOT_ACCEPTED", "NX_NOT_SUPPORTED", "NX_LOCAL_DST", "NX_FALLBACK"}

func (s *BlockStream) newFlow() flow {
	r := s.rng
	f := flow{v6: r.Float64() < s.o.IPv6Share, remote: r.Uint64(), outbound: r.IntN(5) != 0}
	x := r.IntN(serviceWeight)
	for _, sv := range services {
		if x < sv.w {
			f.servicePort, f.proto = sv.port, sv.proto
			break
		}
		x -= sv.w
	}
	if f.proto == 1 && s.o.Format != FormatVNetv4 {
		f.servicePort, f.proto = 443, 6 // NSG logs only know T and U
	}
	if f.proto != 1 {
		f.clientPort = uint16(32768 + r.IntN(28232))
	}
	if len(s.res.rules) > 2 {
		f.rule = uint8(1 + r.IntN(len(s.res.rules)-1))
	} else {
		f.rule = 1
	}
	switch e := r.IntN(100); {
	case e < 80:
		f.enc = 0
	case e < 92:
		f.enc = 1
	case e < 97:
		f.enc = 2
	default:
		f.enc = uint8(3 + r.IntN(len(encryptions)-3))
	}
	return f
}

func (s *BlockStream) deniedFlow() flow {
	r := s.rng
	f := flow{v6: r.Float64() < s.o.IPv6Share, remote: r.Uint64(), proto: 6, rule: 0}
	if r.IntN(6) == 0 {
		f.proto = 17
	}
	f.clientPort = uint16(1024 + r.IntN(64000)) // the scanner's source port
	if r.IntN(2) == 0 {
		f.servicePort = scanPorts[r.IntN(len(scanPorts))]
	} else {
		f.servicePort = uint16(1 + r.IntN(65535))
	}
	return f
}

// appendTuples writes the quoted tuples of rule ri, comma separated.
func (s *BlockStream) appendTuples(b []byte, ri int) []byte {
	first := true
	for i := range s.tups {
		t := &s.tups[i]
		if int(t.f.rule) != ri {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = s.appendTuple(b, t)
		b = append(b, '"')
		s.tuples++
	}
	return b
}

func (s *BlockStream) appendTuple(b []byte, t *tup) []byte {
	f := &t.f
	vnet := s.o.Format == FormatVNetv4
	if vnet {
		b = strconv.AppendInt(b, t.ms, 10)
	} else {
		b = strconv.AppendInt(b, t.ms/1000, 10)
	}
	b = append(b, ',')
	// Denied flows are inbound: the remote scans a local port. Either way
	// the client port is the source and the service port the destination.
	inbound := t.state == 'D' || !f.outbound
	srcPort, dstPort := f.clientPort, f.servicePort
	if inbound {
		b = appendRemote(b, f)
		b = append(b, ',')
		b = s.appendLocal(b, f.v6)
	} else {
		b = s.appendLocal(b, f.v6)
		b = append(b, ',')
		b = appendRemote(b, f)
	}
	b = append(b, ',')
	if f.proto != 1 {
		b = strconv.AppendUint(b, uint64(srcPort), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(dstPort), 10)
	} else {
		b = append(b, ',')
	}
	b = append(b, ',')
	if vnet {
		b = strconv.AppendUint(b, uint64(f.proto), 10)
	} else if f.proto == 17 {
		b = append(b, 'U')
	} else {
		b = append(b, 'T')
	}
	if inbound {
		b = append(b, ",I,"...)
	} else {
		b = append(b, ",O,"...)
	}
	switch s.o.Format {
	case FormatNSGv1:
		if t.state == 'D' {
			return append(b, 'D')
		}
		return append(b, 'A')
	case FormatNSGv2:
		if t.state == 'D' {
			return append(b, "D,B,,,,"...)
		}
		b = append(b, 'A', ',', t.state)
		if t.state == 'B' {
			return append(b, ",,,,"...)
		}
		return s.appendCounters(b)
	}
	b = append(b, t.state, ',')
	b = append(b, encryptions[f.enc]...)
	if t.state == 'B' || t.state == 'D' {
		return append(b, ",0,0,0,0"...)
	}
	return s.appendCounters(b)
}

func (s *BlockStream) appendCounters(b []byte) []byte {
	r := s.rng
	p1 := 1 + r.IntN(40)
	b1 := p1 * (54 + r.IntN(1400))
	p2 := r.IntN(p1 + 5)
	b2 := p2 * (54 + r.IntN(1400))
	for _, v := range [4]int{p1, b1, p2, b2} {
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return b
}

// appendLocal writes the NIC's own address.
func (s *BlockStream) appendLocal(b []byte, v6 bool) []byte {
	if v6 {
		return append(b, s.res.local6...)
	}
	return append(b, s.res.local4...)
}

// firstOctets of remote IPv4 addresses: public ranges seen in real captures.
var firstOctets = []byte{13, 20, 23, 35, 40, 51, 52, 64, 79, 103, 104, 147, 162, 167, 184, 194, 198, 203}

func appendRemote(b []byte, f *flow) []byte {
	x := f.remote
	if f.v6 {
		b = append(b, "2603:10"...)
		b = strconv.AppendUint(b, 10+x%90, 10)
		for k := 0; k < 3; k++ {
			x >>= 16
			b = append(b, ':')
			b = strconv.AppendUint(b, x&0xffff, 16)
		}
		b = append(b, "::"...)
		return strconv.AppendUint(b, 1+(x>>16)%0xfffe, 16)
	}
	b = strconv.AppendUint(b, uint64(firstOctets[x%uint64(len(firstOctets))]), 10)
	for k := 0; k < 3; k++ {
		x >>= 8
		b = append(b, '.')
		v := x & 0xff
		if k == 2 && (v == 0 || v == 255) {
			v = 1 + v%254
		}
		b = strconv.AppendUint(b, v, 10)
	}
	return b
}
