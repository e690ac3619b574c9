package azuritetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/nsgflow/nsgflow/internal/flowgen"
)

// TestGrowerMatchesGenerated uploads a blob block by block and checks the
// committed bytes equal the generated blob at every step.
func TestGrowerMatchesGenerated(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	svc := s.Client()
	b, err := flowgen.GenerateBlob(flowgen.Options{RecordsPerHour: 3, TuplesPerRecord: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateContainer(ctx, svc, b.Container); err != nil {
		t.Fatal(err)
	}
	g, err := NewGrower(ctx, svc, b.Container, b.Name)
	if err != nil {
		t.Fatal(err)
	}
	bc := svc.NewContainerClient(b.Container).NewBlobClient(b.Name)
	want := []byte(flowgen.Head)
	for i := 0; i <= b.Records; i++ {
		if i > 0 {
			if err := g.Append(ctx, b.Blocks[i]); err != nil {
				t.Fatal(err)
			}
			want = append(want, b.Blocks[i]...)
		}
		got := download(t, bc)
		if !bytes.Equal(got, append(append([]byte{}, want...), flowgen.Tail...)) {
			t.Fatalf("after %d data blocks: blob is %q", i, got)
		}
	}
	if !bytes.Equal(download(t, bc), b.Bytes()) {
		t.Fatal("final blob differs from the generated one")
	}
}

func download(t *testing.T, bc *blob.Client) []byte {
	t.Helper()
	r, err := bc.DownloadStream(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeTB records Skipf and Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

// TestMissingBinary: without Azurite a test skips, but fails under CI=true,
// and both say to run make setup.
func TestMissingBinary(t *testing.T) {
	t.Setenv("AZURITE_BLOB", filepath.Join(t.TempDir(), "absent"))
	_, err := Launch()
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Launch without the binary: %v, want ErrNotInstalled", err)
	}
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		Require(f, nil, err)
		msg := f.skipped + f.failed
		if (ci == "true") != (f.failed != "") || !strings.Contains(msg, "run make setup") {
			t.Errorf("CI=%q: skipped %q, failed %q", ci, f.skipped, f.failed)
		}
	}
}
