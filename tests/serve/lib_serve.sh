# lib_serve.sh — sourced by tests/serve/*.sh (args: build dir, shared dir, source dir).
# start_server [ARGS...] starts `facenet serve` on 127.0.0.1 and a free port with a fresh
# keys file ($KEY) and gallery in $T, sets $PID and $URL; stop_server sends SIGTERM and
# waits. The server is killed at exit whatever happens.
BUILD=$(cd "$1" && pwd); SHARED=$(cd "$2" && pwd); SRC=$(cd "$3" && pwd)
source "$SRC/tests/lib_cli.sh"
need_default_models
FACES=$SHARED/data/faces/face_recognition/examples
PID=
trap 'if [ -n "$PID" ]; then kill -9 $PID 2>/dev/null; fi; rm -rf "$T"' EXIT

start_server() {
    [ -f "$T/keys.txt" ] || KEY=$("$BUILD/facenet" serve --new-key --keys "$T/keys.txt")
    : >"$T/serve.out"
    "$BUILD/facenet" serve --keys "$T/keys.txt" --gallery "$T/gallery.db" --host 127.0.0.1 --port 0 \
        "${M[@]}" "$@" >"$T/serve.out" 2>"$T/serve.err" &
    PID=$!
    for _ in $(seq 1 200); do
        grep -q "^facenet serve: http" "$T/serve.out" 2>/dev/null && break
        kill -0 $PID 2>/dev/null || break
        sleep 0.1
    done
    URL=$(sed -n 's|^facenet serve: \(http://[^/]*\)/$|\1|p' "$T/serve.out")
    [ -n "$URL" ] || { echo "FAIL the server did not start"; cat "$T/serve.err"; exit 1; }
}

stop_server() {
    kill -TERM $PID
    local rc=0
    wait $PID || rc=$?
    PID=
    return $rc
}

# status code of a request: http_code ARGS... (body in $T/body, headers in $T/headers)
http_code() {
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"
}
# a JSON field of $T/body through Debian's python3 (a path like result.0.box.x_min)
jget() {
    /usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split(".") if sys.argv[2] else []:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$T/body" "$1" 2>/dev/null
}
