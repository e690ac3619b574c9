package flowgen_test

import (
	"fmt"
	"io"
	"time"

	"github.com/nsgflow/nsgflow/internal/flowgen"
)

func ExampleGenerate() {
	opts := flowgen.Options{
		Format:          flowgen.FormatNSGv2,
		Seed:            1,
		Resources:       2,
		Hours:           2,
		Start:           time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC),
		RecordsPerHour:  60,
		TuplesPerRecord: 10,
	}
	err := flowgen.Generate(opts, func(b *flowgen.Blob) error {
		// Upload b.Blocks one by one, or write b.Bytes() to a file.
		fmt.Println(b.Container, b.Hour.Format("15h"), len(b.Blocks), "blocks,", b.Tuples, "tuples")
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// insights-logs-networksecuritygroupflowevent 09h 62 blocks, 600 tuples
	// insights-logs-networksecuritygroupflowevent 09h 62 blocks, 600 tuples
	// insights-logs-networksecuritygroupflowevent 10h 62 blocks, 600 tuples
	// insights-logs-networksecuritygroupflowevent 10h 62 blocks, 600 tuples
}

func ExampleBlockStream() {
	// One big VNet blob, streamed: 600 records of 1,000 tuples (about 43 MB)
	// without holding it in memory.
	s, err := flowgen.NewBlockStream(flowgen.Options{RecordsPerHour: 600, TuplesPerRecord: 1000}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := io.Copy(io.Discard, s) // or upload with an io.Reader-taking client
	fmt.Println(n > 40<<20, s.Tuples(), err)
	// Output: true 600000 <nil>
}
