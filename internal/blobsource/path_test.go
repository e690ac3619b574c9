package blobsource

import (
	"strings"
	"testing"
	"time"
)

func TestParsePath(t *testing.T) {
	h9 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in          string
		sub, rg, res, mac string
		resource          string
		hour              time.Time
		wantErr           bool
	}{
		{"nsg with mac",
			"resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1/y=2026/m=11/d=26/h=09/m=00/macAddress=000D3AF87856/PT1H.json",
			"S1", "RG1", "NSG1", "000D3AF87856",
			"resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1/", h9, false},
		{"old nsg without mac",
			"resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1/y=2017/m=02/d=03/h=23/m=00/PT1H.json",
			"S1", "RG1", "NSG1", "", "resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1/",
			time.Date(2017, 2, 3, 23, 0, 0, 0, time.UTC), false},
		{"vnet long",
			"flowLogResourceID=/SUBSCRIPTIONS/S2/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/FL1/y=2026/m=11/d=26/h=09/m=00/macAddress=00-0D-3A/PT1H.json",
			"S2", "NETWORKWATCHERRG", "FL1", "00-0D-3A",
			"flowLogResourceID=/SUBSCRIPTIONS/S2/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/FL1/", h9, false},
		{"vnet short",
			"flowLogResourceID=/S3_NETWORKWATCHERRG/NETWORKWATCHER_EASTUS_MY_FLOWLOG/y=2026/m=11/d=26/h=09/m=00/macAddress=AA/PT1H.json",
			"S3", "NETWORKWATCHERRG", "MY_FLOWLOG", "AA",
			"flowLogResourceID=/S3_NETWORKWATCHERRG/NETWORKWATCHER_EASTUS_MY_FLOWLOG/", h9, false},
		{"minute before month is still month first", "r/y=2026/m=11/d=26/h=09/m=00/PT1H.json", "", "", "", "", "r/", h9, false},
		{"no time", "resourceId=/SUBSCRIPTIONS/S/PT1H.json", "", "", "", "", "", time.Time{}, true},
		{"bad hour", "r/y=2026/m=11/d=26/h=24/m=00/PT1H.json", "", "", "", "", "", time.Time{}, true},
		{"not a number", "r/y=2026/m=xx/d=26/h=01/m=00/PT1H.json", "", "", "", "", "", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePath(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p.SubscriptionID != tt.sub || p.ResourceGroup != tt.rg || p.Name != tt.res || p.MAC != tt.mac ||
				p.Resource != tt.resource || !p.Hour.Equal(tt.hour) {
				t.Fatalf("got %+v", p)
			}
			if got := HourPrefix(p.Resource, p.Hour); !strings.HasPrefix(tt.in, got) {
				t.Fatalf("HourPrefix %q is not a prefix of %q", got, tt.in)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	p := Path{SubscriptionID: "S1", ResourceGroup: "rg1", Name: "NSG1"}
	tests := []struct {
		name string
		f    Filter
		mac  string
		want bool
	}{
		{"empty", Filter{}, "", true},
		{"sub case-insensitive", Filter{Subscriptions: []string{"s1"}}, "", true},
		{"other sub", Filter{Subscriptions: []string{"S2"}}, "", false},
		{"rg and name", Filter{ResourceGroups: []string{"RG1"}, Names: []string{"nsg1", "x"}}, "", true},
		{"mac separators", Filter{MACs: []string{"00:0d:3a:f8:78:56"}}, "000D3AF87856", true},
		{"other mac", Filter{MACs: []string{"00:0d:3a:f8:78:57"}}, "000D3AF87856", false},
		{"no mac in path", Filter{MACs: []string{"00"}}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.MatchResource(p) && tt.f.MatchMAC(tt.mac); got != tt.want {
				t.Fatalf("match = %v, want %v", got, tt.want)
			}
		})
	}
}
