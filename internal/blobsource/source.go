package blobsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
)

// Source reads flow-log blobs incrementally. Create it with New and call
// Run once.
type Source struct {
	cfg     Config
	svc     *service.Client
	store   checkpoint.Store
	log     *slog.Logger
	account string
	start   time.Time // first hour for resources without a checkpoint; zero = beginning

	st  statsCounters
	ref refusals

	// hinted counts Stats.Hinted (apart from statsCounters, which others edit often).
	hinted atomic.Int64

	// Owned by the Run goroutine.
	resources map[string]*resource
	blobs     map[string]*blobState // open blobs being followed
	pending   map[string]*pendingBlob
	// unloaded holds blobs whose cursor could not be loaded (a store
	// error): retried every cycle, and they hold their resource's
	// watermark back, so no hour is passed over while its state is unknown.
	unloaded      map[string]unloadedBlob
	retired       []retiredCursor
	lastDiscovery time.Time
	discoveryGen  int
	// discoveryWait is the delay before the next discovery: the
	// configured interval, or less while discovery keeps coming back
	// incomplete (nothing found, a container missing or refused);
	// earlyDiscoveries counts those incomplete discoveries in a row.
	discoveryWait    time.Duration
	earlyDiscoveries int
	// behind is set during a cycle by whatever keeps it from being caught
	// up; caughtUp and finished are the verdicts of the last cycle.
	behind, caughtUp, finished bool
	bufs                       sync.Pool
}

// New checks the configuration and builds the storage client. It does no
// network I/O.
func New(cfg Config) (*Source, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: c, log: c.Logger, resources: map[string]*resource{}, blobs: map[string]*blobState{},
		pending: map[string]*pendingBlob{}, unloaded: map[string]unloadedBlob{}}
	s.svc = c.Client
	if s.svc == nil {
		if s.svc, err = c.Auth.NewServiceClient(); err != nil {
			return nil, err
		}
	}
	s.account = accountName(c.Auth.AccountName, s.svc.URL())
	s.store = c.Store
	if s.store == nil {
		d, err := checkpoint.NewDir(c.CheckpointDir)
		if err != nil {
			return nil, err
		}
		s.store = d
	}
	s.start, _ = ParseStart(c.Start, c.Now())
	s.bufs.New = func() any { b := make([]byte, 0, c.MaxChunk); return &b }
	return s, nil
}

// accountName names the account: configured, else the first label of
// <account>.blob.<suffix>, else the first path segment (Azurite path style).
func accountName(configured, serviceURL string) string {
	if configured != "" {
		return configured
	}
	u, err := url.Parse(serviceURL)
	if err != nil {
		return "account"
	}
	if host := u.Hostname(); strings.Contains(host, ".blob.") {
		return host[:strings.IndexByte(host, '.')]
	}
	if seg, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/"); seg != "" {
		return seg
	}
	return u.Hostname()
}

// Store returns the checkpoint store, for acknowledgments.
func (s *Source) Store() checkpoint.Store { return s.store }

// Stats returns a snapshot of the counters; safe to call at any time.
func (s *Source) Stats() Stats {
	st := s.st.snapshot()
	st.Hinted = s.hinted.Load()
	return st
}

// Handler receives chunks. It is called from up to Config.Concurrency
// goroutines at once, but for one blob one chunk at a time, in order. An
// error means the chunk was not taken: the blob is read again from the
// chunk's start at a later poll.
type Handler func(ctx context.Context, c Chunk) error

