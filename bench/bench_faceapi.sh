#!/usr/bin/env bash
# bench_faceapi.sh — facenet-c's default pipeline (MTCNN → 5-point dlib chip → dlib ResNet)
# against face-api's own (SSD MobileNet v1 → 68 landmarks → crop → the same ResNet, TF.js
# wasm backend in Node) on the same LFW pairs, in the same run: accuracy (facenet's 10-fold
# protocol), descriptor time per face and end-to-end time per LFW image, and the ratios.
#   bench/bench_faceapi.sh [PER_CLASS]   (default 15: 15 same + 15 different pairs per
#                                         fold = 300 pairs; face-api needs ~1 s per image)
# Environment: BUILD (default build), SHARED (default ../shared), THREADS (default 1:
# face-api's wasm backend runs on one thread, so facenet-c does too for the ratio).
# facenet-c runs with OMP_WAIT_POLICY=passive, as the facenet CLI does (cli/main.c).
set -euo pipefail
cd "$(dirname "$0")/.."
PER_CLASS="${1:-15}"
BUILD="${BUILD:-build}"
SHARED="${SHARED:-$(cd .. && pwd)/shared}"
THREADS="${THREADS:-1}"
LFW="$SHARED/data/lfw/deepfunneled"
[ -x "$BUILD/bench_faceapi" ] || { echo "bench_faceapi.sh: $BUILD/bench_faceapi missing: build first" >&2; exit 1; }
[ -f models/dlib_resnet.safetensors ] || { echo "bench_faceapi.sh: models/dlib_resnet.safetensors missing: run scripts/get-models.sh" >&2; exit 1; }
if [ ! -d tools/faceapi_reference/node_modules/@vladmandic/face-api ]; then
  (cd tools/faceapi_reference && npm install --no-audit --no-fund --silent)
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
E=bench/bench_faceapi_eval.py
/usr/bin/python3 $E subset "$SHARED/data/lfw/pairs.txt" "$LFW" "$PER_CLASS" "$tmp/pairs" "$tmp/list"

echo "== facenet-c ($THREADS thread(s))"
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$BUILD/bench_faceapi" "$tmp/list" "$tmp/c.bin" \
  models/dlib_resnet.safetensors "$SHARED/models/mtcnn" | tee "$tmp/c.txt"
/usr/bin/python3 $E accuracy "$tmp/pairs" "$tmp/list" "$tmp/c.bin" | tee -a "$tmp/c.txt"
echo "== face-api 1.7.15 (tfjs-backend-wasm)"
node bench/bench_faceapi.js "$tmp/list" "$tmp/f.bin" tests/fixtures/dlib/chip_0.png | tee "$tmp/f.txt"
/usr/bin/python3 $E accuracy "$tmp/pairs" "$tmp/list" "$tmp/f.bin" | tee -a "$tmp/f.txt"

val() { awk -v k="$2" -v i="$3" '$1 == k { print $i }' "$1"; }
echo "== summary ($(wc -l < "$tmp/pairs") LFW pairs, $(wc -l < "$tmp/list") images)"
printf '| | facenet-c | face-api | ratio |\n|---|---|---|---|\n'
printf '| accuracy | %s ± %s | %s ± %s | |\n' "$(val "$tmp/c.txt" accuracy 2)" "$(val "$tmp/c.txt" accuracy 3)" \
  "$(val "$tmp/f.txt" accuracy 2)" "$(val "$tmp/f.txt" accuracy 3)"
for k in descriptor_ms per_image_ms descriptor_cpu_ms per_image_cpu_ms; do
  c="$(val "$tmp/c.txt" $k 2)"; f="$(val "$tmp/f.txt" $k 2)"
  printf '| %s (median) | %s | %s | %.1f× |\n' "$k" "$c" "$f" "$(awk -v f="$f" -v c="$c" 'BEGIN { print f / c }')"
done
