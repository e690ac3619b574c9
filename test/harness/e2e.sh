#!/usr/bin/env bash
# make e2e: a real Fluent Bit (4.x, Go plugin support) tails NDJSON flow-log
# records into out_nsgflow.so, which sends them to a local emulator through
# both APIs (two [OUTPUT] instances, Workers 2 each); then every expected
# event must be stored exactly once per table. Two phases:
#   faults   the first two requests fail with 503 (retried inside the flush);
#   down-up  the emulator refuses connections when Fluent Bit starts, so both
#            flushes return RETRY; once it is back, Fluent Bit's retry delivers
#            every event, still exactly once;
#   blob     both plugins: in_nsgflow.so (nsgflow_blob, ack mode, done marker)
#            reads NSG v2 and VNet v4 blobs from Azurite into out_nsgflow.so
#            sharing its checkpoint directory; every event exactly once, every
#            blob marked done, and a restart on the same checkpoints sends
#            nothing. Skipped (with a line) when Azurite is not installed.
# Skipped when FLUENT_BIT_BIN is unset.
set -euo pipefail
if [[ -z ${FLUENT_BIT_BIN:-} ]]; then
	echo "SKIP: FLUENT_BIT_BIN not set (point it at a Fluent Bit 4.x binary to run the end-to-end test)"
	exit 0
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
SAMPLES=${NSGFLOW_SAMPLES:-$ROOT/../shared/samples}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nsgflow-e2e.XXXXXX")
AZURITE=$ROOT/node_modules/.bin/azurite-blob
EMU_PID= FB_PID= AZ_PID=
PASSED=0
cleanup() {
	if [[ -n $AZ_PID ]]; then
		# Azurite can take a minute to stop on SIGTERM.
		kill -TERM "$AZ_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$AZ_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$AZ_PID" 2>/dev/null || true
		wait "$AZ_PID" 2>/dev/null || true
	fi
	[[ -n $FB_PID ]] && kill -TERM "$FB_PID" 2>/dev/null && wait "$FB_PID" 2>/dev/null
	[[ -n $EMU_PID ]] && kill -TERM "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
	if [[ ${KEEP_WORK:-} != 1 ]]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
}
trap cleanup EXIT
"$FLUENT_BIT_BIN" --version 2>&1 | sed -n 1p

TOKEN="e2e-token-$RANDOM$RANDOM"
printf '%s' "$TOKEN" >"$WORK/token"
export NSGFLOW_E2E_KEY=$(head -c 32 /dev/urandom | base64 -w0)
printf '%s' "$NSGFLOW_E2E_KEY" >"$WORK/key"
WS=00000000-0000-0000-0000-000000000000
DCR=dcr-00000000000000000000000000000000

"$BIN/genchunks" lines -samples "$SAMPLES" -out "$WORK/input.ndjson" -expected "$WORK/expected.txt"
while read -r f; do "$BIN/nsgflow" parse --quiet "$f"; done <"$WORK/expected.txt" >"$WORK/expected.ndjson"
want=$(wc -l <"$WORK/expected.ndjson")

cat >"$WORK/plugins.conf" <<CONF
[PLUGINS]
    Path $BIN/out_nsgflow.so
CONF

ok() {
	echo "ok   $*"
	PASSED=$((PASSED + 1))
}
fail() {
	echo "FAIL $*"
	echo "e2e: $PASSED passed, 1 failed"
	exit 1
}

# rows_total from the emulator's /stats (indented JSON: "rows_total": 744).
rows_total() {
	curl -fsS "$1/stats" 2>/dev/null | grep -o '"rows_total": *[0-9]*' | grep -o '[0-9]*$' || echo 0
}

