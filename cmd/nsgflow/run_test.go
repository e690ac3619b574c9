package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/blobsource/azuritetest"
	"github.com/nsgflow/nsgflow/emulator"
	"github.com/nsgflow/nsgflow/flowgen"
	"github.com/nsgflow/nsgflow/flowparse"
)

const runTestToken = "run-test-bearer-token-0123456789"

// azurite is shared by the run tests (one Azurite per package run).
var (
	azuriteOnce sync.Once
	azuriteSrv  *azuritetest.Server
	azuriteErr  error
)

func startAzurite(t *testing.T) *azuritetest.Server {
	t.Helper()
	azuriteOnce.Do(func() { azuriteSrv, azuriteErr = azuritetest.Launch() })
	return azuritetest.Require(t, azuriteSrv, azuriteErr)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if azuriteSrv != nil {
		azuriteSrv.Stop()
	}
	os.Exit(code)
}

func startRunEmulator(t *testing.T) *emulator.Server {
	t.Helper()
	srv, err := emulator.New(emulator.Config{BearerToken: runTestToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// runArgs are the flags pointing nsgflow run at Azurite and the emulator.
func runArgs(t *testing.T, az *azuritetest.Server, em *emulator.Server, cpDir, container string) []string {
	t.Helper()
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(runTestToken), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"--storage-account", azuritetest.Account, "--storage-key", azuritetest.Key, "--storage-endpoint", az.Endpoint(),
		"--containers", container, "--start", "beginning", "--grace", "1s", "--poll-interval", "200ms",
		"--checkpoint-dir", cpDir,
		"--destination", "logs_ingestion", "--endpoint", em.URL(), "--dcr-id", emulator.DefaultDCRImmutableID,
		"--stream", emulator.DefaultStream, "--credential", "static", "--token-file", tok,
		"--min-backoff", "10ms", "--max-backoff", "200ms", "--linger", "100ms",
	}
}

// expectedIDs parses blobs as the pipeline does and counts each EventId.
func expectedIDs(t *testing.T, blobs ...[]byte) map[string]int {
	t.Helper()
	want := map[string]int{}
	enc := flowparse.NewEncoder(nil)
	var buf []byte
	p := flowparse.Parser{OnEvent: func(e *flowparse.Event) {
		buf = enc.Append(buf[:0], e)
		var row struct{ EventId string }
		if err := json.Unmarshal(buf, &row); err != nil || row.EventId == "" {
			t.Fatalf("event without EventId: %s", buf)
		}
		want[row.EventId]++
	}}
	for _, b := range blobs {
		if err := p.Blob(b); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// gotIDs counts the EventIds the emulator accepted.
func gotIDs(t *testing.T, em *emulator.Server) map[string]int {
	t.Helper()
	rows, err := em.Rows()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[fmt.Sprint(r["EventId"])]++
	}
	return got
}

// compareIDs fails unless every expected EventId arrived exactly as often as
// expected (once, for generated data) and nothing else arrived.
func compareIDs(t *testing.T, want, got map[string]int) {
	t.Helper()
	missing, extra := 0, 0
	for id, n := range want {
		if got[id] < n {
			missing += n - got[id]
		} else if got[id] > n {
			extra += got[id] - n
		}
	}
	for id, n := range got {
		if _, ok := want[id]; !ok {
			extra += n
		}
	}
	if missing > 0 || extra > 0 {
		t.Fatalf("%d events missing, %d duplicated or unexpected (want %d distinct)", missing, extra, len(want))
	}
}

// uploadSet generates blobs into Azurite as fully written (closed-looking)
// blobs and returns their bytes.
func uploadSet(t *testing.T, svc *service.Client, o flowgen.Options) ([][]byte, []*flowgen.Blob) {
	t.Helper()
	ctx := context.Background()
	var datas [][]byte
	var blobs []*flowgen.Blob
	err := flowgen.Generate(o, func(b *flowgen.Blob) error {
		if err := azuritetest.CreateContainer(ctx, svc, b.Container); err != nil {
			return err
		}
		if err := azuritetest.UploadBlob(ctx, svc, b); err != nil {
			return err
		}
		datas = append(datas, b.Bytes())
		blobs = append(blobs, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return datas, blobs
}

func hasDoneMarker(t *testing.T, svc *service.Client, container, name string) bool {
	t.Helper()
	p, err := svc.NewContainerClient(container).NewBlobClient(name).GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.Metadata {
		if strings.EqualFold(k, "OmsLogType") && v != nil && *v == "NSGFlowLogs" {
			return true
		}
	}
	return false
}

// TestRunOnce: a backfill over closed blobs of past hours delivers every
// tuple exactly once, marks every blob done, and a second run finds
// nothing to do.
func TestRunOnce(t *testing.T) {
	az := startAzurite(t)
	svc := az.Client()
	em := startRunEmulator(t)
	o := flowgen.Options{Format: flowgen.FormatNSGv2, Resources: 2, MACs: 2, Hours: 2, RecordsPerHour: 6, TuplesPerRecord: 8,
		Seed: 21, Start: time.Now().UTC().Add(-5 * time.Hour)}
	datas, blobs := uploadSet(t, svc, o)
	want := expectedIDs(t, datas...)
	cp := t.TempDir()
	args := append(runArgs(t, az, em, cp, blobs[0].Container), "--once", "--done-marker")
	var errb bytes.Buffer
	code := runRun(context.Background(), args, &bytes.Buffer{}, &errb)
	t.Logf("nsgflow run: %s", errb.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	compareIDs(t, want, gotIDs(t, em))
	for _, b := range blobs {
		if !hasDoneMarker(t, svc, b.Container, b.Name) {
			t.Errorf("blob %s has no done marker", b.Name)
		}
	}
	// Run again: nothing new arrives.
	errb.Reset()
	if code := runRun(context.Background(), args, &bytes.Buffer{}, &errb); code != 0 {
		t.Fatalf("second run exit %d: %s", code, errb.String())
	}
	compareIDs(t, want, gotIDs(t, em))
	if !strings.Contains(errb.String(), " 0 events;") {
		t.Errorf("second run summary: %s", errb.String())
	}
}
