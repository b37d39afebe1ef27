#!/usr/bin/env bash
# demo.sh — the main job on real photos, from a fresh Debian machine:
# installs what is missing, builds, fetches the default models, then
#   1. detects faces (with landmarks) in a group photo and draws them,
#   2. compares faces across photos (distance matrix: same person = small),
#   3. enrols people from a folder of photos and names the faces in new photos,
#      marking strangers as unknown, and draws the result (SVM classifier),
#   4. keeps the same people in a gallery (a SQLite face database) and identifies them,
#   5. tracks and names the people of a video clip (annotated H.264 video + timeline),
#   6. runs a face_recognition script from Python through the facenet_c package,
#   7. serves the same as a CompreFace-compatible REST service and calls it with curl.
# Outputs go to out/ (PNG files you can open).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FN_SHARED:-$(cd .. && pwd)/shared}"
FACES="$SHARED/data/faces"
bash scripts/deps.sh
bash scripts/build.sh release >/dev/null
bash scripts/get-models.sh --from "$SHARED/models" >/dev/null
mkdir -p out
ROOT="$PWD"
F=build/facenet

echo "== 1. detect: faces and landmarks in a group photo -> out/detections.png"
$F detect --draw out/detections.png "$FACES/facenet-pytorch/multiface.jpg"

echo
echo "== 2. compare: Euclidean distances between the faces of six photos"
$F compare "$FACES/facenet/Anthony_Hopkins_0001.jpg" "$FACES/facenet/Anthony_Hopkins_0002.jpg" \
  "$FACES"/facenet-pytorch/{angelina_jolie,kate_siegel,paul_rudd,shea_whigham}.jpg

echo
echo "== 3. classify: enrol 5 people from knn_examples/train, name the faces in test/"
$F classify train "$FACES/face_recognition/examples/knn_examples/train" out/people.classifier
for img in "$FACES"/face_recognition/examples/knn_examples/test/*.jpg; do
  name=$(basename "$img" .jpg)
  $F classify predict out/people.classifier --draw "out/predict_$name.png" "$img"
done
echo
echo "== 4. gallery: enrol the same people once into a face database, then ask who is in new photos"
rm -f out/people.db out/people.db-wal out/people.db-shm
$F gallery enroll --largest-face out/people.db "$FACES/face_recognition/examples/knn_examples/train"
$F gallery info out/people.db
for img in "$FACES"/face_recognition/examples/knn_examples/test/*.jpg; do
  name=$(basename "$img" .jpg)
  $F gallery identify out/people.db --draw "out/identify_$name.png" "$img"
done
echo
echo "== 5. video: find, track and name Lin-Manuel Miranda and Alex Lacamoire in a clip"
CLIP="$FACES/face_recognition/examples"
rm -f out/hamilton.db out/hamilton.db-wal out/hamilton.db-shm
$F gallery enroll out/hamilton.db --subject "Lin-Manuel Miranda" "$CLIP/lin-manuel-miranda.png" >/dev/null
$F gallery enroll out/hamilton.db --subject "Alex Lacamoire" "$CLIP/alex-lacamoire.png" >/dev/null
$F video "$CLIP/short_hamilton_clip.mp4" --gallery out/hamilton.db --every 5 \
  -o out/hamilton_annotated.mp4 --faces-dir out/hamilton_faces

echo
echo "== 6. python: face_recognition's recognize_faces_in_pictures.py with only the import changed"
(cd "$CLIP" && PYTHONPATH="$ROOT/python" FACENET_MODELS="$ROOT/models" \
   /usr/bin/python3 "$ROOT/python/examples/recognize_faces_in_pictures.py")

echo
echo "== 7. serve: the same as a CompreFace-compatible REST service on this machine (curl as the client)"
rm -f out/serve.db out/serve.db-wal out/serve.db-shm out/serve-keys.txt out/serve.log
KEY=$($F serve --new-key --keys out/serve-keys.txt)
$F serve --gallery out/serve.db --keys out/serve-keys.txt --port 0 >out/serve.log 2>&1 &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null || true' EXIT
for _ in $(seq 120); do grep -q "http://" out/serve.log 2>/dev/null && break; sleep 0.5; done
URL=$(grep -o 'http://[^ ]*' out/serve.log | head -1)
echo "facenet serve at $URL (open it in a browser for the web page; the API key is in out/serve-keys.txt)"
API="${URL}api/v1/recognition"
curl -sS -H "x-api-key: $KEY" -F file=@"$CLIP/obama.jpg" "$API/faces?subject=Barack%20Obama"; echo
curl -sS -H "x-api-key: $KEY" -F file=@"$CLIP/biden.jpg" "$API/faces?subject=Joe%20Biden"; echo
echo "recognize two_people.jpg:"
curl -sS -H "x-api-key: $KEY" -F file=@"$CLIP/two_people.jpg" "$API/recognize?prediction_count=1"; echo
kill -TERM $SERVE_PID; wait $SERVE_PID || true; trap - EXIT

echo
echo "Pictures written: out/detections.png, out/predict_*.png, out/identify_*.png,"
echo "out/hamilton_annotated.mp4 and out/hamilton_faces/"
