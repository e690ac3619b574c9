package blobsource

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

// TestDiscoveryShapesAndFilters puts every known path shape in one
// container and checks which resources are found and read under filters.
func TestDiscoveryShapesAndFilters(t *testing.T) {
	srv := azurite(t)
	const tail = "y=2026/m=11/d=26/h=00/m=00/"
	names := map[string]string{
		"nsg":        "resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1/" + tail + "macAddress=000D3AF87856/PT1H.json",
		"nsg-old":    "resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG2/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG2/" + tail + "PT1H.json",
		"vnet":       "flowLogResourceID=/SUBSCRIPTIONS/S2/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/FL1/" + tail + "macAddress=000D3A000001/PT1H.json",
		"vnet-mac":   "flowLogResourceID=/SUBSCRIPTIONS/S2/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS/FLOWLOGS/FL1/" + tail + "macAddress=000D3A000002/PT1H.json",
		"vnet-short": "flowLogResourceID=/S3_NETWORKWATCHERRG/NETWORKWATCHER_EASTUS_FL3/" + tail + "macAddress=AA/PT1H.json",
	}
	tests := []struct {
		name      string
		filter    Filter
		resources int
		read      []string
	}{
		{"no filter", Filter{}, 4, []string{"nsg", "nsg-old", "vnet", "vnet-mac", "vnet-short"}},
		{"subscription", Filter{Subscriptions: []string{"s1"}}, 2, []string{"nsg", "nsg-old"}},
		{"short vnet subscription", Filter{Subscriptions: []string{"S3"}}, 1, []string{"vnet-short"}},
		{"resource group", Filter{ResourceGroups: []string{"RG2"}}, 1, []string{"nsg-old"}},
		{"name", Filter{Names: []string{"fl1"}}, 1, []string{"vnet", "vnet-mac"}},
		{"mac", Filter{MACs: []string{"00-0d-3a-00-00-02"}}, 4, []string{"vnet-mac"}},
	}
	src := genBlob(t, flowgen.Options{RecordsPerHour: 2, TuplesPerRecord: 1}, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, func(c *Config) { c.Filter = tt.filter })
			ctx := context.Background()
			for _, n := range names {
				if err := azuritetest.UploadBlob(ctx, e.svc, &flowgen.Blob{Container: e.cont, Name: n, Blocks: src.Blocks}); err != nil {
					t.Fatal(err)
				}
			}
			e.cycle()
			if got := len(e.src.resources); got != tt.resources {
				t.Fatalf("%d resources found, want %d", got, tt.resources)
			}
			var read []string
			for short, n := range names {
				for _, c := range e.sink.chunks {
					if c.Blob.Name == n && c.Start == 0 {
						read = append(read, short)
					}
				}
			}
			sort.Strings(read)
			if len(read) != len(tt.read) {
				t.Fatalf("read %v, want %v", read, tt.read)
			}
			for i := range read {
				if read[i] != tt.read[i] {
					t.Fatalf("read %v, want %v", read, tt.read)
				}
			}
		})
	}
}

