#!/bin/bash
# cli_gallery.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet gallery` on real photos
# (face_recognition's knn_examples) with the default model: enrol train/, identify test/ —
# every enrolled person named, strangers `unknown` —; duplicates, several faces, a photo
# without a face; list, rename, remove, info, export / import; and the errors: missing,
# corrupt and truncated galleries, another model, unknown subject, empty gallery.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
KNN=$SHARED/data/faces/face_recognition/examples/knn_examples
PY=/usr/bin/python3
. "$SRC/tests/lib_cli.sh"

need_default_models
[ -d "$KNN/train" ] || { echo "FAIL $KNN is missing"; exit 1; }
DB=$T/people.db

"$FN" gallery --help > "$T/help" 2>&1
expect "gallery --help exits 0 and documents identify --threshold" "[ $? -eq 0 ] && grep -q -- '--threshold' '$T/help'"
"$FN" gallery frobnicate "$DB" > /dev/null 2> "$T/err"
expect "an unknown subcommand exits 1 with a message" "[ $? -eq 1 ] && grep -q 'unknown subcommand' '$T/err'"

# --- enrol train/ (5 people, 9 photos; obama.jpg holds more than one face) -----------------
"$FN" gallery enroll "$DB" "${M[@]}" --json "$KNN/train" > "$T/enroll.json" 2> "$T/enroll.err"
rc=$?
cat "$T/enroll.err"
expect "enroll exits 1 when a photo was not enrolled" "[ $rc -eq 1 ]"
expect "the photo with several faces is reported, not enrolled" "grep -q 'obama.jpg: not enrolled: several faces' '$T/enroll.err'"
expect "the other 8 photos are enrolled" "$PY -c 'import json,sys; d=json.load(open(\"$T/enroll.json\")); sys.exit(not (d[\"enrolled\"]==8 and d[\"failed\"]==1))'"
"$FN" gallery enroll "$DB" "${M[@]}" --largest-face "$KNN/train" > "$T/enroll2.out" 2>&1
rc=$?
tail -1 "$T/enroll2.out"
expect "enrolling again with --largest-face: exit 0, 1 new, 8 already enrolled" "[ $rc -eq 0 ] && grep -q 'enrolled 1 face(s), 8 already enrolled, 0 photo' '$T/enroll2.out'"

