package flowparse

import (
	"bytes"
	"errors"
	"fmt"
)

// SkipKind classifies why part of the input was not turned into events.
type SkipKind uint8

const (
	SkipMalformed  SkipKind = iota // not valid JSON where a record should be
	SkipTruncated                  // input ended inside a record
	SkipNotRecord                  // valid JSON but not a flow-log record (e.g. a nested "records" blob)
	SkipFieldCount                 // tuple with the wrong number of fields
	SkipBadField                   // tuple field that is not what the format says (non-numeric port, empty IP...)
	numSkipKinds
)

var skipKindNames = [numSkipKinds]string{"malformed-json", "truncated", "not-a-record", "tuple-field-count", "tuple-bad-field"}

func (k SkipKind) String() string {
	if k < numSkipKinds {
		return skipKindNames[k]
	}
	return fmt.Sprintf("SkipKind(%d)", k)
}

// Skip describes one record or tuple that produced no event.
type Skip struct {
	Kind   SkipKind
	Record int    // index of the record in this input, 0-based
	Tuple  int    // index of the tuple in its MAC/flow group, or -1 for a whole record
	Offset int    // byte offset in the input where the problem was seen
	Reason string // human-readable, names the record and the tuple
}

// Stats counts what a Parser has seen since it was created or Reset.
type Stats struct {
	Records        int64 // records expanded (at least partly)
	RecordsSkipped int64
	Tuples         int64 // events emitted
	TuplesSkipped  int64
	ByKind         [numSkipKinds]int64
}

// Skipped returns the number of skips of kind k.
func (s *Stats) Skipped(k SkipKind) int64 { return s.ByKind[k] }

// Kinds returns every skip kind, for reports.
func Kinds() []SkipKind {
	ks := make([]SkipKind, numSkipKinds)
	for i := range ks {
		ks[i] = SkipKind(i)
	}
	return ks
}

// ErrNotFlowLog is returned when input holds nothing that looks like flow-log JSON.
var ErrNotFlowLog = errors.New("input is not flow-log JSON (expected an object, an array or a block starting with ',')")

// Parser expands flow-log input into events. It is not safe for concurrent
// use; give each goroutine its own. The zero value with OnEvent set is ready.
type Parser struct {
	// OnEvent receives every tuple. The Event is reused: see Event.
	OnEvent func(*Event)
	// OnSkip, if set, receives every skip (rare: it may allocate).
	OnSkip func(Skip)

	Stats Stats

	ev         Event
	recIdx     int
	recVersion int // the record's declared version, 0 when absent
}

// Reset clears the statistics.
func (p *Parser) Reset() { p.Stats = Stats{} }

var bom = []byte{0xEF, 0xBB, 0xBF}

// Blob expands a whole blob ({"records":[...]}), with or without a UTF-8 BOM.
// A blob cut short (a missing tail) still yields every complete record.
func (p *Parser) Blob(data []byte) error { return p.Parse(data) }

// Range expands a byte range of a growing blob as read incrementally: the new
// data blocks, each after the first starting with ','. The first range of a
// blob may begin with the 12-byte head {"records":[ and any range may end with
// the tail ]}. Nothing before the range is needed.
func (p *Parser) Range(data []byte) error { return p.Parse(data) }

// Record expands one bare record.
func (p *Parser) Record(data []byte) error { return p.Parse(data) }

// NDJSON expands bare records separated by newlines.
func (p *Parser) NDJSON(data []byte) error { return p.Parse(data) }

// Parse expands any of the accepted shapes: a blob, a range of one, an array
// of records, one record, or NDJSON of records. Problems inside the input are
// counted skips; the only error is input that is not flow-log JSON at all.
func (p *Parser) Parse(data []byte) error { return p.parse(data, false) }

// parse is Parse; cont marks a later piece of one input (ParseReader): the
// record count goes on and a piece starting with stray bytes is a counted
// skip, not an error.
func (p *Parser) parse(data []byte, cont bool) error {
	data = bytes.TrimPrefix(data, bom)
	s := scanner{b: data}
	if !cont {
		p.recIdx = 0
	}
	switch s.peek() {
	case 0:
		return nil
	case '{', '[', ',', ']':
	default:
		if !cont {
			p.skip(SkipMalformed, -1, s.i, "input does not start with '{', '[' or ','")
			return ErrNotFlowLog
		}
	}
	// inArray is true between a blob head (or '[') and its ']'. Outside
	// one, a head starts a new blob: concatenated blobs expand fully.
	inArray := false
	for {
		switch c := s.peek(); c {
		case 0:
			return nil
		case '[':
			if inArray {
				p.unexpected(&s, c)
				continue
			}
			inArray = true
			s.i++
		case ']':
			inArray = false
			s.i++
		case ',', '}':
			// Separators and the end of the blob tail "]}" carry no data.
			s.i++
		case '{':
			if !inArray && isBlobHead(&s) {
				inArray = true
				continue
			}
			start := s.i
			if err := p.record(&s); err != nil {
				p.recordError(start, err)
				s.i = p.resync(data, start+1)
			}
		default:
			p.unexpected(&s, c)
		}
	}
}

