#!/bin/bash
# bench_detect.sh BUILD_DIR [SHARED_DIR] [RUNS] — times MTCNN detection (fn_detect, as
# `facenet detect` runs it) against a PyTorch MTCNN following facenet-pytorch
# (tools/mtcnn_torch_reference.py, Debian's python3-torch) in the same run, both with 2
# threads, on a group photo, 240p and 1080p video frames and a 250x250 LFW image. Reports
# the median wall time (model load excluded), the median CPU time, the ratios, and checks
# that both find the same faces (same count, boxes within 1 px). A benchmark, not a test.
# THREADS=1 bench/bench_detect.sh ... compares single-threaded runs.
set -u
BUILD=${1:?usage: bench_detect.sh BUILD_DIR [SHARED_DIR] [RUNS]}
SRC=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${2:-$SRC/../shared}
RUNS=${3:-7}
MTCNN=$SHARED/models/mtcnn
F=$SHARED/data/faces
IMAGES=("$F/facenet-pytorch/multiface.jpg" "$F/face_recognition/examples/obama-240p.jpg"
        "$F/face_recognition/examples/obama-1080p.jpg" "$SHARED/data/lfw/deepfunneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MTCNN_REF_THREADS=$THREADS
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# alternate the two per image so both see the same machine load
for img in "${IMAGES[@]}"; do
    OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} "$BUILD/bench_detect" "$MTCNN" "$RUNS" "$img" >> "$TMP/c.txt" || exit 1
    /usr/bin/python3 "$SRC/tools/mtcnn_torch_reference.py" "$MTCNN" "$RUNS" "$img" 2>/dev/null >> "$TMP/py.txt" || exit 1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$TMP/c.txt" "$TMP/py.txt" "$RUNS" "$THREADS" <<'PYEOF'
import sys
def read(p):
    out = []
    for line in open(p):
        f = line.split()
        boxes = [tuple(map(float, b.split(","))) for b in f[5:]]
        out.append((f[0], f[1], float(f[2]), float(f[3]), int(f[4]), boxes))
    return out
c, py, runs = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3]
print("| image | size | facenet-c wall ms | PyTorch wall ms | speed-up | facenet-c CPU ms | PyTorch CPU ms | CPU ratio | faces | same detections |")
print("|---|---|---|---|---|---|---|---|---|---|")
ok = True
for a, b in zip(c, py):
    same = a[4] == b[4] and all(max(abs(x - y) for x, y in zip(p, q)) <= 1.0 for p, q in zip(sorted(a[5]), sorted(b[5])))
    ok &= same
    name = a[0].split("/")[-1]
    print("| %s | %s | %.1f | %.1f | %.1fx | %.1f | %.1f | %.1fx | %d | %s |" % (
        name, a[1], a[2], b[2], b[2] / a[2], a[3], b[3], b[3] / a[3], a[4], "yes" if same else "NO"))
print("\nmedian of %s runs each, %s thread(s) (OMP_NUM_THREADS / torch.set_num_threads)" % (runs, sys.argv[4]))
sys.exit(0 if ok else 1)
PYEOF
