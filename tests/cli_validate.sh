#!/usr/bin/env bash
# cli_validate.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet validate` on small LFW subsets:
# JSON fields and ranges, facenet's text lines, the embedding cache (second run reuses it,
# much faster, identical numbers; a cache from another model id is recomputed), skipped
# pairs, the ROC PNG, the MTCNN path, and argument errors.
# Needs SOURCE_DIR/models/dlib_resnet.safetensors (scripts/get-faceapi-model.sh): FAILS without.
set -u
BUILD=$1 SHARED=$2 SRC=$3
BIN=$BUILD/facenet
MODEL=$SRC/models/dlib_resnet.safetensors
LFW=$SHARED/data/lfw/deepfunneled
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

if [ ! -f "$MODEL" ]; then
    echo "FAIL: $MODEL is missing: run scripts/get-faceapi-model.sh first (this test needs the model)"
    exit 1
fi
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
TMP=$(mktemp -d /tmp/fn_cli_validate.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# 16 pairs, same and different interleaved so every fold has both kinds, plus one pair
# whose image does not exist (skipped, counted)
$PY - "$SHARED/data/lfw/pairs.txt" "$TMP/pairs.txt" <<'EOF'
import sys
lines = [l for l in open(sys.argv[1]).read().split('\n')[1:] if l.strip()]
same, diff = lines[0:8], lines[300:308]
out = [x for pair in zip(same, diff) for x in pair] + ['Nobody_Here\t1\t2']
open(sys.argv[2], 'w').write('10\t300\n' + '\n'.join(out) + '\n')
EOF

field() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); v=d[sys.argv[2]]; print('null' if v is None else v)" "$1" "$2"; }

# ---- run 1: embeds, writes the cache and the ROC
t0=$(date +%s.%N)
"$BIN" validate "$LFW" --pairs "$TMP/pairs.txt" --model "$MODEL" --is-aligned --folds 4 \
    --cache "$TMP/emb.npy" --roc "$TMP/roc.png" --json > "$TMP/r1.json" 2> "$TMP/r1.err"
rc=$?; t1=$(date +%s.%N)
[ $rc -eq 0 ] || { cat "$TMP/r1.err"; fail "run 1 exit $rc"; }
cat "$TMP/r1.json"
$PY - "$TMP/r1.json" <<'EOF' && ok "JSON fields and ranges" || fail "JSON fields/ranges"
import json, sys, math
d = json.load(open(sys.argv[1]))
for k in ["pairs", "skipped", "accuracy", "accuracy_std", "val", "val_std", "far", "auc", "eer", "threshold", "seconds"]:
    assert k in d, k
assert d["pairs"] == 16 and d["skipped"] == 1, (d["pairs"], d["skipped"])
# whole 250x250 LFW pictures resized as if they were aligned crops: the numbers are only
# range-checked here (the MTCNN run below checks recognition)
assert 0 <= d["accuracy"] <= 1 and 0 <= d["accuracy_std"] <= 0.5, d["accuracy"]
assert 0 <= d["auc"] <= 1, d["auc"]
assert 0 <= d["val"] <= 1 and 0 <= d["far"] <= 1
assert d["eer"] is None or 0 <= d["eer"] <= 0.5
assert 0 < d["threshold"] < 4 and d["seconds"] > 0
assert d["cached"] is False and d["folds"] == 4 and d["distance"] == "euclidean"
EOF
[ -f "$TMP/emb.npy" ] && [ -f "$TMP/emb.npy.json" ] && ok "cache written" || fail "cache files missing"
$PY - "$TMP/roc.png" <<'EOF' && ok "ROC PNG 720x540" || fail "ROC PNG"
import sys, struct
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'\x89PNG\r\n\x1a\n' and len(b) > 2000
w, h = struct.unpack('>II', b[16:24]); assert (w, h) == (720, 540), (w, h)
EOF

# ---- run 2: identical options, from the cache: faster and the same numbers
t2=$(date +%s.%N)
"$BIN" validate "$LFW" --pairs "$TMP/pairs.txt" --model "$MODEL" --is-aligned --folds 4 \
    --cache "$TMP/emb.npy" --json > "$TMP/r2.json" 2> "$TMP/r2.err" || fail "run 2 exit $?"
t3=$(date +%s.%N)
$PY - "$TMP/r1.json" "$TMP/r2.json" "$t0" "$t1" "$t2" "$t3" <<'EOF' && ok "cache reuse: identical, faster" || fail "cache reuse"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
t0, t1, t2, t3 = map(float, sys.argv[3:7])
assert b["cached"] is True, "second run did not use the cache"
for k in a:
    if k not in ("seconds", "cached", "from_cache", "roc"):
        assert a[k] == b[k], (k, a[k], b[k])
print("  first run %.2f s, cached run %.2f s" % (t1 - t0, t3 - t2))
assert (t3 - t2) < 0.5 * (t1 - t0), "cached run not much faster"
EOF

