#!/bin/bash
# cli_detect_landmarks68.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet detect --landmarks 68`:
# 68 points per face in JSON and text, drawn with --draw, equal to the 5-point run's boxes;
# one clear line and exit 1 for bad options and models. (The points themselves are checked
# against face-api in tests/test_landmark68.c and against the Python package in
# python/tests/test_landmarks.py.)
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
P=$SHARED/data/faces/face_recognition/examples/two_people.jpg
. "$SRC/tests/lib_cli.sh"
need_default_models
LM=$SRC/models/landmark68.safetensors
[ -f "$LM" ] || { echo "FAIL $LM is missing: run scripts/get-models.sh"; exit 1; }

"$FN" detect --mtcnn "$MTCNN" --landmarks 68 --landmark-model "$LM" --json --draw "$T/d.png" "$P" >"$T/68.json"
expect "exit 0 with --landmarks 68" "[ $? -eq 0 ]"
"$FN" detect --mtcnn "$MTCNN" --json "$P" >"$T/5.json"
/usr/bin/python3 - "$T/68.json" "$T/5.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["images"][0]["faces"] for p in sys.argv[1:3])
assert len(a) == len(b) == 2
for f, g in zip(a, b):
    assert f["box"] == g["box"] and f["landmarks"] == g["landmarks"] and "landmarks68" not in g
    pts = f["landmarks68"]
    assert len(pts) == 68 and all(len(p) == 2 for p in pts)
    x1, y1, x2, y2 = f["box"]
    w = x2 - x1
    assert all(x1 - 0.2 * w < x < x2 + 0.2 * w and y1 - 0.2 * w < y < y2 + 0.2 * w for x, y in pts), pts
PY
expect "JSON: 68 points per face near its box, the same boxes as without" "[ $? -eq 0 ]"
expect "--draw wrote a PNG" "[ -s '$T/d.png' ] && [ \"\$(head -c 4 '$T/d.png' | tail -c 3)\" = PNG ]"
"$FN" detect --mtcnn "$MTCNN" --landmarks 68 --landmark-model "$LM" "$P" >"$T/68.txt"
expect "text: a 68-point line per face" "[ \$(grep -c '68 points:' '$T/68.txt') -eq 2 ]"

err_line() { # name args... : exit 1 and exactly one stderr line
    "$FN" detect --mtcnn "$MTCNN" "${@:2}" >/dev/null 2>"$T/err"; local rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "$1: $(cat "$T/err")"; else fail "$1 (rc $rc): $(cat "$T/err")"; fi
}
err_line "--landmarks 7" --landmarks 7 "$P"
err_line "--landmark-model without 68" --landmark-model "$LM" "$P"
err_line "not a landmark model" --landmarks 68 --landmark-model "$SRC/models/dlib_resnet.safetensors" "$P"
err_line "missing landmark model" --landmarks 68 --landmark-model "$T/nope.safetensors" "$P"
finish cli_detect_landmarks68
