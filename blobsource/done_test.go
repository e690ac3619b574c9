package blobsource

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/nsgflow/nsgflow/checkpoint"
	"github.com/nsgflow/nsgflow/flowgen"
)

func markerOn(c *Config) {
	c.DoneMarker = DoneMarker{Enabled: true, Key: "OmsLogType", Value: "AzureNetworkAnalytics"}
}

// TestDoneMarker: the marker is set only once the hour is closed and every
// record was acknowledged, keeps the blob's other metadata, and a marked
// blob is skipped by a later run.
func TestDoneMarker(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, markerOn)
	ctx := context.Background()
	b := genBlob(t, flowgen.Options{RecordsPerHour: 6, TuplesPerRecord: 2, Seed: 11}, 0)
	g := e.grower(b.Name)
	if err := g.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...); err != nil {
		t.Fatal(err)
	}
	bc := e.svc.NewContainerClient(e.cont).NewBlobClient(b.Name)
	marker := func() (string, map[string]*string) {
		t.Helper()
		p, err := bc.GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range p.Metadata {
			if strings.EqualFold(k, "omslogtype") {
				return *v, p.Metadata
			}
		}
		return "", p.Metadata
	}
	e.sink.ack = false
	e.cycle()
	if m, _ := marker(); m != "" {
		t.Fatal("marker set while the hour is open")
	}
	// Someone else's metadata, set before the close.
	if _, err := bc.SetMetadata(ctx, map[string]*string{"owner": to.Ptr("netops")}, nil); err != nil {
		t.Fatal(err)
	}
	e.closeAll(b.Hour)
	e.cycle()
	if m, _ := marker(); m != "" {
		t.Fatal("marker set before the records were acknowledged")
	}
	for _, c := range e.sink.chunks {
		if err := checkpoint.Ack(ctx, e.store, c.Key, c.Gen, c.Start, c.End); err != nil {
			t.Fatal(err)
		}
	}
	e.cycle()
	m, md := marker()
	if m != "AzureNetworkAnalytics" {
		t.Fatalf("marker = %q after ack and close; logs:\n%s", m, e.logs)
	}
	keep := false
	for k, v := range md {
		keep = keep || (strings.EqualFold(k, "owner") && *v == "netops")
	}
	if !keep {
		t.Fatalf("other metadata lost: %v", md)
	}
	if st := e.src.Stats(); st.DoneMarked != 1 || st.Pending != 0 {
		t.Fatalf("DoneMarked %d Pending %d", st.DoneMarked, st.Pending)
	}
	// A fresh source with a fresh checkpoint skips the marked blob.
	store2, _ := checkpoint.NewDir(t.TempDir())
	e.store, e.sink = store2, newSink(t, store2)
	e.src = e.newSource(markerOn)
	e.cycle()
	if len(e.sink.chunks) != 0 || e.src.Stats().DoneSkipped != 1 {
		t.Fatalf("marked blob read again: %d chunks, DoneSkipped %d", len(e.sink.chunks), e.src.Stats().DoneSkipped)
	}
}

// TestDoneMarkerWithoutWrite: a SAS without w cannot set the marker; the
// run goes on and says why.
func TestDoneMarkerWithoutWrite(t *testing.T) {
	srv := azurite(t)
	e := newEnv(t, srv, nil)
	ctx := context.Background()
	blobs := []*flowgen.Blob{}
	o := flowgen.Options{RecordsPerHour: 4, TuplesPerRecord: 2, Seed: 12, MACs: 2}
	for i := 0; i < 2; i++ {
		b := genBlob(t, o, i)
		blobs = append(blobs, b)
		g := e.grower(b.Name)
		if err := g.Append(ctx, b.Blocks[1:len(b.Blocks)-1]...); err != nil {
			t.Fatal(err)
		}
	}
	token := sasToken(t, e, sas.ContainerPermissions{List: true, Read: true})
	e.src = e.newSource(func(c *Config) {
		markerOn(c)
		c.Client = nil
		c.Auth = Auth{Method: AuthSAS, Endpoint: srv.Endpoint(), SASToken: "?" + token,
			Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond}}
	})
	e.cycle()
	e.closeAll(blobs[0].Hour)
	e.cycle()
	st := e.src.Stats()
	if st.DoneFailed != 2 || st.DoneMarked != 0 {
		t.Fatalf("DoneFailed %d DoneMarked %d, want 2 and 0; logs:\n%s", st.DoneFailed, st.DoneMarked, e.logs)
	}
	if !strings.Contains(e.logs.String(), "a SAS needs the w permission") {
		t.Fatalf("no log line explaining the missing w permission:\n%s", e.logs)
	}
	sameIDs(t, e.sink.ids, wantIDs(t, blobs[0].Bytes(), blobs[1].Bytes()))
}