# ---- other metric options reuse the cache
"$BIN" validate "$LFW" --pairs "$TMP/pairs.txt" --model "$MODEL" --is-aligned --folds 4 \
    --cache "$TMP/emb.npy" --distance cosine --subtract-mean --json > "$TMP/r3.json" 2>/dev/null || fail "cosine run"
[ "$(field "$TMP/r3.json" cached)" = "True" ] && [ "$(field "$TMP/r3.json" distance)" = "cosine" ] \
    && ok "cosine + subtract-mean from the cache" || fail "cosine run did not reuse the cache"

# ---- a cache made by another model is not used
sed -i 's/"model_id":"[^"]*"/"model_id":"0000000000000000"/' "$TMP/emb.npy.json"
"$BIN" validate "$LFW" --pairs "$TMP/pairs.txt" --model "$MODEL" --is-aligned --folds 4 \
    --cache "$TMP/emb.npy" --json > "$TMP/r4.json" 2>/dev/null || fail "run 4"
[ "$(field "$TMP/r4.json" cached)" = "False" ] && [ "$(field "$TMP/r4.json" accuracy)" = "$(field "$TMP/r1.json" accuracy)" ] \
    && ok "foreign cache recomputed, same accuracy" || fail "foreign-model cache was used"
grep -q '"model_id":"0000000000000000"' "$TMP/emb.npy.json" && fail "cache not rewritten" || ok "cache rewritten"

# ---- facenet's text lines
"$BIN" validate "$LFW" --pairs "$TMP/pairs.txt" --model "$MODEL" --is-aligned --folds 4 \
    --cache "$TMP/emb.npy" > "$TMP/text.out" 2> "$TMP/text.err" || fail "text run"
cat "$TMP/text.out"
grep -Eq '^Accuracy: [01]\.[0-9]{5}\+-[0-9]\.[0-9]{5}$' "$TMP/text.out" &&
grep -Eq '^Validation rate: [01]\.[0-9]{5}\+-[0-9]\.[0-9]{5} @ FAR=[0-9]\.[0-9]{5}$' "$TMP/text.out" &&
grep -Eq '^Area Under Curve \(AUC\): [01]\.[0-9]{3}$' "$TMP/text.out" &&
grep -Eq '^Equal Error Rate \(EER\): ([01]\.[0-9]{3}|nan)$' "$TMP/text.out" &&
grep -q 'Skipped 1 image pairs' "$TMP/text.err" && ok "facenet's output lines" || fail "text output"

# ---- the detection path (MTCNN + largest centred face), 4 pairs
head -5 "$TMP/pairs.txt" > "$TMP/pairs4.txt"
"$BIN" validate "$LFW" --pairs "$TMP/pairs4.txt" --model "$MODEL" --mtcnn "$SHARED/models/mtcnn" \
    --folds 2 --json > "$TMP/r5.json" 2> "$TMP/r5.err" || { cat "$TMP/r5.err"; fail "MTCNN run"; }
cat "$TMP/r5.json"
$PY - "$TMP/r5.json" <<'EOF' && ok "MTCNN path: 4 pairs, 7 faces found, AUC 1" || fail "MTCNN path"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pairs"] == 4 and d["no_face"] == 0 and d["images"] == 7, d  # one image is in 2 pairs
# same pairs closer than different ones (the 2-pair folds make accuracy itself coarse)
assert d["auc"] == 1.0 and d["accuracy"] >= 0.5, d
EOF

# ---- errors: one line, exit 1
"$BIN" validate "$TMP/nowhere" --pairs "$TMP/pairs.txt" --model "$MODEL" > /dev/null 2> "$TMP/e1"; rc=$?
[ $rc -eq 1 ] && grep -q "not a folder" "$TMP/e1" && ok "missing LFW dir" || fail "missing LFW dir (rc $rc)"
"$BIN" validate "$LFW" --distance manhattan > /dev/null 2> "$TMP/e2"; rc=$?
[ $rc -eq 1 ] && grep -q "euclidean" "$TMP/e2" && ok "bad --distance" || fail "bad --distance (rc $rc)"
printf '10 300\nAnn 1\n' > "$TMP/bad.txt"
"$BIN" validate "$LFW" --pairs "$TMP/bad.txt" --model "$MODEL" > /dev/null 2> "$TMP/e3"; rc=$?
[ $rc -eq 1 ] && grep -q "bad.txt:2" "$TMP/e3" && ok "malformed pairs file" || fail "malformed pairs file (rc $rc)"
"$BIN" validate "$LFW" --pairs "$TMP/pairs.txt" --model "$MODEL" --is-aligned --folds 30 > /dev/null 2> "$TMP/e4"; rc=$?
[ $rc -eq 1 ] && grep -q "folds" "$TMP/e4" && ok "too many folds" || fail "too many folds (rc $rc)"

if [ $fails -ne 0 ]; then echo "cli_validate: $fails failed"; exit 1; fi
echo "cli_validate: all passed"
