package blobsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/nsgflow/nsgflow/internal/redact"
)

// Hint names a blob that a notification (package notify) says changed.
type Hint struct {
	Container, Name string
}

// Hints feeds a Source in notification mode (Config.Hints): between its
// listing passes (PollInterval apart) the Source reads the blobs named by
// hints as soon as Wake signals.
type Hints interface {
	// Run receives notifications until ctx is done; Source.Run runs it
	// for as long as it runs itself. account names the storage account in
	// checkpoint keys (BlobID.Key).
	Run(ctx context.Context, account string) error
	// Wake is signalled when Take has something.
	Wake() <-chan struct{}
	// Take returns the blobs named since the last call.
	Take() []Hint
	// Skip tells that the Source will not read a hinted blob (not in a
	// configured container, not a flow-log blob, filtered out, deleted,
	// or finished long ago), so nothing will ever checkpoint it.
	Skip(h Hint, reason string)
}

// runHints starts the notification receiver; stop cancels it and waits.
func (s *Source) runHints(ctx context.Context) (stop func()) {
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("notification receiver stopped by a panic; only the listing pass reads blobs now", "panic", fmt.Sprint(p))
			}
		}()
		if err := s.cfg.Hints.Run(hctx, s.account); err != nil {
			s.log.Error("notification receiver stopped; only the listing pass reads blobs now", "err", redact.Error(err))
		}
	}()
	return func() { cancel(); <-done }
}

// hintCycle reads the hinted blobs: each from its cursor to its current
// committed length (one Get Blob Properties per blob, no listing).
func (s *Source) hintCycle(ctx context.Context, fn Handler) {
	hints := s.cfg.Hints.Take()
	if len(hints) == 0 {
		return
	}
	s.st.cycles.Add(1)
	s.hinted.Add(int64(len(hints)))
	now := s.cfg.Now().UTC()
	var jobs []*job
	for _, h := range hints {
		if ctx.Err() != nil {
			return
		}
		r, reason := s.hintResource(h)
		if r == nil {
			s.cfg.Hints.Skip(h, reason)
			continue
		}
		if !r.started {
			if err := s.startResource(ctx, r, now.Add(-s.cfg.Grace).Truncate(time.Hour)); err != nil {
				s.log.Warn("cannot load resource watermark; notified blob left to the next pass", "blob", h.Name, "err", err)
				continue
			}
		}
		it, err := s.properties(ctx, r, h.Name)
		if err != nil {
			if isNotFound(err) {
				s.cfg.Hints.Skip(h, "blob not found")
				continue
			}
			s.st.readErrors.Add(1)
			s.log.Warn("cannot get properties of notified blob; retried with its message", "blob", h.Name, "err", redact.Error(err))
			continue
		}
		key := BlobID{Account: s.account, Container: r.container, Name: h.Name}.Key()
		if _, open := s.blobs[key]; !open && it.path.Hour.Before(s.startFor(r)) {
			// Before the resource's watermark: finished (its cursor may be
			// pruned) or before the configured start.
			if _, err := s.store.Load(ctx, key); err != nil {
				s.cfg.Hints.Skip(h, "hour before the resource watermark")
				continue
			}
		}
		if j := s.observe(ctx, r, it, now); j != nil {
			jobs = append(jobs, j)
		}
	}
	s.runJobs(ctx, jobs, fn)
	s.afterJobs(ctx, jobs, now)
}

// hintResource finds (or adds) the resource of a hinted blob; nil and a
// reason when the Source does not read it.
func (s *Source) hintResource(h Hint) (*resource, string) {
	known := false
	for _, c := range s.cfg.Containers {
		if c == h.Container {
			known = true
		}
	}
	if !known {
		return nil, "container not configured"
	}
	p, err := ParsePath(h.Name)
	if err != nil {
		return nil, "not a flow-log blob"
	}
	if !s.cfg.Filter.MatchMAC(p.MAC) {
		return nil, "MAC filtered out"
	}
	i := strings.Index(h.Name, "/y=")
	if i < 0 {
		return nil, "not a flow-log blob"
	}
	prefix := h.Name[:i+1]
	if r := s.resources[h.Container+"/"+prefix]; r != nil {
		return r, ""
	}
	s.addResource(h.Container, s.svc.NewContainerClient(h.Container), prefix)
	if r := s.resources[h.Container+"/"+prefix]; r != nil {
		s.st.resources.Store(int64(len(s.resources)))
		return r, ""
	}
	return nil, "resource filtered out"
}

// properties reads a blob's listing facts with Get Blob Properties.
func (s *Source) properties(ctx context.Context, r *resource, name string) (blobInfo, error) {
	props, err := r.cc.NewBlobClient(name).GetProperties(ctx, &blob.GetPropertiesOptions{})
	if err != nil {
		return blobInfo{}, err
	}
	if props.ContentLength == nil || props.ETag == nil {
		return blobInfo{}, errors.New("blob properties without length or ETag")
	}
	p, _ := ParsePath(name)
	it := blobInfo{name: name, path: p, size: *props.ContentLength, etag: normETag(*props.ETag), metadata: props.Metadata}
	if props.LastModified != nil {
		it.lastMod = *props.LastModified
	}
	if props.CreationTime != nil {
		it.created = *props.CreationTime
	}
	return it, nil
}