# phase NAME EMULATOR-FLAGS...: one emulator, one Fluent Bit run, checks.
phase() {
	local name=$1
	shift
	local dir=$WORK/$name
	mkdir -p "$dir"
	"$BIN/nsgflow" emulator --addr 127.0.0.1:0 --ready-file "$dir/ready" --out "$dir/rows.ndjson" \
		--token-file "$WORK/token" --shared-key-file "$WORK/key" --workspace-id "$WS" --dcr-id "$DCR" \
		"$@" >"$dir/emulator.out" 2>&1 &
	EMU_PID=$!
	for _ in $(seq 100); do [[ -s $dir/ready ]] && break; sleep 0.1; done
	[[ -s $dir/ready ]] || fail "$name: the emulator did not start: $(cat "$dir/emulator.out")"
	local url
	url=$(head -n1 "$dir/ready")
	if [[ $name == down-up ]]; then
		kill -USR1 "$EMU_PID" # connection refused until SIGUSR2
		sleep 0.2
	fi
	# The shared key comes in as \${NSGFLOW_E2E_KEY}: Fluent Bit expands it.
	cat >"$dir/fluent-bit.conf" <<CONF
[SERVICE]
    Flush        1
    Grace        5
    Log_Level    info
    Plugins_File $WORK/plugins.conf
    storage.path $dir/storage

[INPUT]
    Name           tail
    Path           $WORK/input.ndjson
    Read_from_Head true
    Buffer_Max_Size 4M
    Tag            flow.e2e
    storage.type   filesystem

[OUTPUT]
    Name          nsgflow
    Match         flow.*
    Workers       2
    Retry_Limit   10
    destination   logs_ingestion
    endpoint      $url
    dcr_id        $DCR
    stream        Custom-NsgFlow
    credential    static
    token_file    $WORK/token
    flush_deadline 5s
    request_timeout 2s

[OUTPUT]
    Name          nsgflow
    Match         flow.*
    Workers       2
    Retry_Limit   10
    destination   data_collector
    endpoint      $url
    workspace_id  $WS
    shared_key    \${NSGFLOW_E2E_KEY}
    log_type      NsgFlowE2E
    flush_deadline 5s
    request_timeout 2s
CONF
	"$FLUENT_BIT_BIN" -c "$dir/fluent-bit.conf" >"$dir/fluent-bit.log" 2>&1 &
	FB_PID=$!
	if [[ $name == down-up ]]; then
		# Both instances must have returned RETRY before the emulator comes back.
		for _ in $(seq 120); do
			[[ $(grep -c 'failed to flush chunk' "$dir/fluent-bit.log" || true) -ge 2 ]] && break
			kill -0 "$FB_PID" 2>/dev/null || break
			sleep 0.5
		done
		[[ $(grep -c 'failed to flush chunk' "$dir/fluent-bit.log" || true) -ge 2 ]] ||
			fail "$name: no RETRY from both instances within 60 s while the emulator was down"
		ok "$name: both instances returned RETRY while the emulator was down"
		kill -USR2 "$EMU_PID"
	fi
	# Wait until both tables hold the expected row count (or 90 s).
	local n=0
	for _ in $(seq 180); do
		n=$(rows_total "$url")
		[[ ${n:-0} -ge $((2 * want)) ]] && break
		kill -0 "$FB_PID" 2>/dev/null || break
		sleep 0.5
	done
	kill -TERM "$FB_PID" 2>/dev/null || true
	local fb_rc=0
	wait "$FB_PID" || fb_rc=$?
	FB_PID=
	kill -TERM "$EMU_PID"
	wait "$EMU_PID" || true
	EMU_PID=
	grep -E '\[(error|warn)\]|nsgflow' "$dir/fluent-bit.log" | grep -v -m 30 'worker #' || true
	# A crash (a Go panic or a signal inside the plugin) ends Fluent Bit with a
	# non-zero status instead of 0 after SIGTERM.
	[[ $fb_rc -eq 0 ]] || fail "$name: Fluent Bit exited with status $fb_rc (log: $dir/fluent-bit.log)"
	ok "$name: Fluent Bit exited with status 0"
	if grep -qF -e "$TOKEN" -e "$NSGFLOW_E2E_KEY" "$dir/fluent-bit.log"; then
		fail "$name: a secret appears in Fluent Bit's log"
	fi
	ok "$name: no secret in Fluent Bit's log"
	if [[ $name == down-up ]]; then
		[[ $(grep -c 'succeeded at retry' "$dir/fluent-bit.log" || true) -ge 2 ]] ||
			fail "$name: Fluent Bit did not log 'succeeded at retry' for both instances"
		ok "$name: both chunks delivered by Fluent Bit's retry"
	fi
	local t
	for t in li:NsgFlow_CL dc:NsgFlowE2E_CL; do
		"$BIN/genchunks" check -label "$name-${t%%:*}" -rows "$dir/rows.ndjson" -expected "$WORK/expected.ndjson" \
			-table "${t#*:}" || fail "$name: rows of ${t#*:} (see above)"
		PASSED=$((PASSED + 5))
	done
}

