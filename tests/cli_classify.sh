#!/bin/bash
# cli_classify.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet classify train|predict` on real
# photos (face_recognition's knn_examples) with the default model: every enrolled person is
# named in test/, faces of people not enrolled are `unknown`; plus --draw, a classifier from
# another model (refused), corrupt classifiers and images, folders without faces, and atomic
# classifier writes.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
KNN=$SHARED/data/faces/face_recognition/examples/knn_examples
. "$SRC/tests/lib_cli.sh"

need_default_models
[ -d "$KNN/train" ] || { echo "FAIL $KNN is missing"; exit 1; }

"$FN" classify --help > "$T/help" 2>&1
expect "classify --help exits 0 and documents --unknown-threshold" "[ $? -eq 0 ] && grep -q -- '--unknown-threshold' '$T/help'"

# --- train on 5 people (9 photos) ----------------------------------------------------------
"$FN" classify train "${M[@]}" "$KNN/train" "$T/people.cls" > "$T/train.out" 2> "$T/train.err"
rc=$?
cat "$T/train.out"
expect "train exits 0" "[ $rc -eq 0 ]"
expect "train reports 5 classes and 9 images" "grep -q 'Number of classes: 5' '$T/train.out' && grep -q 'Number of images: 9' '$T/train.out'"
expect "train writes the classifier, no temp file left" "[ -s '$T/people.cls' ] && [ -z \"\$(ls '$T' | grep tmp)\" ]"

