#!/usr/bin/env bash
# make test-image: builds the project's Dockerfile (both targets, unchanged)
# on local stand-ins of its base images and runs the project's
# docker-compose.yml (Azurite, emulator, generator, and Fluent Bit when
# FLUENT_BIT_BIN is set; else `nsgflow run` from the cli image in its place,
# test/image/compose.shipper.yml), checking that
#   - rows reach the emulator within 60 s of `up`,
#   - every tuple the generator wrote is stored exactly once, across a
#     generator restart and a restart of the shipping service,
#   - `down -v` leaves no container, network or volume behind.
# No registry is reached: the stand-ins come from Debian packages
# (test/image/standins.sh) and the builds run with --network none.
#
# SKIP (exit 0, a line saying why) when NSGFLOW_IMAGE_TEST=0, when there is
# no Docker engine and none can be started (dockerd missing or not root), or
# when the stand-ins cannot be made (debootstrap or the Debian mirror
# missing). A dockerd started here is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/bin/image
mkdir -p "$work"
skip() { echo "SKIP: test-image: $*"; exit 0; }
say() { echo "test-image: $*"; }
fail() { echo "FAIL: test-image: $*"; exit 1; }
[[ ${NSGFLOW_IMAGE_TEST:-} == 0 ]] && skip "NSGFLOW_IMAGE_TEST=0"
start_all=$SECONDS

# A docker CLI that builds with BuildKit (RUN --mount): one with the buildx
# plugin, or a 20.10-23 client (BuildKit built in, e.g. Debian's docker.io).
pick_docker() {
	local c v
	for c in docker /usr/bin/docker; do
		command -v "$c" >/dev/null || continue
		if "$c" buildx version >/dev/null 2>&1; then echo "$c"; return; fi
		v=$("$c" version --format '{{.Client.Version}}' 2>/dev/null || true)
		if [[ ${v%%.*} =~ ^[0-9]+$ ]] && ((${v%%.*} >= 18 && ${v%%.*} < 23)); then echo "$c"; return; fi
	done
}
DOCKER=$(pick_docker)
[[ -n $DOCKER ]] || skip "no docker CLI able to build with BuildKit (apt-get install --no-install-recommends docker.io)"
export DOCKER DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
command -v docker-compose >/dev/null || skip "docker-compose missing (apt-get install --no-install-recommends docker-compose)"

