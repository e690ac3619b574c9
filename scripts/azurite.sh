#!/usr/bin/env bash
# Start the Azurite blob emulator (installed by `make setup`) in the foreground.
#   scripts/azurite.sh [PORT] [DATA_DIR]
# Account devstoreaccount1 with the well-known development key; path-style
# URL http://127.0.0.1:PORT/devstoreaccount1. --skipApiVersionCheck is needed
# because azblob sends a newer API version than Azurite 3.37 knows.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-10000}"
dir="${2:-.demo/azurite}"
bin=node_modules/.bin/azurite-blob
if [[ ! -x "$bin" ]]; then
	echo "$bin is missing: run make setup" >&2
	exit 1
fi
mkdir -p "$dir"
exec "$bin" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir" \
	--skipApiVersionCheck --loose --disableProductStyleUrl
