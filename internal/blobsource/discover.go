package blobsource

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/redact"
)

// maxDepth bounds the hierarchical walk (a resource path has about 10
// segments).
const maxDepth = 24

// discover walks each container with '/' as delimiter down to the prefixes
// whose children are y= segments: one per resource. Only prefixes are
// listed, never the blobs below them, so the cost grows with the number of
// resources, not blobs.
func (s *Source) discover(ctx context.Context) error {
	s.discoveryGen++
	s.st.discoveries.Add(1)
	first := s.discoveryGen == 1
	notFound := 0
	var missing []string
	for _, name := range s.cfg.Containers {
		cc := s.svc.NewContainerClient(name)
		if err := s.walk(ctx, name, cc); err != nil {
			switch {
			case bloberror.HasCode(err, bloberror.ContainerNotFound):
				missing = append(missing, name)
				notFound++
				switch {
				case !first:
					s.log.Debug("container not found; nothing to read there yet", "container", name)
				case s.cfg.defaultContainers:
					s.log.Info("container does not exist (yet): no flow logs of this kind in the account", "container", name)
				default:
					s.log.Warn("container does not exist: check "+s.cfg.name("containers")+" (a misspelled name reads nothing)", "container", name, "account", s.account)
				}
			case IsRefusal(err):
				s.st.forbidden.Add(1)
				s.refuse("list container "+name, redact.Error(err))
				missing = append(missing, name)
			default:
				return wrapf(redact.Error(err), "discover %s", name)
			}
		}
	}
	s.st.resources.Store(int64(len(s.resources)))
	s.scheduleDiscovery(missing)
	if first && notFound == len(s.cfg.Containers) {
		e := &MissingContainersError{Containers: missing, Account: s.account, Setting: s.cfg.name("containers")}
		if s.cfg.Once {
			return e // nothing can be read: --once fails
		}
		// Polling: the writer may create them soon (flow logs just
		// enabled); say it loudly and keep looking.
		s.log.Error(e.Error() + "; looking again soon")
	}
	return nil
}

// firstEarlyDiscovery is the delay before the first early discovery;
// each further one waits twice as long, up to DiscoveryInterval.
const firstEarlyDiscovery = 15 * time.Second

// scheduleDiscovery sets the delay before the next discovery. While
// discovery is incomplete (no resource found at all, or a configured
// container missing or refused: flow logs just enabled, a role assignment
// still propagating) it comes back soon, 15 s, 30 s, 60 s and so on,
// backing off toward discovery_interval; once every container was listed
// and something found, it waits discovery_interval.
func (s *Source) scheduleDiscovery(missing []string) {
	if len(missing) == 0 && len(s.resources) > 0 {
		if s.earlyDiscoveries > 0 {
			s.log.Info("discovery complete; next in discovery_interval", "resources", len(s.resources),
				"discovery_interval", s.cfg.DiscoveryInterval)
		}
		s.earlyDiscoveries, s.discoveryWait = 0, s.cfg.DiscoveryInterval
		return
	}
	s.earlyDiscoveries++
	s.discoveryWait = min(firstEarlyDiscovery<<min(s.earlyDiscoveries-1, 16), s.cfg.DiscoveryInterval)
	level := s.log.Debug
	if s.earlyDiscoveries == 1 {
		level = s.log.Info
	}
	level("discovery incomplete; looking again soon", "resources", len(s.resources), "containers_missing", missing,
		"retry_in", s.discoveryWait)
}

// MissingContainersError: none of the configured containers exists.
type MissingContainersError struct {
	Containers []string
	Account    string
	Setting    string // the containers setting in the user's words
}

func (e *MissingContainersError) Error() string {
	return fmt.Sprintf("none of the containers to read exists in account %s (%s): check %s and the storage account (flow logs create their container when they first write)",
		e.Account, strings.Join(e.Containers, ", "), e.Setting)
}

func (s *Source) walk(ctx context.Context, name string, cc *container.Client) error {
	stack := []string{""}
	for len(stack) > 0 {
		prefix := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pager := cc.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Prefix: to.Ptr(prefix)})
	pages:
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, bp := range page.Segment.BlobPrefixes {
				if bp.Name == nil {
					continue
				}
				child := *bp.Name
				seg := lastSegment(child)
				if strings.HasPrefix(seg, "y=") {
					s.addResource(name, cc, prefix)
					break pages
				}
				if strings.Count(child, "/") >= maxDepth || !s.mayMatch(prefix, seg) {
					continue
				}
				stack = append(stack, child)
			}
		}
	}
	return nil
}

// lastSegment returns the last segment of a prefix ending in '/'.
func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// mayMatch prunes the walk at subscription and resource-group segments.
func (s *Source) mayMatch(parent, seg string) bool {
	switch prev := lastSegment(parent); {
	case strings.EqualFold(prev, "SUBSCRIPTIONS"):
		return matchAny(s.cfg.Filter.Subscriptions, seg)
	case strings.EqualFold(prev, "RESOURCEGROUPS"):
		return matchAny(s.cfg.Filter.ResourceGroups, seg)
	}
	return true
}

func (s *Source) addResource(containerName string, cc *container.Client, prefix string) {
	key := containerName + "/" + prefix
	if _, ok := s.resources[key]; ok {
		return
	}
	p := ResourcePath(prefix)
	if !s.cfg.Filter.MatchResource(p) {
		return
	}
	s.resources[key] = &resource{container: containerName, prefix: prefix, path: p, cc: cc}
	s.log.Info("found flow-log resource", "container", containerName, "resource", p.ResourceID)
}

