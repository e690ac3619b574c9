package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsgflow/nsgflow/internal/blobsource"
	"github.com/nsgflow/nsgflow/internal/fbin"
	"github.com/nsgflow/nsgflow/internal/fblog"
	"github.com/nsgflow/nsgflow/internal/loganalytics"
)

func init() {
	register(command{
		name:    "run",
		summary: "poll flow-log blobs and deliver them to Log Analytics (the Fluent Bit pipeline in one process)",
		run: func(args []string, stdout, stderr io.Writer) int {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runRun(ctx, args, stdout, stderr)
		},
	})
}

// Environment variables that may hold the storage secrets.
const (
	envStorageKey    = "NSGFLOW_STORAGE_KEY"
	envStorageSAS    = "NSGFLOW_STORAGE_SAS"
	envStorageConn   = "NSGFLOW_STORAGE_CONNECTION_STRING"
	envStorageSecret = "NSGFLOW_STORAGE_CLIENT_SECRET"
)

// runStorageSettings are run's blob-side settings: the input plugin's keys
// (package blobinput), with environment variables for the secrets.
var runStorageSettings = []sendSetting{
	{key: "storage_account", usage: "storage account name"},
	{key: "storage_endpoint", usage: "blob service URL (Azurite: http://127.0.0.1:10000/devstoreaccount1)"},
	{key: "storage_auth", usage: "key, sas, connection-string, managed-identity, workload-identity, client-secret, cli, default or anonymous (unset: picked from what is given)"},
	{key: "storage_key", usage: "account key (prefer --storage-key-file or $" + envStorageKey + ")", env: envStorageKey, secretFile: "storage_key_file"},
	{key: "storage_key_file", usage: "file holding the account key"},
	{key: "storage_sas", usage: "SAS token, permissions r, l (w for the done marker) (prefer --storage-sas-file or $" + envStorageSAS + ")", env: envStorageSAS, secretFile: "storage_sas_file"},
	{key: "storage_sas_file", usage: "file holding the SAS token"},
	{key: "storage_connection_string", usage: "storage connection string (prefer --storage-connection-string-file or $" + envStorageConn + ")", env: envStorageConn, secretFile: "storage_connection_string_file"},
	{key: "storage_connection_string_file", usage: "file holding the connection string"},
	{key: "storage_tenant_id", usage: "Entra tenant (client-secret)"},
	{key: "storage_client_id", usage: "client ID (client-secret, workload-identity, user-assigned managed-identity)"},
	{key: "storage_client_secret", usage: "client secret (prefer --storage-client-secret-file or $" + envStorageSecret + ")", env: envStorageSecret, secretFile: "storage_client_secret_file"},
	{key: "storage_client_secret_file", usage: "file holding the client secret"},
	{key: "storage_cloud", def: "public", usage: "storage cloud: public, china or usgov"},
	{key: "containers", usage: "containers to read, comma-separated (default both flow-log containers)"},
	{key: "subscriptions", usage: "keep only these subscription IDs, comma-separated"},
	{key: "resource_groups", usage: "keep only these resource groups"},
	{key: "resource_names", usage: "keep only these NSG or flow-log names"},
	{key: "mac_addresses", usage: "keep only these NIC MAC addresses"},
	{key: "start", def: "now", usage: "where a first run begins: now, beginning or an RFC 3339 time"},
	{key: "poll_interval", def: "60s", usage: "how often live blobs are checked"},
	{key: "discovery_interval", def: "10m", usage: "how often containers are listed for new resources"},
	{key: "grace", def: "5m", usage: "how long after its hour a blob may still change before it is closed"},
	{key: "read_concurrency", def: "4", usage: "blobs read in parallel"},
	{key: "max_chunk_bytes", usage: "largest piece of a blob read at once (default 4 MiB)"},
	{key: "checkpoint_dir", usage: "local checkpoint directory (this or --checkpoint-container is required)"},
	{key: "checkpoint_container", usage: "or: a container of the storage account holding the checkpoints"},
	{key: "checkpoint_prefix", usage: "name prefix of checkpoint blobs in --checkpoint-container"},
	{key: "done_marker", def: "false", isBool: true, usage: "set metadata on each closed blob once all its records were delivered, and skip blobs carrying it"},
	{key: "done_marker_key", def: "OmsLogType", usage: "metadata key of the done marker"},
	{key: "done_marker_value", def: "NSGFlowLogs", usage: "metadata value of the done marker"},
	{key: "queue_name", usage: "notification mode: storage queue of Event Grid BlobCreated events (docs/notifications.md); --poll-interval then paces only the listing pass"},
	{key: "queue_endpoint", usage: "queue service URL (default from the account; Azurite: http://127.0.0.1:10001/devstoreaccount1)"},
	{key: "queue_dead_letter", usage: "queue for poison and unreadable messages (default <queue-name>-poison; off: delete them)"},
	{key: "queue_visibility_timeout", def: "60s", usage: "visibility timeout of a received message, renewed while its blob is in flight"},
	{key: "queue_max_dequeue", def: "5", usage: "deliveries of one message before it goes to the dead-letter queue"},
	{key: "linger", def: "1s", usage: "how long events wait for more before a batch is sent"},
	{key: "shutdown_timeout", def: "10s", usage: "on SIGTERM/SIGINT, how long in-flight batches may take before they are abandoned (their ranges are read again next time)"},
}

