package blobsource

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/redact"
)

// pendingBlob is a closed blob whose records are not all acknowledged yet,
// or whose done marker is still owed.
type pendingBlob struct {
	id   BlobID
	key  string
	size int64
	etag azcore.ETag
	hour time.Time
	res  *resource
}

// maxPendingChecks bounds the cursor loads per cycle.
const maxPendingChecks = 2000

// checkPending drops closed blobs whose records were all acknowledged,
// setting the done marker on them when configured. A blob whose marker
// failed for a reason that may pass (storage unreachable, throttling) stays
// pending and is tried again next cycle, so its hour holds the resource
// watermark back and its cursor is kept: a restart finds it again.
func (s *Source) checkPending(ctx context.Context) {
	n := 0
	for key, p := range s.pending {
		if n++; n > maxPendingChecks || ctx.Err() != nil {
			return
		}
		c, err := s.store.Load(ctx, key)
		if errors.Is(err, checkpoint.ErrNotFound) {
			delete(s.pending, key)
			continue
		}
		if err != nil {
			s.log.Warn("cannot load cursor", "blob", p.id.Name, "err", err)
			continue
		}
		if !c.FullyAcked(p.size) {
			continue
		}
		late, props, err := s.lateCommit(ctx, p)
		if err != nil {
			if s.cfg.DoneMarker.Enabled {
				s.st.doneFailed.Add(1)
			}
			if markOutcome(err) == markRetry {
				s.log.Warn("cannot check a closed blob for late commits; tried again next cycle", "blob", p.id.Name,
					"err", redact.Error(err))
				continue
			}
			s.log.Warn("cannot check a closed blob for late commits (refused); letting it go", "blob", p.id.Name,
				"err", redact.Error(err))
		}
		if late {
			s.reopen(ctx, p, c, props)
			continue
		}
		if s.cfg.DoneMarker.Enabled && !c.Done && !c.MarkFailed {
			res := markGiveUp // deleted, or its properties refused
			if props != nil {
				res = s.markDone(ctx, p, props)
			}
			if res == markRetry {
				continue
			}
			_, err := checkpoint.Update(ctx, s.store, key, func(c *checkpoint.Cursor) error {
				if res == markSet {
					c.Done = true
				} else {
					c.MarkFailed = true
				}
				return nil
			})
			if err != nil {
				// Marked: listings skip the blob from now on. Given up: a
				// restart may try once more.
				s.log.Warn("cannot save done-marker state", "blob", p.id.Name, "err", err)
			}
		}
		delete(s.pending, key)
		if !s.cfg.KeepCursors {
			s.retired = append(s.retired, retiredCursor{key: key, hour: p.hour, res: p.res})
		}
	}
}

// lateCommit looks at a closed, fully acknowledged blob once more before
// its cursor is let go or its done marker set: Network Watcher (or any
// writer) may commit a block after the hour was closed. late reports that
// the blob grew or shrank since it was closed; props is nil when the blob
// is gone.
func (s *Source) lateCommit(ctx context.Context, p *pendingBlob) (late bool, props *blob.GetPropertiesResponse, err error) {
	r, err := p.res.cc.NewBlobClient(p.id.Name).GetProperties(ctx, nil)
	if err != nil {
		if isNotFound(err) {
			return false, nil, nil
		}
		return false, nil, err
	}
	if r.ContentLength == nil || r.ETag == nil {
		return false, nil, errors.New("blob properties without length or ETag")
	}
	return *r.ContentLength != p.size, &r, nil
}

// reopen follows a closed blob again after a late commit: its cursor is no
// longer closed, and the next cycles read from the committed offset (what
// was delivered is not sent again) and close it anew.
func (s *Source) reopen(ctx context.Context, p *pendingBlob, c checkpoint.Cursor, props *blob.GetPropertiesResponse) {
	path, err := ParsePath(p.id.Name)
	if err != nil {
		delete(s.pending, p.key)
		return
	}
	c, err = checkpoint.Update(ctx, s.store, p.key, func(c *checkpoint.Cursor) error {
		c.Closed, c.MarkFailed = false, false
		return nil
	})
	if err != nil {
		s.log.Warn("cannot reopen a blob committed to after it was closed; tried again next cycle", "blob", p.id.Name, "err", err)
		return
	}
	s.st.lateCommits.Add(1)
	s.log.Warn("blob committed to after its hour was closed; reading the late data", "blob", p.id.Name,
		"closed_size", p.size, "size", *props.ContentLength)
	delete(s.pending, p.key)
	b := &blobState{id: p.id, key: p.key, path: path, res: p.res, gen: c.Gen, r: c.Committed}
	if b.r > 0 {
		b.verify = c.Head
	}
	s.blobs[p.key] = b
}

