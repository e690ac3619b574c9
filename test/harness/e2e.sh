#!/usr/bin/env bash
# make e2e: a real Fluent Bit (4.x, Go plugin support) tails NDJSON flow-log
# records into out_nsgflow.so, which sends them to a local emulator through
# both APIs (two [OUTPUT] instances); then every expected event must be
# stored exactly once per table. Skipped when FLUENT_BIT_BIN is unset.
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

"$BIN/nsgflow" emulator --addr 127.0.0.1:0 --ready-file "$WORK/ready" --out "$WORK/rows.ndjson" \
	--token-file "$WORK/token" --shared-key-file "$WORK/key" --workspace-id "$WS" --dcr-id "$DCR" \
	--fail-first 2 --fail-503 0.1 --seed 3 >"$WORK/emulator.out" 2>&1 &
EMU_PID=$!
for _ in $(seq 100); do [[ -s $WORK/ready ]] && break; sleep 0.1; done
URL=$(head -n1 "$WORK/ready")

"$BIN/genchunks" lines -samples "$SAMPLES" -out "$WORK/input.ndjson" -expected "$WORK/expected.txt"
while read -r f; do "$BIN/nsgflow" parse --quiet "$f"; done <"$WORK/expected.txt" >"$WORK/expected.ndjson"
want=$(wc -l <"$WORK/expected.ndjson")

cat >"$WORK/plugins.conf" <<CONF
[PLUGINS]
    Path $BIN/out_nsgflow.so
CONF
# The shared key comes in as \${NSGFLOW_E2E_KEY}: Fluent Bit expands it.
cat >"$WORK/fluent-bit.conf" <<CONF
[SERVICE]
    Flush        1
    Grace        5
    Log_Level    info
    Plugins_File $WORK/plugins.conf
    storage.path $WORK/storage

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
    endpoint      $URL
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
    endpoint      $URL
    workspace_id  $WS
    shared_key    \${NSGFLOW_E2E_KEY}
    log_type      NsgFlowE2E
    flush_deadline 5s
    request_timeout 2s
CONF
"$FLUENT_BIT_BIN" -c "$WORK/fluent-bit.conf" >"$WORK/fluent-bit.log" 2>&1 &
FB_PID=$!
# Wait until both tables hold the expected row count (or 90 s).
for _ in $(seq 180); do
	# /stats is indented JSON: "rows_total": 744
	n=$(curl -fsS "$URL/stats" 2>/dev/null | grep -o '"rows_total": *[0-9]*' | grep -o '[0-9]*$' || echo 0)
	[[ ${n:-0} -ge $((2 * want)) ]] && break
	kill -0 "$FB_PID" 2>/dev/null || break
	sleep 0.5
done
kill -TERM "$FB_PID" 2>/dev/null || true
fb_rc=0
wait "$FB_PID" || fb_rc=$?
FB_PID=
kill -TERM "$EMU_PID"
wait "$EMU_PID" || true
EMU_PID=
grep -E '\[(error|warn)\]|nsgflow' "$WORK/fluent-bit.log" | grep -v 'worker #' | head -n 30 || true
# A crash (a Go panic or a signal inside the plugin) ends Fluent Bit with a
# non-zero status instead of 0 after SIGTERM.
if [[ $fb_rc -ne 0 ]]; then
	echo "FAIL: Fluent Bit exited with status $fb_rc (log: $WORK/fluent-bit.log)"
	tail -n 30 "$WORK/fluent-bit.log"
	exit 1
fi
if grep -qF -e "$TOKEN" -e "$NSGFLOW_E2E_KEY" "$WORK/fluent-bit.log"; then
	echo "FAIL: a secret appears in Fluent Bit's log"
	exit 1
fi
"$BIN/genchunks" check -label e2e-li -rows "$WORK/rows.ndjson" -expected "$WORK/expected.ndjson" -table NsgFlow_CL
"$BIN/genchunks" check -label e2e-dc -rows "$WORK/rows.ndjson" -expected "$WORK/expected.ndjson" -table NsgFlowE2E_CL
echo "e2e: 12 passed, 0 failed"
