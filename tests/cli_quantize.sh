#!/bin/bash
# cli_quantize.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet quantize` (issue 18): an int8
# file from the default dlib ResNet, calibrated on face_recognition's knn photos; then
# `facenet compare` with it on six other photos gives the float model's distances within
# 0.03 and the same verdicts; bad input fails with a message.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
F=$SHARED/data/faces
. "$SRC/tests/lib_cli.sh"
need_default_models

"$FN" quantize --calibrate "$F/face_recognition/examples/knn_examples/train" --images 12 \
    --mtcnn "$MTCNN" "$MODEL" "$T/int8.safetensors" >"$T/q.out" 2>"$T/q.err"
expect "quantize exits 0 ($(tail -1 "$T/q.err"))" "[ $? -eq 0 ]"
cat "$T/q.out"
expect "calibrated on the faces found (at most --images 12)" "grep -q 'calibrated on 1[0-2] face crops' '$T/q.out'"
fsize=$(stat -c %s "$MODEL"); qsize=$(stat -c %s "$T/int8.safetensors")
expect "int8 file $qsize bytes < 0.27 x float $fsize" "[ $((qsize * 100)) -lt $((fsize * 27)) ]"
"$FN" inspect "$T/int8.safetensors" >"$T/inspect" 2>&1
expect "the file records int8 and its calibration" "grep -q '\"quantization\":\"int8\"' '$T/inspect' && grep -q 'calibration_percentile' '$T/inspect'"

PHOTOS="$F/facenet/Anthony_Hopkins_0001.jpg $F/facenet/Anthony_Hopkins_0002.jpg $F/facenet-pytorch/angelina_jolie.jpg $F/facenet-pytorch/kate_siegel.jpg $F/facenet-pytorch/paul_rudd.jpg $F/facenet-pytorch/shea_whigham.jpg"
"$FN" compare --json --mtcnn "$MTCNN" --model "$MODEL" $PHOTOS >"$T/f.json" 2>"$T/err" || echo "float compare failed: $(cat "$T/err")"
"$FN" compare --json --mtcnn "$MTCNN" --model "$T/int8.safetensors" $PHOTOS >"$T/q.json" 2>"$T/err"
expect "compare with the int8 model exits 0 $(cat "$T/err")" "[ $? -eq 0 ]"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" - "$T/f.json" "$T/q.json" <<'PYEOF'
import json, sys
f, q = (json.load(open(p))["distances"] for p in sys.argv[1:3])
n = len(f)
worst = max(abs(f[i][j] - q[i][j]) for i in range(n) for j in range(n))
same = q[0][1]
diff = min(q[i][j] for i in range(n) for j in range(i + 1, n) if (i, j) != (0, 1))
print("     int8 vs float distances: max difference %.4f; int8 same person %.3f, closest strangers %.3f" % (worst, same, diff))
sys.exit(0 if n == 6 and worst < 0.03 and same < 0.4 and same < 0.8 * diff else 1)
PYEOF
expect "int8 distances within 0.03 of float, same verdicts" "[ $? -eq 0 ]"

"$FN" quantize --calibrate "$T/none" "$MODEL" "$T/x.safetensors" >/dev/null 2>"$T/e1"
expect "missing calibration folder: exit 1 with a message" "[ $? -eq 1 ] && grep -q 'calibration folder' '$T/e1'"
"$FN" quantize --mtcnn "$MTCNN" "$T/int8.safetensors" "$T/x.safetensors" >/dev/null 2>"$T/e2"
expect "an int8 model: exit 1 with a message" "[ $? -eq 1 ] && grep -q 'already an int8' '$T/e2'"
"$FN" quantize --percentile 30 "$MODEL" "$T/x.safetensors" >/dev/null 2>"$T/e3"
expect "bad --percentile: exit 1 with a message" "[ $? -eq 1 ] && grep -q 'percentile' '$T/e3'"
expect "no output written on failure" "[ ! -e '$T/x.safetensors' ]"
finish cli_quantize
