#!/usr/bin/env bash
# serve_sdk.sh — CompreFace's own JavaScript SDK (npm @exadel/compreface-js-sdk 1.0.0)
# against `facenet serve`: tests/node/sdk_test.mjs adds, recognizes, verifies, detects and
# deletes on the photos in ../shared/data/faces and checks the answers.
set -u
source "$(dirname "$0")/lib_serve.sh"
bash "$SRC/tests/node/install.sh" || { echo "FAIL npm ci in tests/node"; exit 1; }
start_server --workers 2
cd "$SRC/tests/node"
expect "the CompreFace JS SDK's calls get correct answers" 'node sdk_test.mjs "$URL" "$KEY" "$FACES"'
expect "the server survived" '[ "$(http_code $URL/health)" = 200 ]'
stop_server
finish serve_sdk
