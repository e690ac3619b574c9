// Command check verifies what the input harness collected from
// in_nsgflow.so: the msgpack entries (decoded with fbpack), their records
// against the generated blobs they came from, their provenance fields, and
// the checkpoints the plugin left. It regenerates the blobs from the same
// flowgen options the script uploaded. It prints one line per check and
// "N passed, M failed"; exit status 1 when a check failed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/checkpoint"
	"github.com/nsgflow/nsgflow/internal/fbin"
	"github.com/nsgflow/nsgflow/internal/fbpack"
	"github.com/nsgflow/nsgflow/internal/flowgen"
	"github.com/nsgflow/nsgflow/internal/flowparse"
)

var passed, failed int

func check(ok bool, format string, args ...any) {
	if ok {
		passed++
		fmt.Printf("ok   "+format+"\n", args...)
	} else {
		failed++
		fmt.Printf("FAIL "+format+"\n", args...)
	}
}

// entry is one decoded entry.
type entry struct {
	rec           []byte // record map span
	src           string
	gen, off, end int64
	n, total      int64
	json          []byte // record without provenance, as JSON
}

func main() {
	entriesPath := flag.String("entries", "", "file of msgpack entries the harness wrote")
	mode := flag.String("mode", "raw", "raw or expand")
	ackMode := flag.String("ack-mode", "handover", "handover or ack")
	cpDir := flag.String("checkpoints", "", "the plugin's checkpoint_dir")
	account := flag.String("account", "devstoreaccount1", "storage account name (first part of the checkpoint key)")
	format := flag.String("format", "nsg2", "flowgen format the script uploaded")
	resources := flag.Int("resources", 2, "flowgen resources")
	hours := flag.Int("hours", 2, "flowgen hours")
	records := flag.Int("records-per-hour", 10, "flowgen records per hour")
	tuples := flag.Int("tuples-per-record", 5, "flowgen tuples per record")
	seed := flag.Uint64("seed", 1, "flowgen seed")
	start := flag.String("start", "", "flowgen first hour, RFC 3339")
	flag.Parse()
	f, err := flowgen.ParseFormat(*format)
	if err != nil {
		fatal(err)
	}
	st, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		fatal(fmt.Errorf("--start: %w", err))
	}
	o := flowgen.Options{Format: f, Resources: *resources, Hours: *hours, RecordsPerHour: *records, TuplesPerRecord: *tuples, Seed: *seed, Start: st}
	blobs := map[string][]byte{} // checkpoint key -> blob bytes
	wantRecords, wantTuples := 0, 0
	if err := flowgen.Generate(o, func(b *flowgen.Blob) error {
		blobs[*account+"/"+b.Container+"/"+b.Name] = b.Bytes()
		wantRecords += b.Records
		wantTuples += b.Tuples
		return nil
	}); err != nil {
		fatal(err)
	}

	data, err := os.ReadFile(*entriesPath)
	if err != nil {
		fatal(err)
	}
	ents, derr := decode(data)
	check(derr == nil, "%d bytes decode as [ts, record] entries (%d entries)%s", len(data), len(ents), errSuffix(derr))
	want := wantRecords
	if *mode == "expand" {
		want = wantTuples
	}
	check(len(ents) == want, "%d entries, want %d (%s mode: %d records, %d tuples in %d blobs)", len(ents), want, *mode, wantRecords, wantTuples, len(blobs))

	// Provenance and content.
	badProv, badContent, dups := 0, 0, 0
	seen := map[string]int{}
	perRecord := map[string]int64{}
	for _, e := range ents {
		blob, ok := blobs[e.src]
		if !ok || e.off < 0 || e.end <= e.off || e.end > int64(len(blob)) {
			badProv++
			continue
		}
		spans, _ := fbin.Split(nil, blob[e.off:e.end], e.off)
		if len(spans) != 1 {
			badProv++
			continue
		}
		id := fmt.Sprintf("%s@%d/%d", e.src, e.off, e.n)
		if seen[id]++; seen[id] > 1 {
			dups++
		}
		switch *mode {
		case "raw":
			if !sameJSON(e.json, spans[0].JSON) {
				badContent++
			}
		case "expand":
			perRecord[fmt.Sprintf("%s@%d", e.src, e.off)]++
			evs := expand(spans[0].JSON)
			if e.total != int64(len(evs)) || e.n < 1 || e.n > e.total || !sameJSON(e.json, evs[e.n-1]) {
				badContent++
			}
		}
	}
	check(badProv == 0, "every entry names a generated blob and a byte range holding one record (%d bad)", badProv)
	check(badContent == 0, "every record equals the blob's record (raw) or its n-th flowparse event (expand) (%d differ)", badContent)
	check(dups == 0, "no entry twice (%d duplicates)", dups)
	if *mode == "expand" {
		incomplete := 0
		for k, n := range perRecord {
			for _, e := range ents {
				if fmt.Sprintf("%s@%d", e.src, e.off) == k {
					if e.total != n {
						incomplete++
					}
					break
				}
			}
		}
		check(incomplete == 0, "every expanded record has all its _nsgflow_total events (%d incomplete)", incomplete)
	}

	// Checkpoints.
	store, err := checkpoint.NewDir(*cpDir)
	if err != nil {
		fatal(err)
	}
	ctx := context.Background()
	if *ackMode == "ack" {
		atHead := 0
		for k := range blobs {
			c, err := store.Load(ctx, k)
			if err == nil && c.Committed <= int64(len(flowgen.Head)) {
				atHead++
			}
		}
		check(atHead == len(blobs), "ack mode: no checkpoint moved past the blob head without an output ack (%d of %d at the head)", atHead, len(blobs))
		// Acknowledge as the nsgflow output does, record by record.
		for _, e := range ents {
			if err := checkpoint.Ack(ctx, store, checkpoint.Range{Key: e.src, Gen: e.gen, Off: e.off, End: e.end}); err != nil {
				fatal(err)
			}
		}
	}
	// A blob is finished when its cursor reached the tail, or when the
	// source dropped its cursor because the resource's watermark passed the
	// blob's hour (blobsource deletes cursors of finished blobs).
	full := 0
	for k, b := range blobs {
		c, err := store.Load(ctx, k)
		if err == nil && c.FullyAcked(int64(len(b))) {
			full++
			continue
		}
		if !errors.Is(err, checkpoint.ErrNotFound) {
			continue
		}
		container, name, _ := strings.Cut(strings.TrimPrefix(k, *account+"/"), "/")
		p, perr := blobsource.ParsePath(name)
		if perr != nil {
			continue
		}
		rc, rerr := store.Load(ctx, "resource/"+*account+"/"+container+"/"+p.Resource)
		if rerr == nil && rc.Resume.After(p.Hour) {
			full++
		}
	}
	check(full == len(blobs), "%s: every blob's checkpoint reached its tail, or was dropped behind the resource watermark (%d of %d)", *ackMode, full, len(blobs))
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "check: %v\n", err)
	os.Exit(2)
}

