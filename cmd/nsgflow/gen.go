package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/internal/flowgen"
)

func init() {
	register(command{
		name:    "gen",
		summary: "generate synthetic flow-log blobs (NSG v1/v2, VNet v4) into a folder",
		run:     runGen,
	})
}

// genBlocksDir is the folder under --out that holds the block files.
const genBlocksDir = "blocks"

func runGen(args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("gen", "--out DIR [flags]", stderr)
	out := fs.String("out", "", "output folder (required); blobs go to DIR/<container>/<blob name>")
	format := fs.String("format", "vnet4", "flow-log format: nsg1, nsg2 or vnet4")
	resources := fs.Int("resources", 1, "NSGs (nsg1, nsg2) or VNet flow logs (vnet4)")
	macs := fs.Int("macs", 1, "NICs per resource; each gets its own blob per hour")
	hours := fs.Int("hours", 1, "consecutive UTC hours")
	start := fs.String("start", flowgen.DefaultStart.Format(time.RFC3339), "first hour, RFC 3339 (truncated to the hour, UTC), or \"now\": the last hour generated is the current one")
	records := fs.Int("records-per-hour", 60, "records (= data blocks) per blob")
	tuples := fs.Int("tuples-per-record", 20, "flow tuples per record")
	rules := fs.Int("rules", 2, "rules per resource, at least 2: one deny rule and the rest allow rules")
	longRules := fs.Bool("long-rule-names", false, "give user rules long names with GUID suffixes")
	ipv6 := fs.Float64("ipv6-share", 0, "fraction of flows with IPv6 addresses, 0 to 1")
	stateMix := fs.String("state-mix", "3,2,3,2", "relative weights of tuple states B,C,E,D (D: denied flows)")
	seed := fs.Uint64("seed", 1, "random seed: the same flags give the same bytes")
	blocks := fs.Bool("blocks", false, "also write each blob's committed blocks (000.block ... and blocklist.json) under DIR/"+genBlocksDir+"/<container>/<blob name without .json>.blocks/")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitStatus(err)
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "nsgflow gen: "+format+"\n", a...)
		return 2
	}
	if len(rest) > 0 {
		return fail("unexpected argument %q (all settings are flags)", rest[0])
	}
	if *out == "" {
		fs.Usage()
		return fail("--out DIR is required")
	}
	opts := flowgen.Options{
		Seed: *seed, Resources: *resources, MACs: *macs, Hours: *hours,
		RecordsPerHour: *records, TuplesPerRecord: *tuples, Rules: *rules,
		LongRuleNames: *longRules, IPv6Share: *ipv6,
	}
	if opts.Format, err = flowgen.ParseFormat(*format); err != nil {
		return fail("--format: %v", err)
	}
	if opts.StateMix, err = flowgen.ParseStateMix(*stateMix); err != nil {
		return fail("--state-mix: %v", err)
	}
	// flowgen takes 0 as "default"; on the command line it is a mistake.
	for _, c := range []struct {
		name   string
		v, min int
	}{{"resources", *resources, 1}, {"macs", *macs, 1}, {"hours", *hours, 1}, {"records-per-hour", *records, 1}, {"tuples-per-record", *tuples, 1}, {"rules", *rules, 2}} {
		if c.v < c.min {
			return fail("--%s must be at least %d, got %d", c.name, c.min, c.v)
		}
	}
	if *start == "now" {
		opts.Start = time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(*hours-1) * time.Hour)
	} else if opts.Start, err = time.Parse(time.RFC3339, *start); err != nil {
		return fail("--start %q: want RFC 3339 (2026-11-26T09:00:00Z) or now", *start)
	}
	n, err := opts.BlobCount()
	if err != nil {
		return fail("%v", err)
	}

	var sum genSummary
	for i := 0; i < n; i++ {
		s, err := flowgen.NewBlockStream(opts, i)
		if err != nil {
			fmt.Fprintf(stderr, "nsgflow gen: %v\n", err)
			return 1
		}
		if err := genWriteBlob(*out, s, *blocks, &sum); err != nil {
			fmt.Fprintf(stderr, "nsgflow gen: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "nsgflow gen: %s\n", opts.Describe())
	fmt.Fprintf(stdout, "wrote %d blobs under %s: %d records, %d tuples, %d bytes", sum.blobs, *out, sum.records, sum.tuples, sum.bytes)
	if *blocks {
		fmt.Fprintf(stdout, " (+%d block files)", sum.blockFiles)
	}
	fmt.Fprintln(stdout)
	if sum.blobs > 0 {
		fmt.Fprintf(stdout, "first blob: %s\n", filepath.Join(*out, sum.first))
	}
	return 0
}

type genSummary struct {
	blobs, records, tuples, bytes, blockFiles int64
	first                                     string
}

// genBlockList is blocklist.json: the committed block list in order, in the
// layout of the samples in shared/samples/derived-blocks.
type genBlockList struct {
	Source          string         `json:"source"`
	TotalSize       int64          `json:"totalSize"`
	Tuples          int            `json:"tuples"`
	CommittedBlocks []genBlockInfo `json:"committedBlocks"`
}

type genBlockInfo struct {
	Index          int    `json:"index"`
	File           string `json:"file"`
	BlockID        string `json:"blockId"`
	BlockIDDecoded string `json:"blockIdDecoded"`
	Size           int    `json:"size"`
}

// genWriteBlob streams one blob to DIR/<container>/<name> (and its blocks
// when asked), so a blob of any size needs only one block in memory.
func genWriteBlob(dir string, s *flowgen.BlockStream, withBlocks bool, sum *genSummary) error {
	rel := filepath.Join(s.Container(), filepath.FromSlash(s.Name()))
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating folder for blob: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating blob file: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 256<<10)

	var list genBlockList
	var blockDir string
	if withBlocks {
		blockDir = filepath.Join(dir, genBlocksDir, strings.TrimSuffix(rel, ".json")+".blocks")
		if err := os.MkdirAll(blockDir, 0o755); err != nil {
			return fmt.Errorf("creating block folder: %w", err)
		}
		list.Source = s.Container() + "/" + s.Name()
	}
	nblocks := s.NumBlocks()
	// Zero-padded so the files sort in block order: 000.block, or wider.
	width := max(3, len(strconv.Itoa(nblocks-1)))
	var size int64
	for i := 0; ; i++ {
		blk, ok := s.Next()
		if !ok {
			break
		}
		if _, err := w.Write(blk); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		size += int64(len(blk))
		if withBlocks {
			name := fmt.Sprintf("%0*d.block", width, i)
			if err := os.WriteFile(filepath.Join(blockDir, name), blk, 0o644); err != nil {
				return fmt.Errorf("writing block file: %w", err)
			}
			id := flowgen.BlockID(s.Name(), i, nblocks)
			dec, _ := base64.StdEncoding.DecodeString(id)
			list.CommittedBlocks = append(list.CommittedBlocks, genBlockInfo{Index: i, File: name, BlockID: id, BlockIDDecoded: string(dec), Size: len(blk)})
			sum.blockFiles++
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if withBlocks {
		list.TotalSize = size
		list.Tuples = s.Tuples()
		js, err := json.MarshalIndent(&list, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding blocklist.json: %w", err)
		}
		if err := os.WriteFile(filepath.Join(blockDir, "blocklist.json"), append(js, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing blocklist.json: %w", err)
		}
	}
	if sum.blobs == 0 {
		sum.first = rel
	}
	sum.blobs++
	sum.records += int64(nblocks - 2)
	sum.tuples += int64(s.Tuples())
	sum.bytes += size
	return nil
}