// runSettings is every setting of nsgflow run: send's destination settings
// (without its overall timeout) and the storage ones.
func runSettings() []sendSetting {
	var out []sendSetting
	for _, s := range sendSettings {
		if s.key != "timeout" {
			out = append(out, s)
		}
	}
	return append(out, runStorageSettings...)
}

func isStorageKey(k string) bool {
	for _, s := range runStorageSettings {
		if s.key == k {
			return true
		}
	}
	return false
}

// runOptions are the command-line switches that are not settings.
type runOptions struct {
	once, quiet, verbose bool
	// idlePoll replaces the poll interval in --once mode (tests shorten it).
	idlePoll time.Duration
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("run", "[--config FILE.json] [--once] [flags]", stderr)
	configPath := fs.String("config", "", "JSON file of settings (keys as the flags, with _ for -); flags override it")
	var opt runOptions
	fs.BoolVar(&opt.once, "once", false, "read everything available now, deliver it, and exit (backfill); without it, poll until SIGTERM/SIGINT")
	fs.BoolVar(&opt.quiet, "quiet", false, "only warnings and errors; no progress line and no summary")
	fs.BoolVar(&opt.verbose, "v", false, "debug log lines (each chunk, retry, acknowledgment)")
	settings := runSettings()
	flagVals := map[string]string{}
	for _, s := range settings {
		name := strings.ReplaceAll(s.key, "_", "-")
		if s.isBool {
			p := new(string)
			*p = s.def
			fs.Var(boolValue{p}, name, s.usage)
			continue
		}
		fs.String(name, s.def, s.usage)
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return exitStatus(err)
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "nsgflow run: unexpected argument %q (all settings are flags)\n", rest[0])
		return 2
	}
	flagSet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		k := strings.ReplaceAll(f.Name, "-", "_")
		flagSet[k] = true
		flagVals[k] = f.Value.String()
	})
	fileVals := map[string]string{}
	if *configPath != "" {
		if fileVals, err = loadSettingsFile(*configPath, settings, "docs/run.md"); err != nil {
			fmt.Fprintf(stderr, "nsgflow run: config: %v\n", err)
			return 2
		}
	}
	vals := map[string]string{}
	for _, s := range settings {
		switch {
		case s.env != "":
			v, err := resolveSecret(s, flagVals, fileVals, flagSet)
			if err != nil {
				fmt.Fprintf(stderr, "nsgflow run: %v\n", err)
				return 2
			}
			vals[s.key] = v
		case flagSet[s.key]:
			vals[s.key] = flagVals[s.key]
		case fileVals[s.key] != "":
			vals[s.key] = fileVals[s.key]
		default:
			vals[s.key] = s.def
		}
	}
	// The secret files were read by resolveSecret.
	for _, s := range settings {
		if s.secretFile != "" && isStorageKey(s.key) {
			vals[s.secretFile] = ""
		}
	}
	vals[originKey] = storageOrigin(vals, flagVals, fileVals, flagSet, *configPath)
	vals["timeout"] = "0s"
	return runPipeline(ctx, vals, flagSet, opt, stderr)
}