// unexpected counts a byte where a record should start and moves on to the
// next record.
func (p *Parser) unexpected(s *scanner, c byte) {
	p.skip(SkipMalformed, p.recIdx, s.i, fmt.Sprintf("record %d: unexpected %q at offset %d", p.recIdx, c, s.i))
	p.recIdx++
	p.Stats.RecordsSkipped++
	s.i = p.resync(s.b, s.i+1)
}

func (p *Parser) recordError(start int, err error) {
	kind := SkipMalformed
	if errors.Is(err, errEOF) {
		kind = SkipTruncated
	}
	var ne notRecordError
	if errors.As(err, &ne) {
		kind = SkipNotRecord
	}
	p.skip(kind, p.recIdx, start, fmt.Sprintf("record %d at offset %d: %v", p.recIdx, start, err))
	p.Stats.RecordsSkipped++
	p.recIdx++
}

// isBlobHead consumes {"records":[ if that is what comes next.
func isBlobHead(s *scanner) bool {
	save := s.i
	s.i++ // '{'
	k, err := s.str()
	if err == nil && string(k) == "records" && s.expect(':') == nil && s.peek() == '[' {
		s.i++
		return true
	}
	s.i = save
	return false
}

// resync finds the next place at or after from where a complete flow-log
// record starts, after a record that could not be read. It returns len(data)
// when there is none.
func (p *Parser) resync(data []byte, from int) int {
	for j := from; j < len(data); j++ {
		k := bytes.IndexByte(data[j:], '{')
		if k < 0 {
			return len(data)
		}
		j += k
		if !startsElement(data, j) {
			continue
		}
		probe := scanner{b: data, i: j}
		var info recInfo
		if probe.recordMembers(&info) == nil && info.kind != 0 {
			return j
		}
	}
	return len(data)
}

// startsElement reports whether the '{' at j follows a ',', a '[' or a line
// break: the places a record can start.
func startsElement(b []byte, j int) bool {
	for k := j - 1; k >= 0; k-- {
		switch b[k] {
		case ' ', '\t', '\r':
			continue
		case ',', '[', '\n':
			return true
		default:
			return false
		}
	}
	return true
}

func (p *Parser) skip(kind SkipKind, rec, off int, reason string) {
	p.skipTuple(kind, rec, -1, off, reason)
}

func (p *Parser) skipTuple(kind SkipKind, rec, tuple, off int, reason string) {
	p.Stats.ByKind[kind]++
	if p.OnSkip != nil {
		p.OnSkip(Skip{Kind: kind, Record: rec, Tuple: tuple, Offset: off, Reason: reason})
	}
}

type span struct{ start, end int }

func (sp span) ok() bool { return sp.end > sp.start }

// recInfo is what the first pass over a record learns: top-level fields and
// where the flow container sits, since key order is not fixed.
type recInfo struct {
	kind                            Kind
	time, mac, category             []byte
	resourceID, flowLogID, targetID []byte
	version                         int64
	flows                           span // properties (NSG) or flowRecords (VNet)
	nested                          bool
}

type notRecordError struct{ msg string }

func (e notRecordError) Error() string { return e.msg }

// recordMembers reads a record's top level and validates its whole structure.
func (s *scanner) recordMembers(info *recInfo) error {
	return s.objectMembers(func(key []byte) error {
		switch string(key) {
		case "time":
			info.time = s.optStr()
		case "macAddress":
			info.mac = s.optStr()
		case "category":
			info.category = s.optStr()
		case "resourceId":
			info.resourceID = s.optStr()
		case "flowLogResourceID":
			info.flowLogID = s.optStr()
		case "targetResourceID":
			info.targetID = s.optStr()
		case "flowLogVersion":
			if v, err := s.intValue(); err == nil {
				info.version = v
			}
		case "properties", "flowRecords":
			start := s.peekPos()
			if err := s.skip(); err != nil {
				return err
			}
			if s.b[start] == '{' {
				info.flows = span{start, s.i}
				info.kind = KindNSG
				if key[0] == 'f' {
					info.kind = KindVNet
				}
			}
		case "records":
			info.nested = true
			return s.skip()
		default:
			return s.skip()
		}
		return nil
	})
}

