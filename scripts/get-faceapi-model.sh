#!/usr/bin/env bash
# get-faceapi-model.sh — fetch the dlib-style face-descriptor ResNet (128-d, 99.38% LFW
# reported for dlib's original) and the 68-point landmark net from the npm package
# @vladmandic/face-api and convert them to models/dlib_resnet.safetensors (the default
# embedding model when facenet's VGGFace2 weights are absent) and models/landmark68.safetensors.
#
#   scripts/get-faceapi-model.sh [--force]
#
# Environment: FACENET (the facenet binary, default build/facenet), BUILD (its build
# folder, default the binary's folder; used only for the fallback converter), NPM (npm).
# Idempotent: skips when both models exist and match the stamps written by a previous
# successful run from the same (sha256-checked) sources.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

PKG="@vladmandic/face-api@1.7.15"
# sha256 of the files inside the package tarball (model/)
SHA_MANIFEST="cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b" # face_recognition_model-weights_manifest.json
SHA_BIN="b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"      # face_recognition_model.bin
OUT="models/dlib_resnet.safetensors"
STAMP="models/dlib_resnet.safetensors.source"
SHA_LM_MANIFEST="ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9" # face_landmark_68_model-weights_manifest.json
SHA_LM_BIN="4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b"      # face_landmark_68_model.bin
LM_OUT="models/landmark68.safetensors"
LM_STAMP="models/landmark68.safetensors.source"

FACENET="${FACENET:-build/facenet}"
NPM="${NPM:-npm}"
force=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    -h|--help) sed -n 2,13p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "get-faceapi-model.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done

sha() { sha256sum "$1" | cut -d' ' -f1; }

up_to_date() { # OUT STAMP "PKG SHA SHA"
  [ -f "$1" ] && [ -f "$2" ] && [ "$(sed -n 1p "$2")" = "$3" ] && [ "$(sed -n 2p "$2")" = "$(sha "$1")" ]
}
if [ "$force" = 0 ] && up_to_date "$OUT" "$STAMP" "$PKG $SHA_MANIFEST $SHA_BIN" \
   && up_to_date "$LM_OUT" "$LM_STAMP" "$PKG $SHA_LM_MANIFEST $SHA_LM_BIN"; then
  echo "$OUT, $LM_OUT: up to date ($PKG)"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetching $PKG from npm ..." >&2
( cd "$tmp" && "$NPM" pack --silent "$PKG" >/dev/null )
tarball="$(ls "$tmp"/*.tgz 2>/dev/null | head -1)"
[ -n "$tarball" ] || { echo "get-faceapi-model.sh: npm pack $PKG produced no tarball" >&2; exit 1; }
tar -xzf "$tarball" -C "$tmp" package/model/face_recognition_model-weights_manifest.json \
    package/model/face_recognition_model.bin package/model/face_landmark_68_model-weights_manifest.json \
    package/model/face_landmark_68_model.bin
M="$tmp/package/model/face_recognition_model-weights_manifest.json"
B="$tmp/package/model/face_recognition_model.bin"
LM="$tmp/package/model/face_landmark_68_model-weights_manifest.json"
LB="$tmp/package/model/face_landmark_68_model.bin"
for pair in "$M:$SHA_MANIFEST" "$B:$SHA_BIN" "$LM:$SHA_LM_MANIFEST" "$LB:$SHA_LM_BIN"; do
  f="${pair%%:*}"; want="${pair##*:}"; got="$(sha "$f")"
  if [ "$got" != "$want" ]; then
    echo "get-faceapi-model.sh: sha256 mismatch for $(basename "$f"): got $got, expected $want" >&2
    exit 1
  fi
done

mkdir -p models
[ -x "$FACENET" ] || { echo "get-faceapi-model.sh: $FACENET not found: build first (scripts/build.sh) or set FACENET" >&2; exit 1; }
if "$FACENET" convert --help >/dev/null 2>&1; then
  "$FACENET" convert "$M" "$OUT" --arch dlib_resnet >&2
else
  # No `convert` subcommand in this build: a tiny converter linked against libfacenet.a.
  BUILD="${BUILD:-$(dirname "$FACENET")}"
  [ -f "$BUILD/libfacenet.a" ] || { echo "get-faceapi-model.sh: $BUILD/libfacenet.a not found (set BUILD)" >&2; exit 1; }
  # shellcheck disable=SC2046
  ${CC:-cc} -O2 -Iinclude -Isrc -Isrc/core -Isrc/io tools/faceapi_reference/tfjs_to_safetensors.c \
    "$BUILD/libfacenet.a" -fopenmp $(pkg-config --libs openblas) -ljpeg -lpng -lgif -lsvm -lm \
    -o "$tmp/tfjs_to_safetensors"
  "$tmp/tfjs_to_safetensors" "$M" "$OUT" >&2
fi
printf '%s\n%s\n' "$PKG $SHA_MANIFEST $SHA_BIN" "$(sha "$OUT")" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
echo "$OUT: converted from $PKG"
# the 68-point landmark net needs `convert` (no fallback converter: it came with it)
"$FACENET" convert "$LM" "$LM_OUT" --arch landmark68 >&2
printf '%s\n%s\n' "$PKG $SHA_LM_MANIFEST $SHA_LM_BIN" "$(sha "$LM_OUT")" > "$LM_STAMP.tmp" && mv "$LM_STAMP.tmp" "$LM_STAMP"
echo "$LM_OUT: converted from $PKG"
