#!/bin/bash
# cli_compare_dlib.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet compare` with the default
# dlib ResNet (MTCNN → 5-point chip → 128-d): the two Anthony Hopkins photos must be much
# closer to each other than any pair of different people among the four others
# (facenet-pytorch's sample photos). Distances are Euclidean on L2-normalised descriptors.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
MODEL=$SRC/models/dlib_resnet.safetensors
F=$SHARED/data/faces
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if [ ! -f "$MODEL" ]; then
    echo "FAIL $MODEL is missing: run scripts/get-models.sh (or scripts/get-faceapi-model.sh)"
    exit 1
fi
"$FN" compare --json --mtcnn "$SHARED/models/mtcnn" --model "$MODEL" \
    "$F/facenet/Anthony_Hopkins_0001.jpg" "$F/facenet/Anthony_Hopkins_0002.jpg" \
    "$F/facenet-pytorch/angelina_jolie.jpg" "$F/facenet-pytorch/kate_siegel.jpg" \
    "$F/facenet-pytorch/paul_rudd.jpg" "$F/facenet-pytorch/shea_whigham.jpg" >"$T/out.json" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ]; then echo "FAIL facenet compare exited $rc: $(cat "$T/err")"; exit 1; fi
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" - "$T/out.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
fails = 0
def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok
check(r.get("arch") == "dlib_resnet" and r.get("dim") == 128, "model is the dlib ResNet (128-d)")
d = r["distances"]
check(len(d) == 6 and all(len(row) == 6 for row in d), "6x6 distance matrix (one face per photo)")
same = d[0][1]
diff = [d[i][j] for i in range(6) for j in range(i + 1, 6) if (i, j) != (0, 1)]
print("     same person %.3f; different people min %.3f, max %.3f" % (same, min(diff), max(diff)))
check(all(abs(d[i][j] - d[j][i]) < 1e-6 for i in range(6) for j in range(6)), "symmetric")
check(same < 0.4, "same person distance %.3f < 0.4 (dlib's 0.6 on raw descriptors)" % same)
check(same < 0.8 * min(diff), "same person %.3f < 0.8 x closest different pair %.3f" % (same, min(diff)))
check(min(diff) > 0.35, "every different-person distance > 0.35")
sys.exit(1 if fails else 0)
PYEOF
