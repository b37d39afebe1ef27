#!/bin/bash
# cli_align.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet align` on a small dataset made of
# ORL PGMs, face photos, a corrupt file and an empty folder: crops and bounding_boxes.txt
# in facenet's format, failures listed but not fatal, a second run skips everything,
# --detect-multiple-faces, chip5, and two processes at once aligning each image once.
set -u
BUILD=$1 SHARED=$2
FACENET=$BUILD/facenet
MTCNN=$SHARED/models/mtcnn
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cli_align.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
check() { # check "what" condition...
    local what=$1; shift
    if "$@"; then echo "  ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
png_size() { # prints "W H" of a PNG from its IHDR
    local b; b=($(od -An -tu1 -j16 -N8 "$1"))
    echo $(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] )) $(( (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7] ))
}

DS=$TMP/ds
mkdir -p "$DS/orl_s1" "$DS/photos" "$DS/empty"
cp "$SHARED"/data/orl/s1/{1,2,3}.pgm "$DS/orl_s1/"
cp "$SHARED/data/faces/facenet/Anthony_Hopkins_0001.jpg" "$SHARED/data/faces/facenet-pytorch/multiface.jpg" "$DS/photos/"
head -c 3000 /dev/zero | tr '\0' 'x' > "$DS/photos/corrupt.jpg"

echo "first run"
"$FACENET" align "$DS" "$TMP/out" --mtcnn "$MTCNN" --json > "$TMP/run1.json" 2> "$TMP/run1.err"
rc=$?
cat "$TMP/run1.json"
check "exit status 0 despite a corrupt image (got $rc)" test $rc -eq 0
check "summary counts" grep -q '"total":6,"aligned":5,"crops":5,"skipped":0' "$TMP/run1.json"
check "the corrupt file is listed as failed" grep -q 'corrupt.jpg' "$TMP/run1.json"
check "stderr names it" grep -q 'unable to align ".*corrupt.jpg"' "$TMP/run1.err"
for f in orl_s1/1 orl_s1/2 orl_s1/3 photos/Anthony_Hopkins_0001 photos/multiface; do
    check "$f.png is 182x182" test "$(png_size "$TMP/out/$f.png" 2>/dev/null)" = "182 182"
done
check "no folder for the empty person... or an empty one" test -z "$(ls -A "$TMP/out/empty" 2>/dev/null)"
BB=$TMP/out/bounding_boxes.txt
check "bounding_boxes.txt: 5 crops with 4 integers" test "$(grep -cE '\.png -?[0-9]+ -?[0-9]+ [0-9]+ [0-9]+$' "$BB")" -eq 5
check "bounding_boxes.txt: the failure as a bare path" grep -qx "$TMP/out/photos/corrupt.png" "$BB"
# facenet's margin box of the LFW photo: the face is well inside, so x2-x1 = box width + 44
read -r _ x1 y1 x2 y2 < <(grep Anthony "$BB")
check "Anthony_Hopkins box $x1 $y1 $x2 $y2 is plausible" test "$x1" -gt 30 -a "$x1" -lt 80 -a "$x2" -gt 170 -a "$x2" -lt 220
check "no lock files left" test -z "$(find "$TMP/out" -name '*.lock')"

echo "second run (resume)"
"$FACENET" align "$DS" "$TMP/out" --mtcnn "$MTCNN" --json > "$TMP/run2.json" 2>/dev/null
cat "$TMP/run2.json"
check "second run skips everything" grep -q '"total":6,"aligned":0,"crops":0,"skipped":6,"busy":0,"failed":\[\]' "$TMP/run2.json"
check "bounding_boxes.txt unchanged" test "$(wc -l < "$BB")" -eq 6

echo "--detect-multiple-faces, --image-size 160 --margin 32"
mkdir -p "$TMP/ds2/group"
cp "$SHARED/data/faces/facenet-pytorch/multiface.jpg" "$TMP/ds2/group/"
"$FACENET" align "$TMP/ds2" "$TMP/out2" --mtcnn "$MTCNN" --detect-multiple-faces --image-size 160 --margin 32 > /dev/null 2>&1
check "six faces: multiface_0..5.png" test "$(ls "$TMP/out2/group" | grep -c '^multiface_[0-5]\.png$')" -eq 6
check "multiface_5.png is 160x160" test "$(png_size "$TMP/out2/group/multiface_5.png" 2>/dev/null)" = "160 160"

echo "--align-method chip5"
"$FACENET" align "$TMP/ds2" "$TMP/out3" --mtcnn "$MTCNN" --align-method chip5 --image-size 150 > /dev/null 2>&1
check "chip5 crop is 150x150" test "$(png_size "$TMP/out3/group/multiface.png" 2>/dev/null)" = "150 150"

echo "two processes at once"
"$FACENET" align "$DS" "$TMP/out4" --mtcnn "$MTCNN" > "$TMP/p1.txt" 2>&1 &
"$FACENET" align "$DS" "$TMP/out4" --mtcnn "$MTCNN" --random-order > "$TMP/p2.txt" 2>&1 &
wait
check "each image aligned exactly once" test "$(grep -c '\.png ' "$TMP/out4/bounding_boxes.txt")" -eq 5
check "all five crops exist" test "$(find "$TMP/out4" -name '*.png' | wc -l)" -eq 5

echo "errors"
"$FACENET" align "$TMP/nonexistent" "$TMP/out5" --mtcnn "$MTCNN" > /dev/null 2>&1
check "missing input folder -> non-zero exit" test $? -ne 0
"$FACENET" align "$DS" "$TMP/out5" --mtcnn "$MTCNN" --align-method bogus > /dev/null 2>&1
check "bad --align-method -> non-zero exit" test $? -ne 0
"$FACENET" align "$DS" "$TMP/out5" --mtcnn "$TMP/nonexistent" > /dev/null 2>&1
check "missing weights -> non-zero exit" test $? -ne 0

if [ $fails -ne 0 ]; then echo "cli_align: $fails checks failed"; exit 1; fi
echo "cli_align: all checks passed"
