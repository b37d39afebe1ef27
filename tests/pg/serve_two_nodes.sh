#!/bin/bash
# serve_two_nodes.sh BUILD_DIR SHARED_DIR SOURCE_DIR — two `facenet serve` nodes on one real
# PostgreSQL (run under tests/pg/with_cluster.sh), the way a load balancer would use them:
# enrol on A, recognised on B within one second; delete on B, gone on A within one second;
# every facenet connection killed (pg_terminate_backend), then the server itself crashed and
# restarted in the middle of a stream of adds to both nodes: both recover, every add that
# was acknowledged (201) is stored and known to both nodes' in-memory search, and they agree.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
F=$SHARED/data/faces/face_recognition/examples
PY=/usr/bin/python3
. "$SRC/tests/lib_cli.sh"
need_default_models
[ -n "${FN_TEST_PG_URI:-}" ] || { echo "FAIL run under tests/pg/with_cluster.sh"; exit 1; }
PG=$FN_TEST_PG_URI
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT

KEY=$("$FN" serve --new-key --keys "$T/keys.txt")
start_node() { # NAME -> sets URL_NAME
    "$FN" serve --keys "$T/keys.txt" --gallery "$PG" --host 127.0.0.1 --port 0 --workers 1 "${M[@]}" \
        > "$T/$1.out" 2> "$T/$1.err" &
    PIDS+=($!)
    for _ in $(seq 1 300); do grep -q "^facenet serve: http" "$T/$1.out" 2>/dev/null && break; sleep 0.1; done
    local url; url=$(sed -n 's|^facenet serve: \(http://[^/]*\)/$|\1|p' "$T/$1.out")
    [ -n "$url" ] || { echo "FAIL node $1 did not start"; cat "$T/$1.err"; exit 1; }
    eval "URL_$1=$url"
}
start_node A
start_node B
R=/api/v1/recognition
H=(-H "x-api-key: $KEY")
code() { curl -s -o "$T/body" -w '%{http_code}' "${H[@]}" "$@"; }
# the face's embedding, once, for fast recognize calls on either node
code -F "file=@$F/obama.jpg" "$URL_A/api/v1/detection/detect?face_plugins=calculator" > /dev/null
$PY -c "import json; print(json.dumps({'embeddings': [json.load(open('$T/body'))['result'][0]['embedding']]}))" > "$T/emb.json"
# subjects NODE knows in memory for that face (all, nearest first), one per line
known() {
    curl -s "${H[@]}" -H "Content-Type: application/json" --data-binary @"$T/emb.json" \
        "$1$R/embeddings/recognize?prediction_count=64" | \
        $PY -c "import json,sys; [print(s['subject']) for s in json.load(sys.stdin)['result'][0]['similarities']]" 2>/dev/null
}
# one change, then the time until the other node shows it (tests/pg/two_nodes.py)
TN=("$PY" "$SRC/tests/pg/two_nodes.py")
read c dt < <("${TN[@]}" add "$URL_A" "$URL_B" "$KEY" "$T/emb.json" "$F/obama.jpg" Obama)
expect "enrol on A (HTTP $c): B recognises it after $dt s (< 1 s)" "[ '$c' = 201 ] && $PY -c 'import sys; sys.exit(not $dt < 1.0)'"
read c dt < <("${TN[@]}" delete "$URL_B" "$URL_A" "$KEY" "$T/emb.json" Obama)
expect "delete on B (HTTP $c): gone on A after $dt s (< 1 s)" "[ '$c' = 200 ] && $PY -c 'import sys; sys.exit(not $dt < 1.0)'"

# Every connection of both nodes killed from the server side.
$FN_TEST_PG_CTL psql "$FN_TEST_PG_CLUSTER" -At -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name='facenet'" > "$T/term.out" 2>&1
expect "pg_terminate_backend ended the nodes' connections ($(cat "$T/term.out"))" "[ \"\$(cat '$T/term.out')\" -ge 2 ]"
read c dt < <("${TN[@]}" add "$URL_A" "$URL_B" "$KEY" "$T/emb.json" "$F/obama.jpg" after-kill)
expect "connections killed: A still enrols (HTTP $c), B catches up after $dt s (< 1 s)" "[ '$c' = 201 ] && $PY -c 'import sys; sys.exit(not $dt < 1.0)'"

# A stream of adds alternating between the nodes; PostgreSQL crashes after the 4th and comes
# back a second later. Acknowledged adds must all survive; refused ones may be absent.
: > "$T/acked"
for i in $(seq 1 10); do
    node=$URL_A; [ $((i % 2)) = 0 ] && node=$URL_B
    c=$(code -F "file=@$F/obama.jpg" "$node$R/faces?subject=s$i")
    echo "add s$i -> HTTP $c"
    [ "$c" = 201 ] && echo "s$i" >> "$T/acked"
    if [ $i = 4 ]; then
        $FN_TEST_PG_CTL kill "$FN_TEST_PG_CLUSTER"
        (sleep 1; $FN_TEST_PG_CTL restart "$FN_TEST_PG_CLUSTER") &
        RESTARTER=$!
    fi
done
wait $RESTARTER
expect "restart: some adds acknowledged before and after ($(wc -l < "$T/acked") of 10)" "[ \$(wc -l < '$T/acked') -ge 4 ]"
# once more on each node after the restart: both write again
c1=$(code -F "file=@$F/obama.jpg" "$URL_A$R/faces?subject=final-a"); c2=$(code -F "file=@$F/obama.jpg" "$URL_B$R/faces?subject=final-b")
expect "after the restart both nodes enrol (HTTP $c1, $c2)" "[ '$c1' = 201 ] && [ '$c2' = 201 ]"
echo final-a >> "$T/acked"; echo final-b >> "$T/acked"; echo after-kill >> "$T/acked"
sleep 1.5
known "$URL_A" | sort > "$T/mem_a"; known "$URL_B" | sort > "$T/mem_b"
$FN_TEST_PG_CTL psql "$FN_TEST_PG_CLUSTER" -At -c "SELECT s.name FROM subjects s JOIN faces f ON f.subject_id=s.id ORDER BY 1" | sort -u > "$T/db"
sort "$T/acked" > "$T/acked_sorted"
echo "acknowledged: $(tr '\n' ' ' < "$T/acked_sorted")"; echo "node A: $(tr '\n' ' ' < "$T/mem_a")"; echo "node B: $(tr '\n' ' ' < "$T/mem_b")"
expect "every acknowledged add is in the database" "[ -z \"\$(comm -23 '$T/acked_sorted' '$T/db')\" ]"
expect "both nodes converged: the same subjects in memory, equal to the database's" "cmp -s '$T/mem_a' '$T/mem_b' && cmp -s '$T/mem_a' '$T/db'"
for p in "${PIDS[@]}"; do kill -TERM $p; done
for p in "${PIDS[@]}"; do wait $p; done
PIDS=()
finish serve_two_nodes
