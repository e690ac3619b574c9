# nsgflow images. Targets:
#   fluent-bit (default)  Fluent Bit with the nsgflow output (out_nsgflow.so, name
#                         "nsgflow") and blob input (in_nsgflow.so, name
#                         "nsgflow_blob") plugins and a config driven by
#                         environment variables (deploy/docker/fluent-bit.yaml).
#   cli                   bin/nsgflow alone: `nsgflow run`, `nsgflow emulator`,
#                         `nsgflow gen`, `nsgflow dcr`.
#   build                 the Go toolchain stage (plugins and CLI in /out).
#
#   docker build -t nsgflow/fluent-bit .
#   docker build --target cli -t nsgflow/cli .
#
# The plugins are c-shared Go libraries loaded by Fluent Bit: they must be
# built against a glibc no newer than the runtime's. fluent/fluent-bit 3.2
# through 4.2.0 images are distroless Debian 12 (glibc 2.36), so the builder
# is Debian 12 too, on the same architecture (no cross-compiling: build each
# platform natively, e.g. docker buildx with QEMU). Fluent Bit 4.2.1 and later
# images are Debian 13 (glibc 2.41): a Debian 12 builder still works for them
# (older glibc), and golang:*-trixie would be needed only for newer symbols.
#
# BuildKit is needed (RUN --mount caches): docker build with buildx, or
# DOCKER_BUILDKIT=1; docker-compose v1 also needs COMPOSE_DOCKER_CLI_BUILD=1.
# No "# syntax=" line: BuildKit's built-in frontend covers this file, and a
# syntax line would make every build fetch a frontend image from a registry.
#
# No secret is baked in: credentials come from the environment, mounted files
# or Azure workload/managed identity at run time.

ARG GO_VERSION=1.26
ARG FLUENT_BIT_VERSION=4.2.0
ARG DISTROLESS_CLI=gcr.io/distroless/base-debian12:nonroot

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS="-trimpath -buildvcs=false"
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -eux; \
    mkdir -p /out/state; \
    go build -buildmode=c-shared -ldflags='-s -w' -o /out/out_nsgflow.so ./plugin/output; \
    go build -buildmode=c-shared -ldflags='-s -w' -o /out/in_nsgflow.so ./plugin/input; \
    go build -ldflags='-s -w' -o /out/nsgflow ./cmd/nsgflow; \
    rm -f /out/*.h; \
    /out/nsgflow dcr >/dev/null  # smoke test: the CLI runs on this glibc

# ---------------------------------------------------------------------------
FROM ${DISTROLESS_CLI} AS cli
COPY --from=build /out/nsgflow /usr/local/bin/nsgflow
# /var/lib/nsgflow: checkpoints and emulator output; writable by nonroot.
COPY --from=build --chown=65532:65532 /out/state /var/lib/nsgflow
USER 65532:65532
WORKDIR /var/lib/nsgflow
ENTRYPOINT ["/usr/local/bin/nsgflow"]
CMD ["help"]

# ---------------------------------------------------------------------------
FROM fluent/fluent-bit:${FLUENT_BIT_VERSION} AS fluent-bit
COPY --from=build /out/out_nsgflow.so /out/in_nsgflow.so /fluent-bit/plugins/
COPY deploy/docker/fluent-bit.yaml deploy/docker/plugins.conf deploy/docker/fluent-bit.conf /fluent-bit/etc/
# Checkpoints (nsgflow_blob) and Fluent Bit's filesystem buffer live here;
# mount a volume on it so a restart resumes instead of re-reading.
COPY --from=build --chown=65532:65532 /out/state /var/lib/nsgflow
# The distroless base has no shell and no package manager; 65532 is its
# "nonroot" user. The plugins need no privilege: they only make outbound
# HTTPS calls and write under /var/lib/nsgflow.
USER 65532:65532
# Soft limit of each Go runtime (the two plugins have one each), outside
# Fluent Bit's mem_buf_limit: size the container for twice this plus Fluent Bit.
ENV GOMEMLIMIT=256MiB
# Fluent Bit's HTTP server: GET /api/v1/health answers 200 while healthy
# (health_check on). The image has no curl or shell for a Docker HEALTHCHECK:
# probe it from the orchestrator (Kubernetes httpGet, Compose from another
# container, a load balancer).
EXPOSE 2020
ENTRYPOINT ["/fluent-bit/bin/fluent-bit"]
CMD ["-c", "/fluent-bit/etc/fluent-bit.yaml"]
