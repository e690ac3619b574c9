#!/usr/bin/env bash
# Builds local stand-ins for the base images the Dockerfile and
# docker-compose.yml name, from Debian 12 packages only (no container
# registry is needed or reached). Each stand-in has the name and the layout
# its original has where nsgflow relies on them:
#
#   nsgflow-standin/bookworm:build         debootstrap --variant=minbase bookworm
#                                          + ca-certificates, gcc, libc6-dev
#   golang:$GO_TAG-bookworm                that + this host's Go toolchain in
#                                          /usr/local/go + a file-system module
#                                          proxy made from this host's module
#                                          cache (GOPROXY=file://..., so `go mod
#                                          download` in the build needs no network)
#   gcr.io/distroless/base-debian12:nonroot  glibc, CA bundle, /etc/passwd with
#                                          nonroot (65532); no shell
#   fluent/fluent-bit:$FLUENT_BIT_VERSION  that + /fluent-bit/{bin,etc,plugins};
#                                          bin/fluent-bit is $FLUENT_BIT_BIN and
#                                          the libraries it links, or absent when
#                                          FLUENT_BIT_BIN is unset (the image then
#                                          builds but cannot run)
#   mcr.microsoft.com/azure-storage/azurite:3.37.0  that + this host's node and
#                                          ./node_modules (Azurite 3.37.0, npm ci)
#
# The Debian base is made once per Docker engine (about 7 minutes: it
# downloads about 60 MB of packages); the others are rebuilt in seconds when
# their inputs change (a label holds a hash of them).
#
# Usage: test/image/standins.sh WORKDIR   (run as root: debootstrap, chroot)
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:?usage: standins.sh WORKDIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)
DOCKER=${DOCKER:-docker}
GO_TAG=${GO_TAG:-1.26}
FLUENT_BIT_VERSION=${FLUENT_BIT_VERSION:-4.2.0}
MIRROR=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
MIRROR=${MIRROR:-$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
BASE=${STANDIN_BASE:-nsgflow-standin/bookworm:build}

log() { echo "standins: $*"; }
have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
label() { "$DOCKER" image inspect -f '{{ index .Config.Labels "nsgflow.standin" }}' "$1" 2>/dev/null || true; }

# import DIR TAG HASH [--change ...]: a tar of DIR as image TAG.
import_dir() {
	local dir=$1 tag=$2 hash=$3
	shift 3
	tar -C "$dir" --numeric-owner -c . | "$DOCKER" import --change "LABEL nsgflow.standin=$hash" "$@" - "$tag" >/dev/null
	log "$tag: $(("$("$DOCKER" image inspect -f '{{.Size}}' "$tag")" / 1000000)) MB"
}

# 1. The Debian base (kept between runs by the engine).
if ! have "$BASE"; then
	command -v debootstrap >/dev/null || { echo "standins: debootstrap is needed (apt-get install debootstrap)" >&2; exit 3; }
	[[ -n $MIRROR ]] || { echo "standins: no Debian mirror found in /etc/apt; set DEBIAN_MIRROR" >&2; exit 3; }
	rm -rf "$work/rootfs"
	log "debootstrap bookworm (minbase + gcc, libc6-dev, ca-certificates) from $MIRROR"
	start=$SECONDS
	if ! debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
		tail -n 20 "$work/debootstrap.log" >&2
		exit 3
	fi
	rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
	log "debootstrap took $((SECONDS - start)) s"
	import_dir "$work/rootfs" "$BASE" base --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]'
	rm -rf "$work/rootfs"
fi

# The base's file system, for the stand-ins assembled from parts of it.
base_fs() {
	if [[ ! -d $work/basefs ]]; then
		local id
		id=$("$DOCKER" create "$BASE" true)
		mkdir -p "$work/basefs"
		"$DOCKER" export "$id" | tar -C "$work/basefs" -x
		"$DOCKER" rm "$id" >/dev/null
	fi
}

# 2. golang:$GO_TAG-bookworm: the host's toolchain and module cache.
GOROOT_HOST=$(go env GOROOT)
GOVERSION=$(go env GOVERSION)
go mod download
proxy="$work/goproxy"
rm -rf "$proxy"
cache=$(go env GOMODCACHE)/cache/download
# Every module version go.sum names, in the module proxy's layout.
while read -r mod ver _; do
	ver=${ver%/go.mod}
	esc=$(sed 's/[A-Z]/!\L&/g' <<<"$mod")
	d="$cache/$esc/@v"
	mkdir -p "$proxy/$esc/@v"
	for f in "$ver.info" "$ver.mod" "$ver.zip"; do
		[[ -f $d/$f ]] && cp "$d/$f" "$proxy/$esc/@v/"
	done
done <go.sum
gohash=$( (echo "$GOVERSION"; sha256sum go.sum) | sha256sum | cut -c1-16)
GO_IMAGE=golang:$GO_TAG-bookworm
if [[ $(label "$GO_IMAGE") != "$gohash" ]]; then
	ctx="$work/ctx-golang"
	rm -rf "$ctx"
	mkdir -p "$ctx"
	cp -a "$GOROOT_HOST" "$ctx/go"
	rm -rf "$ctx/go/pkg/tool/"*/{race,cover}.* "$ctx/go/test" 2>/dev/null || true
	zips=$(find "$proxy" -name '*.zip' | wc -l)
	mv "$proxy" "$ctx/goproxy"
	cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY go /usr/local/go
