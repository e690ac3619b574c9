package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"

	jsoniter "github.com/json-iterator/go"
)

// sink is where accepted rows go: a buffered NDJSON file, memory, or nowhere.
type sink struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	w       *bufio.Writer
	mem     bytes.Buffer
	discard bool
	dirty   bool
	closed  bool
}

func newSink(path string, discard bool) (*sink, error) {
	s := &sink{path: path, discard: discard}
	if discard || path == "" {
		return s, nil
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	s.f = f
	s.w = bufio.NewWriterSize(f, 1<<20)
	return s, nil
}

// openAppend opens the rows file for appending, so the rows of earlier runs
// stay (a volume kept across restarts shows every row ever accepted, and
// repeats across restarts). A last line cut short by a crash is not a row:
// it is cut off, so every line stays one whole row.
func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("emulator: open rows file: %w", err)
	}
	end, err := completeLines(f)
	if err == nil {
		if err = f.Truncate(end); err == nil {
			_, err = f.Seek(end, io.SeekStart)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("emulator: open rows file: %w", err)
	}
	return f, nil
}

// completeLines returns the length of f up to and including its last
// newline.
func completeLines(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	for end := st.Size(); end > 0; {
		n := min(end, int64(len(buf)))
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// write appends whole lines; a request's rows are written together.
func (s *sink) write(lines []byte) error {
	if s.discard || len(lines) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("emulator: rows file closed")
	}
	s.dirty = true
	if s.w == nil {
		s.mem.Write(lines)
		return nil
	}
	if _, err := s.w.Write(lines); err != nil {
		return fmt.Errorf("emulator: write rows file: %w", err)
	}
	return nil
}

func (s *sink) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *sink) flushLocked() error {
	if s.w == nil || !s.dirty || s.closed {
		return nil
	}
	s.dirty = false
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("emulator: flush rows file: %w", err)
	}
	return nil
}

// contents returns every line written so far.
func (s *sink) contents() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.discard {
		return nil, nil
	}
	if s.f == nil {
		return bytes.Clone(s.mem.Bytes()), nil
	}
	if err := s.flushLocked(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("emulator: read rows file: %w", err)
	}
	return b, nil
}

func (s *sink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.flushLocked()
	s.closed = true
	if s.f != nil {
		if cerr := s.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("emulator: close rows file: %w", cerr)
		}
	}
	return err
}

// Row is one accepted row as stored: the fields as sent (minus dropped ones)
// plus "_table", "_api", "_request_id" (and "_resource_id" when sent).
// Numbers are json.Number.
type Row map[string]any

// Table returns the row's "_table" field.
func (r Row) Table() string { s, _ := r["_table"].(string); return s }

var rowJSON = jsoniter.Config{UseNumber: true}.Froze()

// ReadRows parses NDJSON rows as the emulator writes them.
func ReadRows(r io.Reader) ([]Row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var rows []Row
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var row Row
		if err := rowJSON.Unmarshal(b, &row); err != nil {
			return rows, fmt.Errorf("emulator: rows line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return rows, fmt.Errorf("emulator: read rows: %w", err)
	}
	return rows, nil
}

// ReadRowsFile reads a rows file written by an emulator (possibly another
// process: it holds every row flushed so far).
func ReadRowsFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	defer f.Close()
	return ReadRows(f)
}

// IDCount summarises the values of one field (usually "EventId") over rows.
type IDCount struct {
	Rows       int // rows seen
	Missing    int // rows without the field
	Unique     int // distinct values
	Duplicates int // rows whose value was already seen (Rows - Missing - Unique)
	// Counts maps each value seen more than once to how often it was seen.
	Counts map[string]int
}

// CountIDs counts the values of field (e.g. "EventId") in rows, to find
// duplicates left by retries.
func CountIDs(rows []Row, field string) IDCount {
	seen := make(map[string]int, len(rows))
	c := IDCount{Rows: len(rows), Counts: map[string]int{}}
	for _, r := range rows {
		v, ok := r[field]
		if !ok || v == nil {
			c.Missing++
			continue
		}
		seen[fmt.Sprint(v)]++
	}
	c.Unique = len(seen)
	c.Duplicates = c.Rows - c.Missing - c.Unique
	for k, n := range seen {
		if n > 1 {
			c.Counts[k] = n
		}
	}
	return c
}
