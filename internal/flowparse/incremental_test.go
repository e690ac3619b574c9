package flowparse_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

// blockList is derived-blocks/*/blocklist.json: the committed blocks of a
// blob in order, head first and tail last.
type blockList struct {
	Source          string `json:"source"`
	TotalSize       int    `json:"totalSize"`
	CommittedBlocks []struct {
		Index int    `json:"index"`
		File  string `json:"file"`
		Size  int    `json:"size"`
	} `json:"committedBlocks"`
}

// loadBlocks reads a derived-blocks folder and returns the source sample
// name and the block contents in committed order.
func loadBlocks(t testing.TB, dir string) (string, [][]byte) {
	t.Helper()
	dir = filepath.Join(samplesDir, "derived-blocks", dir)
	raw, err := os.ReadFile(filepath.Join(dir, "blocklist.json"))
	if err != nil {
		t.Fatalf("read block list: %v", err)
	}
	var bl blockList
	if err := json.Unmarshal(raw, &bl); err != nil {
		t.Fatalf("decode %s/blocklist.json: %v", dir, err)
	}
	var blocks [][]byte
	total := 0
	for i, b := range bl.CommittedBlocks {
		data, err := os.ReadFile(filepath.Join(dir, b.File))
		if err != nil {
			t.Fatalf("read block: %v", err)
		}
		if b.Index != i || len(data) != b.Size {
			t.Fatalf("%s: index %d size %d, block list says index %d size %d", b.File, i, len(data), b.Index, b.Size)
		}
		blocks = append(blocks, data)
		total += len(data)
	}
	if total != bl.TotalSize || len(blocks) < 3 {
		t.Fatalf("%s: %d blocks, %d bytes; block list says %d bytes", dir, len(blocks), total, bl.TotalSize)
	}
	if string(blocks[0]) != `{"records":[` || string(blocks[len(blocks)-1]) != "]}" {
		t.Fatalf("%s: head %q, tail %q", dir, blocks[0], blocks[len(blocks)-1])
	}
	return bl.Source, blocks
}

// committedLengths returns L_k, the blob's length at minute k = 1..n: head,
// data blocks 1..k and the tail.
func committedLengths(blocks [][]byte) []int {
	head, tail := len(blocks[0]), len(blocks[len(blocks)-1])
	var ls []int
	sum := head + tail
	for _, b := range blocks[1 : len(blocks)-1] {
		sum += len(b)
		ls = append(ls, sum)
	}
	return ls
}

// TestIncrementalRanges reads each derived blob the way the blob reader does
// (after a read at committed length L the next read is [L-2, L_new-2)) and
// checks that the ranges together give exactly the whole blob's rows, in the
// same order, with no record read twice.
func TestIncrementalRanges(t *testing.T) {
	readers := []struct {
		name string
		// reads returns the byte ranges a reader asks for, given L_1..L_n.
		reads func(ls []int) [][2]int
	}{
		{"every minute, up to L-2", func(ls []int) [][2]int {
			var rs [][2]int
			prev := 2 // so the first read starts at 0
			for _, l := range ls {
				rs = append(rs, [2]int{prev - 2, l - 2})
				prev = l
			}
			return rs
		}},
		{"every minute, through the tail", func(ls []int) [][2]int {
			// Reading the whole committed length includes the current "]}";
			// the next read starts on those two bytes, now overwritten.
			var rs [][2]int
			prev := 2
			for _, l := range ls {
				rs = append(rs, [2]int{prev - 2, l})
				prev = l
			}
			return rs
		}},
		{"every third minute", func(ls []int) [][2]int {
			var rs [][2]int
			prev := 2
			for i, l := range ls {
				if i%3 != 2 && i != len(ls)-1 {
					continue
				}
				rs = append(rs, [2]int{prev - 2, l - 2})
				prev = l
			}
			return rs
		}},
	}
	type blockSet struct {
		name   string
		blocks func(t *testing.T) [][]byte
	}
	sets := []blockSet{}
	for _, dir := range []string{"nsg-v2-sumologic", "vnet-v4-sumologic"} {
		sets = append(sets, blockSet{dir, func(t *testing.T) [][]byte {
			source, blocks := loadBlocks(t, dir)
			if !bytes.Equal(bytes.Join(blocks, nil), readSample(t, source)) {
				t.Fatalf("blocks do not concatenate to %s", source)
			}
			return blocks
		}})
	}
	// Generated hours: 60 blocks each, every format, IPv6 and long rules.
	for _, f := range []flowgen.Format{flowgen.FormatNSGv1, flowgen.FormatNSGv2, flowgen.FormatVNetv4} {
		sets = append(sets, blockSet{"flowgen-" + f.String(), func(t *testing.T) [][]byte {
			blob, err := flowgen.GenerateBlob(flowgen.Options{Format: f, Seed: 7, TuplesPerRecord: 9, Rules: 4,
				LongRuleNames: true, IPv6Share: 0.3}, 0)
			if err != nil {
				t.Fatal(err)
			}
			return blob.Blocks
		}})
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			blocks := set.blocks(t)
			whole := bytes.Join(blocks, nil)
			wantRun := run(whole, nil, viaBlob)
			if wantRun.stats.Records == 0 || len(wantRun.skips) != 0 {
				t.Fatalf("whole blob: stats %+v skips %+v", wantRun.stats, wantRun.skips)
			}
			ls := committedLengths(blocks)
			for _, rd := range readers {
				t.Run(rd.name, func(t *testing.T) {
					// The blob at minute k is head + data 1..k + tail; a range
					// is cut from that version, not from the final blob.
					blobAt := func(k int) []byte {
						return append(bytes.Join(blocks[:k+1], nil), blocks[len(blocks)-1]...)
					}
					enc := flowparse.NewEncoder(nil)
					var rows [][]byte
					var perRange []int64
					shared := flowparse.Parser{OnEvent: func(ev *flowparse.Event) { rows = append(rows, enc.Append(nil, ev)) }}
					var sumRecords int64
					for _, r := range rd.reads(ls) {
						k := 0
						for k < len(ls) && ls[k] < r[1] {
							k++
						}
						data := blobAt(k + 1)[r[0]:r[1]]
						if r[0] > 0 && data[0] != ',' {
							t.Fatalf("range %v starts with %q, want ','", r, data[0])
						}
						fresh := flowparse.Parser{OnEvent: func(*flowparse.Event) {}, OnSkip: func(s flowparse.Skip) {
							t.Errorf("range %v: skip %+v", r, s)
						}}
						if err := fresh.Range(data); err != nil {
							t.Fatalf("range %v: %v", r, err)
						}
						sumRecords += fresh.Stats.Records
						perRange = append(perRange, fresh.Stats.Records)
						if err := shared.Range(data); err != nil {
							t.Fatalf("range %v: %v", r, err)
						}
					}
					equalRows(t, rows, wantRun.rows)
					if sumRecords != wantRun.stats.Records || shared.Stats.Records != wantRun.stats.Records {
						t.Errorf("records: sum over ranges %d (%v), shared parser %d, whole blob %d",
							sumRecords, perRange, shared.Stats.Records, wantRun.stats.Records)
					}
					if shared.Stats != wantRun.stats {
						t.Errorf("stats over ranges %+v, whole blob %+v", shared.Stats, wantRun.stats)
					}
				})
			}
		})
	}
}
