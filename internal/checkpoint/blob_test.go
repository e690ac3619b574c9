package checkpoint

import (
	"context"
	"testing"

	"github.com/nsgflow/nsgflow/internal/testkit/azuritetest"
)

func TestBlobStore(t *testing.T) {
	srv := azuritetest.Start(t)
	cc := srv.Client().NewContainerClient("nsgflow-checkpoints")
	s := NewBlob(cc, "cursors/")
	if err := s.CreateContainer(context.Background()); err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
}
