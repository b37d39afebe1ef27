#!/bin/bash
# cli_train.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet train` from the command line:
# help and argument errors (one line, non-zero exit), a tiny triplet run on 5 ORL people
# (outputs written, CSV rows), the learning-rate schedule file stopping training ('-'),
# --resume continuing, and the exported model listed by `facenet inspect` when built.
# A REDUCED network (depth 1,1,1, width 0.5, 96 px, 64-d) trained with --lfw-dir: its LFW
# numbers per epoch (--json) equal `facenet validate --is-aligned` on the exported model,
# and every command that takes a model uses it (embed, compare, validate,
# export-embeddings, classify train/predict); softmax --validation-set-split-ratio prints
# its held-out loss and accuracy.
set -u
B=$1; S=$2; SRC=${3:-}
F=$B/facenet
T=$(mktemp -d "$B/cli_train.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

$F train --help > "$T/help.txt"; check "train --help exits 0" "[ $? -eq 0 ] && grep -q -- --people-per-batch '$T/help.txt'"
$F train bogus 2> "$T/e1"; rc=$?; check "unknown mode -> exit $rc, one line" "[ $rc -ne 0 ] && [ \$(wc -l < '$T/e1') -eq 1 ]"
$F train triplet --models-dir "$T/m" 2> "$T/e2"; rc=$?; check "missing --data-dir -> exit $rc" "[ $rc -ne 0 ] && grep -q data-dir '$T/e2'"
mkdir -p "$T/data"
for i in 1 2 3 4 5; do ln -s "$S/data/orl/s$i" "$T/data/s$i"; done
COMMON="--data-dir $T/data --depth 1,1,1 --width-multiplier 0.25 --image-size 80 --embedding-size 16 --people-per-batch 3 --images-per-person 3 --batch-size 9 --epoch-size 2 --quiet"
$F train triplet $COMMON --models-dir "$T/m" --optimizer NOPE 2> "$T/e3"; rc=$?; check "bad optimizer -> exit $rc" "[ $rc -ne 0 ] && grep -q NOPE '$T/e3'"
$F train triplet $COMMON --models-dir "$T/m" --batch-size 10 2> "$T/e4"; rc=$?; check "batch not a multiple of 3 -> exit $rc" "[ $rc -ne 0 ] && grep -q 'multiple of 3' '$T/e4'"
$F train triplet $COMMON --models-dir "$T/m" --data-dir "$T/nonexistent" 2> "$T/e5"; rc=$?; check "missing data folder -> exit $rc" "[ $rc -ne 0 ]"

$F train triplet $COMMON --models-dir "$T/m" --max-epochs 1 > "$T/out1" 2>&1; rc=$?
check "tiny triplet run exits 0" "[ $rc -eq 0 ]"
for f in model.safetensors checkpoint.safetensors train_log.csv epochs.csv training.png; do check "writes $f" "[ -s '$T/m/$f' ]"; done
check "train_log.csv has step rows" "[ \$(wc -l < '$T/m/train_log.csv') -ge 3 ]"
$F train triplet $COMMON --models-dir "$T/m" --max-epochs 2 --resume > "$T/out2" 2>&1; rc=$?
check "--resume runs epoch 2" "[ $rc -eq 0 ] && grep -q '^2,' '$T/m/epochs.csv'"

printf '# epoch: learning rate\n0: 0.05\n1: -\n' > "$T/schedule.txt"
$F train triplet $COMMON --models-dir "$T/s" --max-epochs 5 --learning-rate -1 --learning-rate-schedule "$T/schedule.txt" > "$T/out3" 2>&1; rc=$?
check "schedule '1: -' stops after one epoch" "[ $rc -eq 0 ] && grep -q '^1,' '$T/s/epochs.csv' && ! grep -q '^2,' '$T/s/epochs.csv'"
$F train softmax $COMMON --models-dir "$T/x" --max-epochs 1 --center-loss-factor 0.01 > "$T/out4" 2>&1; rc=$?
check "softmax + center loss run exits 0" "[ $rc -eq 0 ] && [ -s '$T/x/model.safetensors' ]"
if $F inspect --help > /dev/null 2>&1; then
  $F inspect "$T/m/model.safetensors" > "$T/inspect.txt" 2>&1
  check "facenet inspect reads the exported model" "grep -q last_linear.weight '$T/inspect.txt'"
fi
# ---- a reduced network with the LFW check after each epoch
LFW=$S/data/lfw/deepfunneled
# 20 pairs, same and different interleaved so every fold holds both kinds
awk 'NR == 1 { print; next } NR >= 2 && NR <= 11 { same[NR - 2] = $0 } NR >= 302 && NR <= 311 { diff[NR - 302] = $0 }
     END { for (i = 0; i < 10; i++) { print same[i]; print diff[i] } }' "$S/data/lfw/pairs.txt" > "$T/pairs20.txt"
RED="--data-dir $T/data --depth 1,1,1 --width-multiplier 0.5 --image-size 96 --embedding-size 64 --people-per-batch 3 --images-per-person 3 --batch-size 9 --epoch-size 2 --bn-decay 0.5"
$F train triplet $RED --models-dir "$T/r" --max-epochs 2 --lfw-dir "$LFW" --lfw-pairs "$T/pairs20.txt" --json > "$T/red.json" 2> "$T/red.err"; rc=$?
check "reduced network + --lfw-dir exits 0" "[ $rc -eq 0 ]"
/usr/bin/python3 -c 'import json, sys; r = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]; sys.exit(not ([e["epoch"] for e in r] == [0, 1, 2] and all(0 <= e["lfw_accuracy"] <= 1 and 0 <= e["lfw_val"] <= 1 for e in r)))' "$T/red.json"
check "--json: an LFW line per epoch (0, 1, 2)" "[ $? -eq 0 ]"
check "epochs.csv has the LFW columns" "head -1 '$T/r/epochs.csv' | grep -q lfw_accuracy,lfw_accuracy_std,lfw_val && [ \$(wc -l < '$T/r/epochs.csv') -eq 4 ]"
$F train triplet $RED --models-dir "$T/r2" --lfw-dir "$T/nowhere" 2> "$T/e6"; rc=$?
check "--lfw-dir without a pairs file -> exit $rc, one line" "[ $rc -ne 0 ] && [ \$(wc -l < '$T/e6') -eq 1 ] && grep -q pairs '$T/e6'"
$F validate "$LFW" --pairs "$T/pairs20.txt" --model "$T/r/model.safetensors" --is-aligned --json > "$T/val.json" 2> "$T/val.err"; rc=$?
check "facenet validate opens the reduced model" "[ $rc -eq 0 ]"
/usr/bin/python3 - "$T/red.json" "$T/val.json" <<'EOF2'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')][-1]
v = json.load(open(sys.argv[2]))
print('  training epoch %d: LFW %.6f VAL %.6f; facenet validate: %.6f VAL %.6f' % (last['epoch'], last['lfw_accuracy'], last['lfw_val'], v['accuracy'], v['val']))
sys.exit(0 if abs(last['lfw_accuracy'] - v['accuracy']) < 1e-5 and abs(last['lfw_val'] - v['val']) < 1e-5 else 1)
EOF2
check "training's LFW numbers == facenet validate --is-aligned on the export" "[ $? -eq 0 ]"
RM=$T/r/model.safetensors
ALIGNED=$S/data/faces/facenet-pytorch/aligned
$F embed --model "$RM" --json "$ALIGNED/angelina_jolie.png" "$ALIGNED/paul_rudd.png" > "$T/emb.json" 2> "$T/emb.err"; rc=$?
check "facenet embed with the reduced model: 64-d" "[ $rc -eq 0 ] && grep -q '\"dim\":64' '$T/emb.json' && grep -q 'resized to 96x96' '$T/emb.err'"
MTCNN=
for p in "$SRC/models/mtcnn.safetensors" "$SRC/models/mtcnn" "$S/models/mtcnn"; do [ -e "$p" ] && { MTCNN=$p; break; }; done
check "MTCNN weights found (scripts/get-models.sh)" "[ -n '$MTCNN' ]"
PHOTOS=$S/data/faces/facenet
$F compare --model "$RM" --mtcnn "$MTCNN" --json "$PHOTOS/Anthony_Hopkins_0001.jpg" "$PHOTOS/Anthony_Hopkins_0002.jpg" > "$T/cmp.json" 2> "$T/cmp.err"; rc=$?
check "facenet compare with the reduced model" "[ $rc -eq 0 ] && grep -q '\"dim\":64' '$T/cmp.json' && grep -q '\"distances\":\[\[0.000000,' '$T/cmp.json'"
$F export-embeddings "$T/data" --is-aligned --model "$RM" -o "$T/exp" > /dev/null 2> "$T/exp.err"; rc=$?
check "facenet export-embeddings with the reduced model" "[ $rc -eq 0 ] && [ -s '$T/exp/embeddings.npy' ]"
$F classify train "$T/data" "$T/cls.bin" --is-aligned --model "$RM" > /dev/null 2> "$T/cls.err"; rc=$?
check "facenet classify train with the reduced model" "[ $rc -eq 0 ] && [ -s '$T/cls.bin' ]"
$F classify predict "$T/cls.bin" --model "$RM" --mtcnn "$MTCNN" --json "$PHOTOS/Anthony_Hopkins_0001.jpg" > "$T/pred.json" 2> "$T/pred.err"; rc=$?
check "facenet classify predict with the reduced model" "[ $rc -eq 0 ]"
$F classify predict "$T/cls.bin" --model "$T/m/model.safetensors" --mtcnn "$MTCNN" "$PHOTOS/Anthony_Hopkins_0001.jpg" > /dev/null 2> "$T/pred2.err"; rc=$?
check "classify predict refuses another model (ids differ)" "[ $rc -ne 0 ]"

# ---- softmax with a validation split
$F train softmax $COMMON --models-dir "$T/v" --max-epochs 1 --validation-set-split-ratio 0.2 > "$T/out5" 2>&1; rc=$?
check "softmax --validation-set-split-ratio prints validation loss and accuracy" "[ $rc -eq 0 ] && grep -q '^epoch 1: .*validation loss [0-9.]* (xent [0-9.]*), accuracy 0\\.' '$T/out5' && grep -q '10 held-out images' '$T/out5'"
$F train triplet $COMMON --models-dir "$T/v2" --validation-set-split-ratio 0.2 2> "$T/e7"; rc=$?
check "triplet + split -> exit $rc" "[ $rc -ne 0 ] && grep -q softmax '$T/e7'"

[ $fail -eq 0 ] && echo "cli_train: all passed" || echo "cli_train: FAILED"
exit $fail
