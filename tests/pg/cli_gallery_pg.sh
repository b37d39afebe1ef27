#!/bin/bash
# cli_gallery_pg.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet gallery` on a real PostgreSQL
# (run under tests/pg/with_cluster.sh: $FN_TEST_PG_URI) with real photos (face_recognition's
# knn_examples) and the default model: enrol train/ into PostgreSQL, identify test/ from
# it; `gallery migrate` PostgreSQL -> SQLite -> a second PostgreSQL schema with the same
# counts and checksums, identical identify output from every copy; a non-empty destination,
# a missing source and a server that is not there give clear errors.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
KNN=$SHARED/data/faces/face_recognition/examples/knn_examples
PY=/usr/bin/python3
. "$SRC/tests/lib_cli.sh"
need_default_models
[ -n "${FN_TEST_PG_URI:-}" ] || { echo "FAIL run under tests/pg/with_cluster.sh"; exit 1; }
PG=$FN_TEST_PG_URI
PG2="$PG&options=-csearch_path%3Dsecond"

"$FN" gallery enroll "$PG" "${M[@]}" --largest-face "$KNN/train" > "$T/enroll.out" 2>&1
rc=$?
tail -1 "$T/enroll.out"
expect "enroll train/ into PostgreSQL: exit 0, 9 faces" "[ $rc -eq 0 ] && grep -q 'enrolled 9 face(s)' '$T/enroll.out'"
"$FN" gallery info "$PG" --json > "$T/info.json"
expect "info: backend postgresql, 9 faces, 5 subjects" "$PY -c 'import json,sys; d=json.load(open(\"$T/info.json\")); sys.exit(not (d[\"backend\"]==\"postgresql\" and d[\"faces\"]==9 and d[\"subjects\"]==5))'"
"$FN" gallery identify "$PG" "${M[@]}" "$KNN"/test/*.jpg > "$T/id_pg.out" 2> "$T/id_pg.err"
rc=$?
cat "$T/id_pg.out"
expect "identify from PostgreSQL names the known people" "[ $rc -eq 0 ] && grep -q 'obama' '$T/id_pg.out' && grep -q 'biden' '$T/id_pg.out' && grep -q 'unknown' '$T/id_pg.out'"

"$FN" gallery migrate "$PG" "$T/copy.db" > "$T/m1.out" 2> "$T/m1.err"
rc=$?
cat "$T/m1.out" "$T/m1.err"
expect "migrate PostgreSQL -> SQLite: exit 0, 9 faces verified" "[ $rc -eq 0 ] && grep -q 'migrated 1 collections: 5 subjects, 9 faces' '$T/m1.out' && grep -q 'checksums verified' '$T/m1.out'"
"$FN" gallery migrate "$T/copy.db" "$PG2" --json > "$T/m2.json" 2> "$T/m2.err"
rc=$?
cat "$T/m2.json" "$T/m2.err"
sum1=$(sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p' "$T/m1.out")
expect "migrate SQLite -> PostgreSQL (another schema) --json: the same checksum" "[ $rc -eq 0 ] && [ -n '$sum1' ] && grep -q '\"checksum\":\"$sum1\"' '$T/m2.json' && grep -q '\"verified\":true' '$T/m2.json'"
"$FN" gallery identify "$T/copy.db" "${M[@]}" "$KNN"/test/*.jpg > "$T/id_sq.out" 2>/dev/null
"$FN" gallery identify "$PG2" "${M[@]}" "$KNN"/test/*.jpg > "$T/id_pg2.out" 2>/dev/null
expect "identify gives the same answers from all three copies" "cmp -s '$T/id_pg.out' '$T/id_sq.out' && cmp -s '$T/id_pg.out' '$T/id_pg2.out'"

"$FN" gallery migrate "$T/copy.db" "$PG" > /dev/null 2> "$T/e1"
expect "migrate into a non-empty destination: exit 1, says so" "[ $? -eq 1 ] && grep -q 'already holds' '$T/e1'"
"$FN" gallery migrate "$T/none.db" "$T/x.db" > /dev/null 2> "$T/e2"
expect "migrate from a missing gallery: exit 1" "[ $? -eq 1 ] && [ -s '$T/e2' ]"
"$FN" gallery info "postgresql://nobody@/nodb?host=$T/nosocket" > /dev/null 2> "$T/e3"
rc=$?
cat "$T/e3"
expect "a server that is not there: exit 1, cannot connect" "[ $rc -eq 1 ] && grep -q 'cannot connect' '$T/e3'"
"$FN" gallery migrate "$PG" > /dev/null 2> "$T/e4"
expect "migrate without DST: exit 1 with usage" "[ $? -eq 1 ] && grep -q 'usage' '$T/e4'"
finish cli_gallery_pg