# The engine: running, or started here.
dockerd_pid=
cleanup() {
	if [[ -n ${proj:-} ]]; then compose down -v --remove-orphans >/dev/null 2>&1 || true; fi
	if [[ -n $dockerd_pid ]]; then
		kill "$dockerd_pid" 2>/dev/null || true
		for _ in $(seq 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
	fi
}
trap cleanup EXIT
if ! "$DOCKER" info >/dev/null 2>&1; then
	command -v dockerd >/dev/null || skip "no Docker engine running and no dockerd to start"
	[[ $EUID == 0 ]] || skip "no Docker engine running, and starting dockerd needs root"
	for driver in overlay2 vfs; do
		dockerd --storage-driver "$driver" >"$work/dockerd.log" 2>&1 &
		dockerd_pid=$!
		for _ in $(seq 60); do
			"$DOCKER" info >/dev/null 2>&1 && break
			kill -0 "$dockerd_pid" 2>/dev/null || break
			sleep 1
		done
		"$DOCKER" info >/dev/null 2>&1 && break
		kill "$dockerd_pid" 2>/dev/null || true
		wait "$dockerd_pid" 2>/dev/null || true
		dockerd_pid=
	done
	[[ -n $dockerd_pid ]] || { tail -n 5 "$work/dockerd.log"; skip "dockerd did not start (log: $work/dockerd.log)"; }
	say "started dockerd ($driver storage), pid $dockerd_pid"
fi
say "engine $("$DOCKER" version --format '{{.Server.Version}}'), CLI $DOCKER $("$DOCKER" version --format '{{.Client.Version}}'), $(docker-compose version --short)"

# Stand-ins of the base images.
t=$SECONDS
set +e
test/image/standins.sh "$work"
rc=$?
set -e
((rc == 3)) && skip "cannot make the local base images (see above)"
((rc == 0)) || fail "standins.sh exit $rc"
say "stand-ins ready in $((SECONDS - t)) s"

# Both targets of the Dockerfile, with no network.
build() { # TARGET TAG
	local t=$SECONDS
	"$DOCKER" build --network none --progress plain --target "$1" -t "$2" . >"$work/build-$1.log" 2>&1 ||
		{ tail -n 30 "$work/build-$1.log"; fail "docker build --target $1 failed (log: $work/build-$1.log)"; }
	say "built $2 (--target $1) in $((SECONDS - t)) s: $(("$("$DOCKER" image inspect -f '{{.Size}}' "$2")" / 1000000)) MB"
}
build cli nsgflow/cli:local
build fluent-bit nsgflow/fluent-bit:local
# The plugins in the image, and the CLI running on the distroless base.
"$DOCKER" run --rm nsgflow/cli:local dcr >/dev/null 2>&1 || fail "the cli image does not run nsgflow"
fb_files=$("$DOCKER" create nsgflow/fluent-bit:local)
listing=$("$DOCKER" cp "$fb_files:/fluent-bit/plugins" - | tar -t)
"$DOCKER" rm "$fb_files" >/dev/null
for so in in_nsgflow.so out_nsgflow.so; do
	[[ $listing == *"$so"* ]] || fail "$so missing from the fluent-bit image"
done

# The stack.
proj=nsgflowimagetest
files=(-f docker-compose.yml)
ship=fluent-bit
if [[ -n ${FLUENT_BIT_BIN:-} ]]; then
	say "Fluent Bit service from FLUENT_BIT_BIN=$FLUENT_BIT_BIN"
else
	say "FLUENT_BIT_BIN not set: the fluent-bit service is not run (its image has no Fluent Bit binary); nsgflow run ships in its place (test/image/compose.shipper.yml)"
	files+=(-f test/image/compose.shipper.yml)
	ship=shipper
fi
compose() { docker-compose -p "$proj" "${files[@]}" "$@"; }
for port in 10000 2020; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		fail "port 127.0.0.1:$port is in use; docker-compose.yml publishes it"
	fi
done
compose down -v --remove-orphans >/dev/null 2>&1 || true
go build -o "$work/check" ./test/image/check
rows="$work/rows.ndjson"
t0=$SECONDS
compose up -d --no-build azurite emulator generator "$ship" 2>&1 | sed 's/^/  /'
azpid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$(compose ps -q azurite)")
# Rows file and comparison, read inside the stack's network namespace.
fetch_rows() {
	: >"$rows"
	"$DOCKER" cp "$(compose ps -q emulator):/var/lib/nsgflow/rows.ndjson" - 2>/dev/null | tar -xO >"$rows" 2>/dev/null || true
}
compare() {
	fetch_rows
	NSGFLOW_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;" \
		nsenter -t "$azpid" -n "$work/check" --rows "$rows"
}
logs_on_fail() { compose logs --no-color --tail 40 >"$work/compose.log" 2>&1 || true; tail -n 60 "$work/compose.log"; }

first=
while ((SECONDS - t0 < 60)); do
	fetch_rows
	if [[ -s $rows ]]; then first=$((SECONDS - t0)); break; fi
	sleep 3
done
[[ -n $first ]] || { logs_on_fail; fail "no row reached the emulator within 60 s of up"; }
say "first rows $first s after up ($(wc -l <"$rows") rows)"

health() { # Fluent Bit's health endpoint, from inside the namespace
	nsenter -t "$azpid" -n bash -c 'exec 3<>/dev/tcp/127.0.0.1/2020 && printf "GET /api/v1/health HTTP/1.0\r\nHost: x\r\n\r\n" >&3 && head -n 1 <&3' 2>/dev/null | tr -d '\r'
}
if [[ $ship == fluent-bit ]]; then
	h=$(health)
	[[ $h == *" 200"* ]] || { logs_on_fail; fail "GET /api/v1/health: '$h', want 200"; }
	say "health: $h"
fi

# Restarts while the generator keeps committing (a block every 10 s).
sleep 15
say "restarting the generator ($((SECONDS - t0)) s)"
compose restart generator 2>&1 | sed 's/^/  /'
sleep 25
say "restarting $ship ($((SECONDS - t0)) s)"
compose restart "$ship" 2>&1 | sed 's/^/  /'
sleep 25
say "stopping the generator ($((SECONDS - t0)) s); waiting for every tuple"
compose stop generator 2>&1 | sed 's/^/  /'

# Every tuple once: the poll interval is 60 s, so allow two polls.
deadline=$((SECONDS + 150))
while :; do
	set +e
	line=$(compare)
	rc=$?
	set -e
	case $rc in
	0) say "$line"; break ;;
	1) logs_on_fail; fail "$line" ;;
	2) ((SECONDS < deadline)) || { logs_on_fail; fail "still missing after 150 s: $line"; } ;;
	*) logs_on_fail; fail "check could not read the stack: $line" ;;
	esac
	sleep 10
done
grep -q 'resumed where an earlier run left them' <(compose logs --no-color generator 2>&1) ||
	{ logs_on_fail; fail "the restarted generator did not resume its blobs"; }
if [[ $ship == fluent-bit ]]; then
	h=$(health)
	[[ $h == *" 200"* ]] || { logs_on_fail; fail "GET /api/v1/health after the restarts: '$h', want 200"; }
fi

# A clean down.
compose down -v --remove-orphans 2>&1 | sed 's/^/  /' || fail "docker-compose down failed"
left=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$proj")
vols=$("$DOCKER" volume ls -q --filter "label=com.docker.compose.project=$proj")
nets=$("$DOCKER" network ls -q --filter "label=com.docker.compose.project=$proj")
[[ -z $left$vols$nets ]] || fail "down left containers '$left', volumes '$vols', networks '$nets'"
proj=
say "down: no container, volume or network left"
say "passed in $((SECONDS - start_all)) s"
echo "test-image: 1 passed, 0 failed"
