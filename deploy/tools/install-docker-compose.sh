#!/usr/bin/env bash
# Install docker-compose (the Debian package) when it is missing, so that
# `make check-compose` can validate the Compose files. Idempotent: does
# nothing when docker-compose is already on PATH. Only `docker-compose config`
# runs in the tests; no Docker engine is needed.
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1; then
	exit 0
fi
if [[ "$(id -u)" -ne 0 ]]; then
	echo "docker-compose is missing and this is not root: run 'sudo apt-get install -y docker-compose'" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "docker-compose is missing and apt-get is not available: install docker-compose by hand" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing docker-compose (Debian package)"
# Try the current package lists first; refresh them only if that fails.
if ! apt-get install -y -qq docker-compose >/dev/null 2>&1; then
	apt-get update -qq
	apt-get install -y -qq docker-compose >/dev/null
fi
docker-compose version
