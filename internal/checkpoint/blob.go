package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/nsgflow/nsgflow/internal/redact"
)

// Blob is a Store in an Azure Storage container of the user's choice: one
// small block blob per cursor, named Prefix + key, holding the cursor JSON.
// Save uploads with If-Match: <ETag> (or If-None-Match: * for a new
// cursor): a concurrent writer's change makes it fail with ErrConflict
// (412 ConditionNotMet, 409 BlobAlreadyExists) instead of being overwritten.
// Checkpoint blobs are never the flow-log blobs themselves: those are only
// read.
type Blob struct {
	c      *container.Client
	prefix string
}

// NewBlob returns a store writing under prefix in the container c (which
// must exist, or be creatable with the credential: see CreateContainer).
func NewBlob(c *container.Client, prefix string) *Blob {
	return &Blob{c: c, prefix: prefix}
}

// CreateContainer creates the store's container if it does not exist.
func (b *Blob) CreateContainer(ctx context.Context) error {
	_, err := b.c.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("checkpoint: create container: %w", redact.Error(err))
	}
	return nil
}

func (b *Blob) name(key string) string { return b.prefix + strings.TrimPrefix(key, "/") }

// Load implements Store.
func (b *Blob) Load(ctx context.Context, key string) (Cursor, error) {
	resp, err := b.c.NewBlobClient(b.name(key)).DownloadStream(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return Cursor{}, fmt.Errorf("checkpoint: load %s: %w", key, ErrNotFound)
		}
		return Cursor{}, fmt.Errorf("checkpoint: load %s: %w", key, redact.Error(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Cursor{}, fmt.Errorf("checkpoint: load %s: %w", key, redact.Error(err))
	}
	var c Cursor
	if err := json.Unmarshal(data, &c); err != nil {
		return Cursor{}, fmt.Errorf("checkpoint: load %s: corrupt cursor blob: %w", key, err)
	}
	if resp.ETag != nil {
		c.Version = string(*resp.ETag)
	}
	return c, nil
}

// Save implements Store.
func (b *Blob) Save(ctx context.Context, key string, c *Cursor) error {
	c.Key = key
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", key, err)
	}
	mac := &blob.ModifiedAccessConditions{}
	if c.Version == "" {
		mac.IfNoneMatch = to.Ptr(azcore.ETagAny)
	} else {
		mac.IfMatch = to.Ptr(azcore.ETag(c.Version))
	}
	resp, err := b.c.NewBlockBlobClient(b.name(key)).Upload(ctx, nopCloser{bytes.NewReader(data)}, &blockblob.UploadOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: mac},
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: to.Ptr("application/json")},
	})
	if err != nil {
		if bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists) {
			return fmt.Errorf("checkpoint: save %s: %w", key, ErrConflict)
		}
		// If-Match on a deleted blob answers 404.
		if c.Version != "" && bloberror.HasCode(err, bloberror.BlobNotFound) {
			return fmt.Errorf("checkpoint: save %s: cursor was deleted: %w", key, ErrConflict)
		}
		return fmt.Errorf("checkpoint: save %s: %w", key, redact.Error(err))
	}
	if resp.ETag != nil {
		c.Version = string(*resp.ETag)
	}
	return nil
}

// Delete implements Store.
func (b *Blob) Delete(ctx context.Context, key string) error {
	_, err := b.c.NewBlobClient(b.name(key)).Delete(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return fmt.Errorf("checkpoint: delete %s: %w", key, redact.Error(err))
	}
	return nil
}

// List implements Store; it streams the listing page by page.
func (b *Blob) List(ctx context.Context, prefix string, fn func(Cursor) error) error {
	pager := b.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr(b.name(prefix))})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("checkpoint: list: %w", redact.Error(err))
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil {
				continue
			}
			key := strings.TrimPrefix(*it.Name, b.prefix)
			c, err := b.Load(ctx, key)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := fn(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close implements Store.
func (b *Blob) Close() error { return nil }

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
