package blobsource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/redact"
)

// overlapLen is how many bytes before the read position each incremental
// read fetches again and compares: a blob rewritten since the last read
// almost surely differs there.
const overlapLen = 32

// headLen is how much of a blob's start is kept in the cursor to recognise
// a rewritten blob after a restart.
const headLen = 96

// blobState follows one open blob.
type blobState struct {
	id   BlobID
	key  string
	path Path
	res  *resource

	gen       int64
	r         int64  // read offset: every byte before it was handed over
	last      []byte // up to overlapLen bytes just before r
	verify    []byte // stored head to check before reading (resumed cursor)
	rewritten bool

	etag     azcore.ETag // at the last read
	seenETag azcore.ETag // at the last observation
	seen     bool

	forbiddenGen int
	jobCycle     int64 // the cycle that last gave the blob a job
	failures     int
	retryAt      time.Time
}

// observe decides whether a listed blob needs work this cycle.
func (s *Source) observe(ctx context.Context, r *resource, it blobInfo, now time.Time) *job {
	s.st.listed.Add(1)
	if !s.cfg.Filter.MatchMAC(it.path.MAC) {
		return nil
	}
	id := BlobID{Account: s.account, Container: r.container, Name: it.name}
	key := id.Key()
	if _, ok := s.pending[key]; ok {
		return nil
	}
	b := s.blobs[key]
	if b == nil {
		if s.cfg.DoneMarker.Enabled && s.hasMarker(it.metadata) {
			s.st.doneSkipped.Add(1)
			return nil
		}
		c, err := s.store.Load(ctx, key)
		switch {
		case errors.Is(err, checkpoint.ErrNotFound):
			c = checkpoint.Cursor{}
		case err != nil:
			if IsRefusal(err) {
				s.refuse("load a checkpoint from the checkpoint store", err)
			} else {
				s.log.Warn("cannot load cursor; blob retried next cycle", "blob", it.name, "err", err)
			}
			s.unloaded[key] = unloadedBlob{r: r, it: it, cycle: s.st.cycles.Load()}
			s.behind = true
			return nil
		}
		delete(s.unloaded, key)
		if c.Done {
			return nil
		}
		if c.Closed && c.Size == it.size && c.FullyAcked(it.size) {
			// Finished; but a marker may still be owed: closed and acked
			// in an earlier run that stopped before marking it.
			if s.cfg.DoneMarker.Enabled && c.MarkOwed(it.size) {
				s.pending[key] = &pendingBlob{id: id, key: key, size: c.Size, etag: azcore.ETag(c.ETag),
					hour: it.path.Hour, res: r}
			}
			return nil
		}
		b = &blobState{id: id, key: key, path: it.path, res: r, gen: c.Gen, r: c.Committed}
		if b.r > 0 {
			b.verify = c.Head
		}
		s.blobs[key] = b
	}
	cycleNo := s.st.cycles.Load()
	if b.forbiddenGen == s.discoveryGen || now.Before(b.retryAt) || b.jobCycle == cycleNo {
		return nil
	}
	closable := !now.Before(hourEnd(it.path.Hour).Add(s.cfg.Grace)) &&
		(!it.lastMod.After(now.Add(-s.cfg.Grace)) || (b.seen && b.seenETag == it.etag))
	b.seen, b.seenETag = true, it.etag
	hasNew := (b.r == 0 && it.size > int64(len(blobHead))+2) || (b.r > 0 && it.size-2 != b.r)
	if !hasNew && !closable {
		return nil
	}
	b.jobCycle = cycleNo
	return &job{b: b, info: it, closable: closable}
}

// unloadedBlob is a listed blob whose cursor could not be loaded.
type unloadedBlob struct {
	r     *resource
	it    blobInfo
	cycle int64 // the cycle that last tried
}

// errDelivery marks a callback error.
type errDelivery struct{ err error }

func (e errDelivery) Error() string { return "chunk not taken: " + e.err.Error() }
func (e errDelivery) Unwrap() error { return e.err }

// errMismatch: the bytes before the read position are not what was read.
var errMismatch = errors.New("bytes before the read position changed")

func isForbidden(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}

func isNotFound(err error) bool {
	return bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound)
}

func isChanged(err error) bool {
	return bloberror.HasCode(err, bloberror.ConditionNotMet) || statusIs(err, http.StatusPreconditionFailed)
}

func statusIs(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// poll runs one job and classifies its outcome.
func (s *Source) poll(ctx context.Context, j *job, fn Handler) {
	for attempt := 0; ; attempt++ {
		err := s.readBlob(ctx, j, fn)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			j.err = ctx.Err()
			return
		}
		if isChanged(err) && attempt < 3 {
			// A new commit between listing and reading: take the blob's
			// new size and ETag and read again.
			s.st.changed.Add(1)
			if err = s.refresh(ctx, j); err == nil {
				continue
			}
		}
		s.fail(j, err)
		return
	}
}