COPY goproxy /usr/local/share/goproxy
ENV GOLANG_VERSION=${GOVERSION#go} GOPATH=/go GOTOOLCHAIN=local \\
    GOPROXY=file:///usr/local/share/goproxy GOSUMDB=off \\
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL nsgflow.standin=$gohash
WORKDIR /go
DOCKERFILE
	"$DOCKER" build -q --network none -t "$GO_IMAGE" "$ctx" >/dev/null
	rm -rf "$ctx"
	log "$GO_IMAGE: $GOVERSION, $zips module zips"
fi
rm -rf "$proxy"

# 3. distroless base: glibc, CA bundle, users; no shell, no package manager.
DISTROLESS=gcr.io/distroless/base-debian12:nonroot
distroless_fs() { # DIR
	local out=$1
	base_fs
	rm -rf "$out"
	mkdir -p "$out"/{etc/ssl/certs,tmp,home/nonroot,var/lib,usr/share,root}
	chmod 1777 "$out/tmp"
	# The merged-/usr links, then libc6 and the CA bundle as their packages
	# install them.
	for d in bin sbin lib lib64; do
		if [[ -L $work/basefs/$d ]]; then
			cp -a "$work/basefs/$d" "$out/"
			mkdir -p "$out/usr/$d"
		fi
	done
	(cd "$work/basefs" && sed 's|^/||' var/lib/dpkg/info/libc6:amd64.list | while read -r f; do
		if [[ -e $f && ! -d $f ]]; then echo "$f"; fi
	done | tar -c -T - | tar -C "$out" --keep-directory-symlink -x)
	cp -L "$work/basefs/etc/ssl/certs/ca-certificates.crt" "$out/etc/ssl/certs/"
	cp -a "$work/basefs/usr/share/zoneinfo" "$out/usr/share/" 2>/dev/null || true
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$out/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$out/etc/group"
	chown 65532:65532 "$out/home/nonroot"
	cp /etc/os-release "$out/etc/os-release" 2>/dev/null || cp "$work/basefs/etc/os-release" "$out/etc/os-release"
}
if [[ $(label "$DISTROLESS") != distroless-1 ]]; then
	distroless_fs "$work/distroless"
	import_dir "$work/distroless" "$DISTROLESS" distroless-1 --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot'
	rm -rf "$work/distroless"
fi

# 4. fluent/fluent-bit: distroless + /fluent-bit and, when given, the binary.
FB_IMAGE=fluent/fluent-bit:$FLUENT_BIT_VERSION
fbhash=layout-1
if [[ -n ${FLUENT_BIT_BIN:-} ]]; then
	fbhash=bin-$(sha256sum "$FLUENT_BIT_BIN" | cut -c1-16)
fi
if [[ $(label "$FB_IMAGE") != "$fbhash" ]]; then
	distroless_fs "$work/fluent-bit"
	mkdir -p "$work/fluent-bit/fluent-bit/"{bin,etc,plugins}
	if [[ -n ${FLUENT_BIT_BIN:-} ]]; then
		cp "$FLUENT_BIT_BIN" "$work/fluent-bit/fluent-bit/bin/fluent-bit"
		# The shared libraries it links that the base lacks.
		ldd "$FLUENT_BIT_BIN" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
			[[ -e $work/fluent-bit$lib ]] || { mkdir -p "$work/fluent-bit$(dirname "$lib")"; cp -L "$lib" "$work/fluent-bit$lib"; }
		done
	fi
	import_dir "$work/fluent-bit" "$FB_IMAGE" "$fbhash" --change 'ENTRYPOINT ["/fluent-bit/bin/fluent-bit"]' \
		--change 'CMD ["-c", "/fluent-bit/etc/fluent-bit.conf"]' --change 'EXPOSE 2020'
	rm -rf "$work/fluent-bit"
fi

# 5. Azurite: this host's node and the project's node_modules.
AZ_IMAGE=mcr.microsoft.com/azure-storage/azurite:3.37.0
# NODE_MODULES: an Azurite install other than ./node_modules (make setup).
NODE_MODULES=${NODE_MODULES:-node_modules}
[[ -x $NODE_MODULES/.bin/azurite-blob ]] || { echo "standins: $NODE_MODULES/.bin/azurite-blob missing (make setup)" >&2; exit 3; }
node=$(command -v node)
azhash=$( (sha256sum "$node" package-lock.json; echo 1) | sha256sum | cut -c1-16)
if [[ $(label "$AZ_IMAGE") != "$azhash" ]]; then
	base_fs
	az="$work/azurite"
	rm -rf "$az"
	mkdir -p "$az"
	cp -a "$work/basefs/." "$az/"
	cp -L "$node" "$az/usr/local/bin/node"
	mkdir -p "$az/opt/azurite" "$az/data"
	mkdir -p "$az/opt/azurite/node_modules"
	cp -a "$NODE_MODULES/." "$az/opt/azurite/node_modules/"
	for b in azurite azurite-blob azurite-queue azurite-table; do
		ln -sf "/opt/azurite/node_modules/.bin/$b" "$az/usr/local/bin/$b"
	done
	import_dir "$az" "$AZ_IMAGE" "$azhash" --change 'WORKDIR /opt/azurite' --change 'EXPOSE 10000 10001 10002' \
		--change 'CMD ["azurite", "-l", "/data", "--blobHost", "0.0.0.0", "--queueHost", "0.0.0.0", "--tableHost", "0.0.0.0"]'
	rm -rf "$az"
fi
rm -rf "$work/basefs"
log "ready: $BASE $GO_IMAGE $DISTROLESS $FB_IMAGE $AZ_IMAGE"