func (s *scanner) peekPos() int {
	s.ws()
	return s.i
}

// optStr reads a string value; any other value is skipped and gives nil.
func (s *scanner) optStr() []byte {
	if s.peek() == '"' {
		if v, err := s.str(); err == nil {
			return v
		}
	}
	_ = s.skip()
	return nil
}

// record expands one record starting at s.i.
func (p *Parser) record(s *scanner) error {
	start := s.i
	var info recInfo
	if err := s.recordMembers(&info); err != nil {
		return err
	}
	if info.kind == 0 {
		if info.nested {
			return notRecordError{"a \"records\" array inside a record (nested blob), not a flow-log record"}
		}
		return notRecordError{"no \"properties\" or \"flowRecords\" object: not a flow-log record"}
	}
	rec := p.recIdx
	p.recIdx++
	p.Stats.Records++

	ev := &p.ev
	*ev = Event{Kind: info.kind, RecordTime: info.time, Category: info.category, MAC: info.mac}
	p.recVersion = 0
	sub := scanner{b: s.b[:info.flows.end], i: info.flows.start}
	if info.kind == KindNSG {
		ev.FlowLogResource = info.resourceID
		ev.TargetResource = info.resourceID
		rp := ParseResourceID(info.resourceID)
		ev.SubscriptionID, ev.ResourceGroup, ev.Name = rp.SubscriptionID, rp.ResourceGroup, rp.Name
		p.nsgProperties(&sub, rec, start)
	} else {
		p.recVersion = int(info.version)
		if p.recVersion == 0 {
			p.recVersion = 4
		}
		ev.FlowLogResource = info.flowLogID
		ev.TargetResource = info.targetID
		fp := ParseResourceID(info.flowLogID)
		ev.Name = fp.Name
		tp := ParseResourceID(info.targetID)
		ev.SubscriptionID, ev.ResourceGroup = tp.SubscriptionID, tp.ResourceGroup
		if len(ev.SubscriptionID) == 0 {
			ev.SubscriptionID, ev.ResourceGroup = fp.SubscriptionID, fp.ResourceGroup
		}
		p.vnetFlowRecords(&sub, rec, start)
	}
	return nil
}

// The walks below run over structure the first pass already validated, so
// scanner errors cannot occur; values of the wrong type are skipped.

func (p *Parser) nsgProperties(s *scanner, rec, off int) {
	var flows span
	_ = s.objectMembers(func(key []byte) error {
		switch string(key) {
		case "Version", "version":
			if v, err := s.intValue(); err == nil {
				p.recVersion = int(v)
			}
			return nil
		case "flows":
			flows = s.arraySpan()
			return nil
		}
		return s.skip()
	})
	if !flows.ok() {
		p.skip(SkipNotRecord, rec, off, fmt.Sprintf("record %d at offset %d: properties has no \"flows\" array", rec, off))
		return
	}
	recMAC := p.ev.MAC
	fs := scanner{b: s.b[:flows.end], i: flows.start}
	_ = fs.arrayElems(func(int) error { return p.nsgRule(&fs, rec, recMAC) })
}

// The four group walkers below (nsgRule, nsgMAC, vnetACL, vnetGroup) share a
// shape but stay separate on purpose: one helper taking nested closures made
// them escape to the heap (60 allocations per 3,000 tuples, measured with
// BenchmarkParse), and this path allocates nothing.

// nsgRule walks {"rule":..., "flows":[...]}. When the rule comes first (as
// Azure writes it) the MAC groups are walked in place; otherwise the array is
// revisited once the rule is known.
func (p *Parser) nsgRule(s *scanner, rec int, recMAC []byte) error {
	if s.peek() != '{' {
		return s.skip()
	}
	var rule []byte
	haveRule := false
	var later span
	err := s.objectMembers(func(key []byte) error {
		switch string(key) {
		case "rule":
			rule, haveRule = s.optStr(), true
			return nil
		case "flows":
			if haveRule && s.peek() == '[' {
				return s.arrayElems(func(int) error { return p.nsgMAC(s, rec, rule, recMAC) })
			}
			later = s.arraySpan()
			return nil
		}
		return s.skip()
	})
	if err != nil || !later.ok() {
		return err
	}
	ms := scanner{b: s.b[:later.end], i: later.start}
	return ms.arrayElems(func(int) error { return p.nsgMAC(&ms, rec, rule, recMAC) })
}

