package blobsource

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Containers Network Watcher writes flow logs to.
const (
	ContainerNSG  = "insights-logs-networksecuritygroupflowevent"
	ContainerVNet = "insights-logs-flowlogflowevent"
)

// Path is what a flow-log blob name tells.
type Path struct {
	// Resource is the name prefix shared by every blob of one flow-log
	// resource: everything before "y=", ending in '/'.
	Resource string
	// ResourceID is the resource path as written in the name
	// (resourceId= or flowLogResourceID=), without the key.
	ResourceID     string
	SubscriptionID string
	ResourceGroup  string
	Name           string // NSG or flow-log name
	MAC            string // as written; empty in older NSG paths
	Hour           time.Time
}

// ParsePath reads a flow-log blob name such as
//
//	resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N/y=2026/m=11/d=26/h=09/m=00/macAddress=M/PT1H.json
//
// Time segments are read by key wherever they are; the first m= is the
// month, the second the minute.
func ParsePath(name string) (Path, error) {
	var p Path
	i := strings.Index(name, "/y=")
	if i < 0 {
		return p, fmt.Errorf("blob %q: no /y= segment: not a flow-log blob path", name)
	}
	p.Resource = name[:i+1]
	parseResource(&p)
	var y, mo, d, h int
	var seenMonth bool
	have := 0
	for _, seg := range strings.Split(name[i+1:], "/") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		switch strings.ToLower(k) {
		case "y":
			y, have = n, have|1
		case "m":
			if !seenMonth {
				mo, seenMonth, have = n, true, have|2
			}
			continue
		case "d":
			d, have = n, have|4
		case "h":
			h, have = n, have|8
		case "macaddress":
			p.MAC = v
			continue
		default:
			continue
		}
		if err != nil {
			return p, fmt.Errorf("blob %q: segment %q is not a number", name, seg)
		}
	}
	if have != 15 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || y < 1 {
		return p, fmt.Errorf("blob %q: incomplete or invalid y=/m=/d=/h= segments", name)
	}
	p.Hour = time.Date(y, time.Month(mo), d, h, 0, 0, 0, time.UTC)
	return p, nil
}

// parseResource fills the ID, subscription, group and name from p.Resource.
func parseResource(p *Path) {
	r := strings.TrimSuffix(p.Resource, "/")
	if _, v, ok := strings.Cut(r, "="); ok && !strings.Contains(r[:strings.IndexByte(r, '=')], "/") {
		r = v
	}
	p.ResourceID = r
	segs := strings.Split(strings.Trim(r, "/"), "/")
	providers := false
	for i := 0; i < len(segs); i++ {
		switch {
		case strings.EqualFold(segs[i], "subscriptions") && i+1 < len(segs):
			p.SubscriptionID = segs[i+1]
			i++
		case strings.EqualFold(segs[i], "resourcegroups") && i+1 < len(segs):
			p.ResourceGroup = segs[i+1]
			i++
		case strings.EqualFold(segs[i], "providers"):
			providers = true
		}
	}
	if providers {
		p.Name = segs[len(segs)-1]
		return
	}
	// Short VNet shape: /{SUB}_{RG}/NETWORKWATCHER_{REGION}_{NAME}
	if len(segs) == 2 {
		if sub, rg, ok := strings.Cut(segs[0], "_"); ok {
			p.SubscriptionID, p.ResourceGroup = sub, rg
		}
		if parts := strings.SplitN(segs[1], "_", 3); len(parts) == 3 {
			p.Name = parts[2]
		} else {
			p.Name = segs[1]
		}
	}
}

// ResourcePath parses a resource prefix (a Path.Resource) alone.
func ResourcePath(prefix string) Path {
	p := Path{Resource: prefix}
	parseResource(&p)
	return p
}

// HourPrefix returns the name prefix of every blob of resource r in hour h.
func HourPrefix(resource string, h time.Time) string {
	h = h.UTC()
	return fmt.Sprintf("%sy=%04d/m=%02d/d=%02d/h=%02d/m=00/", resource, h.Year(), int(h.Month()), h.Day(), h.Hour())
}

// Filter keeps blobs of some subscriptions, resource groups, resource names
// or MAC addresses. Empty lists keep everything; matching ignores case, and
// MACs ignore '-' and ':' separators.
type Filter struct {
	Subscriptions  []string
	ResourceGroups []string
	Names          []string
	MACs           []string
}

// MatchResource reports whether a resource passes the subscription, group
// and name filters.
func (f *Filter) MatchResource(p Path) bool {
	return matchAny(f.Subscriptions, p.SubscriptionID) && matchAny(f.ResourceGroups, p.ResourceGroup) &&
		matchAny(f.Names, p.Name)
}

// MatchMAC reports whether a MAC passes the MAC filter. A path without a
// MAC passes only when the filter is empty.
func (f *Filter) MatchMAC(mac string) bool {
	if len(f.MACs) == 0 {
		return true
	}
	m := normMAC(mac)
	for _, w := range f.MACs {
		if normMAC(w) == m {
			return true
		}
	}
	return false
}

func matchAny(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, w := range list {
		if strings.EqualFold(w, v) {
			return true
		}
	}
	return false
}

func normMAC(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", ":", "", ".", "").Replace(s))
}
