#!/usr/bin/env bash
# Runs the C plugin harness against a local emulator.
#
#   test/harness/run.sh test    # checks; ends with "N passed, M failed"
#   test/harness/run.sh bench   # events/s with 1 and 4 flushers, Go heap in use
#
# Needs bin/out_nsgflow.so, bin/harness, bin/genchunks and bin/nsgflow (make build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODE=${1:-test}
BIN=$ROOT/bin
SAMPLES=${NSGFLOW_SAMPLES:-$ROOT/../shared/samples}
ROUNDS=${BENCH_ROUNDS:-100}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nsgflow-harness.XXXXXX")
EMU_PID=
cleanup() {
	if [[ -n $EMU_PID ]] && kill -0 "$EMU_PID" 2>/dev/null; then
		kill -TERM "$EMU_PID" 2>/dev/null || true
		wait "$EMU_PID" 2>/dev/null || true
	fi
	if [[ ${KEEP_WORK:-} != 1 ]]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
}
trap cleanup EXIT

for f in out_nsgflow.so harness genchunks nsgflow; do
	[[ -x $BIN/$f || -f $BIN/$f ]] || { echo "missing $BIN/$f: run make build" >&2; exit 2; }
done

# Secrets for the emulator and the plugin (never printed).
TOKEN="harness-token-$RANDOM$RANDOM"
printf '%s' "$TOKEN" >"$WORK/token"
KEY=$(head -c 32 /dev/urandom | base64 -w0)
printf '%s' "$KEY" >"$WORK/key"
chmod 600 "$WORK/token" "$WORK/key"
WS=00000000-0000-0000-0000-000000000000
DCR=dcr-00000000000000000000000000000000
DC_TYPE=NsgFlowHarness

FAULTS=()
ROWS=$WORK/rows.ndjson
if [[ $MODE == test ]]; then
	# 503s, resets and slow answers; no drop-after-accept (it makes true duplicates).
	FAULTS=(--fail-503 0.15 --fail-reset 0.05 --slow 0.05 --slow-delay 200ms --seed 7)
else
	ROWS=/dev/null
fi
"$BIN/nsgflow" emulator --addr 127.0.0.1:0 --ready-file "$WORK/ready" --out "$ROWS" \
	--token-file "$WORK/token" --shared-key-file "$WORK/key" --workspace-id "$WS" --dcr-id "$DCR" \
	"${FAULTS[@]}" >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMU_PID=$!
