#!/bin/bash
# bench_python.sh BUILD_DIR [SHARED_DIR] [RUNS] [ROUNDS] — what Python costs on top of C.
#  1. face_recognition's face_encodings(load_image_file(f)) through
#     facenet_c.compat.face_recognition against the same pipeline in-process in C
#     (bench_python_pipeline: fn_image_load + fn_embed_image_faces), per image; goal: <= 5%
#     overhead. The two alternate for ROUNDS rounds (same machine load); per image the
#     median over rounds of each side's median of RUNS runs.
#  2. facenet-pytorch's resnet(mtcnn(img)) (keep_all, the seeded 512-d Inception-ResNet-v1
#     weights of the tests) through facenet_c.compat.facenet_pytorch against PyTorch
#     (Debian's python3-torch: facenet-pytorch's MTCNN algorithm and weights,
#     tools/mtcnn_torch_reference.py, and its InceptionResnetV1 module) in the same run.
# Both sides use 2 threads; facenet-c with the CLI's passive OpenMP wait policy (the C side set
# here as cli/main.c sets it, the Python side by the package itself), PyTorch with 2 OpenMP
# threads and one OpenBLAS thread per caller (OpenBLAS's own spinning threads on top of
# OpenMP's starve each other under chrt -f: 620 instead of 83 ms for obama-240p).
# Quiet numbers: flock /work/notes/bench.lock chrt -f 50 bench/bench_python.sh build.
# A benchmark, not a test.
set -u
BUILD=${1:?usage: bench_python.sh BUILD_DIR [SHARED_DIR] [RUNS] [ROUNDS]}
SRC=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${2:-$SRC/../shared}
RUNS=${3:-5}
ROUNDS=${4:-3}
F=$SHARED/data/faces
IMAGES=("$F/face_recognition/examples/obama-240p.jpg" "$F/face_recognition/examples/obama-720p.jpg"
        "$F/face_recognition/examples/two_people.jpg" "$F/facenet-pytorch/multiface.jpg"
        "$SHARED/data/lfw/deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg" "$F/face_recognition/tests/test_images/obama2.jpg")
MTCNN=$SRC/models/mtcnn.safetensors
MODEL=$SRC/models/dlib_resnet.safetensors
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 FACENET_LIB=$BUILD/libfacenet.so
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "CPU: $(lscpu | grep 'Model name' | sed 's/Model name: *//'), $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
    OMP_WAIT_POLICY=passive "$BUILD/bench_python_pipeline" "$MTCNN" "$MODEL" "$RUNS" "${IMAGES[@]}" > "$TMP/c_$r.txt" || exit 1
    /usr/bin/python3 "$SRC/bench/bench_python.py" fr "$MTCNN" "$MODEL" "$RUNS" "${IMAGES[@]}" > "$TMP/py_$r.txt" || exit 1
done
"$BUILD/test_irv1" --write-model "$TMP/irv1.safetensors" 512 >/dev/null || exit 1
have_torch=0
/usr/bin/python3 -c "import torch, torchvision" 2>/dev/null && have_torch=1
for r in $(seq "$ROUNDS"); do
    /usr/bin/python3 "$SRC/bench/bench_python.py" facenet_pytorch "$SHARED/models/mtcnn" "$TMP/irv1.safetensors" "$RUNS" "${IMAGES[@]}" > "$TMP/fp_$r.txt" || exit 1
    [ $have_torch = 1 ] && { OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$SRC/bench/bench_python.py" torch "$SHARED/models/mtcnn" "$TMP/irv1.safetensors" "$RUNS" "${IMAGES[@]}" > "$TMP/pt_$r.txt" 2>/dev/null || exit 1; }
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$TMP" "$ROUNDS" "$have_torch" <<'PY'
import os, sys
tmp, rounds, have_torch = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
def read(prefix):
    per = {}
    for r in range(1, rounds + 1):
        for line in open(os.path.join(tmp, "%s_%d.txt" % (prefix, r))):
            p, ms, n = line.split()
            per.setdefault(p, []).append((float(ms), int(n)))
    return {p: (sorted(v)[len(v) // 2][0], v[0][1]) for p, v in per.items()}
def table(a, b, an, bn, what):
    print("\n%s\n%-28s %6s %10s %10s %8s" % (what, "image", "faces", an + " ms", bn + " ms", "ratio"))
    ratios = []
    for p in a:
        (x, n), (y, m) = a[p], b[p]
        ratios.append(x / y)
        print("%-28s %6s %10.1f %10.1f %8.3f" % (os.path.basename(p)[:28], n if n == m else "%d/%d" % (n, m), x, y, x / y))
    tot = sum(v[0] for v in a.values()) / sum(v[0] for v in b.values())
    print("%-28s %6s %10.1f %10.1f %8.3f   (geometric mean of ratios %.3f)" % ("all images", "", sum(v[0] for v in a.values()),
          sum(v[0] for v in b.values()), tot, __import__("math").prod(ratios) ** (1 / len(ratios))))
    return tot
c, py = read("c"), read("py")
t = table(py, c, "python", "C", "face_encodings(load_image_file(f)): facenet_c.compat.face_recognition vs the same pipeline in-process in C")
print("Python overhead on the whole set: %+.1f%% (goal <= 5%%)" % (100 * (t - 1)))
fp = read("fp")
if have_torch:
    pt = read("pt")
    t = table(pt, fp, "pytorch", "facenet_c", "resnet(mtcnn(img)), keep_all, 512-d Inception-ResNet-v1: PyTorch vs facenet_c.compat.facenet_pytorch")
    print("facenet_c is %.2fx faster than PyTorch on the whole set" % t)
else:
    print("\n(no torch/torchvision here: the PyTorch comparison was not run; apt-get install python3-torch python3-torchvision)")
PY
