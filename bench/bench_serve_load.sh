#!/usr/bin/env bash
# bench_serve_load.sh [SECONDS] — the service's load test at full length (default 60 s):
# 16 concurrent clients mixing recognize (2/5), add (2/5) and delete (1/5) against
# `facenet serve --workers 2` on loopback, LFW photos; throughput, p50/p99 per kind, RSS
# over the run, and the checks of tests/serve/serve_load.sh (no 5xx, no lost or phantom
# examples, RSS flat). Not a timed test: run it by hand after scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at start"
FN_LOAD_SECONDS="${1:-60}" bash tests/serve/serve_load.sh build ../shared .
