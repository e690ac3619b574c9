package flowgen

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
)

// Blob is one generated PT1H.json with its committed blocks.
type Blob struct {
	Container  string    // ContainerNSG or ContainerVNet
	Name       string    // blob path inside the container, ending in PT1H.json
	ResourceID string    // NSG resourceId, or VNet flowLogResourceID
	MAC        string    // upper-case hex, no separators
	Hour       time.Time // the UTC hour the blob covers
	// Blocks is the committed block list in order: the 12-byte head
	// {"records":[, one data block per record (each after the first starts
	// with ','), and the 2-byte tail ]}.
	Blocks  [][]byte
	Records int // data blocks
	Tuples  int // flow tuples in all records
}

// Head and Tail are the first and last blocks of every flow-log blob.
const (
	Head = `{"records":[`
	Tail = `]}`
)

// Bytes returns the whole blob: the blocks concatenated, in a new slice.
func (b *Blob) Bytes() []byte {
	out := make([]byte, 0, b.Size())
	for _, blk := range b.Blocks {
		out = append(out, blk...)
	}
	return out
}

// Record returns record i (0-based) as one bare JSON object: its data block
// without the leading ','. Records joined by newlines are NDJSON.
func (b *Blob) Record(i int) []byte {
	blk := b.Blocks[1+i]
	if len(blk) > 0 && blk[0] == ',' {
		blk = blk[1:]
	}
	return blk
}

// Size returns the blob's length in bytes.
func (b *Blob) Size() int {
	n := 0
	for _, blk := range b.Blocks {
		n += len(blk)
	}
	return n
}

// BlockIDs returns a block ID (base64, all the same length) for each block,
// as BlockID gives them.
func (b *Blob) BlockIDs() []string {
	ids := make([]string, len(b.Blocks))
	for i := range ids {
		ids[i] = BlockID(b.Name, i, len(b.Blocks))
	}
	return ids
}

// BlockID returns the base64 block ID of block i of n in the blob called
// name, in the shape Network Watcher uses: the decoded ID is 33 characters,
// "A" and zeros for the head (i == 0), "Z" and zeros for the tail
// (i == n-1), and "D" plus 32 hex digits derived from name and i for data
// blocks. A data block keeps its ID as the blob grows.
func BlockID(name string, i, n int) string {
	var raw [33]byte
	switch {
	case i == 0:
		raw[0] = 'A'
		fillZeros(raw[1:])
	case i == n-1:
		raw[0] = 'Z'
		fillZeros(raw[1:])
	default:
		raw[0] = 'D'
		h := uint64(fnvOffset)
		for j := 0; j < len(name); j++ {
			h = (h ^ uint64(name[j])) * fnvPrime
		}
		a, b := mix64(h^uint64(i)), mix64(h+uint64(i)*0x9e3779b97f4a7c15)
		const hex = "0123456789abcdef"
		for k := 0; k < 16; k++ {
			raw[1+k] = hex[(a>>(4*k))&15]
			raw[17+k] = hex[(b>>(4*k))&15]
		}
	}
	return base64.StdEncoding.EncodeToString(raw[:])
}

func fillZeros(b []byte) {
	for i := range b {
		b[i] = '0'
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Generate produces every blob the options describe, in time order (all
// blobs of the first hour, then the next hour, ...), and passes each to fn.
// Only one blob is held at a time, so a large set needs little memory; fn may
// keep the blob. An error from fn stops generation and is returned as is.
func Generate(opts Options, fn func(*Blob) error) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	n := o.Resources * o.MACs * o.Hours
	for i := 0; i < n; i++ {
		s := newStream(o, i)
		b := s.collect()
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// GenerateBlob returns blob number index (0-based, in Generate's order).
func GenerateBlob(opts Options, index int) (*Blob, error) {
	s, err := NewBlockStream(opts, index)
	if err != nil {
		return nil, err
	}
	return s.collect(), nil
}

// collect runs the stream to the end and keeps every block in one buffer.
func (s *BlockStream) collect() *Blob {
	b := s.Blob()
	n := s.NumBlocks()
	ends := make([]int, 0, n)
	data := make([]byte, 0, 64+s.o.RecordsPerHour*(600+s.o.TuplesPerRecord*64))
	for {
		blk, ok := s.Next()
		if !ok {
			break
		}
		data = append(data, blk...)
		ends = append(ends, len(data))
	}
	b.Blocks = make([][]byte, len(ends))
	start := 0
	for i, e := range ends {
		b.Blocks[i] = data[start:e:e]
		start = e
	}
	b.Tuples = s.tuples
	return b
}

// blobName builds the path Azure gives a flow-log blob.
func blobName(f Format, resourceID, mac string, hour time.Time) string {
	key := "resourceId="
	if f == FormatVNetv4 {
		key = "flowLogResourceID="
	}
	b := make([]byte, 0, len(key)+len(resourceID)+len(mac)+64)
	b = append(b, key...)
	b = append(b, resourceID...)
	b = append(b, "/y="...)
	b = strconv.AppendInt(b, int64(hour.Year()), 10)
	b = appendPart(b, "/m=", int(hour.Month()))
	b = appendPart(b, "/d=", hour.Day())
	b = appendPart(b, "/h=", hour.Hour())
	b = append(b, "/m=00/macAddress="...)
	b = append(b, mac...)
	b = append(b, "/PT1H.json"...)
	return string(b)
}

func appendPart(b []byte, key string, v int) []byte {
	b = append(b, key...)
	return appendPad2(b, v)
}

func appendPad2(b []byte, v int) []byte {
	if v < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(v), 10)
}

// Describe summarises the options in one line, for logs and reports.
func (o Options) Describe() string {
	d, err := o.withDefaults()
	if err != nil {
		return err.Error()
	}
	m := d.StateMix
	return fmt.Sprintf("format=%s seed=%d resources=%d macs=%d hours=%d start=%s records/hour=%d tuples/record=%d rules=%d ipv6=%g states(B,C,E,D)=%g,%g,%g,%g",
		d.Format, d.Seed, d.Resources, d.MACs, d.Hours, d.Start.Format(time.RFC3339),
		d.RecordsPerHour, d.TuplesPerRecord, d.Rules, d.IPv6Share, m.Begin, m.Continuing, m.End, m.Deny)
}
