package flowparse

import (
	"encoding/json"
	"fmt"
	"unsafe"
)

// RecordMap expands one record that was already decoded into a map, as a
// Fluent Bit output receives it (string values may be string or []byte;
// nested values map[string]any, map[any]any or []any). Strings are viewed in
// place, so this path allocates nothing per tuple.
func (p *Parser) RecordMap(m map[string]any) error {
	p.recIdx = 0
	return p.recordMap(m)
}

func (p *Parser) recordMap(m map[string]any) error {
	rec := p.recIdx
	p.recIdx++
	var flows map[string]any
	kind := Kind(0)
	if v, ok := asMap(m["flowRecords"]); ok {
		flows, kind = v, KindVNet
	} else if v, ok := asMap(m["properties"]); ok {
		flows, kind = v, KindNSG
	}
	if kind == 0 {
		reason := "no \"properties\" or \"flowRecords\" object: not a flow-log record"
		if _, nested := m["records"]; nested {
			reason = "a \"records\" array inside a record (nested blob), not a flow-log record"
		}
		p.skip(SkipNotRecord, rec, 0, fmt.Sprintf("record %d: %s", rec, reason))
		p.Stats.RecordsSkipped++
		return nil
	}
	p.Stats.Records++
	ev := &p.ev
	*ev = Event{Kind: kind, RecordTime: asBytes(m["time"]), Category: asBytes(m["category"]), MAC: asBytes(m["macAddress"])}
	p.recVersion = 0
	if kind == KindNSG {
		id := asBytes(m["resourceId"])
		ev.FlowLogResource, ev.TargetResource = id, id
		rp := ParseResourceID(id)
		ev.SubscriptionID, ev.ResourceGroup, ev.Name = rp.SubscriptionID, rp.ResourceGroup, rp.Name
		if v, ok := asInt(flows["Version"]); ok {
			p.recVersion = int(v)
		}
		rules, ok := flows["flows"].([]any)
		if !ok {
			p.skip(SkipNotRecord, rec, 0, fmt.Sprintf("record %d: properties has no \"flows\" array", rec))
			return nil
		}
		recMAC := ev.MAC
		for _, r := range rules {
			rm, ok := asMap(r)
			if !ok {
				continue
			}
			rule := asBytes(rm["rule"])
			macs, _ := rm["flows"].([]any)
			for _, mf := range macs {
				mm, ok := asMap(mf)
				if !ok {
					continue
				}
				p.setGroup(rule, asBytes(mm["mac"]), recMAC)
				p.tupleList(mm["flowTuples"], rec)
			}
		}
		return nil
	}
	p.recVersion = 4
	if v, ok := asInt(m["flowLogVersion"]); ok {
		p.recVersion = int(v)
	}
	ev.FlowLogResource = asBytes(m["flowLogResourceID"])
	ev.TargetResource = asBytes(m["targetResourceID"])
	fp := ParseResourceID(ev.FlowLogResource)
	ev.Name = fp.Name
	tp := ParseResourceID(ev.TargetResource)
	ev.SubscriptionID, ev.ResourceGroup = tp.SubscriptionID, tp.ResourceGroup
	if len(ev.SubscriptionID) == 0 {
		ev.SubscriptionID, ev.ResourceGroup = fp.SubscriptionID, fp.ResourceGroup
	}
	fl, ok := flows["flows"].([]any)
	if !ok {
		p.skip(SkipNotRecord, rec, 0, fmt.Sprintf("record %d: flowRecords has no \"flows\" array", rec))
		return nil
	}
	for _, f := range fl {
		fm, ok := asMap(f)
		if !ok {
			continue
		}
		acl := asBytes(fm["aclID"])
		groups, _ := fm["flowGroups"].([]any)
		for _, g := range groups {
			gm, ok := asMap(g)
			if !ok {
				continue
			}
			ev.AclID = acl
			p.setGroup(asBytes(gm["rule"]), ev.MAC, nil)
			p.tupleList(gm["flowTuples"], rec)
		}
	}
	return nil
}

func (p *Parser) tupleList(v any, rec int) {
	list, ok := v.([]any)
	if !ok {
		return
	}
	for i, t := range list {
		b, ok := bytesOf(t)
		if !ok {
			p.Stats.TuplesSkipped++
			p.skipTuple(SkipBadField, rec, i, 0, fmt.Sprintf("record %d, rule %q, tuple %d: not a string", rec, p.ev.Rule, i))
			continue
		}
		p.tuple(b, rec, i, 0)
	}
}

// asMap accepts both map shapes decoders produce.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		// Rare (reflective msgpack decoders): convert once per container.
		out := make(map[string]any, len(m))
		for k, val := range m {
			if kb, ok := bytesOf(k); ok {
				out[string(kb)] = val
			}
		}
		return out, true
	}
	return nil, false
}

func bytesOf(v any) ([]byte, bool) {
	switch s := v.(type) {
	case string:
		return unsafe.Slice(unsafe.StringData(s), len(s)), true
	case []byte:
		return s, true
	}
	return nil, false
}

func asBytes(v any) []byte {
	b, _ := bytesOf(v)
	return b
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case uint64:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint8:
		return int64(n), true
	case int8:
		return int64(n), true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string, []byte:
		b, _ := bytesOf(n)
		return parseInt(b)
	}
	return 0, false
}
