package flowparse

import "bytes"

// ResourcePath holds the parts of an Azure resource ID that the events carry.
type ResourcePath struct {
	SubscriptionID []byte
	ResourceGroup  []byte
	Name           []byte // last segment: NSG, flow-log, VNet or NIC name
}

// ParseResourceID splits an Azure resource ID such as
// /SUBSCRIPTIONS/{sub}/RESOURCEGROUPS/{rg}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/{nsg}
// into its parts without allocating. Keys match case-insensitively; a part
// that is absent stays empty.
func ParseResourceID(id []byte) ResourcePath {
	var p ResourcePath
	rest := id
	var prev []byte
	var last []byte
	for len(rest) > 0 {
		var seg []byte
		if k := bytes.IndexByte(rest, '/'); k >= 0 {
			seg, rest = rest[:k], rest[k+1:]
		} else {
			seg, rest = rest, nil
		}
		if len(seg) == 0 {
			continue
		}
		switch {
		case bytes.EqualFold(prev, []byte("subscriptions")):
			p.SubscriptionID = seg
		case bytes.EqualFold(prev, []byte("resourcegroups")):
			p.ResourceGroup = seg
		}
		prev = seg
		last = seg
	}
	// Only a path that names something below a provider has a resource name.
	if containsFold(id, []byte("/providers/")) {
		p.Name = last
	}
	return p
}

// containsFold reports whether sub (lower case ASCII) is in b, ignoring case.
func containsFold(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
