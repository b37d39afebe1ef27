#!/usr/bin/env bash
# install.sh — the Node packages the service's tests use (CompreFace's JavaScript SDK,
# puppeteer-core for Debian's chromium) into tests/node/node_modules, exactly as
# package-lock.json pins them. Idempotent, and safe when several tests call it at once.
set -euo pipefail
cd "$(dirname "$0")"
exec 9>"${TMPDIR:-/tmp}/facenet-node-install.lock"
flock 9
stamp=node_modules/.facenet-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" >"$stamp"
