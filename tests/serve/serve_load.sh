#!/usr/bin/env bash
# serve_load.sh — 16 concurrent clients mixing recognize, add and delete against
# `facenet serve` on loopback for 12 s (bench/bench_serve_load.sh runs the 60 s version):
# zero 5xx, the collection equals the acknowledged adds minus deletes, RSS flat.
set -u
source "$(dirname "$0")/lib_serve.sh"
SECONDS_RUN=${FN_LOAD_SECONDS:-12}
mkdir -p "$T/photos"
# LFW photos (250x250, one face in front each): small, so the run makes many requests
for d in $(ls "$SHARED/data/lfw/deepfunneled" | head -40); do
    f=$(ls "$SHARED/data/lfw/deepfunneled/$d" | head -1)
    ln -s "$SHARED/data/lfw/deepfunneled/$d/$f" "$T/photos/$d.jpg"
done
start_server --workers 2
expect "16 clients, ${SECONDS_RUN} s of recognize/add/delete: no 5xx, no lost or phantom examples, RSS flat" \
    '/usr/bin/python3 "$SRC/tests/serve/client.py" load "$URL" "$KEY" "$T/photos" --seconds $SECONDS_RUN --clients 16 --pid $PID'
expect "the server is up after the load" '[ "$(http_code $URL/health)" = 200 ]'
curl -s "$URL/metrics" >"$T/metrics"
http_code -H "x-api-key: $KEY" "$URL/api/v1/recognition/faces?size=1" >/dev/null
total=$(jget total_elements)
expect "/metrics: faces enrolled equals the collection's $total" '[ "$(sed -n "s/^facenet_faces_enrolled //p" $T/metrics)" = "$total" ]'
expect "SIGTERM after the load: exit 0" 'stop_server'
finish serve_load
