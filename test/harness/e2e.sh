#!/usr/bin/env bash
# make e2e: a real Fluent Bit (4.x, Go plugin support) tails NDJSON flow-log
# records into out_nsgflow.so, which sends them to a local emulator through
# both APIs (two [OUTPUT] instances, Workers 2 each); then every expected
# event must be stored exactly once per table. Two phases:
#   faults   the first two requests fail with 503 (retried inside the flush);
#   down-up  the emulator refuses connections when Fluent Bit starts, so both
#            flushes return RETRY; once it is back, Fluent Bit's retry delivers
#            every event, still exactly once.
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
EMU_PID= FB_PID=
PASSED=0
cleanup() {
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

phase faults --fail-first 2 --fail-first-kind 503
phase down-up
echo "e2e: $PASSED passed, 0 failed"