// runPipeline builds the source, the sink and the shipper from the merged
// settings and runs them.
func runPipeline(ctx context.Context, vals map[string]string, flagSet map[string]bool, opt runOptions, stderr io.Writer) int {
	level := fblog.LevelInfo
	switch {
	case opt.verbose:
		level = fblog.LevelDebug
	case opt.quiet:
		level = fblog.LevelWarn
	}
	log := fbin.NewLogger(stderr, level, "nsgflow run")

	storage := fbin.MapConfig{}
	for _, s := range runStorageSettings {
		if s.key == "done_marker" {
			if b, _ := strconv.ParseBool(vals[s.key]); b {
				storage[s.key] = "on"
			}
			continue
		}
		storage[s.key] = vals[s.key]
	}
	icfg, err := fbin.ParseConfig(storage)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow run: %v\n", err)
		return 2
	}
	icfg.Source.SettingName = flagName
	if o := vals[originKey]; o != "" {
		icfg.Source.Auth.Origin = o
	} else {
		icfg.Source.Auth.Origin = flagWords(icfg.Source.Auth.Origin)
	}
	linger, err := time.ParseDuration(vals["linger"])
	if err != nil || linger <= 0 {
		fmt.Fprintf(stderr, "nsgflow run: linger %q is not a positive duration\n", vals["linger"])
		return 2
	}
	shutdown, err := time.ParseDuration(vals["shutdown_timeout"])
	if err != nil || shutdown <= 0 {
		fmt.Fprintf(stderr, "nsgflow run: shutdown_timeout %q is not a positive duration\n", vals["shutdown_timeout"])
		return 2
	}
	// The sink's retries are summed up by the shipper's own warnings: in
	// run they are debug lines; its errors (refused rows, permanent
	// refusals) stay errors.
	sinkLog := loganalytics.LoggerFunc(func(level fblog.Level, format string, args ...any) {
		if level == fblog.LevelWarn {
			level = fblog.LevelDebug
		}
		log.Logf(level, format, args...)
	})
	sc := &sendConfig{vals: vals, fromArg: flagSet, sinkLog: sinkLog}
	job, err := newSendJob(sc, stderr, opt.verbose)
	if err != nil {
		fmt.Fprintf(stderr, "nsgflow run: %v\n", err)
		return 2
	}
	if opt.once {
		// Backfill: cycle quickly; the wait between polls only matters for
		// live blobs, and --once does not wait for them.
		p := opt.idlePoll
		if p <= 0 {
			p = 250 * time.Millisecond
		}
		icfg.Source.PollInterval = min(icfg.Source.PollInterval, p)
		// The source ends Run itself once everything was read, every
		// closed blob acknowledged and marked.
		icfg.Source.Once = true
	}
	src, store, err := fbin.OpenSource(icfg, log)
	if err != nil {
		job.sink.Close()
		fmt.Fprintf(stderr, "nsgflow run: %v\n", err)
		return 1
	}
	defer store.Close()
	sh, err := fbin.NewShipper(fbin.ShipperOptions{
		Sink: job.sink, Store: store, Log: log, Schema: job.enc.Schema, TimeField: job.enc.TimeField,
		AzureResourceID: job.withRID, Linger: linger,
	})
	if err != nil {
		job.sink.Close()
		fmt.Fprintf(stderr, "nsgflow run: %v\n", err)
		return 1
	}
	mode := "polling until stopped"
	if opt.once {
		mode = "once"
	}
	log.Infof("reading %s (start %s, poll %v), delivering to %s; checkpoints in %s; %s",
		describeSource(icfg), icfg.Source.Start, icfg.Source.PollInterval, vals["destination"], describeStore(icfg), mode)

	srcCtx, stopSrc := context.WithCancel(context.Background())
	defer stopSrc()
	srcDone := make(chan error, 1)
	go func() { srcDone <- src.Run(srcCtx, sh.Handle) }()

	progress := !opt.quiet && isTerminal(stderr)
	started := time.Now()
	var onceErr error
	if opt.once {
		onceErr = waitOnce(ctx, src, srcDone, sh, progress, stderr)
	} else {
		tick := time.NewTicker(time.Second)
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case err := <-srcDone:
				srcDone <- err
				if err != nil {
					onceErr = fmt.Errorf("blob reader: %w", err)
				}
				break loop
			case <-tick.C:
				if progress {
					printRunProgress(stderr, src.Stats(), sh.Stats())
				}
			}
		}
		tick.Stop()
	}
	if progress {
		fmt.Fprint(stderr, "\r\033[K")
	}
	// Shut down within the bound: stop reading, then deliver what is
	// pending for the rest of the time.
	deadline := time.Now().Add(shutdown)
	stopSrc()
	select {
	case <-srcDone:
	case <-time.After(time.Until(deadline) / 2):
		log.Warnf("blob reader still busy at shutdown; abandoning its current reads")
	}
	clean := sh.Close(time.Until(deadline))
	st, ss := src.Stats(), sh.Stats()
	notDelivered := ss.Events - ss.Accepted - ss.Refused
	if !opt.quiet {
		fmt.Fprintf(stderr, "nsgflow run: %s: %d blobs read, %d chunks (%d bytes), %d records, %d events; %d accepted, %d rejected, %d refused alone, %d not delivered; %d requests, %d retries; %d ranges acknowledged, %d not; %d blobs closed, %d marked done; skipped %d records, %d tuples; %d storage refusals\n",
			time.Since(started).Round(time.Millisecond), st.BlobsRead, st.Chunks, st.BytesRead, ss.Records, ss.Events, ss.Accepted, ss.Rejected, ss.Refused, notDelivered,
			ss.Requests, ss.Retries, ss.RangesAcked, ss.RangesFailed, st.Closed, st.DoneMarked, ss.BadRecords, ss.TuplesSkipped, st.Refused)
	}
	status := 0
	if onceErr != nil {
		fmt.Fprintf(stderr, "nsgflow run: error: %v\n", onceErr)
		status = 1
	}
	if ss.Refused > 0 && !job.deadLetter {
		fmt.Fprintf(stderr, "nsgflow run: %d rows refused alone by the destination were not kept (set --dead-letter-file to keep them)\n", ss.Refused)
		status = 1
	}
	if notDelivered > 0 || ss.Rejected > 0 || ss.RangesFailed > 0 || ss.AckFailures > 0 || !clean {
		if !clean {
			fmt.Fprintln(stderr, "nsgflow run: shutdown timed out: what was in flight is read and sent again at the next start")
		}
		status = 1
	}
	return status
}