// nsgMAC walks {"mac":..., "flowTuples":[...]}.
func (p *Parser) nsgMAC(s *scanner, rec int, rule, recMAC []byte) error {
	if s.peek() != '{' {
		return s.skip()
	}
	var mac []byte
	haveMAC := false
	var later span
	err := s.objectMembers(func(key []byte) error {
		switch string(key) {
		case "mac":
			mac, haveMAC = s.optStr(), true
			return nil
		case "flowTuples":
			if haveMAC && s.peek() == '[' {
				p.setGroup(rule, mac, recMAC)
				return p.tupleArray(s, rec)
			}
			later = s.arraySpan()
			return nil
		}
		return s.skip()
	})
	if err != nil || !later.ok() {
		return err
	}
	p.setGroup(rule, mac, recMAC)
	ts := scanner{b: s.b[:later.end], i: later.start}
	return p.tupleArray(&ts, rec)
}

func (p *Parser) setGroup(rule, mac, recMAC []byte) {
	p.ev.Rule = rule
	p.ev.MAC = mac
	if len(mac) == 0 {
		p.ev.MAC = recMAC
	}
	p.ev.setGroupHash()
}

func (p *Parser) vnetFlowRecords(s *scanner, rec, off int) {
	var flows span
	_ = s.objectMembers(func(key []byte) error {
		if string(key) == "flows" {
			flows = s.arraySpan()
			return nil
		}
		return s.skip()
	})
	if !flows.ok() {
		p.skip(SkipNotRecord, rec, off, fmt.Sprintf("record %d at offset %d: flowRecords has no \"flows\" array", rec, off))
		return
	}
	fs := scanner{b: s.b[:flows.end], i: flows.start}
	_ = fs.arrayElems(func(int) error { return p.vnetACL(&fs, rec) })
}

// vnetACL walks {"aclID":..., "flowGroups":[...]}.
func (p *Parser) vnetACL(s *scanner, rec int) error {
	if s.peek() != '{' {
		return s.skip()
	}
	var acl []byte
	haveACL := false
	var later span
	err := s.objectMembers(func(key []byte) error {
		switch string(key) {
		case "aclID":
			acl, haveACL = s.optStr(), true
			return nil
		case "flowGroups":
			if haveACL && s.peek() == '[' {
				return s.arrayElems(func(int) error { return p.vnetGroup(s, rec, acl) })
			}
			later = s.arraySpan()
			return nil
		}
		return s.skip()
	})
	if err != nil || !later.ok() {
		return err
	}
	gs := scanner{b: s.b[:later.end], i: later.start}
	return gs.arrayElems(func(int) error { return p.vnetGroup(&gs, rec, acl) })
}

// vnetGroup walks {"rule":..., "flowTuples":[...]} (the rule may come last).
func (p *Parser) vnetGroup(s *scanner, rec int, acl []byte) error {
	if s.peek() != '{' {
		return s.skip()
	}
	var rule []byte
	haveRule := false
	var later span
	err := s.objectMembers(func(key []byte) error {
		switch string(key) {
		case "rule":
			rule, haveRule = s.optStr(), true
			return nil
		case "flowTuples":
			if haveRule && s.peek() == '[' {
				p.ev.AclID = acl
				p.setGroup(rule, p.ev.MAC, nil)
				return p.tupleArray(s, rec)
			}
			later = s.arraySpan()
			return nil
		}
		return s.skip()
	})
	if err != nil || !later.ok() {
		return err
	}
	p.ev.AclID = acl
	p.setGroup(rule, p.ev.MAC, nil)
	ts := scanner{b: s.b[:later.end], i: later.start}
	return p.tupleArray(&ts, rec)
}

// arraySpan skips a value and returns its span if it is an array.
func (s *scanner) arraySpan() span {
	start := s.peekPos()
	if s.skip() != nil || start >= len(s.b) || s.b[start] != '[' {
		return span{}
	}
	return span{start, s.i}
}

// tupleArray reads an array of tuple strings at s.i and emits each.
func (p *Parser) tupleArray(s *scanner, rec int) error {
	return s.arrayElems(func(i int) error {
		off := s.peekPos()
		if s.peek() != '"' {
			p.Stats.TuplesSkipped++
			p.skipTuple(SkipBadField, rec, i, off, fmt.Sprintf("record %d, rule %q, tuple %d: not a string", rec, p.ev.Rule, i))
			return s.skip()
		}
		t, err := s.str()
		if err != nil {
			return err
		}
		p.tuple(t, rec, i, off)
		return nil
	})
}

