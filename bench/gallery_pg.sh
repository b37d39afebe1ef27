#!/bin/bash
# gallery_pg.sh [BUILD_DIR] [bench_gallery_pg options...] — bench_gallery_pg against a
# throwaway PostgreSQL cluster with its durable defaults (fsync on, synchronous_commit on),
# on a Unix socket, stopped afterwards. Not a test.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$HERE/../build}; shift || true
FN_PG_OPTS="" exec bash "$HERE/../tests/pg/with_cluster.sh" "$BUILD/bench_gallery_pg" "$@"