// waitOnce returns when everything available was read and delivered: the
// source (Config.Once) ended Run after a pass that read every blob to its
// current end, with every closed blob acknowledged and marked done, and the
// shipper has sent and acknowledged what it still held (ranges of blobs of
// hours still open). It ends with an error when storage failed three poll
// cycles in a row, or when the source is caught up but ranges were refused
// for good or their acknowledgment failed: their blobs can never finish in
// this run.
func waitOnce(ctx context.Context, src *blobsource.Source, srcDone chan error, sh *fbin.Shipper, progress bool, stderr io.Writer) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastChunks, errsAt int64
	lastShow := time.Time{}
	finished := false
	for {
		select {
		case <-ctx.Done():
			return errors.New("interrupted before everything was delivered")
		case err := <-srcDone:
			srcDone <- err // for the shutdown
			if err != nil {
				return fmt.Errorf("blob reader: %w", err)
			}
			finished = true
		case <-tick.C:
		}
		if finished && sh.Idle() {
			return nil
		}
		st, ss := src.Stats(), sh.Stats()
		if progress && time.Since(lastShow) >= 250*time.Millisecond {
			printRunProgress(stderr, st, ss)
			lastShow = time.Now()
		}
		if finished {
			continue
		}
		if st.CycleErrors > errsAt {
			if st.CycleErrors-errsAt >= 3 && st.Chunks == lastChunks {
				return errors.New("storage failed three poll cycles in a row (see the log lines above)")
			}
		} else {
			errsAt, lastChunks = st.CycleErrors, st.Chunks
		}
		if st.CaughtUp && (ss.RangesFailed > 0 || ss.AckFailures > 0) && sh.Idle() {
			return fmt.Errorf("%d ranges not delivered and %d acknowledgments not written: their blobs stay unfinished and are read again at the next start",
				ss.RangesFailed, ss.AckFailures)
		}
	}
}

