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
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsgflow/nsgflow/internal/fbconf"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/flowparse"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

func init() {
	register(command{
		name:    "send",
		summary: "parse local flow-log files and send the events to Log Analytics",
		run: func(args []string, stdout, stderr io.Writer) int {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runSend(ctx, args, stdout, stderr)
		},
	})
}

// Environment variables that may hold send's secrets.
const (
	envSharedKey    = "NSGFLOW_SHARED_KEY"
	envClientSecret = "NSGFLOW_CLIENT_SECRET"
	envToken        = "NSGFLOW_TOKEN"
)

// sendSetting is one setting of nsgflow send: a key of the JSON config file
// and a flag (the key with "-" for "_").
type sendSetting struct {
	key, def, usage string
	isBool          bool
	env             string // secrets: environment variable
	secretFile      string // secrets: the key holding a file path
}

var sendSettings = []sendSetting{
	{key: "destination", def: "logs_ingestion", usage: "logs_ingestion (Logs Ingestion API) or data_collector (HTTP Data Collector API)"},
	{key: "schema", def: "default", usage: "row layout: default, seed or asim"},
	{key: "cloud", def: "public", usage: "public, china or usgov"},
	{key: "endpoint", usage: "logs_ingestion: DCE or DCR logs-ingestion endpoint (https; http only on loopback); data_collector: base URL override (emulator)"},
	{key: "dcr_id", usage: "logs_ingestion: DCR immutable ID, dcr-<32 hex>"},
	{key: "stream", usage: "logs_ingestion: DCR stream, Custom-<Name>"},
	{key: "credential", def: "default", usage: "logs_ingestion: default, environment, client_secret, workload_identity, managed_identity, azure_cli or static"},
	{key: "tenant_id", usage: "logs_ingestion: Entra tenant ID (client_secret, workload_identity, azure_cli)"},
	{key: "client_id", usage: "logs_ingestion: application (client) ID; managed_identity: user-assigned identity's client ID"},
	{key: "client_secret", usage: "logs_ingestion client_secret: the secret (prefer --client-secret-file or $" + envClientSecret + ")", env: envClientSecret, secretFile: "client_secret_file"},
	{key: "client_secret_file", usage: "file holding the client secret"},
	{key: "token", usage: "logs_ingestion static: fixed bearer token, emulator and tests only (prefer --token-file or $" + envToken + ")", env: envToken, secretFile: "token_file"},
	{key: "token_file", usage: "file holding the static bearer token"},
	{key: "federated_token_file", usage: "logs_ingestion workload_identity: federated token file (default $AZURE_FEDERATED_TOKEN_FILE)"},
	{key: "gzip", def: "true", isBool: true, usage: "logs_ingestion: gzip request bodies"},
	{key: "gzip_level", def: "0", usage: "logs_ingestion: gzip level 1..9, 0 for the default"},
	{key: "workspace_id", usage: "data_collector: workspace ID (GUID)"},
	{key: "shared_key", usage: "data_collector: workspace key, base64 (prefer --shared-key-file or $" + envSharedKey + ")", env: envSharedKey, secretFile: "shared_key_file"},
	{key: "shared_key_file", usage: "file holding the workspace key"},
	{key: "log_type", usage: "data_collector: Log-Type, the table name without _CL"},
	{key: "time_generated_field", usage: "data_collector: event-time column, sent as time-generated-field (default FlowTime; seed schema: DateTime)"},
	{key: "azure_resource_id", def: "false", isBool: true, usage: "data_collector: send x-ms-AzureResourceId (the event's target resource), one resource per request"},
	{key: "max_body_bytes", def: "0", usage: "cap of one uncompressed request body (0: 1048576 logs_ingestion, 26214400 data_collector)"},
	{key: "concurrency", def: strconv.Itoa(loganalytics.CLIDefaults.Concurrency), usage: "requests in flight"},
	{key: "request_timeout", def: loganalytics.CLIDefaults.RequestTimeout.String(), usage: "timeout of one HTTP attempt"},
	{key: "max_retries", def: strconv.Itoa(loganalytics.CLIDefaults.MaxRetries), usage: "retries per request after the first attempt (0: none)"},
	{key: "min_backoff", def: "500ms", usage: "first backoff bound (full jitter, doubling)"},
	{key: "max_backoff", def: "30s", usage: "largest backoff bound"},
	{key: "dead_letter_file", usage: "append each row the destination refuses alone with 400 to this file (JSON lines: time, destination, status, request_id, reason, row); unset: such rows are only logged and counted"},
	{key: "timeout", def: "0s", usage: "overall deadline for the whole run (0: none); what is not accepted by then counts as failed"},
}

