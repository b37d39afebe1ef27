#!/usr/bin/env bash
# train_orl.sh — the training acceptance run on real faces: AT&T (ORL) people s1-s30 train,
# s31-s40 (never seen in training) are scored after every epoch by 10-fold verification
# on all their 450 same-person pairs and 450 different-person pairs.
#   scripts/train_orl.sh [OUT_DIR] [extra facenet train flags...]
# Two stages, as facenet's own workflow allows: softmax over the training identities
# (train_softmax.py) from random init, then triplet-loss fine-tuning (train_tripletloss.py
# --pretrained_model). Writes OUT_DIR (default runs/orl)/{softmax,triplet}/ with
# model.safetensors, epochs.csv, train_log.csv and training.png. FN_SHARED overrides the
# shared data folder; FN_ORL_STAGE=triplet reruns the second stage alone; FN_ORL_RANKS=2
# runs both stages as `mpirun -np 2 facenet train --sync-bn` (one BLAS thread per rank: the
# same global batches, so the same recipe); FN_FACENET names another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FN_SHARED:-$(cd .. && pwd)/shared}"
OUT="${1:-runs/orl}"; shift || true
FACENET="${FN_FACENET:-build/facenet}"
[ -x "$FACENET" ] || bash scripts/build.sh release >/dev/null
SPLIT="$(mktemp -d)"; trap 'rm -rf "$SPLIT"' EXIT
mkdir -p "$SPLIT/train" "$SPLIT/val" "$OUT"
for i in $(seq 1 40); do
  if [ "$i" -le 30 ]; then ln -s "$SHARED/data/orl/s$i" "$SPLIT/train/s$i"; else ln -s "$SHARED/data/orl/s$i" "$SPLIT/val/s$i"; fi
done
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
RUN=("$FACENET" train) RANKS="${FN_ORL_RANKS:-1}" SYNC=()
if [ "$RANKS" -gt 1 ]; then
  ROOT=(); [ "$(id -u)" = 0 ] && ROOT=(--allow-run-as-root)
  RUN=(mpirun -np "$RANKS" --oversubscribe --bind-to none "${ROOT[@]}" -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 -x OMP_WAIT_POLICY
       "$FACENET" train)
  SYNC=(--sync-bn)
fi
# The reduced network and input (all documented in `facenet train --help`): two blocks of
# each kind, half width, 80x80 input stretched from ORL's 92x112 frames (a square crop
# loses chin and hair), 64-d embedding. Augmentation keeps 300 images from being memorised.
NET=(--depth 2,2,2 --width-multiplier 0.5 --image-size 80 --image-fit stretch --embedding-size 64)
AUG=(--random-flip --random-crop --random-rotate --random-zoom 0.1 --random-brightness 0.1 --random-contrast 0.2)
COMMON=(--data-dir "$SPLIT/train" --val-dir "$SPLIT/val" --keep-probability 0.8 --weight-decay 5e-4 --bn-decay 0.9 --quiet)
T0=$(date +%s)
if [ "${FN_ORL_STAGE:-all}" != triplet ]; then
  echo "== stage 1: softmax over the 30 training people (train_softmax.py), 50 epochs"
  "${RUN[@]}" softmax "${SYNC[@]}" --models-dir "$OUT/softmax" "${COMMON[@]}" "${NET[@]}" "${AUG[@]}" \
    --batch-size 60 --epoch-size 15 --max-epochs 50 \
    --learning-rate 0.05 --learning-rate-decay-epochs 10 --learning-rate-decay-factor 0.5 "$@"
fi
echo "== stage 2: fine-tune with triplet loss, semi-hard triplets (train_tripletloss.py), 10 epochs"
"${RUN[@]}" triplet "${SYNC[@]}" --models-dir "$OUT/triplet" --pretrained-model "$OUT/softmax/model.safetensors" \
  "${COMMON[@]}" --image-size 80 --image-fit stretch "${AUG[@]}" \
  --people-per-batch 30 --images-per-person 10 --batch-size 90 --epoch-size 15 --max-epochs 10 --alpha 0.2 \
  --learning-rate 0.01 --learning-rate-decay-epochs 5 --learning-rate-decay-factor 0.5 "$@"
echo "== $(( $(date +%s) - T0 )) s in all; held-out curves: $OUT/softmax/training.png, $OUT/triplet/training.png"
