#!/bin/bash
# cli_detect.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet detect`: JSON output (parsed by
# Python's json when available), the text form, --draw for one and several images, the
# MTCNN parameters, and clear non-zero exits on bad input.
set -u
BUILD=$1 SHARED=$2
FACENET=$BUILD/facenet
MTCNN=$SHARED/models/mtcnn
F=$SHARED/data/faces
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cli_detect.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
check() {
    local what=$1; shift
    if "$@"; then echo "  ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

"$FACENET" detect --mtcnn "$MTCNN" --json "$F/facenet-pytorch/multiface.jpg" "$F/facenet/Anthony_Hopkins_0001.jpg" > "$TMP/out.json"
check "exit 0 on two good images" test $? -eq 0
head -c 400 "$TMP/out.json"; echo
{ # python3 (json module) is a test dependency: scripts/deps.sh installs it
    /usr/bin/python3 - "$TMP/out.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
im = d["images"]
assert len(im) == 2, im
assert (im[0]["width"], im[0]["height"], len(im[0]["faces"])) == (1200, 630, 6), im[0]
assert (im[1]["width"], im[1]["height"], len(im[1]["faces"])) == (250, 250, 1), im[1]
for f in im[0]["faces"] + im[1]["faces"]:
    assert len(f["box"]) == 4 and len(f["landmarks"]) == 5 and all(len(p) == 2 for p in f["landmarks"])
    x1, y1, x2, y2 = f["box"]
    assert x2 > x1 and y2 > y1 and 0.7 < f["score"] <= 1
    assert all(x1 - 5 < p[0] < x2 + 5 and y1 - 5 < p[1] < y2 + 5 for p in f["landmarks"]), f
scores = [f["score"] for f in im[0]["faces"]]
assert scores == sorted(scores, reverse=True), scores
print("  json: 2 images, 6 + 1 faces, landmarks inside their boxes, sorted by score")
EOF
    check "JSON structure and content" test $? -eq 0
}

"$FACENET" detect --mtcnn "$MTCNN" "$F/facenet/Anthony_Hopkins_0001.jpg" > "$TMP/out.txt"
cat "$TMP/out.txt"
check "text output" grep -q '250x250, 1 face$' "$TMP/out.txt"

"$FACENET" detect --mtcnn "$MTCNN" --min-size 200 "$F/facenet-pytorch/multiface.jpg" > "$TMP/big.txt"
n=$(grep -c 'face [0-9]' "$TMP/big.txt")
check "--min-size 200 (coarser pyramid) keeps fewer of the ~100 px faces ($n < 6)" test "$n" -lt 6
"$FACENET" detect --mtcnn "$MTCNN" --thresholds 0.6,0.7,0.9995 "$F/facenet-pytorch/multiface.jpg" > "$TMP/thr.txt"
n=$(grep -c 'face [0-9]' "$TMP/thr.txt")
check "a stricter O-Net threshold keeps fewer faces ($n < 6)" test "$n" -lt 6 -a "$n" -ge 1
"$FACENET" detect --mtcnn "$MTCNN" --factor 0.5 "$F/facenet/Anthony_Hopkins_0001.jpg" > "$TMP/factor.txt"
check "--factor 0.5 still finds the face" grep -q '1 face$' "$TMP/factor.txt"

"$FACENET" detect --mtcnn "$MTCNN" --draw "$TMP/one.png" "$F/facenet/Anthony_Hopkins_0001.jpg" > /dev/null
check "--draw one image -> one.png" test -s "$TMP/one.png"
"$FACENET" detect --mtcnn "$MTCNN" --draw "$TMP/many.png" "$F/facenet/Anthony_Hopkins_0001.jpg" "$F/facenet/Anthony_Hopkins_0002.jpg" > /dev/null
check "--draw two images -> many_0.png, many_1.png" test -s "$TMP/many_0.png" -a -s "$TMP/many_1.png"

echo "not an image" > "$TMP/bad.jpg"
"$FACENET" detect --mtcnn "$MTCNN" --json "$TMP/bad.jpg" "$F/facenet/Anthony_Hopkins_0001.jpg" > "$TMP/bad.json" 2> "$TMP/bad.err"
check "a bad image -> exit 1" test $? -eq 1
check "... reported in JSON and the other image still processed" grep -q '"error":.*"faces":\[{' "$TMP/bad.json"
check "... and on stderr" grep -q 'bad.jpg' "$TMP/bad.err"
"$FACENET" detect --mtcnn "$MTCNN" --thresholds 0.6,0.7 "$TMP/bad.jpg" 2> /dev/null
check "bad --thresholds -> non-zero" test $? -ne 0
"$FACENET" detect --mtcnn "$MTCNN" --factor 1.2 "$F/facenet/Anthony_Hopkins_0001.jpg" > /dev/null 2>&1
check "--factor 1.2 -> non-zero" test $? -ne 0
"$FACENET" detect --mtcnn "$TMP/nonexistent" "$F/facenet/Anthony_Hopkins_0001.jpg" 2> "$TMP/w.err"
check "missing weights -> non-zero with a message" test $? -ne 0 -a -s "$TMP/w.err"
"$FACENET" detect --mtcnn "$MTCNN" > /dev/null 2>&1
check "no image -> non-zero" test $? -ne 0
"$FACENET" detect --help > /dev/null
check "--help -> 0" test $? -eq 0

if [ $fails -ne 0 ]; then echo "cli_detect: $fails checks failed"; exit 1; fi
echo "cli_detect: all checks passed"
