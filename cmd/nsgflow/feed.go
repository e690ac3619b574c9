package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/redact"
)

func init() {
	register(command{
		name:    "feed",
		summary: "upload generated flow-log blobs to a storage account (Azurite) block by block, keeping the current hour's blobs growing",
		run: func(args []string, stdout, stderr io.Writer) int {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runFeed(ctx, args, stdout, stderr)
		},
	})
}

// runFeed generates blobs with flowgen (the last hour being the current
// one) and writes them the way Network Watcher does: a committed block list
// head, data blocks, tail. Blobs of past hours are written whole; blobs of
// the current hour start with --initial-blocks data blocks and get one more
// every --grow-every until they are complete, --grow-for has passed, or the
// process is stopped.
func runFeed(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("feed", "--storage-endpoint URL|--storage-connection-string-file F [flags]", stderr)
	account := fs.String("storage-account", "", "storage account name (default: from the endpoint)")
	endpoint := fs.String("storage-endpoint", "", "blob service URL, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1")
	keyFile := fs.String("storage-key-file", "", "file holding the account key (else $"+envStorageKey+")")
	conn := fs.String("storage-connection-string-file", "", "file holding a connection string (else $"+envStorageConn+")")
	format := fs.String("format", "vnet4", "flow-log format: nsg1, nsg2 or vnet4")
	resources := fs.Int("resources", 2, "NSGs or VNet flow logs")
	macs := fs.Int("macs", 1, "NICs per resource")
	hours := fs.Int("hours", 2, "consecutive UTC hours")
	startAt := fs.String("start", "", "first hour, RFC 3339 (default: the last hour is the current one)")
	records := fs.Int("records-per-hour", 60, "records (= data blocks) per blob")
	tuples := fs.Int("tuples-per-record", 20, "flow tuples per record")
	seed := fs.Uint64("seed", 1, "random seed")
	initial := fs.Int("initial-blocks", 1, "data blocks a current-hour blob starts with")
	growEvery := fs.Duration("grow-every", 0, "append one block to each current-hour blob this often (0: write them whole)")
	growFor := fs.Duration("grow-for", 0, "stop growing after this long (0: until complete or stopped)")
	quiet := fs.Bool("quiet", false, "no line per commit")
	if err := fs.Parse(args); err != nil {
		return exitStatus(err)
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintln(stderr, "nsgflow feed: "+redact.String(fmt.Sprintf(format, a...)))
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q", fs.Arg(0))
	}
	auth := blobsource.Auth{AccountName: *account, Endpoint: *endpoint}
	var err error
	if auth.AccountKey, err = secret(*keyFile, envStorageKey); err != nil {
		return fail(2, "storage key: %v", err)
	}
	if auth.ConnectionString, err = secret(*conn, envStorageConn); err != nil {
		return fail(2, "connection string: %v", err)
	}
	if auth.ConnectionString == "" && auth.Endpoint == "" {
		return fail(2, "give --storage-endpoint (with a key) or a connection string")
	}
	if auth.ConnectionString == "" && auth.AccountName == "" {
		auth.AccountName = accountFromEndpoint(auth.Endpoint)
	}
	if *resources < 1 || *macs < 1 || *hours < 1 || *records < 1 || *tuples < 1 || *initial < 0 {
		return fail(2, "--resources, --macs, --hours, --records-per-hour and --tuples-per-record must be at least 1")
	}
	o := flowgen.Options{Seed: *seed, Resources: *resources, MACs: *macs, Hours: *hours, RecordsPerHour: *records, TuplesPerRecord: *tuples}
	if o.Format, err = flowgen.ParseFormat(*format); err != nil {
		return fail(2, "--format: %v", err)
	}
	now := time.Now().UTC()
	cur := now.Truncate(time.Hour)
	o.Start = cur.Add(-time.Duration(*hours-1) * time.Hour)
	if *startAt != "" {
		if o.Start, err = time.Parse(time.RFC3339, *startAt); err != nil {
			return fail(2, "--start %q: want RFC 3339, e.g. 2026-11-26T09:00:00Z", *startAt)
		}
		o.Start = o.Start.UTC().Truncate(time.Hour)
	}
	svc, err := auth.NewServiceClient()
	if err != nil {
		return fail(2, "%v", err)
	}
	n, err := o.BlobCount()
	if err != nil {
		return fail(2, "%v", err)
	}
	var growing []*feedBlob
	var whole, resumed, tuplesUp int
	for i := 0; i < n; i++ {
		b, err := flowgen.GenerateBlob(o, i)
		if err != nil {
			return fail(1, "%v", err)
		}
		if err := ensureContainer(ctx, svc, b.Container); err != nil {
			return fail(1, "%v", err)
		}
		fb := &feedBlob{b: b, c: svc.NewContainerClient(b.Container).NewBlockBlobClient(b.Name), ids: b.BlockIDs()}
		k := len(b.Blocks) - 2 // data blocks
		if b.Hour.Equal(cur) && *growEvery > 0 {
			k = min(*initial, k)
			growing = append(growing, fb)
		} else {
			whole++
		}
		have, err := fb.resume(ctx)
		if err != nil {
			return fail(1, "%v", err)
		}
		switch {
		case have < 0:
			fmt.Fprintf(stdout, "nsgflow feed: replacing %s: its blocks are not this generator's (other options or seed)\n", shortName(b.Name))
		case have > 0:
			resumed++
		}
		if have < k {
			if err := fb.commit(ctx, k); err != nil {
				return fail(1, "%v", err)
			}
		}
		tuplesUp += fb.tuples()
	}
	fmt.Fprintf(stdout, "nsgflow feed: %d blobs written whole, %d growing (one block every %v), %d of them resumed where an earlier run left them; %d tuples so far\n",
		whole, len(growing), *growEvery, resumed, tuplesUp)
	if len(growing) == 0 {
		return 0
	}
	var stop <-chan time.Time
	if *growFor > 0 {
		stop = time.After(*growFor)
	}
	tick := time.NewTicker(*growEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(stdout, "nsgflow feed: stopped; %d tuples written\n", tuplesUp)
			return 0
		case <-stop:
			fmt.Fprintf(stdout, "nsgflow feed: --grow-for elapsed; %d tuples written\n", tuplesUp)
			return 0
		case <-tick.C:
		}
		left := 0
		for _, fb := range growing {
			if fb.data >= len(fb.b.Blocks)-2 {
				continue
			}
			before := fb.tuples()
			next := fb.data + 1
			if !time.Now().Before(fb.b.Hour.Add(time.Hour)) {
				// The blob's hour is over: Network Watcher starts the next
				// hour's blob, so this one is completed now, not grown
				// into an hour whose blobs readers have already closed.
				next = len(fb.b.Blocks) - 2
			}
			if err := fb.commit(ctx, next); err != nil {
				if ctx.Err() != nil {
					return 0
				}
				return fail(1, "%v", err)
			}
			tuplesUp += fb.tuples() - before
			if !*quiet {
				fmt.Fprintf(stdout, "%s committed block %d of %s (%d tuples in all)\n", time.Now().UTC().Format("15:04:05"), fb.data, shortName(fb.b.Name), tuplesUp)
			}
			if fb.data < len(fb.b.Blocks)-2 {
				left++
			}
		}
		if left == 0 {
			fmt.Fprintf(stdout, "nsgflow feed: every blob complete; %d tuples written\n", tuplesUp)
			return 0
		}
	}
}