// refresh takes a blob's current size and ETag; the blob just changed, so it
// is not closable in this job.
func (s *Source) refresh(ctx context.Context, j *job) error {
	props, err := j.b.res.cc.NewBlobClient(j.b.id.Name).GetProperties(ctx, nil)
	if err != nil {
		return err
	}
	if props.ContentLength == nil || props.ETag == nil {
		return errors.New("blob properties without length or ETag")
	}
	j.info.size, j.info.etag = *props.ContentLength, normETag(*props.ETag)
	j.closable = false
	return nil
}

// fail records why a job failed: deleted, forbidden, not taken by the
// callback, or a storage error to retry with backoff.
func (s *Source) fail(j *job, err error) {
	name := j.b.id.Name
	var de errDelivery
	switch {
	case errors.As(err, &de):
		s.st.deliveryFails.Add(1)
		s.log.Warn("chunk not taken; the range will be read again", "blob", name, "err", redact.Error(de.err))
		j.err = err
	case isNotFound(err):
		s.st.notFound.Add(1)
		s.log.Warn("blob deleted while being read; its cursor is dropped", "blob", name)
		j.notFound = true
	case IsRefusal(err):
		s.st.forbidden.Add(1)
		s.refuse("read blob "+name, redact.Error(err))
		j.forbid = true
	default:
		s.st.readErrors.Add(1)
		s.log.Warn("blob read failed; will retry", "blob", name, "err", redact.Error(err))
		j.err = err
	}
}

// readBlob reads what is new in one blob and, if its hour is closed,
// closes it.
func (s *Source) readBlob(ctx context.Context, j *job, fn Handler) error {
	b, info := j.b, j.info
	bc := b.res.cc.NewBlobClient(b.id.Name)
	end := info.size - 2
	if b.r > 0 && end < b.r {
		if err := s.rewrite(ctx, b, "blob shrank below the read position"); err != nil {
			return err
		}
	}
	if b.r > 0 && b.verify != nil {
		ok, err := s.checkHead(ctx, bc, info.etag, b.verify)
		if err != nil {
			return err
		}
		if !ok {
			if err := s.rewrite(ctx, b, "blob start differs from the checkpoint"); err != nil {
				return err
			}
		}
		b.verify = nil
	}
	final := false
	if end > b.r && !(b.r == 0 && end <= int64(len(blobHead))) {
		err := s.readRange(ctx, j, bc, end, fn)
		if errors.Is(err, errMismatch) {
			if err := s.rewrite(ctx, b, "data before the read position changed"); err != nil {
				return err
			}
			err = s.readRange(ctx, j, bc, end, fn)
		}
		if err != nil {
			return err
		}
		final = j.closable
	}
	b.etag = info.etag
	if !j.closable {
		return nil
	}
	if !final {
		c := Chunk{Blob: b.id, Key: b.key, Gen: b.gen, Start: b.r, End: b.r, Final: true, Path: b.path}
		if err := fn(ctx, c); err != nil {
			return errDelivery{err}
		}
	}
	_, err := checkpoint.Update(ctx, s.store, b.key, func(c *checkpoint.Cursor) error {
		if c.Gen != b.gen {
			return checkpoint.ErrNoChange
		}
		c.Closed, c.ETag, c.Size, c.MarkFailed = true, string(info.etag), info.size, false
		if b.r == 0 && c.Committed < end {
			// Nothing but the head was ever written: nothing to deliver.
			c.Committed = max(end, 0)
		}
		return nil
	})
	if err != nil {
		return err
	}
	j.closed = true
	return nil
}

// checkHead compares the blob's first bytes with the cursor's head.
func (s *Source) checkHead(ctx context.Context, bc *blob.Client, etag azcore.ETag, head []byte) (bool, error) {
	buf := make([]byte, len(head))
	n, err := s.download(ctx, bc, etag, 0, int64(len(head)), buf)
	if err != nil {
		return false, err
	}
	return bytes.Equal(buf[:n], head), nil
}

// download reads [off, off+n) of the blob into buf, pinned to etag.
func (s *Source) download(ctx context.Context, bc *blob.Client, etag azcore.ETag, off, n int64, buf []byte) (int, error) {
	resp, err := bc.DownloadStream(ctx, &blob.DownloadStreamOptions{
		Range:            blob.HTTPRange{Offset: off, Count: n},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: to.Ptr(etag)}},
	})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	got, err := io.ReadFull(resp.Body, buf[:n])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return got, err
	}
	s.st.bytes.Add(int64(got))
	return got, nil
}

