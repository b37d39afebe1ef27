#!/bin/bash
# cli_video.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet video` on face_recognition's
# Hamilton clip with Lin-Manuel Miranda and Alex Lacamoire enrolled from their photos beside
# it (a gallery, and a classifier): frame count and timestamps against ffprobe, Lin-Manuel's
# track against `facenet gallery identify` / `classify predict` run on single frames that
# the ffmpeg command line extracted (no tracking), one id per person through a shot, the annotated H.264 video (and a
# contact sheet of it, build/video_contact_sheet.png), best-face crops; then bad input: a
# truncated file (both layouts), a corrupt one, a file without video, a stream that drops
# mid-way and a stream stopped by Ctrl-C.
set -u
BUILD=$1 SHARED=$(cd "$2" && pwd) SRC=$3
FN=$BUILD/facenet
EX=$SHARED/data/faces/face_recognition/examples
CLIP=$EX/short_hamilton_clip.mp4
PY=/usr/bin/python3
. "$SRC/tests/lib_cli.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

need_default_models
[ -f "$CLIP" ] || { echo "FAIL $CLIP is missing"; exit 1; }
for tool in ffprobe ffmpeg; do
    command -v $tool >/dev/null || { echo "FAIL $tool is missing (scripts/deps.sh installs Debian's ffmpeg)"; exit 1; }
done
"$FN" video --help > "$T/help" 2>&1
expect "video --help exits 0 and documents --every" "[ $? -eq 0 ] && grep -q -- '--every' '$T/help'"

# --- enrol the two people from their photos: a gallery, and a classifier ---------------------
"$FN" gallery enroll "${M[@]}" "$T/people.db" --subject "Lin-Manuel Miranda" "$EX/lin-manuel-miranda.png" > /dev/null 2>&1 &&
"$FN" gallery enroll "${M[@]}" "$T/people.db" --subject "Alex Lacamoire" "$EX/alex-lacamoire.png" > /dev/null 2>&1
expect "gallery of the two people enrolled" "[ $? -eq 0 ] && [ -s '$T/people.db' ]"
mkdir -p "$T/people/Lin-Manuel_Miranda" "$T/people/Alex_Lacamoire"
ln -s "$EX/lin-manuel-miranda.png" "$T/people/Lin-Manuel_Miranda/"
ln -s "$EX/alex-lacamoire.png" "$T/people/Alex_Lacamoire/"
"$FN" classify train "${M[@]}" "$T/people" "$T/people.cls" > /dev/null 2> "$T/train.err"
expect "classifier of the two people trained" "[ $? -eq 0 ] && [ -s '$T/people.cls' ]"

# --- the clip, named by the gallery -----------------------------------------------------------
start=$(date +%s)
"$FN" video "${M[@]}" --gallery "$T/people.db" --every 5 --json -o "$T/out.mp4" \
    --faces-dir "$T/faces" "$CLIP" > "$T/clip.json" 2> "$T/clip.err"
rc=$?
echo "facenet video took $(( $(date +%s) - start )) s"
cat "$T/clip.err"
expect "video --gallery exits 0, valid JSON" "[ $rc -eq 0 ] && jq -e .tracks '$T/clip.json' > /dev/null"
jq -c '.tracks[] | {id, name, similarity, votes, voters, on_screen: [.on_screen[] | [.first_frame, .last_frame]]}' "$T/clip.json"
# ... and by the classifier
"$FN" video "${M[@]}" --classifier "$T/people.cls" --every 5 --json "$CLIP" > "$T/cls.json" 2> "$T/cls.err"
expect "video --classifier exits 0, valid JSON" "[ $? -eq 0 ] && jq -e .tracks '$T/cls.json' > /dev/null"

# frame timestamps from ffprobe, one line per frame
ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time -of csv=p=0 "$CLIP" \
    | sed 's/,.*//' | grep -v '^$' > "$T/times.txt"
nf=$(wc -l < "$T/times.txt")
expect "frame count matches ffprobe ($nf, JSON $(jq .frames "$T/clip.json"))" "[ \$(jq .frames '$T/clip.json') -eq $nf ] && [ $nf -eq 275 ]"
$PY - "$T/clip.json" "$T/times.txt" > "$T/times.check" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t = [float(x) for x in open(sys.argv[2])]
worst = 0
def check(frame, time):
    global worst
    worst = max(worst, abs(t[frame] - time))
