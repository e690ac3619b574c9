package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/nsgflow/nsgflow/internal/emulator"
)

func init() {
	register(command{
		name:    "emulator",
		summary: "serve a strict local Log Analytics (Logs Ingestion and Data Collector APIs) for tests and demos",
		run: func(args []string, stdout, stderr io.Writer) int {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runEmulator(ctx, args, stdout, stderr, downSignals())
		},
	})
}

// downSignals delivers SIGUSR1 (go down) and SIGUSR2 (come back up).
func downSignals() <-chan os.Signal {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2)
	return ch
}

// Environment variables that may hold the secrets instead of files.
const (
	envEmulatorKey   = "NSGFLOW_EMULATOR_SHARED_KEY"
	envEmulatorToken = "NSGFLOW_EMULATOR_TOKEN"
)

// runEmulator serves until ctx ends, then flushes and prints a summary.
// SIGUSR1 on sigs takes the emulator down (connection refused), SIGUSR2
// brings it back on the same port.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	fs := commandFlags("emulator", "[--addr HOST:PORT] [--workspace-id ID] [--shared-key-file F] [--token-file F] [--out FILE] [fault flags]", stderr)
	addr := fs.String("addr", "127.0.0.1:8088", "listen address (port 0 picks a free port); loopback only")
	workspace := fs.String("workspace-id", emulator.DefaultWorkspaceID, "workspace ID the Data Collector API signs for")
	keyFile := fs.String("shared-key-file", "", "file holding the base64 workspace key (else $"+envEmulatorKey+"); none disables the Data Collector API (403)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token Logs Ingestion accepts (else $"+envEmulatorToken+"); none disables Logs Ingestion (403)")
	dcrID := fs.String("dcr-id", emulator.DefaultDCRImmutableID, "immutable ID of the DCR (streams "+emulator.DefaultStream+", "+emulator.SeedStream+" and "+emulator.AsimStream+")")
	out := fs.String("out", "", "NDJSON file for accepted rows (appended to: earlier runs' rows stay); empty keeps rows in memory only")
	readyFile := fs.String("ready-file", "", "write the base URL to this file once listening (for scripts using --addr :0)")
	skew := fs.Duration("max-clock-skew", emulator.DefaultMaxClockSkew, "Data Collector x-ms-date tolerance")
	f429 := fs.Float64("fail-429", 0, "share (0..1) of requests answered 429")
	retryAfter := fs.Int("retry-after", 1, "Retry-After seconds sent with 429")
	f500 := fs.Float64("fail-500", 0, "share of requests answered 500")
	f503 := fs.Float64("fail-503", 0, "share of requests answered 503")
	fReset := fs.Float64("fail-reset", 0, "share of requests whose connection is reset without an answer")
	fDrop := fs.Float64("drop-after-accept", 0, "share of requests whose rows are stored, then the connection closed without an answer")
	slow := fs.Float64("slow", 0, "share of requests delayed by --slow-delay (independent of the other faults)")
	slowDelay := fs.Duration("slow-delay", 2*time.Second, "delay of a slow request")
	failFirst := fs.Int("fail-first", 0, "the first N requests fail with --fail-first-kind")
	failFirstKind := fs.String("fail-first-kind", "503", "fault of the first N requests: 429, 500, 503, reset or drop_after_accept")
	seed := fs.Int64("seed", 1, "seed of the fault draws (same seed, same sequence)")
	verbose := fs.Bool("v", false, "log every refused request and injected fault to stderr")
	if err := fs.Parse(args); err != nil {
		return exitStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nsgflow emulator: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	key, err := secret(*keyFile, envEmulatorKey)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow emulator: shared key: %v\n", err)
		return 2
	}
	token, err := secret(*tokenFile, envEmulatorToken)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow emulator: token: %v\n", err)
		return 2
	}
	if key == "" && token == "" {
		fmt.Fprintf(stderr, "nsgflow emulator: give a bearer token (--token-file or $%s) and/or a shared key (--shared-key-file or $%s)\n", envEmulatorToken, envEmulatorKey)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	ra := time.Duration(*retryAfter) * time.Second
	if *retryAfter <= 0 {
		ra = -1 // "Retry-After: 0"
	}
	dcrs := emulator.DefaultDCRs()
	dcrs[0].ImmutableID = *dcrID
	cfg := emulator.Config{
		Addr:         *addr,
		WorkspaceID:  *workspace,
		SharedKey:    key,
		BearerToken:  token,
		OutFile:      *out,
		DCRs:         dcrs,
		MaxClockSkew: *skew,
		Logger:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		Faults: emulator.Faults{
			TooManyRequests: *f429,
			RetryAfter:      ra,
			InternalError:   *f500,
			Unavailable:     *f503,
			Reset:           *fReset,
			DropAfterAccept: *fDrop,
			Slow:            *slow,
			SlowDelay:       *slowDelay,
			Seed:            *seed,
			FailFirst:       *failFirst,
			FailFirstKind:   emulator.FaultKind(*failFirstKind),
		},
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow emulator: %v\n", err)
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			return 1 // the rows file could not be created
		}
		return 2
	}
	if _, err := srv.Start(); err != nil {
		srv.Close()
		fmt.Fprintf(stderr, "nsgflow emulator: %v\n", err)
		return 1
	}
	printBanner(stdout, srv, key != "", token != "")
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte(srv.URL()+"\n"), 0o644); err != nil {
			srv.Close()
			fmt.Fprintf(stderr, "nsgflow emulator: ready file: %v\n", err)
			return 1
		}
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case s := <-sigs:
			down := s == syscall.SIGUSR1
			if err := srv.SetDown(down); err != nil {
				fmt.Fprintf(stderr, "nsgflow emulator: %v\n", err)
			} else {
				fmt.Fprintf(stdout, "emulator %s\n", map[bool]string{true: "down (connections refused)", false: "up"}[down])
			}
		}
	}
	status := 0
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "nsgflow emulator: %v\n", err)
		status = 1
	}
	printSummary(stdout, srv.Stats())
	return status
}

