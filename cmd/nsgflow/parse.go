package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nsgflow/nsgflow/internal/flowparse"
)

func init() {
	register(command{
		name:    "parse",
		summary: "print flow-log files as one JSON event per line (NDJSON)",
		run:     runParse,
	})
}

// parseMaxReasons is how many skip reasons the summary quotes.
const parseMaxReasons = 5

// parseTotals accumulates what the parse command saw over all inputs.
type parseTotals struct {
	files, failed  int
	stats          flowparse.Stats
	reasons        []string
	reasonsDropped int64
}

func runParse(args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("parse", "[flags] FILE...|-", stderr)
	schemaName := fs.String("schema", "default", "row layout: default (typed columns), seed (the 2017 script's string columns) or asim (ASIM NetworkSession)")
	timeField := fs.String("time-field", "", "rename the event time column (default: the schema's, TimeGenerated or DateTime)")
	quiet := fs.Bool("quiet", false, "print no summary on stderr, only errors")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitStatus(err)
	}
	schema, err := flowparse.SchemaByName(*schemaName)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow parse: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "nsgflow parse: no input: give one or more files, or - for standard input")
		fs.Usage()
		return 2
	}

	out := bufio.NewWriterSize(stdout, 256<<10)
	enc := flowparse.NewEncoder(schema)
	enc.TimeField = *timeField
	var tot parseTotals
	var file string
	p := flowparse.Parser{
		OnEvent: func(ev *flowparse.Event) {
			// Encode straight into the writer's free space: no copy when it fits.
			b := enc.Append(out.AvailableBuffer(), ev)
			b = append(b, '\n')
			_, _ = out.Write(b) // bufio keeps the first error; checked per file
		},
		OnSkip: func(s flowparse.Skip) {
			if len(tot.reasons) < parseMaxReasons {
				tot.reasons = append(tot.reasons, fmt.Sprintf("%s: %s: %s", file, s.Kind, s.Reason))
			} else {
				tot.reasonsDropped++
			}
		},
	}
	for _, file = range files {
		tot.files++
		in, closeIn, err := openInput(file)
		if err != nil {
			fmt.Fprintf(stderr, "nsgflow parse: %v\n", err)
			tot.failed++
			continue
		}
		p.Reset()
		cr := &countingReader{r: in}
		err = p.ParseReader(cr)
		closeIn()
		addStats(&tot.stats, &p.Stats)
		switch {
		case err != nil && !errors.Is(err, flowparse.ErrNotFlowLog):
			fmt.Fprintf(stderr, "nsgflow parse: %s: reading: %v\n", file, err)
			tot.failed++
		case err != nil: // the input is not JSON of a known shape
			fmt.Fprintf(stderr, "nsgflow parse: %s: %v\n", file, err)
			tot.failed++
		case p.Stats.Records == 0:
			fmt.Fprintf(stderr, "nsgflow parse: %s: no flow-log records found (%d bytes, %d skipped)\n", file, cr.n, p.Stats.RecordsSkipped)
			tot.failed++
		}
		if err := out.Flush(); err != nil {
			fmt.Fprintf(stderr, "nsgflow parse: writing output: %v\n", err)
			return 1
		}
	}
	if !*quiet {
		tot.print(stderr)
	}
	if tot.stats.Records == 0 {
		fmt.Fprintln(stderr, "nsgflow parse: nothing parsed")
		return 1
	}
	if tot.failed > 0 {
		return 1
	}
	return 0
}

// openInput opens a file, or standard input for "-", to be read in pieces.
func openInput(name string) (io.Reader, func(), error) {
	if name == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		// os errors already name the file.
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func addStats(dst, src *flowparse.Stats) {
	dst.Records += src.Records
	dst.RecordsSkipped += src.RecordsSkipped
	dst.Tuples += src.Tuples
	dst.TuplesSkipped += src.TuplesSkipped
	for i := range dst.ByKind {
		dst.ByKind[i] += src.ByKind[i]
	}
}

func (t *parseTotals) print(w io.Writer) {
	s := &t.stats
	fmt.Fprintf(w, "nsgflow parse: %d file(s)", t.files)
	if t.failed > 0 {
		fmt.Fprintf(w, " (%d failed)", t.failed)
	}
	fmt.Fprintf(w, ", %d records, %d events; skipped %d records, %d tuples\n", s.Records, s.Tuples, s.RecordsSkipped, s.TuplesSkipped)
	var kinds []string
	for _, k := range flowparse.Kinds() {
		if n := s.Skipped(k); n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		}
	}
	if len(kinds) > 0 {
		fmt.Fprintf(w, "  skips by kind: %s\n", strings.Join(kinds, " "))
	}
	for _, r := range t.reasons {
		fmt.Fprintf(w, "  %s\n", r)
	}
	if t.reasonsDropped > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", t.reasonsDropped)
	}
}
