#!/usr/bin/env bash
# serve_api.sh — `facenet serve` over real HTTP (curl on 127.0.0.1): detection and
# verification as CompreFace answers them (multipart and base64), the face plugins, API
# keys, /health, /metrics, the page, then hostile input (truncated, non-image, bomb, huge,
# malformed multipart, bad base64 and JSON, path tricks), the bounded queue (429 +
# Retry-After), stalled clients, and a clean stop on SIGTERM.
set -u
source "$(dirname "$0")/lib_serve.sh"

start_server --workers 2
H=(-H "x-api-key: $KEY")

# ---- health, metrics, page
expect "GET /health is 200" '[ "$(http_code $URL/health)" = 200 ] && [ "$(jget status)" = ok ]'
expect "GET / serves the page" '[ "$(http_code $URL/)" = 200 ] && grep -qi "<html" $T/body && grep -qi "content-type: text/html" $T/headers'

# ---- detection: the boxes the CLI finds, in CompreFace's shape
"$BUILD/facenet" detect --json --mtcnn "$MTCNN" "$FACES/two_people.jpg" >"$T/cli.json" 2>/dev/null
code=$(http_code "${H[@]}" -F "file=@$FACES/two_people.jpg" "$URL/api/v1/detection/detect?face_plugins=landmarks,undefined&status=true")
expect "detect two_people.jpg: 200" '[ "$code" = 200 ]'
expect "detect: two faces" '[ "$(jget result | /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 2 ]'
expect "detect: boxes equal the CLI's (within 1 px), landmarks and execution_time present" '/usr/bin/python3 - "$T/body" "$T/cli.json" <<EOF
import json, sys
api = json.load(open(sys.argv[1]))["result"]
cli = json.load(open(sys.argv[2]))["images"][0]["faces"]
assert len(api) == len(cli) == 2
for a in api:
    b = a["box"]
    assert set(b) == {"probability", "x_min", "y_min", "x_max", "y_max"}, b
    assert all(isinstance(b[k], int) for k in ("x_min", "y_min", "x_max", "y_max"))
    assert len(a["landmarks"]) == 5 and "detector" in a["execution_time"], a
    assert "embedding" not in a
    assert any(abs(b["x_min"] - max(0, c["box"][0])) <= 1 and abs(b["y_max"] - c["box"][3]) <= 1 for c in cli), (b, cli)