check(0, d["first_time"]); check(len(t) - 1, d["last_time"])
for k in d["tracks"]:
    check(k["first_frame"], k["first_time"]); check(k["last_frame"], k["last_time"])
    check(k["best"]["frame"], k["best"]["time"])
    for a in k["on_screen"]:
        check(a["first_frame"], a["first_time"]); check(a["last_frame"], a["last_time"])
print("largest timestamp difference to ffprobe: %.2g s" % worst)
sys.exit(0 if worst <= 1e-5 else 1)
EOF
rc=$?
expect "every timestamp in the timeline is ffprobe's for that frame ($(cat "$T/times.check"))" "[ $rc -eq 0 ]"

# the reference: classify predict on single frames the ffmpeg command line extracts
FRAMES="0 100 150 200 230 260"
sel=$(for f in $FRAMES; do printf 'eq(n\\,%s)+' $f; done); sel=${sel%+}
ffmpeg -v error -i "$CLIP" -vf "select=$sel" -vsync 0 "$T/frame_%d.png"
i=1; for f in $FRAMES; do mv "$T/frame_$i.png" "$T/f$f.png"; i=$((i + 1)); done
FRAME_PNGS=$(for f in $FRAMES; do echo "$T/f$f.png"; done)
"$FN" gallery identify "${M[@]}" --json "$T/people.db" $FRAME_PNGS > "$T/ref_gallery.json" 2>/dev/null
"$FN" classify predict "${M[@]}" --json "$T/people.cls" $FRAME_PNGS > "$T/ref_cls.json" 2>/dev/null
check_lin() { # timeline, reference (the same names on single frames)
    $PY - "$1" "$2" "$FRAMES" <<'EOF'
import json, sys, re
d = json.load(open(sys.argv[1])); ref = json.load(open(sys.argv[2])); frames = [int(x) for x in sys.argv[3].split()]
names = {}
for img in ref["images"]:
    f = int(re.search(r"/f(\d+)\.png$", img["path"]).group(1))
    names[f] = [x.get("name") for x in img.get("faces", [])]
print("  reference names per frame:", names)
lin = [k for k in d["tracks"] if k["name"] == "Lin-Manuel Miranda"]
ok = len(lin) == 1
print("  tracks named Lin-Manuel Miranda:", [k["id"] for k in lin])
def covers(k, f):
    return any(a["first_frame"] <= f <= a["last_frame"] for a in k["on_screen"])
for f in frames:
    on = "Lin-Manuel Miranda" in names[f]
    hit = bool(lin) and covers(lin[0], f)
    print("  frame %d: Lin-Manuel on screen by the reference: %s, by the timeline: %s" % (f, on, hit))
    ok &= on == hit
ok &= sum("Lin-Manuel Miranda" in v for v in names.values()) >= 3  # the reference itself is sane
sys.exit(0 if ok else 1)
EOF
}
check_lin "$T/clip.json" "$T/ref_gallery.json"
expect "gallery: one track named Lin-Manuel Miranda, on screen exactly on the sampled frames where gallery identify names him" "[ $? -eq 0 ]"
check_lin "$T/cls.json" "$T/ref_cls.json"
expect "classifier: one track named Lin-Manuel Miranda, on screen exactly on the sampled frames where classify predict names him" "[ $? -eq 0 ]"

# one stable id per person through the audience shot (frames 215-274): each face the reference
# finds on frame 230 and 260 belongs to a track that covers both frames
$PY - "$T/clip.json" "$T/ref_gallery.json" > "$T/ids.check" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); ref = json.load(open(sys.argv[2]))
n = {int(i["path"].rsplit("/f", 1)[1][:-4]): len(i.get("faces", [])) for i in ref["images"]}
def on(k, f): return any(a["first_frame"] <= f <= a["last_frame"] for a in k["on_screen"])
t230 = {k["id"] for k in d["tracks"] if on(k, 230)}
t260 = {k["id"] for k in d["tracks"] if on(k, 260)}
print("reference faces: frame 230: %d, frame 260: %d; tracks on 230: %s, on 260: %s" % (n[230], n[260], sorted(t230), sorted(t260)))
ids = [k["id"] for k in d["tracks"]]
ok = ids == list(range(1, len(ids) + 1)) and len(t260) >= 4 and len(t260) <= n[260] and t260 <= t230
sys.exit(0 if ok else 1)
EOF
rc=$?; cat "$T/ids.check"
expect "one id per person through the audience shot, ids 1..n by first appearance" "[ $rc -eq 0 ]"

