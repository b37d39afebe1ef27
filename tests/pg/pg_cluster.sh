#!/bin/bash
# pg_cluster.sh — a throwaway PostgreSQL cluster from Debian's `postgresql` package, for
# the tests and benchmarks of the PostgreSQL gallery (issue 15). Nothing here is faked: it
# is the server users run, on a private Unix socket (no TCP port is opened).
#
#   pg_cluster.sh start DIR [postgres -c options...]  initdb DIR/data, start it with its socket
#                                          in DIR/sock, create database "facenet"; prints the
#                                          libpq URI (also written to DIR/uri)
#   pg_cluster.sh stop DIR                 fast shutdown (nothing if not running)
#   pg_cluster.sh kill DIR                 immediate shutdown (a crash: recovery on next start)
#   pg_cluster.sh restart DIR              start again what stop/kill stopped
#   pg_cluster.sh psql DIR [psql args...]  run psql against it
#
# As root (CI), the server runs as the `postgres` user that the package creates (PostgreSQL
# refuses to run as root), so DIR is handed to that user. As another user it runs as you.
# Callers stop the cluster at exit AND on failure (see with_cluster.sh / lib_pg.sh).
set -euo pipefail

PGBIN=${PGBIN:-}
if [ -z "$PGBIN" ]; then
    for v in 17 16 15 14 13; do
        [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] && { PGBIN=/usr/lib/postgresql/$v/bin; break; }
    done
fi
[ -n "$PGBIN" ] && [ -x "$PGBIN/pg_ctl" ] || {
    echo "pg_cluster: no PostgreSQL server binaries (install Debian's postgresql: scripts/deps.sh)" >&2; exit 1; }

cmd=${1:?usage: pg_cluster.sh start|stop|kill|restart|psql DIR}
DIR=${2:?usage: pg_cluster.sh $cmd DIR}
shift 2

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
owner_name() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

case "$cmd" in
start)
    mkdir -p "$DIR/sock"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "pg_cluster: running as root needs the postgres user (Debian's postgresql package)" >&2; exit 1; }
        chown postgres: "$DIR" "$DIR/sock"
        # The server must reach DIR: every parent needs search permission for postgres.
        chmod 755 "$DIR"
    fi
    as_owner "$PGBIN/initdb" -D "$DIR/data" -N -A trust -U "$(owner_name)" -E UTF8 --locale=C.UTF-8 \
        > "$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
    # Options given at start are kept for restarts.
    opts="-k $DIR/sock -c listen_addresses='' -c max_connections=100"
    for o in "$@"; do opts="$opts $o"; done
    echo "$opts" > "$DIR/opts"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR/opts"
    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -o "$opts" -w -t 60 start >/dev/null \
        || { cat "$DIR/data/server.log" >&2; exit 1; }
    as_owner "$PGBIN/createdb" -h "$DIR/sock" -U "$(owner_name)" facenet
    uri="postgresql://$(owner_name)@/facenet?host=$DIR/sock"
    echo "$uri" > "$DIR/uri"
    echo "$uri"
    ;;
restart)
    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -o "$(cat "$DIR/opts")" -w -t 60 start >/dev/null \
        || { tail -30 "$DIR/data/server.log" >&2; exit 1; }
    ;;
stop|kill)
    mode=fast; [ "$cmd" = kill ] && mode=immediate
    [ -f "$DIR/data/postmaster.pid" ] || exit 0
    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
    ;;
psql)
    as_owner "$PGBIN/psql" -X -q -h "$DIR/sock" -U "$(owner_name)" -d facenet "$@"
    ;;
*) echo "pg_cluster: unknown command $cmd" >&2; exit 2 ;;
esac