// boolValue is a flag.Value for a bool setting kept as text.
type boolValue struct{ s *string }

func (b boolValue) String() string {
	if b.s == nil {
		return ""
	}
	return *b.s
}
func (b boolValue) Set(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("want true or false")
	}
	*b.s = v
	return nil
}
func (b boolValue) IsBoolFlag() bool { return true }

// sendConfig is the merged configuration: flags over environment over file.
type sendConfig struct {
	vals    map[string]string
	fromArg map[string]bool // set by a flag
	// sinkLog, when set, receives the sink's lines (run: its own log);
	// otherwise send prints warnings and errors with -v.
	sinkLog loganalytics.Logger
}

func (c *sendConfig) get(k string) string { return c.vals[k] }

// loadSettingsFile reads a JSON object of settings (the --config file of
// send and run). Values may be strings, numbers or booleans; keys not in
// settings are errors that point to docs.
func loadSettingsFile(path string, settings []sendSetting, docs string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object of settings: %v", path, err)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.key] = true
	}
	out := map[string]string{}
	for k, v := range raw {
		if !known[k] {
			return nil, fmt.Errorf("%s: unknown setting %q (see %s)", path, k, docs)
		}
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		default:
			return nil, fmt.Errorf("%s: setting %q must be a string, number or boolean", path, k)
		}
	}
	return out, nil
}

// resolveSecret picks a secret: flag value, flag file, environment, file
// value, file's file path. Errors name the file, never the content.
func resolveSecret(s sendSetting, flagVals, fileVals map[string]string, flagSet map[string]bool) (string, error) {
	readFile := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", s.secretFile, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s: %s is empty", s.secretFile, p)
		}
		return v, nil
	}
	switch {
	case flagSet[s.key]:
		return flagVals[s.key], nil
	case flagSet[s.secretFile]:
		return readFile(flagVals[s.secretFile])
	case os.Getenv(s.env) != "":
		return strings.TrimSpace(os.Getenv(s.env)), nil
	case fileVals[s.key] != "":
		return fileVals[s.key], nil
	case fileVals[s.secretFile] != "":
		return readFile(fileVals[s.secretFile])
	}
	return "", nil
}

