#!/usr/bin/env bash
# Runs the input plugin harness: bin/in_nsgflow.so loaded like Fluent Bit's Go
# proxy loads it, reading generated flow-log blobs from a local Azurite.
#
#   test/input-harness/run.sh      # ends with "N passed, M failed"
#
# Phases: raw records in handover mode (every checkpoint reaches the blob
# tail); a restart on the same checkpoints (nothing handed over again);
# expanded events in ack mode (checkpoints stay at the head until the
# records are acknowledged as the output plugin would). Needs make build and
# make setup (Azurite).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
AZURITE=$ROOT/node_modules/.bin/azurite-blob
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nsgflow-input-harness.XXXXXX")
AZ_PID=
cleanup() {
	if [[ -n $AZ_PID ]] && kill -0 "$AZ_PID" 2>/dev/null; then
		kill -TERM "$AZ_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$AZ_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$AZ_PID" 2>/dev/null || true
		wait "$AZ_PID" 2>/dev/null || true
	fi
	if [[ ${KEEP_WORK:-} != 1 ]]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
}
trap cleanup EXIT
for f in "$BIN/in_nsgflow.so" "$BIN/input-harness" "$BIN/nsgflow" "$AZURITE"; do
	[[ -e $f ]] || { echo "missing $f: run make setup build" >&2; exit 2; }
done

# Azurite on a free port (it prints the one it got).
mkdir -p "$WORK/azurite"
"$AZURITE" --blobHost 127.0.0.1 --blobPort 0 --location "$WORK/azurite" --skipApiVersionCheck --loose \
	--disableProductStyleUrl >"$WORK/azurite.log" 2>&1 &
AZ_PID=$!
PORT=
for _ in $(seq 300); do
	PORT=$(sed -n 's|.*listens on http://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/azurite.log" | head -n 1)
	[[ -n $PORT ]] && break
	sleep 0.1
done
[[ -n $PORT ]] || { echo "Azurite did not start:" >&2; cat "$WORK/azurite.log" >&2; exit 1; }
STORAGE=http://127.0.0.1:$PORT/devstoreaccount1
# Azurite's public development key.
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# Generated NSG v2 blobs of two past hours, written whole.
GEN=(--format nsg2 --resources 2 --hours 2 --records-per-hour 10 --tuples-per-record 5 --seed 3 --start 2026-11-20T08:00:00Z)
NSGFLOW_STORAGE_KEY=$KEY "$BIN/nsgflow" feed --storage-endpoint "$STORAGE" "${GEN[@]}" >"$WORK/feed.log"
CHECK_GEN=(-format nsg2 -resources 2 -hours 2 -records-per-hour 10 -tuples-per-record 5 -seed 3 -start 2026-11-20T08:00:00Z)
(cd "$ROOT" && go build -o "$WORK/check" ./test/input-harness/check)

# conf NAME CHECKPOINTS KEY=VALUE...: an [INPUT] section as key=value lines.
conf() {
	local f=$WORK/$1.conf cp=$2
	shift 2
	{
		echo "storage_endpoint=$STORAGE"
		echo "storage_key=$KEY"
		echo "containers=insights-logs-networksecuritygroupflowevent"
		echo "start=beginning"
		echo "poll_interval=200ms"
		echo "grace=1s"
		echo "checkpoint_dir=$cp"
		echo "nsgflow_log_level=info"
		printf '%s\n' "$@"
	} >"$f"
	chmod 600 "$f"
	echo "$f"
}

PASSED=0
FAILED=0
# tally OUTPUT: add the "N passed, M failed" line of a step.
tally() {
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1 || true)
	if [[ -z $line ]]; then
		echo "FAIL $1 has no summary line"
		FAILED=$((FAILED + 1))
		return
	fi
	PASSED=$((PASSED + ${line%% passed*}))
	local f=${line#*, }
	FAILED=$((FAILED + ${f%% failed}))
}

step() {
	local name=$1
	shift
	echo "== $name"
	if ! "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
		sed -n '1,40p' "$WORK/$name.err" | sed 's/^/   stderr: /'
	fi
	grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$WORK/$name.out" | sed 's/^/   /'
	tally "$WORK/$name.out"
}

A=$(conf raw-handover "$WORK/cp-a" "ack_mode=handover")
step raw-handover "$BIN/input-harness" "$BIN/in_nsgflow.so" "$A" "$WORK/a.msgpack" 60 15
step raw-handover-check "$WORK/check" -entries "$WORK/a.msgpack" -mode raw -ack-mode handover -checkpoints "$WORK/cp-a" "${CHECK_GEN[@]}"
step restart "$BIN/input-harness" "$BIN/in_nsgflow.so" "$A" "$WORK/b.msgpack" 3 0 expect-none
C=$(conf expand-ack "$WORK/cp-c" "ack_mode=ack" "expand=on" "max_buffer_bytes=64K")
step expand-ack "$BIN/input-harness" "$BIN/in_nsgflow.so" "$C" "$WORK/c.msgpack" 60 15
step expand-ack-check "$WORK/check" -entries "$WORK/c.msgpack" -mode expand -ack-mode ack -checkpoints "$WORK/cp-c" "${CHECK_GEN[@]}"
BAD=$(conf bad-config "$WORK/cp-d" "ack_mode=sometimes")
echo "== bad-config"
if "$BIN/input-harness" "$BIN/in_nsgflow.so" "$BAD" "$WORK/d.msgpack" 1 0 >"$WORK/bad.out" 2>"$WORK/bad.err"; then
	echo "   FAIL a bad ack_mode was accepted"
	FAILED=$((FAILED + 1))
elif grep -q 'FAIL init returns FLB_OK' "$WORK/bad.out" && grep -q 'ack_mode "sometimes" is not valid' "$WORK/bad.err"; then
	echo "   ok   a bad ack_mode makes init fail with a message naming the key"
	PASSED=$((PASSED + 1))
else
	echo "   FAIL unexpected outcome for a bad config:"
	sed 's/^/   /' "$WORK/bad.out" "$WORK/bad.err"
	FAILED=$((FAILED + 1))
fi
if grep -q "$KEY" "$WORK"/*.err; then
	echo "   FAIL the storage key appears in the plugin's log"
	FAILED=$((FAILED + 1))
else
	echo "   ok   the storage key never appears in the plugin's log"
	PASSED=$((PASSED + 1))
fi
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
