// Command check compares what the Compose stack stored with what its
// generator wrote: it lists and downloads every flow-log blob of the
// storage account (Azurite, from $NSGFLOW_STORAGE_CONNECTION_STRING), parses
// them (flowparse) into the multiset of their EventIds, and compares it with
// the EventIds of the emulator's rows file. test/image/run.sh runs it inside
// the stack's network namespace, so every request stays on loopback.
//
// It prints one line: blobs, tuples, rows, missing, duplicates, unknown.
// Exit status: 0 every tuple stored exactly once; 2 some still missing but
// none twice and none unknown (delivery still under way); 1 a tuple stored
// twice or a row matching no tuple; 3 it could not read the blobs or rows.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

func main() {
	rowsPath := flag.String("rows", "", "the emulator's rows file (NDJSON)")
	containers := flag.String("containers", "insights-logs-flowlogflowevent,insights-logs-networksecuritygroupflowevent", "containers to read")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want, blobs, err := blobIDs(ctx, strings.Split(*containers, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(3)
	}
	got, rows, err := rowIDs(*rowsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(3)
	}
	tuples, missing, dups, unknown := 0, 0, 0, 0
	for id, n := range want {
		tuples += n
		if got[id] < n {
			missing += n - got[id]
		}
	}
	for id, n := range got {
		switch w := want[id]; {
		case w == 0:
			unknown += n
		case n > w:
			dups += n - w
		}
	}
	fmt.Printf("blobs %d, tuples %d, rows %d, missing %d, duplicates %d, unknown %d\n", blobs, tuples, rows, missing, dups, unknown)
	switch {
	case dups > 0 || unknown > 0:
		os.Exit(1)
	case missing > 0 || tuples == 0:
		os.Exit(2)
	}
}

// blobIDs parses every flow-log blob of the containers.
func blobIDs(ctx context.Context, containers []string) (map[string]int, int, error) {
	auth := blobsource.Auth{ConnectionString: os.Getenv("NSGFLOW_STORAGE_CONNECTION_STRING")}
	svc, err := auth.NewServiceClient()
	if err != nil {
		return nil, 0, err
	}
	ids := map[string]int{}
	blobs := 0
	for _, name := range containers {
		cc := svc.NewContainerClient(name)
		pager := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				break
			}
			if err != nil {
				return nil, 0, fmt.Errorf("list %s: %w", name, err)
			}
			for _, it := range page.Segment.BlobItems {
				if it.Name == nil || !strings.HasSuffix(*it.Name, "PT1H.json") {
					continue
				}
				resp, err := cc.NewBlobClient(*it.Name).DownloadStream(ctx, nil)
				if err != nil {
					return nil, 0, fmt.Errorf("download %s: %w", *it.Name, err)
				}
				data, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return nil, 0, fmt.Errorf("download %s: %w", *it.Name, err)
				}
				p := flowparse.Parser{OnEvent: func(e *flowparse.Event) { ids[fmt.Sprintf("%016x", e.EventID())]++ }}
				if err := p.Blob(data); err != nil {
					return nil, 0, fmt.Errorf("parse %s: %w", *it.Name, err)
				}
				blobs++
			}
		}
	}
	return ids, blobs, nil
}

// rowIDs reads the EventIds of the emulator's rows.
func rowIDs(path string) (map[string]int, int, error) {
	ids := map[string]int{}
	if path == "" {
		return ids, 0, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	rows := 0
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r struct {
			EventID string `json:"EventId"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, 0, fmt.Errorf("rows line %d: %w", rows+1, err)
		}
		rows++
		ids[r.EventID]++
	}
	return ids, rows, sc.Err()
}
