#!/bin/bash
# bench_video.sh BUILD_DIR [SHARED_DIR] [MAX_FRAMES] — frames per second of `facenet video`'s
# pipeline (decode -> MTCNN every Nth frame -> embed each face -> track; bench_video.c) on
# face_recognition's Hamilton clip (640x360, 29.97 fps) and on the clip scaled to 1280x720,
# with detection on every frame and every 5th, at 2 threads; the real-time factor against
# the clip's frame rate; and facenet-pytorch's MTCNN (tools/mtcnn_torch_reference.py,
# Debian's python3-torch) detecting on the same frames in the same run (its frames decoded by
# the ffmpeg command line in a second process; detection only, no embedding or tracking).
# The two alternate per configuration so both see the same machine load. A benchmark, not a test.
set -u
BUILD=${1:?usage: bench_video.sh BUILD_DIR [SHARED_DIR] [MAX_FRAMES]}
SRC=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${2:-$SRC/../shared}
MAX=${3:-150}
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
print("| video | detect every | frames | facenet-c fps (full pipeline) | real-time factor | CPU ms/frame | PyTorch MTCNN fps (detection only) | real-time factor | CPU ms/frame | speed-up (wall) | CPU ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for a, b in zip(c, p):
    n, fps, every, wall, cpu = int(a[2]), float(a[3]), int(a[4]), float(a[5]), float(a[6])
    pw, pc = float(b[4]), float(b[5])
    print("| %s | %d | %d | %.1f | %.2fx | %.1f | %.1f | %.2fx | %.1f | %.1fx | %.1fx |" % (
        a[1], every, n, n / wall, n / wall / fps, 1000 * cpu / n, n / pw, n / pw / fps, 1000 * pc / n, pw / wall, pc / cpu))
print("\nCPU time: all threads of the process; facenet-c's includes decoding, PyTorch's does not (ffmpeg decodes in its own process)")
PYEOF