// listPrefix lists every blob under prefix, page by page, with metadata.
func (s *Source) listPrefix(ctx context.Context, r *resource, prefix string, fn func(blobInfo)) error {
	pager := r.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix: to.Ptr(prefix), Include: container.ListBlobsInclude{Metadata: true}})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return wrapf(redact.Error(err), "list %s", prefix)
		}
		for _, it := range page.Segment.BlobItems {
			if bi, ok := s.blobInfo(it); ok {
				fn(bi)
			}
		}
	}
	return nil
}

func (s *Source) blobInfo(it *container.BlobItem) (blobInfo, bool) {
	if it == nil || it.Name == nil || it.Properties == nil || it.Properties.ContentLength == nil || it.Properties.ETag == nil {
		return blobInfo{}, false
	}
	p, err := ParsePath(*it.Name)
	if err != nil {
		s.log.Debug("not a flow-log blob, ignored", "blob", *it.Name)
		return blobInfo{}, false
	}
	bi := blobInfo{name: *it.Name, path: p, size: *it.Properties.ContentLength, etag: normETag(*it.Properties.ETag),
		metadata: it.Metadata}
	if it.Properties.LastModified != nil {
		bi.lastMod = *it.Properties.LastModified
	}
	if it.Properties.CreationTime != nil {
		bi.created = *it.Properties.CreationTime
	}
	return bi, true
}

// backfill walks a resource's closed hours: hour by hour from a start
// hour, or, from the beginning, one flat listing of the resource streamed a
// page at a time. Either way memory holds one page.
type backfill struct {
	from, to time.Time // hours [from, to); from zero = beginning
	hour     time.Time // next hour to read (watermark); zero until known
	pager    *runtime.Pager[container.ListBlobsFlatResponse]
	items    []blobInfo
}

// backfillStep observes up to budget blobs of r's backfill.
func (s *Source) backfillStep(ctx context.Context, r *resource, budget int, now time.Time, jobs *[]*job) (int, error) {
	bf := r.bf
	n := 0
	for n < budget {
		if !bf.from.IsZero() {
			if !bf.hour.Before(bf.to) {
				r.bf = nil
				return n, nil
			}
			err := s.listPrefix(ctx, r, HourPrefix(r.prefix, bf.hour), func(it blobInfo) {
				n++
				if j := s.observe(ctx, r, it, now); j != nil {
					*jobs = append(*jobs, j)
				}
			})
			if err != nil {
				return n, err
			}
			bf.hour = bf.hour.Add(time.Hour)
			continue
		}
		if len(bf.items) == 0 {
			if bf.pager == nil {
				bf.pager = r.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
					Prefix: to.Ptr(r.prefix), Include: container.ListBlobsInclude{Metadata: true},
					MaxResults: to.Ptr(int32(1000))})
			}
			if !bf.pager.More() {
				r.bf = nil
				return n, nil
			}
			page, err := bf.pager.NextPage(ctx)
			if err != nil {
				// The pager cannot resume after an error: start over; blobs
				// already closed are skipped by their cursors.
				bf.pager = nil
				return n, wrapf(redact.Error(err), "backfill list %s", r.prefix)
			}
			for _, it := range page.Segment.BlobItems {
				if bi, ok := s.blobInfo(it); ok && bi.path.Hour.Before(bf.to) {
					bf.items = append(bf.items, bi)
				}
			}
			continue
		}
		it := bf.items[0]
		bf.items[0] = blobInfo{}
		bf.items = bf.items[1:]
		bf.hour = it.path.Hour
		n++
		if j := s.observe(ctx, r, it, now); j != nil {
			*jobs = append(*jobs, j)
		}
	}
	return n, nil
}

// saveWatermarks records per resource the earliest hour that may still
// need work, so a restart lists only from there.
func (s *Source) saveWatermarks(ctx context.Context, liveFrom time.Time) {
	for _, r := range s.resources {
		if !r.started {
			continue
		}
		w := laterOf(liveFrom, s.startFor(r))
		if r.bf != nil {
			if r.bf.hour.IsZero() {
				continue // beginning, nothing read yet
			}
			w = earlierOf(w, r.bf.hour)
		}
		for _, b := range s.blobs {
			if b.res == r {
				w = earlierOf(w, b.path.Hour)
			}
		}
		for _, p := range s.pending {
			if p.res == r {
				w = earlierOf(w, p.hour)
			}
		}
		for _, u := range s.unloaded {
			if u.r == r {
				w = earlierOf(w, u.it.path.Hour)
			}
		}
		if w.Equal(r.resume) {
			continue
		}
		_, err := checkpoint.Update(ctx, s.store, r.key(s.account), func(c *checkpoint.Cursor) error {
			c.Resume = w
			return nil
		})
		if err != nil {
			s.log.Warn("could not save resource watermark", "resource", r.path.ResourceID, "err", err)
			continue
		}
		r.resume = w
	}
}

// normETag returns the quoted form of an ETag: listings give 0x8D... while
// response headers give "0x8D...". Both are compared and sent quoted.
func normETag(e azcore.ETag) azcore.ETag {
	if len(e) > 0 && e[0] != '"' && e != azcore.ETagAny {
		return azcore.ETag(`"` + string(e) + `"`)
	}
	return e
}