// retiredCursor is the cursor of a closed, fully acknowledged blob. It is
// deleted once the resource watermark has passed its hour: from then on no
// listing, in this run or after a restart, reaches the blob again.
type retiredCursor struct {
	key  string
	hour time.Time
	res  *resource
}

// pruneCursors deletes retired cursors below their resource's saved
// watermark, so the store does not grow by one cursor per blob forever.
func (s *Source) pruneCursors(ctx context.Context) {
	k := 0
	for _, rc := range s.retired {
		if rc.res.resume.IsZero() || !rc.hour.Before(rc.res.resume) {
			s.retired[k] = rc
			k++
			continue
		}
		if err := s.store.Delete(ctx, rc.key); err != nil {
			s.log.Debug("cannot delete a finished cursor", "key", rc.key, "err", err)
		}
	}
	clear(s.retired[k:])
	s.retired = s.retired[:k]
}

// hasMarker reports whether metadata carries the done marker. Keys compare
// case-insensitively (the SDK canonicalises them).
func (s *Source) hasMarker(md map[string]*string) bool {
	return HasDoneMarker(md, s.cfg.DoneMarker.Key, s.cfg.DoneMarker.Value)
}

// markResult is what became of a done marker.
type markResult int

const (
	markSet    markResult = iota // set now, or found already set
	markRetry                    // failed for a reason that may pass: try again next cycle
	markGiveUp                   // cannot be set (permission, blob changed or deleted): do not try again
)

// markDone sets the done marker on a closed, fully acknowledged blob,
// keeping its other metadata, and only if the blob is unchanged since it
// was closed (If-Match). It never touches a blob whose hour is still open:
// the writer's next commit would wipe the metadata anyway.
func (s *Source) markDone(ctx context.Context, p *pendingBlob, props *blob.GetPropertiesResponse) markResult {
	bc := p.res.cc.NewBlobClient(p.id.Name)
	if props.ETag == nil || normETag(*props.ETag) != p.etag {
		s.log.Warn("blob changed after it was closed; done marker not set", "blob", p.id.Name)
		return markGiveUp
	}
	set, err := SetDoneMarker(ctx, bc, props.Metadata, *props.ETag, s.cfg.DoneMarker.Key, s.cfg.DoneMarker.Value)
	if err != nil {
		s.st.doneFailed.Add(1)
		if bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch) || IsRefusal(err) {
			// Reading goes on without marking; a --once run ends non-zero.
			s.refuse("set the done marker "+s.cfg.DoneMarker.Key+" on blob "+p.id.Name, redact.Error(err))
			return markGiveUp
		}
		s.log.Warn("cannot set the done marker", "blob", p.id.Name, "err", redact.Error(err))
		return markOutcome(err)
	}
	if !set {
		return markSet // already marked
	}
	s.st.doneMarked.Add(1)
	s.log.Info("done marker set", "blob", p.id.Name, "marker", s.cfg.DoneMarker.Key+"="+s.cfg.DoneMarker.Value)
	return markSet
}

// markOutcome classifies a failed marker request: a refusal (4xx other than
// timeout and throttling: permission, precondition, bad request, deleted)
// is final; anything else (5xx, network, throttling) is tried again.
func markOutcome(err error) markResult {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 &&
		re.StatusCode != http.StatusRequestTimeout && re.StatusCode != http.StatusTooManyRequests {
		return markGiveUp
	}
	return markRetry
}

// HasDoneMarker reports whether metadata carries key=value, comparing keys
// and values ignoring case (the SDK canonicalises metadata keys).
func HasDoneMarker(md map[string]*string, key, value string) bool {
	for k, v := range md {
		if strings.EqualFold(k, key) && v != nil && strings.EqualFold(*v, value) {
			return true
		}
	}
	return false
}

// SetDoneMarker adds key=value to a blob's metadata md (as read with
// GetProperties at ETag etag), keeping the other keys, with If-Match: etag
// so a blob changed since is left alone (412). It reports false without a
// request when the marker is already there. Use it only on blobs whose hour
// is closed: Network Watcher's next commit replaces all metadata.
func SetDoneMarker(ctx context.Context, bc *blob.Client, md map[string]*string, etag azcore.ETag, key, value string) (bool, error) {
	if HasDoneMarker(md, key, value) {
		return false, nil
	}
	out := make(map[string]*string, len(md)+1)
	for k, v := range md {
		if !strings.EqualFold(k, key) {
			out[k] = v
		}
	}
	out[key] = to.Ptr(value)
	_, err := bc.SetMetadata(ctx, out, &blob.SetMetadataOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: to.Ptr(etag)}}})
	if err != nil {
		return false, redact.Error(err)
	}
	return true, nil
}
