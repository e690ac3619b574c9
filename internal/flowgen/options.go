package flowgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Format selects the flow-log family and version to generate.
type Format int

const (
	FormatNSGv1  Format = iota + 1 // NSG flow log version 1: 8-field tuples
	FormatNSGv2                    // NSG flow log version 2: 13-field tuples, empty counters on B
	FormatVNetv4                   // VNet flow log version 4: epoch-ms tuples, protocol numbers, encryption
)

// Containers the Network Watcher writes flow logs to.
const (
	ContainerNSG  = "insights-logs-networksecuritygroupflowevent"
	ContainerVNet = "insights-logs-flowlogflowevent"
)

// String returns the CLI name: nsg1, nsg2 or vnet4.
func (f Format) String() string {
	switch f {
	case FormatNSGv1:
		return "nsg1"
	case FormatNSGv2:
		return "nsg2"
	case FormatVNetv4:
		return "vnet4"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Container returns the blob container Azure writes this format to.
func (f Format) Container() string {
	if f == FormatVNetv4 {
		return ContainerVNet
	}
	return ContainerNSG
}

// ParseFormat accepts nsg1, nsg2, vnet4 (and the spellings nsgv1, nsgv2,
// vnetv4, vnet), case-insensitively.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "nsg1", "nsgv1", "nsg-v1":
		return FormatNSGv1, nil
	case "nsg2", "nsgv2", "nsg-v2", "nsg":
		return FormatNSGv2, nil
	case "vnet4", "vnetv4", "vnet-v4", "vnet":
		return FormatVNetv4, nil
	}
	return 0, fmt.Errorf("unknown format %q (want nsg1, nsg2 or vnet4)", s)
}

// StateMix weighs the flow states of generated tuples. Deny tuples go under a
// deny rule: NSG tuples get decision D (and state B in version 2), VNet tuples
// state D. Begin, Continuing and End tuples are allowed flows. The zero value
// means DefaultStateMix.
type StateMix struct {
	Begin, Continuing, End, Deny float64
}

// DefaultStateMix resembles the real captures: many short flows, a steady
// stream of denied scans.
var DefaultStateMix = StateMix{Begin: 3, Continuing: 2, End: 3, Deny: 2}

// ParseStateMix reads "B,C,E,D" weights such as "3,2,3,2".
func ParseStateMix(s string) (StateMix, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return StateMix{}, fmt.Errorf("state mix %q: want 4 comma-separated weights B,C,E,D", s)
	}
	var w [4]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 {
			return StateMix{}, fmt.Errorf("state mix %q: weight %d (%q) is not a number >= 0", s, i+1, p)
		}
		w[i] = v
	}
	m := StateMix{w[0], w[1], w[2], w[3]}
	if m.sum() == 0 {
		return StateMix{}, fmt.Errorf("state mix %q: all weights are zero", s)
	}
	return m, nil
}

func (m StateMix) sum() float64 { return m.Begin + m.Continuing + m.End + m.Deny }

// Options describes a generated data set. Zero fields take the defaults
// noted; Generate and NewBlockStream validate the rest.
type Options struct {
	Format Format // default FormatVNetv4
	Seed   uint64

	Resources int // NSGs (NSG formats) or flow logs (VNet); default 1
	MACs      int // NICs per resource, one blob each per hour; default 1
	Hours     int // consecutive UTC hours; default 1
	// Start is the first hour; it is truncated to the hour in UTC. Default
	// 2026-11-26T00:00:00Z (fixed, so output does not depend on the clock).
	Start time.Time

	// RecordsPerHour is the number of records (= data blocks) per blob;
	// default 60, one a minute as Azure writes them.
	RecordsPerHour int
	// TuplesPerRecord is the exact number of tuples in each record; default 20.
	TuplesPerRecord int
	// Rules is the number of distinct rules per resource, at least 2: one
	// deny rule (DefaultRule_DenyAllInBound) and Rules-1 allow rules. Default 2.
	Rules int
	// IPv6Share is the fraction of flows (0..1) with IPv6 addresses.
	IPv6Share float64
	// StateMix weighs tuple states; zero means DefaultStateMix.
	StateMix StateMix
	// LongRuleNames gives user rules long names with GUID suffixes (real
	// rule names can be long and carry GUIDs). Needs Rules >= 3.
	LongRuleNames bool
}

// DefaultStart is the Start used when Options.Start is zero.
var DefaultStart = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Format == 0 {
		o.Format = FormatVNetv4
	}
	if o.Format < FormatNSGv1 || o.Format > FormatVNetv4 {
		return o, fmt.Errorf("flowgen: unknown format %d", int(o.Format))
	}
	def := func(v *int, d int, name string) error {
		if *v == 0 {
			*v = d
		}
		if *v < 0 {
			return fmt.Errorf("flowgen: %s must be positive, got %d", name, *v)
		}
		return nil
	}
	for _, f := range []struct {
		v    *int
		d    int
		name string
	}{
		{&o.Resources, 1, "Resources"}, {&o.MACs, 1, "MACs"}, {&o.Hours, 1, "Hours"},
		{&o.RecordsPerHour, 60, "RecordsPerHour"}, {&o.TuplesPerRecord, 20, "TuplesPerRecord"},
		{&o.Rules, 2, "Rules"},
	} {
		if err := def(f.v, f.d, f.name); err != nil {
			return o, err
		}
	}
	if o.Rules < 2 {
		return o, fmt.Errorf("flowgen: Rules must be at least 2 (one deny rule, one allow rule), got %d", o.Rules)
	}
	if o.RecordsPerHour > 3600*1000 {
		return o, fmt.Errorf("flowgen: RecordsPerHour %d is more than one a millisecond", o.RecordsPerHour)
	}
	if o.MACs > 1<<24 || o.Resources > 1<<24 {
		return o, fmt.Errorf("flowgen: Resources and MACs must be at most %d", 1<<24)
	}
	if !(o.IPv6Share >= 0 && o.IPv6Share <= 1) {
		return o, fmt.Errorf("flowgen: IPv6Share must be in [0,1], got %v", o.IPv6Share)
	}
	m := o.StateMix
	if m.Begin < 0 || m.Continuing < 0 || m.End < 0 || m.Deny < 0 {
		return o, fmt.Errorf("flowgen: StateMix weights must be >= 0, got %+v", m)
	}
	if m.sum() == 0 {
		o.StateMix = DefaultStateMix
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	o.Start = o.Start.UTC().Truncate(time.Hour)
	if o.Start.Before(time.Unix(3600, 0)) || o.Start.Year() > 9998 {
		return o, fmt.Errorf("flowgen: Start %s is out of range (1970-01-01T01:00Z to year 9998)", o.Start.Format(time.RFC3339))
	}
	return o, nil
}

// BlobCount returns how many blobs the options describe
// (Resources × MACs × Hours), or an error when the options are invalid.
func (o Options) BlobCount() (int, error) {
	o, err := o.withDefaults()
	if err != nil {
		return 0, err
	}
	return o.Resources * o.MACs * o.Hours, nil
}
