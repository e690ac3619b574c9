package oms

import (
	"bytes"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// DefaultGzipLevel is the compression level used when GzipLevel is 0,
// chosen by measurement (BenchmarkGzipLevels, docs/benchmarks.md).
const DefaultGzipLevel = 1

var (
	gzPools  [10]sync.Pool // *gzip.Writer per level 1..9
	bufPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
)

// compress gzips src into a pooled buffer; release it with putBuffer.
func compress(src []byte, level int) (*bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	zw, _ := gzPools[level].Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(buf, level); err != nil {
			bufPool.Put(buf)
			return nil, err
		}
	} else {
		zw.Reset(buf)
	}
	if _, err := zw.Write(src); err != nil {
		bufPool.Put(buf)
		return nil, err
	}
	if err := zw.Close(); err != nil {
		bufPool.Put(buf)
		return nil, err
	}
	gzPools[level].Put(zw)
	return buf, nil
}

func putBuffer(b *bytes.Buffer) {
	if b != nil && b.Cap() <= 4<<20 {
		bufPool.Put(b)
	}
}

// buildBody appends the JSON array of batch b to dst.
func buildBody(dst []byte, ev *Events, b Batch) []byte {
	dst = append(dst, '[')
	start := ev.start(b.First)
	for i := b.First; i < b.First+b.Count; i++ {
		if i > b.First {
			dst = append(dst, ',')
		}
		end := ev.Ends[i]
		dst = append(dst, ev.Buf[start:end]...)
		start = end
	}
	return append(dst, ']')
}

func getBody() *[]byte { return bodyPool.Get().(*[]byte) }

func putBody(p *[]byte) {
	if cap(*p) <= 32<<20 {
		*p = (*p)[:0]
		bodyPool.Put(p)
	}
}