func decode(data []byte) ([]entry, error) {
	var out []entry
	r := fbpack.NewReader(data)
	var e fbpack.Entry
	for {
		err := r.Next(&e)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		en := entry{rec: e.Record}
		it, err := fbpack.NewMapIter(e.Record)
		if err != nil {
			return out, err
		}
		for it.Next() {
			k, _ := it.KeyString()
			switch string(k) {
			case checkpoint.FieldSource:
				s, _ := fbpack.Str(it.Value())
				en.src = string(s)
			case checkpoint.FieldGen:
				en.gen, _ = fbpack.Int(it.Value())
			case checkpoint.FieldOffset:
				en.off, _ = fbpack.Int(it.Value())
			case checkpoint.FieldEnd:
				en.end, _ = fbpack.Int(it.Value())
			case checkpoint.FieldN:
				en.n, _ = fbpack.Int(it.Value())
			case checkpoint.FieldTotal:
				en.total, _ = fbpack.Int(it.Value())
			}
		}
		if en.json, err = fbpack.AppendJSONOmit(nil, e.Record, checkpoint.ProvenancePrefix); err != nil {
			return out, err
		}
		out = append(out, en)
	}
}

// expand returns the flat events flowparse makes of a record.
func expand(rec []byte) [][]byte {
	var out [][]byte
	enc := flowparse.NewEncoder(nil)
	p := flowparse.Parser{OnEvent: func(e *flowparse.Event) { out = append(out, enc.Append(nil, e)) }}
	_ = p.Record(rec)
	return out
}

// sameJSON compares two JSON objects by value (numbers as written).
func sameJSON(a, b []byte) bool {
	var x, y any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