# the annotated video
ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,width,height,nb_read_frames \
    -of default=nw=1 "$T/out.mp4" > "$T/out.probe" 2>&1
cat "$T/out.probe" | tr '\n' ' '; echo
expect "-o writes H.264, 640x360, every frame" "grep -qx codec_name=h264 '$T/out.probe' && grep -qx width=640 '$T/out.probe' && grep -qx height=360 '$T/out.probe' && grep -qx nb_read_frames=$nf '$T/out.probe'"
ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time -of csv=p=0 "$T/out.mp4" | sed 's/,.*//' | grep -v '^$' > "$T/out_times.txt"
$PY - "$T/times.txt" "$T/out_times.txt" > "$T/outtimes.check" 2>&1 <<'EOF'
import sys
a = [float(x) for x in open(sys.argv[1])]; b = [float(x) for x in open(sys.argv[2])]
d = max(abs((x - a[0]) - (y - b[0])) for x, y in zip(a, b))
print("largest frame time difference (relative to the first frame): %.2g s" % d)
sys.exit(0 if len(a) == len(b) and d < 1e-3 else 1)
EOF
rc=$?
expect "the annotated video keeps the clip's frame times ($(cat "$T/outtimes.check"))" "[ $rc -eq 0 ]"
ffmpeg -v error -y -i "$T/out.mp4" -vf "select=not(mod(n\,25)),scale=320:-1,tile=4x3" -frames:v 1 "$BUILD/video_contact_sheet.png"
expect "contact sheet of the annotated video: $BUILD/video_contact_sheet.png" "[ -s '$BUILD/video_contact_sheet.png' ]"
# the boxes are drawn: the annotated frame 150 differs from the clip's around Lin-Manuel's face
ffmpeg -v error -i "$T/out.mp4" -vf "select=eq(n\,150)" -frames:v 1 -f rawvideo -pix_fmt rgb24 "$T/o150.rgb"
ffmpeg -v error -i "$T/f150.png" -f rawvideo -pix_fmt rgb24 "$T/f150.rgb"
diff_px=$($PY -c "
import sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
print(sum(1 for i in range(0, min(len(a), len(b)), 3) if max(abs(a[i + c] - b[i + c]) for c in range(3)) > 64) if len(a) == len(b) else -1)
" "$T/f150.rgb" "$T/o150.rgb")
expect "boxes and labels drawn on frame 150 ($diff_px pixels differ by > 64 levels)" "[ $diff_px -gt 300 ]"

# --faces-dir: a PNG per track, and the detector finds a face in Lin-Manuel's
lin_face=$(jq -r '.tracks[] | select(.name == "Lin-Manuel Miranda") | .face' "$T/clip.json" | head -1)
nfaces=$(ls "$T/faces" | grep -c '^track_[0-9]*\.png$')
expect "--faces-dir: one PNG per track ($nfaces)" "[ $nfaces -eq \$(jq '.tracks | length' '$T/clip.json') ]"
"$FN" detect "--mtcnn" "$MTCNN" --json "$lin_face" > "$T/face.json" 2>/dev/null
expect "Lin-Manuel's best face is detectable again (enrolment)" "[ \$(jq '.images[0].faces | length' '$T/face.json') -ge 1 ]"

# --- bad input (detection on every 90th frame: what is checked is the decoding) ----------------
run_bad() { # name, expected exit, args...
    local name=$1 want=$2; shift 2
    "$FN" video "${M[@]}" --every 90 --json "$@" > "$T/$name.out" 2> "$T/$name.err"
    local rc=$?
    echo "  [$name] exit $rc: $(head -c 300 "$T/$name.err")"
    [ $rc -eq $want ] && [ $rc -lt 128 ]
}
head -c 300000 "$CLIP" > "$T/trunc_end.mp4"   # the index (moov) is at the end: lost
expect "truncated file without its index: exit 1, says so" "run_bad trunc_end 1 '$T/trunc_end.mp4' && grep -q 'trunc_end.mp4' '$T/trunc_end.err'"
ffmpeg -v error -i "$CLIP" -c copy -movflags +faststart "$T/fast.mp4"
head -c 300000 "$T/fast.mp4" > "$T/trunc_fast.mp4"  # index first: the first half is readable
expect "truncated file with its index first: exit 0, warning, frames up to the cut" \
    "run_bad trunc_fast 0 '$T/trunc_fast.mp4' && grep -q warning '$T/trunc_fast.err' && [ \$(jq .frames '$T/trunc_fast.out') -gt 50 ] && [ \$(jq .frames '$T/trunc_fast.out') -lt $nf ] && [ \$(jq .complete '$T/trunc_fast.out') = false ]"
cp "$CLIP" "$T/corrupt.mp4"
dd if=/dev/urandom of="$T/corrupt.mp4" bs=1 seek=200000 count=20000 conv=notrunc status=none
expect "corrupt data in the middle: exit 0, tracks found" "run_bad corrupt 0 '$T/corrupt.mp4' && [ \$(jq '.tracks | length' '$T/corrupt.out') -ge 1 ]"
ffmpeg -v error -i "$CLIP" -vn -c:a copy "$T/audio.m4a"
expect "a file with no video stream: exit 1, 'no video stream'" "run_bad audio 1 '$T/audio.m4a' && grep -q 'no video stream' '$T/audio.err'"
printf 'this is not a video' > "$T/text.mp4"
expect "not a video: exit 1" "run_bad text 1 '$T/text.mp4' && grep -q 'text.mp4' '$T/text.err'"
expect "a missing file: exit 1" "run_bad missing 1 '$T/nope.mp4' && grep -q 'nope.mp4' '$T/missing.err'"
head -c 20000 /dev/urandom > "$T/noise.mp4"
expect "random bytes: exit 1" "run_bad noise 1 '$T/noise.mp4'"

# --- streams (MPEG-TS over HTTP from 127.0.0.1) -----------------------------------------------
ffmpeg -v error -i "$CLIP" -an -c copy -f mpegts "$T/clip.ts"
serve() { # mode (drop: half the bytes then hang up; slow: a trickle), prints the port
    $PY - "$T/clip.ts" "$1" > "$T/port.$1" 2> "$T/server.$1.err" <<'EOF' &
import socket, sys, time
data = open(sys.argv[1], "rb").read(); mode = sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
s.settimeout(60)
c, _ = s.accept()
c.recv(65536)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n")
if mode == "drop":
    c.sendall(data[:len(data) // 2]); time.sleep(0.5)
    c.shutdown(socket.SHUT_RDWR); c.close()   # the camera goes away mid-stream
else:
    for i in range(0, len(data), 4096):
        c.sendall(data[i:i + 4096]); time.sleep(0.2)   # ~30 s for the clip
EOF
    SERVER=$!
    for _ in $(seq 50); do [ -s "$T/port.$1" ] && break; sleep 0.1; done
    PORT=$(cat "$T/port.$1")
}
serve drop
"$FN" video "${M[@]}" --every 90 --json -o "$T/drop.mp4" "http://127.0.0.1:$PORT/live.ts" > "$T/drop.out" 2> "$T/drop.err"
rc=$?
wait $SERVER 2>/dev/null
echo "  [drop] exit $rc: $(head -c 300 "$T/drop.err")"
expect "a stream that drops: exit 0, the frames before the drop, a playable video of them" \
    "[ $rc -eq 0 ] && [ \$(jq .frames '$T/drop.out') -gt 50 ] && [ \$(jq .frames '$T/drop.out') -lt $nf ] && ffprobe -v error '$T/drop.mp4'"

serve slow
"$FN" video "${M[@]}" --every 90 --json -o "$T/stop.mp4" "http://127.0.0.1:$PORT/live.ts" > "$T/stop.out" 2> "$T/stop.err" &
VID=$!
# Ctrl-C once frames are flowing: the annotated video's temporary file exists from the first frame
for _ in $(seq 600); do ls "$T" | grep -q 'stop.mp4.tmp' && break; sleep 0.1; done
sleep 2
kill -INT $VID
wait $VID; rc=$?
kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null
echo "  [sigint] exit $rc: $(head -c 300 "$T/stop.err") frames $(jq .frames "$T/stop.out" 2>/dev/null)"
expect "Ctrl-C on a stream: exit 0, interrupted, what was found, a finished video" \
    "[ $rc -eq 0 ] && [ \$(jq .interrupted '$T/stop.out') = true ] && [ \$(jq .frames '$T/stop.out') -ge 1 ] && ffprobe -v error '$T/stop.mp4' && [ -z \"\$(ls '$T' | grep 'stop.mp4.tmp')\" ]"

finish cli_video
