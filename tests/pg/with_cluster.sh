#!/bin/bash
# with_cluster.sh PROGRAM [ARGS...] — run PROGRAM with a throwaway PostgreSQL cluster:
# FN_TEST_PG_URI holds its libpq URI (FN_TEST_GALLERY_URI too: tests/test_gallery.c then
# runs against it) and FN_TEST_PG_CLUSTER its folder (for `$FN_TEST_PG_CTL kill|restart
# $FN_TEST_PG_CLUSTER` from inside the test). The cluster is stopped and removed
# when PROGRAM ends, whether it passed, failed or crashed; PROGRAM's exit status is ours.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/fnpg.XXXXXX)
cleanup() { bash "$HERE/pg_cluster.sh" kill "$D" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# Server options: FN_PG_OPTS, else fsync off — the tests kill servers, not machines (a
# crashed PostgreSQL still recovers from its WAL in the OS cache), and it keeps the 2-core CI
# fast. Benchmarks pass FN_PG_OPTS="" for the durable defaults.
FN_TEST_PG_URI=$(bash "$HERE/pg_cluster.sh" start "$D" ${FN_PG_OPTS--c fsync=off}) || { echo "FAIL cannot start PostgreSQL"; exit 1; }
export FN_TEST_PG_URI FN_TEST_GALLERY_URI=$FN_TEST_PG_URI FN_TEST_PG_CLUSTER=$D
export FN_TEST_PG_CTL="bash $HERE/pg_cluster.sh"
"$@"