EOF'
expect "detect: plugins_versions with status=true" '[ -n "$(jget plugins_versions.detector)" ]'
code=$(http_code "${H[@]}" -F "file=@$FACES/two_people.jpg" "$URL/api/v1/detection/detect?limit=1&face_plugins=calculator")
expect "detect limit=1 + calculator: one face with a unit embedding" '[ "$code" = 200 ] && /usr/bin/python3 -c "
import json, math; r = json.load(open(\"$T/body\"))[\"result\"]; assert len(r) == 1
e = r[0][\"embedding\"]; assert len(e) == 128 and abs(math.sqrt(sum(x * x for x in e)) - 1) < 1e-4
assert \"landmarks\" not in r[0] and \"execution_time\" not in r[0]"'
code=$(http_code "${H[@]}" -F "file=@$FACES/two_people.jpg" "$URL/api/v1/detection/detect?det_prob_threshold=1.0")
expect "detect det_prob_threshold=1.0 keeps only faces scored 1.0 (or answers no face, 400 code 28)" '[ "$code" = 200 ] || { [ "$code" = 400 ] && [ "$(jget code)" = 28 ]; }'
printf '{"file":"%s"}' "$(base64 -w0 "$FACES/obama.jpg")" >"$T/d.json"
code=$(http_code "${H[@]}" -H "Content-Type: application/json" --data-binary @"$T/d.json" "$URL/api/v1/detection/detect")
expect "detect with a base64 JSON body: one face" '[ "$code" = 200 ] && [ "$(jget result.0.box.x_min)" -gt 0 ]'

# ---- verification: same person high, different people low, CompreFace's shape
code=$(http_code "${H[@]}" -F "source_image=@$FACES/obama.jpg" -F "target_image=@$FACES/obama2.jpg" "$URL/api/v1/verification/verify")
same=$(jget result.0.face_matches.0.similarity)
expect "verify obama vs obama2: 200, similarity $same > 0.5" '[ "$code" = 200 ] && /usr/bin/python3 -c "assert $same > 0.5"'
code=$(http_code "${H[@]}" -F "source_image=@$FACES/obama.jpg" -F "target_image=@$FACES/biden.jpg" "$URL/api/v1/verification/verify")
diff=$(jget result.0.face_matches.0.similarity)
expect "verify obama vs biden: similarity $diff < 0.5" '[ "$code" = 200 ] && /usr/bin/python3 -c "assert $diff < 0.5"'
expect "verify: source_image_face.box present" '[ -n "$(jget result.0.source_image_face.box.x_max)" ]'
printf '{"source_image":"%s","target_image":"%s"}' "$(base64 -w0 "$FACES/obama.jpg")" "$(base64 -w0 "$FACES/obama2.jpg")" >"$T/v.json"
code=$(http_code "${H[@]}" -H "Content-Type: application/json" --data-binary @"$T/v.json" "$URL/api/v1/verification/verify")
expect "verify with base64 JSON gives the multipart similarity" '[ "$code" = 200 ] && [ "$(jget result.0.face_matches.0.similarity)" = "$same" ]'

# ---- keys
code=$(http_code -F "file=@$FACES/obama.jpg" "$URL/api/v1/detection/detect")
expect "no x-api-key: 401 code 20" '[ "$code" = 401 ] && [ "$(jget code)" = 20 ]'
code=$(http_code -H "x-api-key: 00000000-0000-0000-0000-000000000000" -F "file=@$FACES/obama.jpg" "$URL/api/v1/detection/detect")
expect "unknown key: 401 with a message" '[ "$code" = 401 ] && [ -n "$(jget message)" ]'
expect "the key never appears in the server log" '! grep -qF "$KEY" $T/serve.err'

# ---- hostile input: always a 4xx with a message, and the server stays up
head -c 2000 "$FACES/obama.jpg" >"$T/trunc.jpg"
/usr/bin/python3 - "$T/bomb.png" <<'EOF'
import struct, sys, zlib
# 30000 x 30000 grey PNG of zeros: ~900 MB decoded, ~900 KB on disk
w = h = 30000
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = zlib.compressobj(9)
row = b"\0" * (w + 1)
data = b"".join(raw.compress(row) for _ in range(h)) + raw.flush()
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
EOF
head -c 6000000 /dev/urandom >"$T/huge.bin"
check_4xx() { # name, curl args...
    local name=$1; shift
    local code; code=$(http_code "$@")
    expect "$name: 4xx ($code) with a message" '[ "${code:0:1}" = 4 ] && [ -n "$(jget message)" ]'
}
D="$URL/api/v1/detection/detect"
check_4xx "truncated JPEG" "${H[@]}" -F "file=@$T/trunc.jpg" "$D"
check_4xx "not an image" "${H[@]}" -F "file=@$SRC/README.md" "$D"
check_4xx "decompression bomb (30000x30000 PNG)" "${H[@]}" -F "file=@$T/bomb.png" "$D"
check_4xx "6 MB body (over 5 MB)" "${H[@]}" -F "file=@$T/huge.bin" "$D"
expect "the 6 MB body is 413" '[ "$(http_code "${H[@]}" -F "file=@$T/huge.bin" "$D")" = 413 ]'
check_4xx "empty file part" "${H[@]}" -F "file=@/dev/null" "$D"
check_4xx "wrong part name" "${H[@]}" -F "image=@$FACES/obama.jpg" "$D"
check_4xx "multipart without a boundary" "${H[@]}" -H "Content-Type: multipart/form-data" --data-binary "xx" "$D"
check_4xx "malformed multipart" "${H[@]}" -H "Content-Type: multipart/form-data; boundary=zz" --data-binary $'--zz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc' "$D"
check_4xx "bad base64" "${H[@]}" -H "Content-Type: application/json" --data-binary '{"file":"***not base64***"}' "$D"
check_4xx "base64 of text" "${H[@]}" -H "Content-Type: application/json" --data-binary '{"file":"aGVsbG8gd29ybGQ="}' "$D"
check_4xx "truncated JSON" "${H[@]}" -H "Content-Type: application/json" --data-binary '{"file": "abc' "$D"
check_4xx "JSON of the wrong type" "${H[@]}" -H "Content-Type: application/json" --data-binary '{"file": 42}' "$D"
check_4xx "JSON array body" "${H[@]}" -H "Content-Type: application/json" --data-binary '[1,2,3]' "$D"
check_4xx "no body" "${H[@]}" -X POST "$D"
check_4xx "limit=-1" "${H[@]}" -F "file=@$FACES/obama.jpg" "$D?limit=-1"
check_4xx "det_prob_threshold=abc" "${H[@]}" -F "file=@$FACES/obama.jpg" "$D?det_prob_threshold=abc"
check_4xx "det_prob_threshold=2" "${H[@]}" -F "file=@$FACES/obama.jpg" "$D?det_prob_threshold=2"
check_4xx "status=maybe" "${H[@]}" -F "file=@$FACES/obama.jpg" "$D?status=maybe"
check_4xx "unknown path" "${H[@]}" "$URL/api/v1/nothing"
check_4xx "path traversal" "${H[@]}" --path-as-is "$URL/api/v1/../../etc/passwd"
check_4xx "encoded traversal in an image id" "${H[@]}" -X DELETE "$URL/api/v1/recognition/faces/..%2F..%2Fetc%2Fpasswd"
check_4xx "wrong method" "${H[@]}" -X DELETE "$URL/api/v1/detection/detect"
check_4xx "verify with one image" "${H[@]}" -F "source_image=@$FACES/obama.jpg" "$URL/api/v1/verification/verify"
code=$(http_code "${H[@]}" -F "file=@$SHARED/data/faces/face_recognition/examples/knn_examples/train/biden/biden.jpg" "$D?det_prob_threshold=0.99999999")
expect "a photo whose faces are all below det_prob_threshold: 400 code 28 'No face is found in the given image'" \
    '[ "$code" = 400 ] && [ "$(jget code)" = 28 ] && [ "$(jget message)" = "No face is found in the given image" ] || [ "$code" = 200 ]'
expect "the server is still up after the hostile inputs" '[ "$(http_code $URL/health)" = 200 ]'

# ---- stalled client: a request that never finishes is dropped after --timeout
stop_server >/dev/null
start_server --workers 1 --queue 0 --timeout 2
D="$URL/api/v1/detection/detect"
exec 3<>/dev/tcp/127.0.0.1/"${URL##*:}"
printf 'POST /api/v1/detection/detect HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"fi' "$KEY" >&3
t0=$(date +%s%N)
timeout 10 cat <&3 >/dev/null
t1=$(date +%s%N)
exec 3<&-
ms=$(( (t1 - t0) / 1000000 ))
expect "a stalled upload is closed after the 2 s timeout (took $ms ms)" '[ $ms -lt 8000 ]'

# ---- bounded queue: 1 worker, no queue, 6 requests at once -> some 429 with Retry-After
pids=()
for i in 1 2 3 4 5 6; do
    curl -s -o /dev/null -D "$T/h$i" -w '%{http_code}\n' "${H[@]}" -F "file=@$FACES/obama-1080p.jpg" "$D" >"$T/c$i" &
    pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$T"/c? | sort | uniq -c | tr '\n' ' ')
n429=$(cat "$T"/c? | grep -c 429); n200=$(cat "$T"/c? | grep -c 200)
expect "6 concurrent requests on 1 worker with no queue: 200s and 429s only ($codes)" '[ $n429 -ge 1 ] && [ $n200 -ge 1 ] && [ $((n429 + n200)) = 6 ]'
expect "every 429 carries Retry-After" 'for i in 1 2 3 4 5 6; do grep -q 429 $T/c$i || continue; grep -qi "^retry-after: [0-9]" $T/h$i || exit 1; done'
curl -s "$URL/metrics" >"$T/metrics"
expect "/metrics counts the 429s" 'grep -q "facenet_http_requests_total{route=\"detect\",method=\"POST\",code=\"429\"} $n429" $T/metrics'
expect "/metrics has the latency histogram, queue depth and worker busy time" \
    'grep -q "facenet_http_request_duration_seconds_bucket{route=\"detect\",le=\"+Inf\"}" $T/metrics && grep -q "^facenet_queue_depth 0" $T/metrics && grep -q "^facenet_worker_busy_seconds_total [0-9]" $T/metrics'

# ---- SIGTERM during a request: the request completes, the server exits 0
curl -s -o "$T/inflight" -w '%{http_code}' "${H[@]}" -F "file=@$FACES/obama-1080p.jpg" "$D" >"$T/inflight.code" &
cpid=$!
# wait until the server is answering it (in_flight counts the /health request too)
for _ in $(seq 1 300); do
    [ "$(http_code $URL/health)" = 200 ] && [ "$(jget in_flight)" -ge 2 ] && break
    sleep 0.05
done
stop_server; rc=$?
wait $cpid
expect "SIGTERM: the in-flight request still gets its answer ($(cat $T/inflight.code))" '[ "$(cat $T/inflight.code)" = 200 ]'
expect "SIGTERM: exit status 0" '[ $rc = 0 ]'

finish serve_api
