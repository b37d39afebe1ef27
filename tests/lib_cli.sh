# lib_cli.sh — sourced by the tests/cli_*.sh tests: a temp dir $T removed at exit, check
# counters with ok/fail/expect, `finish NAME` (prints the tally, returns non-zero on a
# failure) and `need_default_models` (sets MODEL, MTCNN and M=(--model .. --mtcnn ..),
# failing — never skipping — when they are missing).
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
ok()   { checks=$((checks + 1)); echo "ok   $1"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $1"; }
expect() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }
finish() { echo "$1: $checks checks, $fails failed"; [ $fails -eq 0 ]; }

need_default_models() {
    MODEL=$SRC/models/dlib_resnet.safetensors
    MTCNN=
    for p in "$SRC/models/mtcnn.safetensors" "$SRC/models/mtcnn" "$SHARED/models/mtcnn"; do
        [ -e "$p" ] && { MTCNN=$p; break; }
    done
    [ -f "$MODEL" ] || { echo "FAIL the default model $MODEL is missing: run scripts/get-models.sh"; exit 1; }
    [ -n "$MTCNN" ] || { echo "FAIL no MTCNN weights in $SRC/models/mtcnn* or $SHARED/models/mtcnn"; exit 1; }
    M=(--model "$MODEL" --mtcnn "$MTCNN")
}
