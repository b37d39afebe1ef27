#!/bin/bash
# cli_train.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet train` from the command line:
# help and argument errors (one line, non-zero exit), a tiny triplet run on 5 ORL people
# (outputs written, CSV rows), the learning-rate schedule file stopping training ('-'),
# --resume continuing, and the exported model listed by `facenet inspect` when built.
set -u
B=$1; S=$2
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
[ $fail -eq 0 ] && echo "cli_train: all passed" || echo "cli_train: FAILED"
exit $fail