# --- predict on test/ ------------------------------------------------------------------------
"$FN" classify predict "${M[@]}" --draw "$T/pred.png" "$T/people.cls" "$KNN"/test/*.jpg > "$T/pred.out" 2> "$T/pred.err"
rc=$?
cat "$T/pred.out"; cat "$T/pred.err"
expect "predict exits 0" "[ $rc -eq 0 ]"
# the names given to the faces of one photo, sorted, '|'-separated
names_of() {
    grep -F "/$1: face " "$T/pred.out" | sed -e 's/^.*\]: //' -e 's/ (nearest.*$//' -e 's/ [0-9.]*$//' | sort | paste -sd'|'
}
known_of() { names_of "$1" | tr '|' '\n' | grep -v '^unknown$' | paste -sd'|'; }
unknown_count() { names_of "$1" | tr '|' '\n' | grep -c '^unknown$'; }
expect "alex_lacamoire1.jpg: alex lacamoire" "[ \"\$(names_of alex_lacamoire1.jpg)\" = 'alex lacamoire' ]"
expect "johnsnow_test1.jpg: kit harington" "[ \"\$(names_of johnsnow_test1.jpg)\" = 'kit harington' ]"
expect "kit_with_rose.jpg: kit harington and rose leslie" "[ \"\$(names_of kit_with_rose.jpg)\" = 'kit harington|rose leslie' ]"
expect "obama1.jpg: obama" "[ \"\$(names_of obama1.jpg)\" = 'obama' ]"
expect "obama_and_biden.jpg: both biden and obama named" "[ \"\$(known_of obama_and_biden.jpg)\" = 'biden|obama' ]"
# the girl at the lower right (and any other stranger the detector finds) is not enrolled
expect "obama_and_biden.jpg: the faces of people not enrolled are unknown" "[ \$(unknown_count obama_and_biden.jpg) -ge 1 ]"
expect "--draw with 5 photos writes pred_0.png .. pred_4.png (PNG)" \
    "for i in 0 1 2 3 4; do head -c 8 '$T'/pred_\$i.png | grep -q PNG || exit 1; done"

# without rejection every face gets an enrolled name
"$FN" classify predict "${M[@]}" --unknown-threshold 0 "$T/people.cls" "$KNN/test/obama_and_biden.jpg" > "$T/nothr.out" 2>&1
expect "--unknown-threshold 0 disables rejection" "[ $? -eq 0 ] && grep -q 'face 0' '$T/nothr.out' && ! grep -q 'unknown' '$T/nothr.out'"

# --- errors ----------------------------------------------------------------------------------
# a model with other weights (one byte of the last tensor changed) has another id
cp "$MODEL" "$T/other.safetensors"
size=$(stat -c %s "$T/other.safetensors")
last=$(tail -c 1 "$T/other.safetensors" | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(( (last + 1) % 256 )))" | dd of="$T/other.safetensors" bs=1 seek=$((size - 1)) conv=notrunc status=none
"$FN" classify predict --model "$T/other.safetensors" --mtcnn "$MTCNN" "$T/people.cls" "$KNN/test/obama1.jpg" > "$T/mm.out" 2> "$T/mm.err"
rc=$?
cat "$T/mm.err"
expect "a classifier from another model is refused (exit 1, 'model mismatch', nothing on stdout)" \
    "[ $rc -eq 1 ] && grep -q 'model mismatch' '$T/mm.err' && [ ! -s '$T/mm.out' ]"

head -c 200 "$T/people.cls" > "$T/trunc.cls"
"$FN" classify predict "${M[@]}" "$T/trunc.cls" "$KNN/test/obama1.jpg" > /dev/null 2> "$T/trunc.err"
rc=$?
expect "a truncated classifier: exit 1, one clear line ($(cat "$T/trunc.err"))" "[ $rc -eq 1 ] && [ \$(wc -l < '$T/trunc.err') -eq 1 ] && grep -q 'trunc.cls' '$T/trunc.err'"
"$FN" classify predict "${M[@]}" "$MODEL" "$KNN/test/obama1.jpg" > /dev/null 2> "$T/notcls.err"
rc=$?
expect "a file that is not a classifier: exit 1 ($(cat "$T/notcls.err"))" "[ $rc -eq 1 ] && grep -q 'not a facenet classifier' '$T/notcls.err'"

printf 'not a jpeg at all' > "$T/broken.jpg"
"$FN" classify predict "${M[@]}" "$T/people.cls" "$T/broken.jpg" "$KNN/test/alex_lacamoire1.jpg" > "$T/bad.out" 2> "$T/bad.err"
rc=$?
expect "a corrupt photo: exit 1, named on stderr, the other photo still classified" \
    "[ $rc -eq 1 ] && grep -q 'broken.jpg' '$T/bad.err' && grep -q 'alex lacamoire' '$T/bad.out'"

mkdir -p "$T/empty"
"$FN" classify train "${M[@]}" "$T/empty" "$T/e.cls" > /dev/null 2> "$T/empty.err"
rc=$?
expect "train on an empty folder: exit 1 ($(cat "$T/empty.err"))" "[ $rc -eq 1 ] && [ ! -e '$T/e.cls' ]"

# two people whose photos hold no face (flat grey images) and a corrupt file
mkdir -p "$T/noface/a" "$T/noface/b"
{ printf 'P5\n64 64\n255\n'; head -c 4096 /dev/zero | tr '\0' '\200'; } > "$T/noface/a/grey.pgm"
cp "$T/noface/a/grey.pgm" "$T/noface/b/grey.pgm"
cp "$T/broken.jpg" "$T/noface/b/broken.jpg"
"$FN" classify train "${M[@]}" "$T/noface" "$T/n.cls" > /dev/null 2> "$T/noface.err"
rc=$?
cat "$T/noface.err"
expect "train on folders without faces: exit 1, each photo reported, no classifier written" \
    "[ $rc -eq 1 ] && grep -q 'no face in .*grey.pgm' '$T/noface.err' && grep -q 'broken.jpg' '$T/noface.err' && [ ! -e '$T/n.cls' ]"

"$FN" classify train "${M[@]}" "$KNN/train" "$T/no/such/dir/p.cls" > /dev/null 2> "$T/dir.err"
rc=$?
expect "train into a missing folder: exit 1 ($(cat "$T/dir.err"))" "[ $rc -eq 1 ] && [ ! -e '$T/no' ]"

"$FN" classify frobnicate > /dev/null 2>&1
expect "an unknown mode exits 1" "[ $? -eq 1 ]"

finish cli_classify