// readRange hands [b.r, end) over in chunks of at most MaxChunk bytes cut
// at record boundaries, after checking the overlap before b.r.
func (s *Source) readRange(ctx context.Context, j *job, bc *blob.Client, end int64, fn Handler) error {
	b := j.b
	bufp := s.bufs.Get().(*[]byte)
	buf := (*bufp)[:0]
	defer func() {
		if cap(buf) <= s.cfg.MaxChunk {
			*bufp = buf[:0]
			s.bufs.Put(bufp)
		}
	}()
	overlap := len(b.last)
	pos := b.r - int64(overlap)
	first := true
	chunkStart := b.r
	s.st.blobsRead.Add(1)
	for pos < end {
		room := int64(cap(buf) - len(buf))
		if room == 0 {
			// No record boundary in a full buffer: grow up to MaxRecord.
			if cap(buf) >= s.cfg.MaxRecord {
				if err := s.emit(ctx, j, buf, &chunkStart, false, fn); err != nil {
					return err
				}
				buf = buf[:0]
				continue
			}
			nb := make([]byte, len(buf), min(2*cap(buf), s.cfg.MaxRecord))
			copy(nb, buf)
			buf = nb
			room = int64(cap(buf) - len(buf))
		}
		n := min(end-pos, room)
		got, err := s.download(ctx, bc, j.info.etag, pos, n, buf[len(buf):cap(buf)])
		if err != nil {
			return err
		}
		if int64(got) != n {
			return errMismatch // shorter than the listing said: rewritten
		}
		buf = buf[:len(buf)+got]
		pos += n
		if first {
			first = false
			if overlap > 0 && !bytes.Equal(buf[:overlap], b.last) || (b.r > 0 && buf[overlap] != ',') {
				return errMismatch
			}
			buf = buf[:copy(buf, buf[overlap:])]
			if b.r == 0 {
				if err := s.saveHead(ctx, b, j.info, buf); err != nil {
					return err
				}
			}
		}
		last := pos == end
		cut := len(buf)
		if !last {
			cut = recordCut(buf)
			if cut == 0 {
				continue // a record longer than the buffer: read more
			}
		}
		if err := s.emit(ctx, j, buf[:cut], &chunkStart, last && j.closable, fn); err != nil {
			return err
		}
		buf = buf[:copy(buf, buf[cut:])]
	}
	return nil
}

// emit hands one chunk to fn and advances the read position.
func (s *Source) emit(ctx context.Context, j *job, data []byte, start *int64, final bool, fn Handler) error {
	b := j.b
	c := Chunk{Blob: b.id, Key: b.key, Gen: b.gen, Start: *start, End: *start + int64(len(data)), Data: data,
		Final: final, Path: b.path, Rewritten: b.rewritten}
	if err := fn(ctx, c); err != nil {
		return errDelivery{err}
	}
	s.st.chunks.Add(1)
	b.rewritten = false
	*start = c.End
	b.r = c.End
	if len(data) >= overlapLen {
		b.last = append(b.last[:0], data[len(data)-overlapLen:]...)
	} else {
		b.last = append(b.last, data...)
		if k := len(b.last) - overlapLen; k > 0 {
			b.last = append(b.last[:0], b.last[k:]...)
		}
	}
	return nil
}

// saveHead stores the blob's first bytes and identity before its first
// chunk is handed over.
func (s *Source) saveHead(ctx context.Context, b *blobState, info blobInfo, data []byte) error {
	head := bytes.Clone(data[:min(len(data), headLen)])
	_, err := checkpoint.Update(ctx, s.store, b.key, func(c *checkpoint.Cursor) error {
		if c.Gen != b.gen {
			return checkpoint.ErrNoChange
		}
		c.Head, c.ETag, c.Size, c.Created = head, string(info.etag), info.size, info.created
		return nil
	})
	return err
}

// rewrite starts a blob over in a new generation.
func (s *Source) rewrite(ctx context.Context, b *blobState, reason string) error {
	c, err := checkpoint.Update(ctx, s.store, b.key, func(c *checkpoint.Cursor) error {
		c.Reset()
		return nil
	})
	if err != nil {
		return err
	}
	s.st.rewrites.Add(1)
	s.log.Warn("blob was rewritten; reading it again from the start (records may repeat)",
		"blob", b.id.Name, "reason", reason, "gen", c.Gen)
	b.gen, b.r, b.last, b.verify, b.rewritten = c.Gen, 0, nil, nil, true
	return nil
}