# start_emulator DIR FLAGS...: sets EMU_PID and URL.
start_emulator() {
	local dir=$1
	shift
	"$BIN/nsgflow" emulator --addr 127.0.0.1:0 --ready-file "$dir/ready" --out "$dir/rows.ndjson" \
		--token-file "$WORK/token" --dcr-id "$DCR" "$@" >"$dir/emulator.out" 2>&1 &
	EMU_PID=$!
	for _ in $(seq 100); do [[ -s $dir/ready ]] && break; sleep 0.1; done
	[[ -s $dir/ready ]] || fail "the emulator did not start: $(cat "$dir/emulator.out")"
	URL=$(head -n1 "$dir/ready")
}

# run_fb DIR LABEL WANT SECONDS: Fluent Bit until the emulator holds WANT rows
# (or SECONDS), then SIGTERM; FB_RC is its exit status.
run_fb() {
	local dir=$1 label=$2 target=$3 secs=$4 n=0
	"$FLUENT_BIT_BIN" -c "$dir/fluent-bit.conf" >"$dir/$label.log" 2>&1 &
	FB_PID=$!
	for _ in $(seq $((secs * 2))); do
		n=$(rows_total "$URL")
		[[ ${n:-0} -ge $target ]] && break
		kill -0 "$FB_PID" 2>/dev/null || break
		sleep 0.5
	done
	kill -TERM "$FB_PID" 2>/dev/null || true
	FB_RC=0
	wait "$FB_PID" || FB_RC=$?
	FB_PID=
	grep -E '\[(error|warn)\]|(output|input):nsgflow' "$dir/$label.log" |
		grep -v -m 30 -e 'worker #' -e 'found flow-log resource' -e 'done marker set' || true
}