// Run polls until ctx is done, handing every new range to fn. Storage
// errors are logged and retried with backoff; Run returns nil when ctx is
// cancelled, or, with Config.Once, when a pass has finished (see Once).
func (s *Source) Run(ctx context.Context, fn Handler) error {
	failures := 0
	var delay time.Duration
	var wake <-chan struct{}
	if s.cfg.Hints != nil && !s.cfg.Once {
		wake = s.cfg.Hints.Wake()
		defer s.runHints(ctx)()
	}
	for {
		if delay > 0 && !s.wait(ctx, delay, wake, fn) {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		more, err := s.cycle(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		var missing *MissingContainersError
		if errors.As(err, &missing) {
			// Nothing can ever be read: fail, in every mode.
			s.log.Error(missing.Error())
			return missing
		}
		refused := err != nil && IsRefusal(err)
		if refused {
			err = s.refuse("use the checkpoint store", err)
		}
		if s.cfg.Once {
			last, n := s.LastRefusal()
			switch {
			case refused:
				return err
			case err == nil && s.finished && n == 1:
				return last
			case err == nil && s.finished && n > 0:
				return fmt.Errorf("%d storage requests refused, the last: %w", n, last)
			case err == nil && s.finished:
				s.log.Info("every blob read, acknowledged and finished; stopping (once)")
				return nil
			}
		}
		switch {
		case err != nil:
			failures++
			s.st.cycleErrors.Add(1)
			delay = min(backoff(failures), max(s.cfg.PollInterval, time.Second))
			if !refused {
				s.log.Warn("blob poll failed, retrying", "err", err, "failures", failures, "retry_in", delay)
			}
		case more:
			failures, delay = 0, 0
		default:
			failures, delay = 0, s.cfg.PollInterval
			if s.earlyDiscoveries > 0 {
				// An early discovery is due before the next poll.
				delay = min(delay, max(s.discoveryWait, time.Second))
			}
		}
	}
}

// wait sleeps for delay, reading hinted blobs whenever wake signals; false
// when ctx is done.
func (s *Source) wait(ctx context.Context, delay time.Duration, wake <-chan struct{}, fn Handler) bool {
	deadline := time.Now().Add(delay)
	for {
		d := time.Until(deadline)
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
			return true
		case <-wake:
			t.Stop()
			s.hintCycle(ctx, fn)
		}
	}
}

// backoff is 1s, 2s, 4s, ... up to 2 minutes.
func backoff(failures int) time.Duration {
	d := time.Second << min(failures-1, 7)
	return min(d, 2*time.Minute)
}

// resource is one flow-log resource (NSG or VNet flow log) in a container.
type resource struct {
	container string
	prefix    string
	path      Path
	cc        *container.Client
	started   bool
	resume    time.Time // watermark as saved
	bf        *backfill
}

func (r *resource) key(account string) string {
	return "resource/" + account + "/" + r.container + "/" + r.prefix
}

// cycle runs one poll: discovery when due, backfill, live hours, reads,
// closing, acknowledgment checks, watermarks. more means backfill work
// remains and the next cycle should follow at once.
func (s *Source) cycle(ctx context.Context, fn Handler) (more bool, err error) {
	s.st.cycles.Add(1)
	s.behind = false
	defer func() {
		s.caughtUp = err == nil && !s.behind
		s.finished = s.caughtUp && len(s.pending) == 0
		s.st.caughtUp.Store(s.caughtUp)
	}()
	now := s.cfg.Now().UTC()
	if s.lastDiscovery.IsZero() || now.Sub(s.lastDiscovery) >= s.discoveryWait || now.Before(s.lastDiscovery) {
		if err := s.discover(ctx); err != nil {
			return false, err
		}
		s.lastDiscovery = now
	}
	liveFrom := now.Add(-s.cfg.Grace).Truncate(time.Hour)
	curHour := now.Truncate(time.Hour)
	var jobs []*job
	budget := s.cfg.Concurrency * 64
	keys := make([]string, 0, len(s.resources))
	for k := range s.resources {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var firstErr error
	for _, k := range keys {
		r := s.resources[k]
		if !r.started {
			if err := s.startResource(ctx, r, liveFrom); err != nil {
				firstErr = cmpErr(firstErr, err)
				continue
			}
		}
		// Backfill: closed hours, a bounded batch per cycle.
		if r.bf != nil && len(s.pending) < s.cfg.MaxPending && budget > 0 {
			n, err := s.backfillStep(ctx, r, budget, now, &jobs)
			budget -= n
			if err != nil {
				firstErr = cmpErr(firstErr, err)
			}
			if r.bf != nil {
				more = true
			}
		}
		// Live hours plus hours of blobs still open.
		hours := map[time.Time]bool{}
		for h := laterOf(liveFrom, s.startFor(r)); !h.After(curHour); h = h.Add(time.Hour) {
			hours[h] = true
		}
		for _, b := range s.blobs {
			if b.res == r {
				hours[b.path.Hour] = true
			}
		}
		hs := make([]time.Time, 0, len(hours))
		for h := range hours {
			hs = append(hs, h)
		}
		slices.SortFunc(hs, func(a, b time.Time) int { return a.Compare(b) })
		for _, h := range hs {
			err := s.listPrefix(ctx, r, HourPrefix(r.prefix, h), func(it blobInfo) {
				if j := s.observe(ctx, r, it, now); j != nil {
					jobs = append(jobs, j)
				}
			})
			if err != nil {
				firstErr = cmpErr(firstErr, err)
				break
			}
		}
	}
	// Blobs whose cursor could not be loaded in an earlier cycle (or in an
	// hour no listing of this cycle covers): try again.
	retry := make([]string, 0, len(s.unloaded))
	for k := range s.unloaded {
		retry = append(retry, k)
	}
	sort.Strings(retry)
	for _, k := range retry {
		if u, ok := s.unloaded[k]; ok && u.cycle != s.st.cycles.Load() {
			if j := s.observe(ctx, u.r, u.it, now); j != nil {
				jobs = append(jobs, j)
			}
		}
	}
	for _, r := range s.resources {
		// Backfill left (more cycles needed, or paused by MaxPending).
		if !r.started || r.bf != nil {
			s.behind = true
		}
	}
	s.runJobs(ctx, jobs, fn)
	s.afterJobs(ctx, jobs, now)
	s.checkBehind(now)
	s.checkPending(ctx)
	s.saveWatermarks(ctx, liveFrom)
	s.pruneCursors(ctx)
	s.st.pending.Store(int64(len(s.pending)))
	return more, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// startFor is the first hour a resource reads: its watermark or the start.
func (s *Source) startFor(r *resource) time.Time {
	if !r.resume.IsZero() {
		return r.resume
	}
	return s.start
}

// startResource loads the resource's watermark and sets up its backfill.
func (s *Source) startResource(ctx context.Context, r *resource, liveFrom time.Time) error {
	c, err := s.store.Load(ctx, r.key(s.account))
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
	case err != nil:
		return err
	default:
		r.resume = c.Resume
	}
	from := s.startFor(r)
	if from.Before(liveFrom) {
		r.bf = &backfill{from: from, to: liveFrom, hour: from}
	}
	r.started = true
	return nil
}

// job is the work on one blob in one cycle.
type job struct {
	b        *blobState
	info     blobInfo
	closable bool
	err      error
	notFound bool
	forbid   bool
	closed   bool
}

func (s *Source) runJobs(ctx context.Context, jobs []*job, fn Handler) {
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func(j *job) {
			defer func() { <-sem; wg.Done() }()
			s.poll(ctx, j, fn)
		}(j)
	}
	wg.Wait()
}

// afterJobs applies job outcomes to the open-blob set.
func (s *Source) afterJobs(ctx context.Context, jobs []*job, now time.Time) {
	for _, j := range jobs {
		b := j.b
		switch {
		case j.notFound:
			delete(s.blobs, b.key)
			if err := s.store.Delete(ctx, b.key); err != nil {
				s.log.Warn("could not drop cursor of deleted blob", "blob", b.id.Name, "err", err)
			}
		case j.forbid:
			b.forbiddenGen = s.discoveryGen
		case j.closed:
			delete(s.blobs, b.key)
			s.st.closed.Add(1)
			s.pending[b.key] = &pendingBlob{id: b.id, key: b.key, size: j.info.size, etag: j.info.etag,
				hour: b.path.Hour, res: b.res}
		case j.err != nil:
			b.failures++
			b.retryAt = now.Add(backoff(b.failures))
		default:
			b.failures = 0
		}
	}
}

// checkBehind notes open blobs that keep the cycle from being caught up:
// the last read failed (retried later), or the hour is over but the blob is
// not closed yet. Blobs skipped as unreadable (403) are not waited for.
func (s *Source) checkBehind(now time.Time) {
	for _, b := range s.blobs {
		if b.forbiddenGen == s.discoveryGen {
			continue
		}
		if b.failures > 0 || !now.Before(hourEnd(b.path.Hour).Add(s.cfg.Grace)) {
			s.behind = true
			return
		}
	}
}

// statsCounters backs Stats with atomics.
type statsCounters struct {
	cycles, cycleErrors, discoveries, resources, listed, blobsRead, chunks, bytes atomic.Int64
	rewrites, forbidden, notFound, readErrors, changed, deliveryFails, closed     atomic.Int64
	pending, doneMarked, doneSkipped, doneFailed, lateCommits, refused            atomic.Int64
	caughtUp                                                                      atomic.Bool
}

func (c *statsCounters) snapshot() Stats {
	return Stats{
		Cycles: c.cycles.Load(), CycleErrors: c.cycleErrors.Load(), Discoveries: c.discoveries.Load(),
		Resources: c.resources.Load(), BlobsListed: c.listed.Load(), BlobsRead: c.blobsRead.Load(),
		Chunks: c.chunks.Load(), BytesRead: c.bytes.Load(), Rewrites: c.rewrites.Load(),
		Forbidden: c.forbidden.Load(), NotFound: c.notFound.Load(), ReadErrors: c.readErrors.Load(),
		Changed: c.changed.Load(), DeliveryFails: c.deliveryFails.Load(), Closed: c.closed.Load(),
		Pending: c.pending.Load(), DoneMarked: c.doneMarked.Load(), DoneSkipped: c.doneSkipped.Load(),
		DoneFailed: c.doneFailed.Load(), LateCommits: c.lateCommits.Load(), Refused: c.refused.Load(), CaughtUp: c.caughtUp.Load(),
	}
}

// blobInfo is what a listing says about a blob.
type blobInfo struct {
	name     string
	path     Path
	size     int64
	etag     azcore.ETag
	lastMod  time.Time
	created  time.Time
	metadata map[string]*string
}

func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
