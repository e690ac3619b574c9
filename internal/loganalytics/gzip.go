package loganalytics

import (
	"bytes"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// DefaultGzipLevel is the compression level used when GzipLevel is 0,
// chosen by measurement (BenchmarkGzipLevels, docs/benchmarks.md).
const DefaultGzipLevel = 1

var (
	gzPools [13]sync.Pool // *gzip.Writer per level -3..9, at level+3
	bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

var (
	openBracket  = []byte{'['}
	closeBracket = []byte{']'}
)

// compressArray gzips "[" + inner + "]" into a pooled buffer; release it
// with putBuffer.
func compressArray(inner []byte, level int) (*bytes.Buffer, error) {
	return compressParts(level, openBracket, inner, closeBracket)
}

// compress gzips src into a pooled buffer; release it with putBuffer.
func compress(src []byte, level int) (*bytes.Buffer, error) { return compressParts(level, src) }

func compressParts(level int, parts ...[]byte) (*bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	zw, _ := gzPools[level+3].Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(buf, level); err != nil {
			bufPool.Put(buf)
			return nil, err
		}
	} else {
		zw.Reset(buf)
	}
	for _, p := range parts {
		if _, err := zw.Write(p); err != nil {
			bufPool.Put(buf)
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		bufPool.Put(buf)
		return nil, err
	}
	gzPools[level+3].Put(zw)
	return buf, nil
}

func putBuffer(b *bytes.Buffer) {
	if b != nil && b.Cap() <= 4<<20 {
		bufPool.Put(b)
	}
}

// buildBody appends the JSON array of batch b to dst (a copy; requests
// stream the array from Events without one, see arrayReader).
func buildBody(dst []byte, ev *Events, b Batch) []byte {
	dst = append(dst, '[')
	dst = append(dst, ev.inner(b)...)
	return append(dst, ']')
}

// arrayReader reads "[" + inner + "]" without copying inner.
type arrayReader struct {
	inner []byte
	off   int // bytes of the array already read
}

func (r *arrayReader) Read(p []byte) (int, error) {
	total := len(r.inner) + 2
	if r.off >= total {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < total {
		switch {
		case r.off == 0:
			p[n] = '['
			n++
			r.off++
		case r.off <= len(r.inner):
			c := copy(p[n:], r.inner[r.off-1:])
			n += c
			r.off += c
		default:
			p[n] = ']'
			n++
			r.off++
		}
	}
	return n, nil
}

// WriteTo lets net/http write the body without an intermediate buffer.
func (r *arrayReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < len(r.inner)+2 {
		var part []byte
		switch {
		case r.off == 0:
			part = openBracket
		case r.off <= len(r.inner):
			part = r.inner[r.off-1:]
		default:
			part = closeBracket
		}
		n, err := w.Write(part)
		total += int64(n)
		r.off += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