for _ in $(seq 100); do [[ -s $WORK/ready ]] && break; sleep 0.1; done
[[ -s $WORK/ready ]] || { echo "emulator did not start:" >&2; cat "$WORK/emulator.err" >&2; exit 1; }
URL=$(head -n1 "$WORK/ready")
PORT=${URL##*:}
PORT=${PORT%%/*}

"$BIN/genchunks" gen -samples "$SAMPLES" -out "$WORK/chunks"

LEVEL=info
[[ $MODE == bench ]] && LEVEL=debug
cat >"$WORK/instances.conf" <<CONF
# Logs Ingestion: no retries inside a flush and small batches, so faults
# end flushes with RETRY after partial acceptance (exercises the memory).
[instance]
harness.group=li
destination=logs_ingestion
endpoint=$URL
dcr_id=$DCR
stream=Custom-NsgFlow
credential=static
token_file=$WORK/token
max_retries=$([[ $MODE == test ]] && echo 0 || echo 4)
max_body_bytes=$([[ $MODE == test ]] && echo 4096 || echo 1048576)
concurrency=2
request_timeout=2s
flush_deadline=5s
grace=2s
nsgflow_log_level=$LEVEL

# Bad config: not a DCR immutable ID. Init must fail.
[instance]
harness.expect=fail
destination=logs_ingestion
endpoint=$URL
dcr_id=/subscriptions/x/resourceGroups/y/providers/Microsoft.Insights/dataCollectionRules/z
stream=Custom-NsgFlow

# Data Collector: one retry inside a flush.
[instance]
harness.group=dc
destination=data_collector
endpoint=$URL
workspace_id=$WS
shared_key_file=$WORK/key
log_type=$DC_TYPE
max_retries=1
max_body_bytes=$([[ $MODE == test ]] && echo 8192 || echo 0)
request_timeout=2s
flush_deadline=5s
grace=2s
nsgflow_log_level=$LEVEL

# A destination that accepts connections and never answers (the harness's
# black hole): Exit must still return within grace.
[instance]
harness.group=stuck
destination=logs_ingestion
endpoint=@BLACKHOLE@
dcr_id=$DCR
stream=Custom-NsgFlow
credential=static
token_file=$WORK/token
request_timeout=20s
flush_deadline=30s
grace=2s
nsgflow_log_level=$LEVEL

# Bad config: Data Collector without a key. Init must fail.
[instance]
harness.expect=fail
destination=data_collector
workspace_id=$WS
log_type=$DC_TYPE
CONF
sed -i 's/^max_body_bytes=0$//' "$WORK/instances.conf"

if [[ $MODE == bench ]]; then
	echo "plugin bench: $(nproc) CPUs, $ROUNDS rounds of the harness chunks per run, emulator without faults, rows discarded"
	"$BIN/harness" bench "$BIN/out_nsgflow.so" "$WORK/instances.conf" "$WORK/chunks" "$ROUNDS" 2>"$WORK/plugin.log"
	grep -h "go heap" "$WORK/plugin.log" | sed 's/^/plugin: /' || echo "plugin: no heap line in the log"
	exit 0
fi

set +e
"$BIN/harness" test "$BIN/out_nsgflow.so" "$WORK/instances.conf" "$WORK/chunks" "$EMU_PID" "$PORT" 2>"$WORK/plugin.log" | tee "$WORK/harness.out"
set -e
kill -TERM "$EMU_PID"
wait "$EMU_PID" || true
EMU_PID=

# Expected events: nsgflow parse over the inputs the chunks were made from.
while read -r f; do "$BIN/nsgflow" parse --quiet "$f"; done <"$WORK/chunks/expected.txt" >"$WORK/expected.ndjson"

set +e
"$BIN/genchunks" check -label li -rows "$WORK/rows.ndjson" -expected "$WORK/expected.ndjson" -table NsgFlow_CL | tee -a "$WORK/checks.out"
"$BIN/genchunks" check -label dc -rows "$WORK/rows.ndjson" -expected "$WORK/expected.ndjson" -table "${DC_TYPE}_CL" | tee -a "$WORK/checks.out"
set -e

# Log checks: secrets never logged; one line per skip kind per instance.
pass=0 fail=0
logcheck() {
	if eval "$2"; then echo "ok   log: $1"; pass=$((pass + 1)); else echo "FAIL log: $1"; fail=$((fail + 1)); fi
}
logcheck "no token or shared key in the plugin's stderr" "! grep -qF -e '$TOKEN' -e '$KEY' '$WORK/plugin.log'"
n=$(grep -c 'skipping input: record is not a map' "$WORK/plugin.log" || true)
logcheck "'record is not a map' logged once per instance ($n lines for 2 instances)" "[[ $n -eq 2 ]]"
n=$(grep -c '\[output:nsgflow:nsgflow\.[0-9]*\]' "$WORK/plugin.log" || true)
logcheck "log lines in Fluent Bit's format ($n lines)" "[[ $n -gt 0 ]]"
logcheck "bad configs named the key (dcr_id, shared_key)" "grep -q 'invalid configuration: dcr_id' '$WORK/plugin.log' && grep -q 'invalid configuration: shared_key' '$WORK/plugin.log'"
echo "plugin log sample:"; grep -m 8 -E 'invalid configuration|skipping input|RETRY|exit after' "$WORK/plugin.log" | sed 's/^/  /' || true

hp=$(sed -n 's/^harness: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$WORK/harness.out")
hf=$(sed -n 's/^harness: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$WORK/harness.out")
[[ -n $hp ]] || { hp=0; hf=1; echo "FAIL harness did not finish (crashed?)"; tail -20 "$WORK/plugin.log"; }
cp_=$(awk '/^check .*passed/ {s+=$3} END {print s+0}' "$WORK/checks.out")
cf=$(awk '/^check .*passed/ {s+=$5} END {print s+0}' "$WORK/checks.out")
[[ $(grep -c '^check ' "$WORK/checks.out") -eq 2 ]] || cf=$((cf + 1))
total_p=$((hp + cp_ + pass))
total_f=$((hf + cf + fail))
echo "$total_p passed, $total_f failed"
[[ $total_f -eq 0 ]]
