#!/bin/bash
# cli_export.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet export-embeddings` end to end:
# the three .npy files must load in NumPy (Debian's python3-numpy: this test checks
# interoperability, so a missing NumPy is a failure, not a skip) with the right shapes,
# dtypes, labels and strings; --is-aligned; photos without a face or unreadable ones are
# reported and skipped; no face at all is an error that writes nothing.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
PY=/usr/bin/python3
KNN=$SHARED/data/faces/face_recognition/examples/knn_examples
. "$SRC/tests/lib_cli.sh"

need_default_models
$PY -c 'import numpy' || { echo "FAIL $PY cannot import numpy: install python3-numpy (scripts/deps.sh)"; exit 1; }

"$FN" export-embeddings --help > "$T/help" 2>&1
expect "--help exits 0 and documents --is-aligned" "[ $? -eq 0 ] && grep -q -- '--is-aligned' '$T/help'"

# --- detection: knn_examples/train, 5 people, 9 photos, plus a photo without a face -------
mkdir -p "$T/ds"
cp -r "$KNN/train/." "$T/ds/"
{ printf 'P5\n64 64\n255\n'; head -c 4096 /dev/zero | tr '\0' '\200'; } > "$T/ds/obama/zz_grey.pgm"
printf 'garbage' > "$T/ds/biden/zz_broken.jpg"
"$FN" export-embeddings "${M[@]}" -o "$T/out" --json "$T/ds" > "$T/run.json" 2> "$T/run.err"
rc=$?
cat "$T/run.err"
expect "export exits 0 despite a faceless and a corrupt photo" "[ $rc -eq 0 ]"
expect "the faceless and the corrupt photo are reported on stderr" "grep -q 'no face in .*zz_grey.pgm' '$T/run.err' && grep -q 'zz_broken.jpg' '$T/run.err'"
expect "no temp files left" "[ -z \"\$(ls '$T/out' | grep tmp)\" ]"
$PY - "$T/out" "$T/run.json" <<'PYEOF'
import json, sys
import numpy as np
out, run = sys.argv[1], json.load(open(sys.argv[2]))
e = np.load(out + "/embeddings.npy")
l = np.load(out + "/labels.npy")
s = np.load(out + "/label_strings.npy")
bad = []
def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond: bad.append(what)
check("embeddings.npy: float32 (9, 128), got %s %s" % (e.dtype, e.shape), e.dtype == np.float32 and e.shape == (9, 128))
check("labels.npy: int64 [0 1 1 2 2 3 3 4 4], got %s %s" % (l.dtype, l.tolist()), l.dtype == np.int64 and l.tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4])
names = ["alex_lacamoire", "biden", "biden", "kit_harington", "kit_harington", "obama", "obama", "rose_leslie", "rose_leslie"]
check("label_strings.npy: unicode, one folder name per row, got %s %s" % (s.dtype, s.tolist()), s.dtype.kind == "U" and s.tolist() == names)
n = np.linalg.norm(e, axis=1)
check("rows are unit length (max |norm-1| %.2g)" % np.abs(n - 1).max(), np.abs(n - 1).max() < 1e-4)
d = np.sqrt(((e[:, None] - e[None]) ** 2).sum(-1))
same = d[l[:, None] == l[None]][d[l[:, None] == l[None]] > 0]
diff = d[l[:, None] != l[None]]
check("same person closer than different people (max same %.3f < min different %.3f)" % (same.max(), diff.min()), same.max() < diff.min())
rows = run["rows"]
check("--json lists the 9 rows in file order with their labels", len(rows) == 9 and [r["label"] for r in rows] == l.tolist()
      and rows[0]["path"].endswith("alex_lacamoire/img1.jpg") and len(run["skipped"]) == 2)
sys.exit(1 if bad else 0)
PYEOF
expect "numpy reads what export-embeddings wrote (checks above)" "[ $? -eq 0 ]"

# --- --is-aligned: the shared 160x160 aligned crops, one folder per person --------------------
mkdir -p "$T/al"
for f in "$SHARED"/data/faces/facenet-pytorch/aligned/*.png; do
    n=$(basename "$f" .png); mkdir -p "$T/al/$n"; cp "$f" "$T/al/$n/"
done
"$FN" export-embeddings --model "$MODEL" --is-aligned -o "$T/out_al" "$T/al" > "$T/al.out" 2>&1
rc=$?
cat "$T/al.out"
expect "--is-aligned exits 0 without MTCNN" "[ $rc -eq 0 ] && grep -q '5 embedded' '$T/al.out'"
$PY -c "
import numpy as np, sys
e = np.load('$T/out_al/embeddings.npy'); l = np.load('$T/out_al/labels.npy'); s = np.load('$T/out_al/label_strings.npy')
ok = e.shape == (5, 128) and l.tolist() == [0, 1, 2, 3, 4] and s.tolist()[0] == 'angelina_jolie'
print('  aligned:', e.shape, l.tolist(), s.tolist()); sys.exit(0 if ok else 1)"
expect "--is-aligned: 5 rows, labels 0..4, names from the folders" "[ $? -eq 0 ]"

# --- errors ----------------------------------------------------------------------------------
mkdir -p "$T/noface/a"
cp "$T/ds/obama/zz_grey.pgm" "$T/noface/a/"
"$FN" export-embeddings "${M[@]}" -o "$T/out_nf" "$T/noface" > /dev/null 2> "$T/nf.err"
rc=$?
expect "no face at all: exit 1, nothing written ($(tail -1 "$T/nf.err"))" "[ $rc -eq 1 ] && [ ! -e '$T/out_nf' ]"
mkdir -p "$T/empty"
"$FN" export-embeddings "${M[@]}" -o "$T/out_e" "$T/empty" > /dev/null 2> "$T/e.err"
rc=$?
expect "an empty folder: exit 1 ($(cat "$T/e.err"))" "[ $rc -eq 1 ] && [ ! -e '$T/out_e' ]"
"$FN" export-embeddings "${M[@]}" "$T/missing" > /dev/null 2> "$T/m.err"
rc=$?
expect "a missing folder: exit 1 ($(cat "$T/m.err"))" "[ $rc -eq 1 ] && grep -q missing '$T/m.err'"
"$FN" export-embeddings --model "$T/missing.safetensors" -o "$T/out_m" "$T/ds" > /dev/null 2> "$T/mm.err"
rc=$?
expect "a missing model: exit 1 ($(cat "$T/mm.err"))" "[ $rc -eq 1 ]"

finish cli_export
