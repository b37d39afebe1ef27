#!/usr/bin/env bash
# serve_page.sh — the web page in headless Chromium (Debian's chromium via puppeteer-core):
# tests/node/page_test.mjs enrols two people through the page, recognises a photo of both
# and checks the names shown; screenshots go to BUILD/serve_page_*.png.
set -u
source "$(dirname "$0")/lib_serve.sh"
[ -x /usr/bin/chromium ] || { echo "FAIL /usr/bin/chromium is missing (Debian package chromium; scripts/deps.sh installs it)"; exit 1; }
bash "$SRC/tests/node/install.sh" || { echo "FAIL npm ci in tests/node"; exit 1; }
start_server --workers 2
cd "$SRC/tests/node"
expect "the page works in headless Chromium" 'timeout 240 node page_test.mjs "$URL" "$KEY" "$FACES" "$BUILD"'
expect "screenshots saved" '[ -s "$BUILD/serve_page_enrolled.png" ] && [ -s "$BUILD/serve_page_recognized.png" ]'
stop_server
finish serve_page