// TestBackfill reads closed hours from a start position, hour by hour or
// from the beginning, and a restart on the same checkpoint reads nothing
// again.
func TestBackfill(t *testing.T) {
	srv := azurite(t)
	o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 2, MACs: 2, Hours: 5, RecordsPerHour: 3, TuplesPerRecord: 2, Seed: 21}
	tests := []struct {
		name  string
		start string
		from  time.Time
	}{
		{"beginning", "beginning", time.Time{}},
		{"from hour 3", flowgen.DefaultStart.Add(3*time.Hour + 20*time.Minute).Format(time.RFC3339), flowgen.DefaultStart.Add(3 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, srv, func(c *Config) { c.Start = tt.start; c.Concurrency = 3 })
			ctx := context.Background()
			var want [][]byte
			err := flowgen.Generate(o, func(b *flowgen.Blob) error {
				if !b.Hour.Before(tt.from) {
					want = append(want, b.Bytes())
				}
				b.Container = e.cont
				return azuritetest.UploadBlob(ctx, e.svc, b)
			})
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Set(flowgen.DefaultStart.Add(10 * time.Hour))
			for i := 0; i < 10; i++ {
				e.cycle()
			}
			if len(e.src.blobs) != 0 || len(e.src.pending) != 0 {
				t.Fatalf("%d open, %d pending after backfill", len(e.src.blobs), len(e.src.pending))
			}
			sameIDs(t, e.sink.ids, wantIDs(t, want...))
			if e.sink.finals != len(want) {
				t.Fatalf("%d final chunks, want %d", e.sink.finals, len(want))
			}
			// Finished cursors were pruned: only resource watermarks remain.
			var keys []string
			if err := e.store.List(ctx, "", func(c checkpoint.Cursor) error { keys = append(keys, c.Key); return nil }); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if !strings.HasPrefix(k, "resource/") {
					t.Fatalf("cursor %s kept after its hour passed the watermark", k)
				}
			}
			if len(keys) != o.Resources {
				t.Fatalf("%d entries in the store, want %d resource watermarks", len(keys), o.Resources)
			}
			// Restart: the watermarks say everything is done.
			e.sink = newSink(t, e.store)
			e.src = e.newSource(func(c *Config) { c.Start = tt.start })
			e.cycle()
			e.cycle()
			if len(e.sink.chunks) != 0 {
				t.Fatalf("restart read %d chunks again", len(e.sink.chunks))
			}
			for _, r := range e.src.resources {
				if r.resume.Before(flowgen.DefaultStart.Add(9 * time.Hour)) {
					t.Fatalf("resource watermark %v, want the live hour", r.resume)
				}
			}
		})
	}
}

// TestDiscoveryRetriesSoonWhileIncomplete: a first discovery that finds
// nothing (the writer has not created its container or blobs yet) is
// repeated after 15 s, 30 s, 60 s ... while nothing is found or a
// configured container is missing, and only then every discovery_interval.
func TestDiscoveryRetriesSoonWhileIncomplete(t *testing.T) {
	srv := azurite(t)
	var late string
	e := newEnv(t, srv, func(c *Config) {
		late = c.Containers[0] + "-late"
		c.Containers = append(c.Containers, late)
		c.DiscoveryInterval = 10 * time.Minute
	})
	ctx := context.Background()
	src := genBlob(t, flowgen.Options{RecordsPerHour: 2, TuplesPerRecord: 1}, 0)
	upload := func(cont string) {
		t.Helper()
		if err := azuritetest.UploadBlob(ctx, e.svc, &flowgen.Blob{Container: cont, Name: src.Name, Blocks: src.Blocks}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := e.clock.Now()
	steps := []struct {
		name        string
		at          time.Duration
		do          func()
		discoveries int64
		resources   int
	}{
		{"first discovery, empty container", 0, nil, 1, 0},
		{"nothing found: again after 15s", 16 * time.Second, nil, 2, 0},
		{"second early wait is 30s: not yet", 40 * time.Second, upload0(upload, e.cont), 2, 0},
		{"after 30s the blob's resource is found", 47 * time.Second, nil, 3, 1},
		{"a container still missing: again after 60s", 108 * time.Second, func() {
			if err := azuritetest.CreateContainer(ctx, e.svc, late); err != nil {
				t.Fatal(err)
			}
			upload(late)
		}, 4, 2},
		{"complete: not before discovery_interval", 108*time.Second + 9*time.Minute, nil, 4, 2},
		{"complete: after discovery_interval", 108*time.Second + 10*time.Minute, nil, 5, 2},
	}
	for _, st := range steps {
		e.clock.Set(t0.Add(st.at))
		if st.do != nil {
			st.do()
		}
		e.cycle()
		if got := e.src.Stats().Discoveries; got != st.discoveries {
			t.Fatalf("%s: %d discoveries, want %d", st.name, got, st.discoveries)
		}
		if got := len(e.src.resources); got != st.resources {
			t.Fatalf("%s: %d resources, want %d", st.name, got, st.resources)
		}
	}
	if !strings.Contains(e.logs.String(), "discovery incomplete; looking again soon") {
		t.Errorf("no log line says discovery is retried soon:\n%s", e.logs)
	}
}

func upload0(upload func(string), cont string) func() { return func() { upload(cont) } }
