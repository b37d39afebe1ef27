#!/bin/bash
# cli_compare.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet compare` on real photos with the
# default model: compare.py's distance matrix (symmetric, zero diagonal, same person far
# below different people), --json, --all-faces, photos without a face left out, clear errors.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
F=$SHARED/data/faces
KNN=$F/face_recognition/examples/knn_examples
. "$SRC/tests/lib_cli.sh"

need_default_models
IMGS=("$F/facenet/Anthony_Hopkins_0001.jpg" "$F/facenet/Anthony_Hopkins_0002.jpg" "$KNN/test/alex_lacamoire1.jpg" "$KNN/train/alex_lacamoire/img1.jpg")

"$FN" compare --help > "$T/help" 2>&1
expect "--help exits 0 and documents --all-faces" "[ $? -eq 0 ] && grep -q -- '--all-faces' '$T/help'"

"$FN" compare "${M[@]}" "${IMGS[@]}" > "$T/m.out" 2> "$T/m.err"
rc=$?
cat "$T/m.out"
expect "compare exits 0" "[ $rc -eq 0 ]"
expect "compare.py's layout: Images:, 4 paths, Distance matrix, 4 rows of 4" \
    "grep -q '^Images:' '$T/m.out' && grep -q '^3: .*img1.jpg' '$T/m.out' && grep -q '^Distance matrix' '$T/m.out' && \
     [ \$(grep -cE '^[0-3]  (  [0-9]\.[0-9]{4}  ){4}$' '$T/m.out') -eq 4 ]"
# d[i][j] from the matrix rows
D=$T/d.txt
awk '/^Distance matrix/ { on = 1; getline; next } on && NF == 5 { for (j = 2; j <= 5; j++) print $1, j - 2, $j }' "$T/m.out" > "$D"
d() { awk -v i="$1" -v j="$2" '$1 == i && $2 == j { print $3 }' "$D"; }
expect "zero diagonal and symmetric" \
    "awk '{ v[\$1\",\"\$2] = \$3 } END { for (k in v) { split(k, a, \",\"); if (v[a[2]\",\"a[1]] != v[k] || (a[1] == a[2] && v[k] != 0)) exit 1 } }' '$D'"
expect "same person: Anthony 0-1 ($(d 0 1)) and Alex 2-3 ($(d 2 3)) below 0.38" \
    "awk -v a=$(d 0 1) -v b=$(d 2 3) 'BEGIN { exit !(a < 0.38 && b < 0.38) }'"
expect "different people: Anthony-Alex ($(d 0 2), $(d 1 3)) above 0.45" \
    "awk -v a=$(d 0 2) -v b=$(d 1 3) -v c=$(d 0 3) -v e=$(d 1 2) 'BEGIN { exit !(a > 0.45 && b > 0.45 && c > 0.45 && e > 0.45) }'"

"$FN" compare "${M[@]}" --json "${IMGS[0]}" "${IMGS[1]}" > "$T/j.out"
rc=$?
cat "$T/j.out"
expect "--json: faces with path and box, a 2x2 distances matrix" \
    "[ $rc -eq 0 ] && [ \$(grep -o '\"box\":\[' '$T/j.out' | wc -l) -eq 2 ] && grep -q '\"distances\":\[\[0.000000,[0-9.]*\],\[[0-9.]*,0.000000\]\]' '$T/j.out'"

"$FN" compare "${M[@]}" --all-faces "$KNN/test/kit_with_rose.jpg" "${IMGS[0]}" > "$T/a.out"
rc=$?
expect "--all-faces: both faces of kit_with_rose.jpg and Anthony's, 3 rows" \
    "[ $rc -eq 0 ] && [ \$(grep -c 'kit_with_rose.jpg (face [12] of 2' '$T/a.out') -eq 2 ] && [ \$(grep -cE '^[0-2]  ' '$T/a.out') -eq 3 ]"

{ printf 'P5\n64 64\n255\n'; head -c 4096 /dev/zero | tr '\0' '\200'; } > "$T/grey.pgm"
"$FN" compare "${M[@]}" "${IMGS[0]}" "$T/grey.pgm" "${IMGS[1]}" > "$T/nf.out" 2> "$T/nf.err"
rc=$?
expect "a photo without a face is reported and left out (exit 0, 2x2 matrix)" \
    "[ $rc -eq 0 ] && grep -q 'grey.pgm' '$T/nf.err' && [ \$(grep -cE '^[0-1]  ' '$T/nf.out') -eq 2 ]"
"$FN" compare "${M[@]}" "$T/grey.pgm" > /dev/null 2> "$T/nf2.err"
rc=$?
expect "no face at all: exit 1 ($(tail -1 "$T/nf2.err"))" "[ $rc -eq 1 ]"
printf 'garbage' > "$T/broken.jpg"
"$FN" compare "${M[@]}" "${IMGS[0]}" "$T/broken.jpg" > /dev/null 2> "$T/b.err"
rc=$?
expect "a corrupt photo: exit 1, one line naming it ($(cat "$T/b.err"))" "[ $rc -eq 1 ] && [ \$(wc -l < '$T/b.err') -eq 1 ] && grep -q broken.jpg '$T/b.err'"
"$FN" compare "${M[@]}" > /dev/null 2>&1
expect "no images: exit 1" "[ $? -eq 1 ]"
"$FN" compare "${M[@]}" --margin -3 "${IMGS[0]}" > /dev/null 2>&1
expect "--margin -3: exit 1" "[ $? -eq 1 ]"

finish cli_compare