// secret reads a secret from file (trimmed) or, without a file, from env.
func secret(file, env string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(env)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err // names the file, never its content
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	return s, nil
}

// printBanner says where to send what; it never prints the key or token.
func printBanner(w io.Writer, srv *emulator.Server, dc, li bool) {
	cfg := srv.Config()
	fmt.Fprintf(w, "nsgflow emulator listening on %s\n", srv.URL())
	for _, d := range cfg.DCRs {
		for _, st := range d.Streams {
			state := ""
			if !li {
				state = " [no token: refuses everything]"
			}
			fmt.Fprintf(w, "logs ingestion: POST %s -> %s (%d columns)%s\n",
				srv.IngestionURL(d.ImmutableID, st.Name), st.Table, len(st.Columns), state)
		}
	}
	state := ""
	if !dc {
		state = " [no shared key: refuses everything]"
	}
	fmt.Fprintf(w, "data collector: POST %s (workspace %s)%s\n", srv.DataCollectorURL(), cfg.WorkspaceID, state)
	if cfg.OutFile != "" {
		fmt.Fprintf(w, "rows file: %s\n", cfg.OutFile)
	}
	fmt.Fprintf(w, "stats: GET %s/stats; SIGUSR1 down, SIGUSR2 up; Ctrl-C stops\n", srv.URL())
}

func printSummary(w io.Writer, st emulator.Stats) {
	fmt.Fprintf(w, "rows accepted: %d\n", st.RowsTotal)
	tables := make([]string, 0, len(st.Rows))
	for t := range st.Rows {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(w, "  %-24s %d\n", t, st.Rows[t])
	}
	codes := make([]int, 0, len(st.Requests))
	for c := range st.Requests {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d=%d", c, st.Requests[c]))
	}
	fmt.Fprintf(w, "answers: %s\n", orNone(parts))
	kinds := make([]string, 0, len(st.Faults))
	for k := range st.Faults {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	parts = parts[:0]
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, st.Faults[emulator.FaultKind(k)]))
	}
	fmt.Fprintf(w, "faults: %s\n", orNone(parts))
	if len(st.TypeMismatches) > 0 {
		cols := make([]string, 0, len(st.TypeMismatches))
		for c := range st.TypeMismatches {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		parts = parts[:0]
		for _, c := range cols {
			parts = append(parts, fmt.Sprintf("%s=%d", c, st.TypeMismatches[c]))
		}
		fmt.Fprintf(w, "type mismatches: %s\n", strings.Join(parts, " "))
	}
	if st.DroppedFields+st.TruncatedFields+st.FilledTimeGenerated > 0 {
		fmt.Fprintf(w, "fields: %d undeclared dropped, %d truncated, %d rows given TimeGenerated\n",
			st.DroppedFields, st.TruncatedFields, st.FilledTimeGenerated)
	}
}

func orNone(parts []string) string {
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