# blob: Azurite -> nsgflow_blob -> nsgflow -> emulator.
blob_phase() {
	local dir=$WORK/blob
	if [[ ! -x $AZURITE ]]; then
		echo "SKIP blob: $AZURITE is missing (run make setup)"
		return
	fi
	mkdir -p "$dir/azurite" "$dir/checkpoints"
	"$AZURITE" --blobHost 127.0.0.1 --blobPort 0 --location "$dir/azurite" --skipApiVersionCheck --loose \
		--disableProductStyleUrl >"$dir/azurite.log" 2>&1 &
	AZ_PID=$!
	local port=
	for _ in $(seq 300); do
		port=$(sed -n 's|.*listens on http://127.0.0.1:\([0-9]*\).*|\1|p' "$dir/azurite.log" | head -n 1)
		[[ -n $port ]] && break
		sleep 0.1
	done
	[[ -n $port ]] || fail "blob: Azurite did not start: $(cat "$dir/azurite.log")"
	local storage=http://127.0.0.1:$port/devstoreaccount1
	# Azurite's public development key.
	export NSGFLOW_E2E_STORAGE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
	local g gens=(
		"--format nsg2 --resources 2 --hours 2 --records-per-hour 10 --tuples-per-record 5 --seed 3 --start 2026-11-20T08:00:00Z"
		"--format vnet4 --resources 2 --hours 2 --records-per-hour 10 --tuples-per-record 8 --seed 4 --start 2026-11-20T08:00:00Z"
	)
	for g in "${gens[@]}"; do
		# shellcheck disable=SC2086 # the flags are words
		NSGFLOW_STORAGE_KEY=$NSGFLOW_E2E_STORAGE_KEY "$BIN/nsgflow" feed --storage-endpoint "$storage" $g --quiet \
			>>"$dir/feed.log" 2>&1 || fail "blob: nsgflow feed: $(cat "$dir/feed.log")"
		# shellcheck disable=SC2086
		"$BIN/nsgflow" gen --out "$dir/gen" $g >/dev/null 2>&1 || fail "blob: nsgflow gen $g"
	done
	find "$dir/gen" -name PT1H.json | sort >"$dir/blobs.txt"
	local blobs
	blobs=$(wc -l <"$dir/blobs.txt")
	while read -r f; do "$BIN/nsgflow" parse --quiet "$f"; done <"$dir/blobs.txt" >"$dir/expected.ndjson"
	local want_blob
	want_blob=$(wc -l <"$dir/expected.ndjson")
	start_emulator "$dir" --fail-503 0.1 --seed 4
	cat >"$dir/plugins.conf" <<CONF
[PLUGINS]
    Path $BIN/in_nsgflow.so
    Path $BIN/out_nsgflow.so
CONF
	cat >"$dir/fluent-bit.conf" <<CONF
[SERVICE]
    Flush        1
    Grace        5
    Log_Level    info
    Plugins_File $dir/plugins.conf

[INPUT]
    Name               nsgflow_blob
    Tag                nsgflow.blob
    storage_endpoint   $storage
    storage_key        \${NSGFLOW_E2E_STORAGE_KEY}
    start              beginning
    poll_interval      1s
    checkpoint_dir     $dir/checkpoints
    done_marker        on

[OUTPUT]
    Name            nsgflow
    Match           nsgflow.*
    Workers         2
    Retry_Limit     10
    checkpoint_dir  $dir/checkpoints
    endpoint        $URL
    dcr_id          $DCR
    stream          Custom-NsgFlow
    credential      static
    token_file      $WORK/token
    flush_deadline  5s
    request_timeout 2s
CONF
	run_fb "$dir" fluent-bit "$want_blob" 90
	[[ $FB_RC -eq 0 ]] || fail "blob: Fluent Bit exited with status $FB_RC (log: $dir/fluent-bit.log)"
	ok "blob: Fluent Bit with both plugins exited with status 0"
	if grep -qF -e "$TOKEN" -e "$NSGFLOW_E2E_STORAGE_KEY" "$dir/fluent-bit.log"; then
		fail "blob: a secret appears in Fluent Bit's log"
	fi
	ok "blob: no secret in Fluent Bit's log"
	"$BIN/genchunks" check -label blob -rows "$dir/rows.ndjson" -expected "$dir/expected.ndjson" -table NsgFlow_CL ||
		fail "blob: rows of NsgFlow_CL (see above)"
	PASSED=$((PASSED + 5))
	local marked
	marked=$(grep -c 'done marker set' "$dir/fluent-bit.log" || true)
	[[ $marked -eq $blobs ]] || fail "blob: $marked of $blobs blobs got the done marker"
	ok "blob: all $blobs blobs got the done marker once every record was acknowledged"
	# Restart on the same checkpoints: nothing may be sent again.
	local before after
	before=$(rows_total "$URL")
	run_fb "$dir" restart 999999999 6
	after=$(rows_total "$URL")
	[[ $FB_RC -eq 0 ]] || fail "blob: restarted Fluent Bit exited with status $FB_RC"
	[[ $after -eq $before ]] || fail "blob: the restart sent $((after - before)) rows again"
	ok "blob: a restart on the same checkpoints sends nothing ($after rows before and after)"
	kill -TERM "$EMU_PID"
	wait "$EMU_PID" || true
	EMU_PID=
}

phase faults --fail-first 2 --fail-first-kind 503
phase down-up
blob_phase
echo "e2e: $PASSED passed, 0 failed"