// sendTotals accumulates the run.
type sendTotals struct {
	files, badFiles  int
	parsed           int64
	accepted         int64
	rejected         int64
	refused          int64 // refused alone with 400 (settled, see dead_letter_file)
	requests         int
	retries          int
	splits           int
	recordsSkipped   int64
	tuplesSkipped    int64
	firstErr         error
	permanentErrSeen bool
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("send", "[--config FILE.json] [flags] FILE...|-", stderr)
	configPath := fs.String("config", "", "JSON file of settings (keys as the flags, with _ for -); flags override it")
	quiet := fs.Bool("quiet", false, "no progress line and no summary; errors are still printed")
	verbose := fs.Bool("v", false, "print each retry, split and refused batch as it happens")
	flagVals := map[string]string{}
	for _, s := range sendSettings {
		name := strings.ReplaceAll(s.key, "_", "-")
		usage := s.usage
		if s.isBool {
			v := s.def
			flagVals[s.key] = v
			p := new(string)
			*p = v
			fs.Var(boolValue{p}, name, usage)
			continue
		}
		fs.String(name, s.def, usage)
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitStatus(err)
	}
	flagSet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		k := strings.ReplaceAll(f.Name, "-", "_")
		flagSet[k] = true
		flagVals[k] = f.Value.String()
	})
	if len(files) == 0 {
		fmt.Fprintln(stderr, "nsgflow send: no input: give one or more flow-log files, or - for standard input")
		fs.Usage()
		return 2
	}
	fileVals := map[string]string{}
	if *configPath != "" {
		if fileVals, err = loadSettingsFile(*configPath, sendSettings, "docs/cli.md, nsgflow send"); err != nil {
			fmt.Fprintf(stderr, "nsgflow send: config: %v\n", err)
			return 2
		}
	}
	cfg := sendConfig{vals: map[string]string{}, fromArg: flagSet}
	for _, s := range sendSettings {
		switch {
		case s.env != "":
			v, err := resolveSecret(s, flagVals, fileVals, flagSet)
			if err != nil {
				fmt.Fprintf(stderr, "nsgflow send: %v\n", err)
				return 2
			}
			cfg.vals[s.key] = v
		case flagSet[s.key]:
			cfg.vals[s.key] = flagVals[s.key]
		case fileVals[s.key] != "":
			cfg.vals[s.key] = fileVals[s.key]
		default:
			cfg.vals[s.key] = s.def
		}
	}
	job, err := newSendJob(&cfg, stderr, *verbose)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow send: %v\n", err)
		return 2
	}
	defer job.sink.Close()
	if job.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.timeout)
		defer cancel()
	}
	job.progress = !*quiet && isTerminal(stderr)
	for _, f := range files {
		job.sendFile(ctx, f)
	}
	job.endProgress()
	t := &job.tot
	if !*quiet {
		fmt.Fprintf(stderr, "nsgflow send: %d file(s) (%d failed), %d events parsed, %d accepted, %d rejected, %d refused alone, %d not delivered; %d requests, %d retries, %d splits; skipped %d records, %d tuples\n",
			t.files, t.badFiles, t.parsed, t.accepted, t.rejected, t.refused, t.parsed-t.accepted-t.rejected-t.refused, t.requests, t.retries, t.splits, t.recordsSkipped, t.tuplesSkipped)
	}
	if t.firstErr != nil {
		fmt.Fprintf(stderr, "nsgflow send: error: %v\n", t.firstErr)
	}
	// Rows refused alone count as handled only when the dead-letter file
	// kept them.
	kept := t.accepted
	if job.deadLetter {
		kept += t.refused
	}
	if t.badFiles > 0 || kept != t.parsed || t.firstErr != nil {
		return 1
	}
	return 0
}

// sendJob holds what the send loop needs.
type sendJob struct {
	sink      loganalytics.Sink
	enc       *flowparse.Encoder
	withRID   bool
	timeout   time.Duration
	stderr    io.Writer
	progress  bool
	shownLine bool
	tot       sendTotals
	st        *loganalytics.Stream

	// deadLetter: rows refused alone are kept in dead_letter_file.
	deadLetter bool
}

// flagName is how the CLI's messages name a setting: its flag.
func flagName(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }

// newSendJob validates the destination settings through
// loganalytics.ParseDestination (the parser the output plugin uses too) and
// builds the sink and encoder.
func newSendJob(c *sendConfig, stderr io.Writer, verbose bool) (*sendJob, error) {
	schema, err := flowparse.SchemaByName(c.get("schema"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName("schema"), err)
	}
	// Secrets were already resolved from their flag, file or environment
	// variable (resolveSecret): the parser sees the value only.
	vals := fbconf.MapConfig{}
	for k, v := range c.vals {
		vals[k] = v
	}
	for _, s := range sendSettings {
		if s.secretFile != "" {
			delete(vals, s.secretFile)
		}
	}
	p := &fbconf.Parser{Getter: vals, Env: "the environment", Namer: flagName}
	def := loganalytics.CLIDefaults
	if schema == flowparse.SeedSchema {
		def.TimeField = schema.TimeColumn
	}
	dest := loganalytics.ParseDestination(p, def)
	if d := dest; d.Kind == loganalytics.DestDataCollector && schema.StandardTable != "" {
		p.Fail("%s %s writes the standard table %s, which only the Logs Ingestion API can write: set %s %s",
			p.Name("schema"), schema.Name, schema.StandardTable, p.Name("destination"), loganalytics.DestLogsIngestion)
	}
	timeout := p.Duration("timeout", 0, 0, 1000*time.Hour)
	if err := p.Err(); err != nil {
		return nil, err
	}
	// A flag of the other destination is a mistake on the command line (a
	// settings file may carry both, as the plugins' configs do).
	for _, w := range dest.Warnings {
		key := strings.ReplaceAll(strings.TrimPrefix(strings.Fields(w)[0], "--"), "-", "_")
		if c.fromArg[key] {
			return nil, fmt.Errorf("%s: remove it, or set %s", w, flagName("destination"))
		}
	}
	var logger loganalytics.Logger = loganalytics.LoggerFunc(func(level fblog.Level, format string, args ...any) {
		if verbose && level >= fblog.LevelWarn {
			fmt.Fprintf(stderr, "nsgflow send: %s: %s\n", level, fmt.Sprintf(format, args...))
		}
	})
	if c.sinkLog != nil {
		logger = c.sinkLog
	}
	job := &sendJob{enc: flowparse.NewEncoder(schema), timeout: timeout, stderr: stderr, deadLetter: p.Str("dead_letter_file", "") != ""}
	if job.sink, err = dest.NewSink(logger); err != nil {
		return nil, err
	}
	job.enc.TimeField = dest.TimeField
	job.withRID = dest.AzureResourceID
	return job, nil
}