func printRunProgress(w io.Writer, st blobsource.Stats, ss fbin.ShipStats) {
	fmt.Fprintf(w, "\r\033[K%d blobs, %d chunks, %d events: %d accepted, %d requests, %d retries",
		st.BlobsRead, st.Chunks, ss.Events, ss.Accepted, ss.Requests, ss.Retries)
	if st.Refused > 0 {
		fmt.Fprintf(w, "; %d storage refusals", st.Refused)
	}
}

func describeSource(c fbin.Config) string {
	u, err := c.Source.Auth.ServiceURL()
	if err != nil {
		u = "the connection string's account"
	}
	cs := c.Source.Containers
	if len(cs) == 0 {
		cs = []string{blobsource.ContainerNSG, blobsource.ContainerVNet}
	}
	return u + " " + strings.Join(cs, ",")
}

func describeStore(c fbin.Config) string {
	if c.CheckpointContainer != "" {
		return "container " + c.CheckpointContainer
	}
	return c.Source.CheckpointDir
}

// originKey holds, among run's merged settings, where the storage
// credential came from (not a setting).
const originKey = "\x00storage_origin"

// flagWords turns the plugin keys in an origin phrase into run's flags.
func flagWords(s string) string {
	for _, st := range runStorageSettings {
		if strings.HasPrefix(st.key, "storage_") {
			s = replaceWord(s, st.key, flagName(st.key))
		}
	}
	return s
}

// replaceWord replaces whole-word occurrences of old (word characters are
// letters, digits and '_').
func replaceWord(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		word := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
		if (i > 0 && word(s[i-1])) || (end < len(s) && word(s[end])) {
			b.WriteString(s[:end])
			s = s[end:]
			continue
		}
		b.WriteString(s[:i] + repl)
		s = s[end:]
	}
}

// storageOrigin says where the secret of the storage credential in use
// came from (flag, secret-file flag, environment variable or --config
// file), following resolveSecret's order; "" when no secret is involved
// (the input's own phrase is used then).
func storageOrigin(vals, flagVals, fileVals map[string]string, flagSet map[string]bool, configPath string) string {
	m := strings.ReplaceAll(strings.ToLower(vals["storage_auth"]), "_", "-")
	key := ""
	switch {
	case m == "key" || m == "" && vals["storage_key"] != "" && vals["storage_sas"] == "" && vals["storage_connection_string"] == "":
		key = "storage_key"
	case m == "sas" || m == "" && vals["storage_sas"] != "" && vals["storage_connection_string"] == "":
		key = "storage_sas"
	case m == "connection-string" || m == "" && vals["storage_connection_string"] != "":
		key = "storage_connection_string"
	case m == "client-secret":
		key = "storage_client_secret"
	default:
		return ""
	}
	var s sendSetting
	for _, st := range runStorageSettings {
		if st.key == key {
			s = st
		}
	}
	var o string
	switch {
	case flagSet[s.key]:
		o = flagName(s.key)
	case flagSet[s.secretFile]:
		o = flagName(s.secretFile)
	case os.Getenv(s.env) != "":
		o = "$" + s.env
	case fileVals[s.key] != "":
		o = s.key + " in " + configPath
	case fileVals[s.secretFile] != "":
		o = s.secretFile + " in " + configPath
	default:
		return ""
	}
	if key == "storage_client_secret" {
		o = flagName("storage_tenant_id") + ", " + flagName("storage_client_id") + " and " + o
	}
	return o
}