const maxTupleFields = 13

// maxTupleMillis is 9999-12-31T23:59:59.999Z, the last time ISO 8601 rows
// can carry; a later tuple time (or NSG seconds that overflow as
// milliseconds) is a bad field, not a wrong TimeGenerated.
const maxTupleMillis = 253402300799999

// tuple splits and checks one tuple and emits it.
func (p *Parser) tuple(t []byte, rec, idx, off int) {
	var f [maxTupleFields][]byte
	n := 0
	rest := t
	for {
		k := bytes.IndexByte(rest, ',')
		if n == maxTupleFields {
			n++ // too many
			break
		}
		if k < 0 {
			f[n] = rest
			n++
			break
		}
		f[n] = rest[:k]
		rest = rest[k+1:]
		n++
	}
	ev := &p.ev
	want := 13
	version := p.recVersion
	if ev.Kind == KindNSG {
		switch version {
		case 1:
			want = 8
		case 2:
		default:
			if n == 8 {
				want = 8
			}
		}
	}
	if n != want {
		p.badTuple(SkipFieldCount, rec, idx, off, t, fmt.Sprintf("has %s fields, want %d", countStr(n), want))
		return
	}
	ts, ok := parseInt(f[0])
	if !ok || ts < 0 {
		p.badTuple(SkipBadField, rec, idx, off, t, "time is not a number")
		return
	}
	if ev.Kind == KindNSG {
		if ts > maxTupleMillis/1000 {
			ts = maxTupleMillis + 1 // would overflow: reject below
		} else {
			ts *= 1000
		}
	}
	if ts > maxTupleMillis {
		p.badTuple(SkipBadField, rec, idx, off, t, "time is after year 9999")
		return
	}
	if len(f[1]) == 0 || len(f[2]) == 0 {
		p.badTuple(SkipBadField, rec, idx, off, t, "empty IP address")
		return
	}
	if !isPort(f[3]) || !isPort(f[4]) {
		p.badTuple(SkipBadField, rec, idx, off, t, "port is not a number 0-65535")
		return
	}
	if len(f[5]) == 0 {
		p.badTuple(SkipBadField, rec, idx, off, t, "empty protocol")
		return
	}
	ev.Tuple = t
	ev.Version = version
	ev.TimeMillis = ts
	ev.SrcIP, ev.DestIP, ev.SrcPort, ev.DestPort = f[1], f[2], f[3], f[4]
	ev.Protocol, ev.Direction = f[5], f[6]
	ev.Decision, ev.State, ev.Encryption = nil, nil, nil
	ev.HasCounters = false
	ev.PacketsSrcToDest, ev.BytesSrcToDest, ev.PacketsDestToSrc, ev.BytesDestToSrc = 0, 0, 0, 0
	if ev.Kind == KindNSG {
		ev.Decision = f[7]
		if n == 13 {
			ev.State = f[8]
		}
		if version == 0 {
			ev.Version = 1
			if n == 13 {
				ev.Version = 2
			}
		}
	} else {
		ev.State, ev.Encryption = f[7], f[8]
	}
	if n == 13 {
		if len(f[9])|len(f[10])|len(f[11])|len(f[12]) != 0 {
			var c [4]int64
			for i := range c {
				if len(f[9+i]) == 0 {
					continue
				}
				v, ok := parseInt(f[9+i])
				if !ok || v < 0 {
					p.badTuple(SkipBadField, rec, idx, off, t, "counter is not a number")
					return
				}
				c[i] = v
			}
			ev.HasCounters = true
			ev.PacketsSrcToDest, ev.BytesSrcToDest, ev.PacketsDestToSrc, ev.BytesDestToSrc = c[0], c[1], c[2], c[3]
		}
	}
	p.Stats.Tuples++
	p.OnEvent(ev)
}

func countStr(n int) string {
	if n > maxTupleFields {
		return fmt.Sprintf("more than %d", maxTupleFields)
	}
	return fmt.Sprint(n)
}

func (p *Parser) badTuple(kind SkipKind, rec, idx, off int, t []byte, why string) {
	p.Stats.TuplesSkipped++
	p.skipTuple(kind, rec, idx, off, fmt.Sprintf("record %d, rule %q, tuple %d %q: %s", rec, p.ev.Rule, idx, clip(t), why))
}

// isPort accepts an empty field (ICMP and some VNet tuples carry none) or 0-65535.
func isPort(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	n, ok := parseInt(b)
	return ok && n >= 0 && n <= 65535 && b[0] != '-'
}