// feedBlob is one blob being written: data counts the committed data blocks.
type feedBlob struct {
	b      *flowgen.Blob
	c      *blockblob.Client
	ids    []string
	data   int
	staged int // blocks staged so far (head and tail count once staged)
}

// resume takes over a blob an earlier run with the same options wrote: its
// committed blocks are this generator's first blocks, so a restarted feed
// grows it on instead of committing it again from its first block (which
// readers would see as a rewrite). It returns the data blocks found
// committed, 0 for no blob, or -1 for a blob of other blocks (replaced).
func (f *feedBlob) resume(ctx context.Context) (int, error) {
	resp, err := f.c.GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return 0, nil
		}
		return 0, fmt.Errorf("read the block list of %s: %w", shortName(f.b.Name), redact.Error(err))
	}
	got := resp.CommittedBlocks
	n := len(f.ids)
	k := len(got) - 2
	if k < 0 || k > n-2 {
		return -1, nil
	}
	for i := 0; i <= k+1; i++ {
		j := i
		if i == k+1 {
			j = n - 1
		}
		// Block IDs depend on the blob name and position only (as Network
		// Watcher's): the sizes tell another writer's blocks apart.
		if got[i].Name == nil || *got[i].Name != f.ids[j] || got[i].Size == nil || *got[i].Size != int64(len(f.b.Blocks[j])) {
			return -1, nil
		}
	}
	// Committed blocks need no staging: the next commit names them.
	f.data, f.staged = k, k+1
	return k, nil
}

// commit stages what is missing and commits head, the first k data blocks
// and the tail.
func (f *feedBlob) commit(ctx context.Context, k int) error {
	n := len(f.b.Blocks)
	stage := func(i int) error {
		_, err := f.c.StageBlock(ctx, f.ids[i], streaming.NopCloser(bytes.NewReader(f.b.Blocks[i])), nil)
		if err != nil {
			return fmt.Errorf("stage block %d of %s: %w", i, shortName(f.b.Name), redact.Error(err))
		}
		return nil
	}
	if f.staged == 0 {
		if err := stage(0); err != nil {
			return err
		}
		if err := stage(n - 1); err != nil {
			return err
		}
		f.staged = 1
	}
	for i := f.staged; i <= k; i++ {
		if err := stage(i); err != nil {
			return err
		}
		f.staged = i + 1
	}
	list := append(append([]string{}, f.ids[:k+1]...), f.ids[n-1])
	if _, err := f.c.CommitBlockList(ctx, list, nil); err != nil {
		return fmt.Errorf("commit %s: %w", shortName(f.b.Name), redact.Error(err))
	}
	f.data = k
	return nil
}

// tuples is how many tuples the committed data blocks hold (exact: every
// record of a blob has the same count).
func (f *feedBlob) tuples() int {
	return f.b.Tuples / max(f.b.Records, 1) * f.data
}

func ensureContainer(ctx context.Context, svc *service.Client, name string) error {
	_, err := svc.NewContainerClient(name).Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("create container %s: %w", name, redact.Error(err))
	}
	return nil
}

func accountFromEndpoint(ep string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://")
	host, path, _ := strings.Cut(s, "/")
	if seg, _, _ := strings.Cut(path, "/"); seg != "" {
		return seg
	}
	name, _, _ := strings.Cut(host, ".")
	return name
}

// shortName keeps a blob name readable: resource name, hour, MAC.
func shortName(name string) string {
	p, err := blobsource.ParsePath(name)
	if err != nil {
		return name
	}
	return fmt.Sprintf("%s/h=%02d/%s", p.Name, p.Hour.Hour(), p.MAC)
}
