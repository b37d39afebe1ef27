#!/bin/bash
# bench_video.sh BUILD_DIR [SHARED_DIR] [MAX_FRAMES] — frames per second of `facenet video`'s
# pipeline (decode -> MTCNN every Nth frame -> embed each face -> track; bench_video.c) and of
# its decoding + detection alone, on face_recognition's Hamilton clip (640x360, 29.97 fps, 275
# frames: all of them by default) and on the clip scaled to 1280x720 by Debian's ffmpeg (into
# a temporary folder), with detection on every frame and every 5th, at 2 threads; the
# real-time factor against the clip's frame rate; and facenet-pytorch's MTCNN algorithm
# (tools/mtcnn_torch_reference.py, as bench_python.sh uses it, on Debian's python3-torch)
# detecting on the same frames in the same run (decoded by the ffmpeg command line in a second
# process; detection only). The two alternate per configuration so both see the same machine
# load. About 4 minutes on 2 idle cores. A benchmark, not a test.
set -u
BUILD=${1:?usage: bench_video.sh BUILD_DIR [SHARED_DIR] [MAX_FRAMES]}
SRC=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${2:-$SRC/../shared}
MAX=${3:-275}
CLIP=$SHARED/data/faces/face_recognition/examples/short_hamilton_clip.mp4
MTCNN=$SHARED/models/mtcnn
MODEL=$SRC/models/dlib_resnet.safetensors
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MTCNN_REF_THREADS=$THREADS
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "CPU: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; $THREADS threads; first $MAX frames"
ffmpeg -v error -i "$CLIP" -an -vf scale=1280:720 -c:v libx264 -crf 18 -preset fast "$TMP/clip720.mp4" || exit 1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for input in "$CLIP" "$TMP/clip720.mp4"; do
    for every in 1 5; do
        "$BUILD/bench_video" "$MTCNN" "$MODEL" "$input" $every $MAX >> "$TMP/c.txt" || exit 1
        /usr/bin/python3 "$SRC/bench/bench_video_torch.py" "$MTCNN" "$input" $every $MAX 2>/dev/null >> "$TMP/py.txt" || exit 1
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$TMP/c.txt" "$TMP/py.txt" <<'PYEOF'
import sys
c = [l.split() for l in open(sys.argv[1])]
p = [l.split() for l in open(sys.argv[2])]
print("| video | detect every | frames | facenet-c pipeline fps (real-time factor) | facenet-c detection fps (real-time factor) "
      "| PyTorch MTCNN detection fps (real-time factor) | facenet-c / PyTorch, detection | facenet-c pipeline / PyTorch detection "
      "| faces found, facenet-c / PyTorch |")
print("|---|---|---|---|---|---|---|---|---|")
for a, b in zip(c, p):
    n, fps, every, wall, dwall, dfaces = int(a[2]), float(a[3]), int(a[4]), float(a[5]), float(a[10]), int(a[12])
    pwall, pfaces = float(b[4]), int(b[7])
    print("| %s | %d | %d | %.1f (%.2fx) | %.1f (%.2fx) | %.1f (%.2fx) | %.2fx | %.2fx | %d / %d |" % (
        a[1], every, n, n / wall, n / wall / fps, n / dwall, n / dwall / fps, n / pwall, n / pwall / fps,
        pwall / dwall, pwall / wall, dfaces, pfaces))
print("\nCPU ms per frame (all threads of the process): facenet-c pipeline / facenet-c detection / PyTorch detection "
      "(PyTorch's excludes decoding, done by ffmpeg in its own process)")
for a, b in zip(c, p):
    n = int(a[2])
    print("  %s every %s: %.1f / %.1f / %.1f" % (a[1], a[4], 1000 * float(a[6]) / n, 1000 * float(a[11]) / n, 1000 * float(b[5]) / n))
PYEOF
