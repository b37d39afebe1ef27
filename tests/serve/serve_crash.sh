#!/usr/bin/env bash
# serve_crash.sh — kill -9 `facenet serve` during a stream of adds (4 clients), restart it
# on the same gallery (twice): every acknowledged add is there, at most the in-flight ones
# (4 per kill) extra,
# and the collection still takes new adds.
set -u
source "$(dirname "$0")/lib_serve.sh"
mkdir -p "$T/photos"
for d in $(ls "$SHARED/data/lfw/deepfunneled" | head -12); do
    f=$(ls "$SHARED/data/lfw/deepfunneled/$d" | head -1)
    ln -s "$SHARED/data/lfw/deepfunneled/$d/$f" "$T/photos/$d.jpg"
done
C="$SRC/tests/serve/client.py"
for round in 1 2; do
    start_server --workers 2
    /usr/bin/python3 "$C" adds "$URL" "$KEY" "$T/photos" --log "$T/acked" --clients 4 &
    cpid=$!
    sleep $((4 + 2 * round))
    kill -9 $PID; wait $PID 2>/dev/null; PID=
    wait $cpid
    start_server --workers 2
    expect "round $round: after kill -9 and a restart every acknowledged add is listed ($(wc -l <"$T/acked") so far)" \
        '/usr/bin/python3 "$C" check-adds "$URL" "$KEY" --log "$T/acked" --clients $((4 * round))'
    code=$(http_code -H "x-api-key: $KEY" -F "file=@$FACES/obama.jpg" "$URL/api/v1/recognition/faces?subject=after-crash-$round")
    expect "round $round: the restarted server takes a new add (201)" '[ "$code" = 201 ]'
    jget image_id >>"$T/acked"
    stop_server
done
finish serve_crash
