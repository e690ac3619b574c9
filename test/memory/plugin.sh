#!/usr/bin/env bash
# Memory of the output plugin under the C harness: 2,000,000 generated NSG v2
# tuples (raw records in a "log" field, as tail without a parser gives them)
# flushed in chunks of CHUNK_BYTES by one flusher, to a local emulator that
# discards the rows. Prints the plugin's Go runtime Sys and HeapInuse (peak
# after a flush) and the most bodies one flush had alive.
#
#   test/memory/plugin.sh CHUNK_BYTES [DESTINATION]
#
# Needs bin/out_nsgflow.so, bin/harness, bin/genchunks and bin/nsgflow.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
SIZE=${1:?chunk bytes}
DEST=${2:-logs_ingestion}
TUPLES=${MEMORY_TUPLES:-2000000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nsgflow-memory.XXXXXX")
EMU_PID=
cleanup() {
	if [[ -n $EMU_PID ]] && kill -0 "$EMU_PID" 2>/dev/null; then
		kill -TERM "$EMU_PID" 2>/dev/null || true
		wait "$EMU_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN="memory-token-$RANDOM$RANDOM"
printf '%s' "$TOKEN" >"$WORK/token"
head -c 32 /dev/urandom | base64 -w0 >"$WORK/key"
chmod 600 "$WORK/token" "$WORK/key"
WS=00000000-0000-0000-0000-000000000000
DCR=dcr-00000000000000000000000000000000
"$BIN/nsgflow" emulator --addr 127.0.0.1:0 --ready-file "$WORK/ready" --out /dev/null \
	--token-file "$WORK/token" --shared-key-file "$WORK/key" --workspace-id "$WS" --dcr-id "$DCR" \
	>"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMU_PID=$!
for _ in $(seq 100); do [[ -s $WORK/ready ]] && break; sleep 0.1; done
[[ -s $WORK/ready ]] || { echo "emulator did not start:" >&2; cat "$WORK/emulator.err" >&2; exit 1; }
URL=$(head -n1 "$WORK/ready")

"$BIN/genchunks" flow -tuples "$TUPLES" -chunk-bytes "$SIZE" -out "$WORK/chunks"
if [[ $DEST == logs_ingestion ]]; then
	dest="destination=logs_ingestion
endpoint=$URL
dcr_id=$DCR
stream=Custom-NsgFlow
credential=static
token_file=$WORK/token"
else
	dest="destination=data_collector
endpoint=$URL
workspace_id=$WS
shared_key_file=$WORK/key
log_type=NsgFlowMemory"
fi
cat >"$WORK/instances.conf" <<CONF
# Defaults except the deadline: a 32 MB chunk is hundreds of MB of rows.
[instance]
harness.group=big
$dest
flush_deadline=60s
grace=4s
nsgflow_log_level=debug
CONF
"$BIN/harness" bench "$BIN/out_nsgflow.so" "$WORK/instances.conf" "$WORK/chunks" 1 1 2>"$WORK/plugin.log" | tee "$WORK/harness.out"
line=$(grep -h "go heap" "$WORK/plugin.log" | tail -n1)
[[ -n $line ]] || { echo "no heap line in the plugin log:" >&2; tail -20 "$WORK/plugin.log" >&2; exit 1; }
grep -h "soft Go memory limit" "$WORK/plugin.log" | sed 's/.*\] /plugin: /' | head -n1
sys=$(sed -n 's/.*peak after a flush: HeapInuse=\([0-9]*\) Sys=\([0-9]*\).*/\2/p' <<<"$line")
inuse=$(sed -n 's/.*peak after a flush: HeapInuse=\([0-9]*\) Sys=\([0-9]*\).*/\1/p' <<<"$line")
bodies=$(sed -n 's/.*most bodies alive in one flush: \([0-9]*\).*/\1/p' <<<"$line")
chunks=$(wc -l <"$WORK/chunks/manifest.tsv")
printf 'memory plugin %s, %d tuples in %d chunks of %d bytes: Go Sys %.1f MiB, peak HeapInuse %.1f MiB, at most %s bodies alive per flush\n' \
	"$DEST" "$TUPLES" "$chunks" "$SIZE" "$(bc -l <<<"$sys/1048576")" "$(bc -l <<<"$inuse/1048576")" "$bodies"