// sendFile streams one file (or stdin): it is read in pieces
// (flowparse.ParseReader) and its events go to a loganalytics.Stream, which
// sends each body while the next is encoded with at most concurrency bodies
// alive, so memory does not grow with the file.
func (j *sendJob) sendFile(ctx context.Context, name string) {
	j.tot.files++
	var in io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			j.fileError(name, err)
			return
		}
		defer f.Close()
		in = f
	}
	if j.st == nil {
		j.st = loganalytics.NewStream(ctx, j.sink, nil)
	} else {
		j.st.Reset(ctx, j.sink, nil)
	}
	st := j.st
	n := 0
	p := flowparse.Parser{OnEvent: func(e *flowparse.Event) {
		st.AppendWith(func(b []byte) []byte { return j.enc.Append(b, e) })
		if j.withRID {
			st.SetResourceID(string(e.TargetResource))
		}
		if n++; n&0xffff == 0 && j.progress {
			fmt.Fprintf(j.stderr, "\r\033[Kparsed %d events", j.tot.parsed+int64(st.Len()))
			j.shownLine = true
		}
	}}
	perr := p.ParseReader(in)
	j.tot.recordsSkipped += p.Stats.RecordsSkipped
	j.tot.tuplesSkipped += p.Stats.TuplesSkipped
	j.settle(st.Len(), st.Close())
	if perr != nil {
		if name == "-" {
			perr = fmt.Errorf("reading standard input: %w", perr)
		}
		j.fileError(name, perr)
	} else if p.Stats.Records == 0 {
		j.fileError(name, errors.New("no flow-log record"))
	}
}

func (j *sendJob) fileError(name string, err error) {
	j.tot.badFiles++
	j.endProgress()
	fmt.Fprintf(j.stderr, "nsgflow send: %s: %v\n", name, err)
}

// settle adds a file's stream report to the totals.
func (j *sendJob) settle(n int, rep loganalytics.StreamReport) {
	if n == 0 {
		return
	}
	j.tot.parsed += int64(n)
	j.tot.accepted += int64(rep.EventsAccepted)
	j.tot.rejected += int64(rep.EventsRejected)
	j.tot.refused += int64(rep.EventsRefused)
	j.tot.requests += rep.Requests
	j.tot.retries += rep.Retries
	j.tot.splits += rep.Splits
	// Keep the first permanent error, else the last transient one.
	if rep.Err != nil && !j.tot.permanentErrSeen {
		j.tot.firstErr = rep.Err
		j.tot.permanentErrSeen = rep.Permanent
	}
	if j.progress {
		fmt.Fprintf(j.stderr, "\r\033[Ksent %d/%d events, %d requests, %d retries", j.tot.accepted, j.tot.parsed, j.tot.requests, j.tot.retries)
		j.shownLine = true
	}
}

func (j *sendJob) endProgress() {
	if j.shownLine {
		fmt.Fprint(j.stderr, "\n")
		j.shownLine = false
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// sendKeys lists the setting keys, for docs and tests.
func sendKeys() []string {
	ks := make([]string, len(sendSettings))
	for i, s := range sendSettings {
		ks[i] = s.key
	}
	sort.Strings(ks)
	return ks
}