# --- identify test/ ----------------------------------------------------------------------------
"$FN" gallery identify "$DB" "${M[@]}" --json --top-k 3 --draw "$T/id.png" "$KNN"/test/*.jpg > "$T/id.json" 2> "$T/id.err"
rc=$?
cat "$T/id.err"
expect "identify exits 0" "[ $rc -eq 0 ]"
cat > "$T/check.py" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
# the people of each test photo (face_recognition's knn example); any other face is a stranger
want = {"alex_lacamoire1.jpg": ["alex_lacamoire"], "johnsnow_test1.jpg": ["kit_harington"],
        "kit_with_rose.jpg": ["kit_harington", "rose_leslie"], "obama1.jpg": ["obama"],
        "obama_and_biden.jpg": ["biden", "obama"]}
bad = 0
for im in d["images"]:
    name = os.path.basename(im["path"])
    known = sorted(f["name"] for f in im["faces"] if f["known"])
    unknown = sum(1 for f in im["faces"] if not f["known"])
    ok = known == sorted(want[name])
    for f in im["faces"]:  # similarity ordered, in [0, 1], and names agree with "known"
        sims = [s["similarity"] for s in f["subjects"]]
        ok &= sims == sorted(sims, reverse=True) and all(0 <= s <= 1 for s in sims)
        ok &= (f["name"] == f["subjects"][0]["subject"]) == f["known"]
        ok &= f["known"] == (sims[0] >= d["threshold"])
    print("%-22s named %s, %d unknown%s" % (name, known, unknown, "" if ok else "   <-- WRONG"))
    bad += not ok
n_unknown = sum(1 for im in d["images"] for f in im["faces"] if not f["known"])
print("faces of strangers (unknown): %d" % n_unknown)
sys.exit(1 if bad or len(d["images"]) != 5 or n_unknown < 1 else 0)
EOF
$PY "$T/check.py" "$T/id.json"
expect "every enrolled person is named, every other face is unknown" "[ $? -eq 0 ]"
expect "--draw writes one PNG per photo" "[ \$(ls '$T'/id_*.png | wc -l) -eq 5 ]"
"$FN" gallery identify "$DB" "${M[@]}" "$KNN/test/obama1.jpg" > "$T/id1.out"
expect "text output names obama with a similarity" "grep -Eq 'obama [01]\.[0-9]+ \(distance' '$T/id1.out'"

# --- list, rename, remove, info ------------------------------------------------------------------
"$FN" gallery list "$DB" > "$T/list.out"
expect "list: 5 subjects with their face counts" "[ \$(wc -l < '$T/list.out') -eq 5 ] && grep -q \$'^obama\t2\$' '$T/list.out'"
"$FN" gallery rename "$DB" obama barack > /dev/null
"$FN" gallery identify "$DB" "${M[@]}" "$KNN/test/obama1.jpg" > "$T/id2.out"
expect "after rename, obama1.jpg is barack" "grep -q ': barack ' '$T/id2.out'"
"$FN" gallery remove "$DB" --subject nobody > /dev/null 2> "$T/err"
expect "removing an unknown subject exits 1 naming it" "[ $? -eq 1 ] && grep -q \"no subject 'nobody'\" '$T/err'"
"$FN" gallery remove "$DB" --subject biden > "$T/rm.out"
expect "remove --subject biden removes 2 faces" "grep -q 'removed biden (2 face' '$T/rm.out'"
"$FN" gallery identify "$DB" "${M[@]}" --json "$KNN/test/obama_and_biden.jpg" > "$T/id3.json"
expect "after removal biden is unknown, barack still named" \
  "$PY -c 'import json,sys; f=json.load(open(\"$T/id3.json\"))[\"images\"][0][\"faces\"]; n=[x[\"name\"] for x in f if x[\"known\"]]; sys.exit(n!=[\"barack\"])'"
fid=$("$FN" gallery list "$DB" --subject rose_leslie | head -1 | cut -f1)
"$FN" gallery remove "$DB" --face "$fid" > /dev/null
expect "remove --face leaves rose_leslie one face" "[ \$('$FN' gallery list '$DB' --subject rose_leslie | wc -l) -eq 1 ]"
"$FN" gallery info "$DB" --json > "$T/info.json"
expect "info: 4 subjects, 6 faces, 128-d, sqlite" \
  "$PY -c 'import json,sys; d=json.load(open(\"$T/info.json\")); sys.exit(not (d[\"subjects\"]==4 and d[\"faces\"]==6 and d[\"dim\"]==128 and d[\"backend\"]==\"sqlite\"))'"

# --- export / import -----------------------------------------------------------------------------
"$FN" gallery export "$DB" "$T/exp" > /dev/null
expect "export writes facenet's three .npy files" "[ -s '$T/exp/embeddings.npy' ] && [ -s '$T/exp/labels.npy' ] && [ -s '$T/exp/label_strings.npy' ]"
$PY -c "import numpy as np,sys; e=np.load('$T/exp/embeddings.npy'); l=np.load('$T/exp/labels.npy'); s=np.load('$T/exp/label_strings.npy'); sys.exit(not (e.shape==(6,128) and len(l)==6 and sorted(set(s))==['alex_lacamoire','barack','kit_harington','rose_leslie'] and abs(np.linalg.norm(e,axis=1)-1).max()<1e-4))"
expect "numpy reads the export: 6 x 128 unit rows, 4 names" "[ $? -eq 0 ]"
"$FN" gallery import "$T/copy.db" "${M[@]}" "$T/exp" > /dev/null
"$FN" gallery list "$T/copy.db" > "$T/list2.out"
"$FN" gallery list "$DB" > "$T/list1.out"
expect "import gives the same subjects and counts" "cmp -s '$T/list1.out' '$T/list2.out'"
"$FN" gallery identify "$T/copy.db" "${M[@]}" "$KNN/test/alex_lacamoire1.jpg" > "$T/id4.out"
expect "the imported gallery identifies" "grep -q ': alex_lacamoire ' '$T/id4.out'"

# --- errors ----------------------------------------------------------------------------------------
{ printf 'P6\n64 64\n255\n'; head -c 12288 /dev/zero; } > "$T/blank.ppm"
"$FN" gallery enroll "$DB" "${M[@]}" --subject x "$T/blank.ppm" > /dev/null 2> "$T/err"
expect "a photo without a face: exit 1, reported" "[ $? -eq 1 ] && grep -q 'blank.ppm: not enrolled: no face found' '$T/err'"
expect "...and no subject was created" "! '$FN' gallery list '$DB' | grep -q '^x'"
"$FN" gallery identify "$T/missing.db" "${M[@]}" "$KNN/test/obama1.jpg" > /dev/null 2> "$T/err"
expect "a missing gallery: exit 1, says so" "[ $? -eq 1 ] && grep -q 'no such gallery' '$T/err' && [ ! -e '$T/missing.db' ]"
head -c 20000 /dev/urandom > "$T/garbage.db"
"$FN" gallery info "$T/garbage.db" > /dev/null 2> "$T/err"
expect "a corrupt file: exit 1, 'not a gallery'" "[ $? -eq 1 ] && grep -q 'not a gallery' '$T/err'"
cp "$T/copy.db" "$T/trunc.db"; truncate -s 5000 "$T/trunc.db"
"$FN" gallery list "$T/trunc.db" > /dev/null 2> "$T/err"
expect "a truncated gallery: exit 1 with a message" "[ $? -eq 1 ] && [ -s '$T/err' ]"
cat "$T/err"
cp "$T/copy.db" "$T/other.db"
sqlite3 "$T/other.db" "UPDATE collections SET model_id='0123456789abcdef'"
"$FN" gallery identify "$T/other.db" "${M[@]}" "$KNN/test/obama1.jpg" > /dev/null 2> "$T/err"
expect "another model's gallery: exit 1 naming both models" "[ $? -eq 1 ] && grep -q 'built with model 0123456789abcdef' '$T/err'"
cat "$T/err"
for s in alex_lacamoire barack kit_harington rose_leslie; do "$FN" gallery remove "$T/copy.db" --subject $s > /dev/null; done
"$FN" gallery identify "$T/copy.db" "${M[@]}" "$KNN/test/obama1.jpg" > "$T/id5.out"
expect "an empty gallery: exit 0, the face is unknown" "[ $? -eq 0 ] && grep -q 'unknown (empty gallery)' '$T/id5.out'"

finish cli_gallery
