#!/usr/bin/env bash
# get-models.sh — fill models/ with every default model, converted to safetensors:
#   models/mtcnn.safetensors                      MTCNN (facenet-pytorch pnet/rnet/onet.pt or
#                                                 facenet det1-3.npy; identical tensors)
#   models/20180402-114759-vggface2.safetensors   facenet Inception-ResNet-v1, VGGFace2 (default)
#   models/20180408-102900-casia-webface.safetensors                       ... CASIA-WebFace
#   models/dlib_resnet.safetensors                face-api's dlib-style ResNet (npm; via
#                                                 scripts/get-faceapi-model.sh when present)
#   models/landmark68.safetensors                 face-api's 68-point landmark net (same package)
#
#   scripts/get-models.sh [--from DIR] [--download] [--no-npm] [--models OUT] [--force]
#
#   --from DIR    take models from a local folder (CI and tests: --from ../shared/models):
#                 DIR/mtcnn/ (pnet/rnet/onet.pt or det1-3.npy), DIR/<name>.pt, DIR/<name>.pb
#                 or DIR/20180402-114759/20180402-114759.pb (facenet's TF release)
#   --download    opt-in: fetch what is still missing from the public URLs below (curl or
#                 wget; GitHub must be reachable) and verify the recorded sha256
#   --no-npm      do not run scripts/get-faceapi-model.sh (npm)
#   --models OUT  output folder (default models/; the npm model always goes to models/)
#   --force       convert again even when the output exists
# Environment: FACENET = the facenet binary (default build/facenet).
#
# Public sources (document, verify):
#   https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt
#   https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180408-102900-casia-webface.pt
#   https://raw.githubusercontent.com/timesler/facenet-pytorch/master/data/{pnet,rnet,onet}.pt
#   https://github.com/davidsandberg/facenet/tree/master/src/align/det{1,2,3}.npy
#   npm @vladmandic/face-api@1.7.15 model/ (scripts/get-faceapi-model.sh)
# sha256 verification: every file whose hash is recorded below is checked before use (a
# mismatch is an error). The MTCNN hashes are those of the copies in ../shared/models/mtcnn.
# The two Inception-ResNet-v1 .pt releases have no hash recorded here (we could not fetch
# them offline): their sha256 is printed so that you can compare it with the release page.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A SHA256=(
  [pnet.pt]=a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f
  [rnet.pt]=bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86
  [onet.pt]=165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d
  [det1.npy]=3285cf7a3de2651c5784cb9e32013f5919aae95fd1ed1bc371dd9691affb39af
  [det2.npy]=716b8b83e42476791c9096f14dbb09fefc88bf5c7ec876b1683f9acd52b3f39c
  [det3.npy]=396ead803d85d3443307ff8f45fb6aed2536579b415a4f4d4cb8f93ea6b1476a
)
RELEASE=https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9
RAW=https://raw.githubusercontent.com/timesler/facenet-pytorch/master/data
EMBEDDERS=(20180402-114759-vggface2 20180408-102900-casia-webface)

from="" download=0 npm=1 out=models force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from="${2:?--from needs a folder}"; shift 2 ;;
    --from=*) from="${1#--from=}"; shift ;;
    --download) download=1; shift ;;
    --no-npm) npm=0; shift ;;
    --models) out="${2:?--models needs a folder}"; shift 2 ;;
    --models=*) out="${1#--models=}"; shift ;;
    --force) force=1; shift ;;
    -h|--help) sed -n 2,30p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "get-models.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

FACENET="${FACENET:-build/facenet}"
if [ ! -x "$FACENET" ]; then
  echo "get-models.sh: $FACENET not found: build first (scripts/build.sh) or set FACENET=path/to/facenet" >&2
  exit 1
fi
if [ -n "$from" ] && [ ! -d "$from" ]; then echo "get-models.sh: --from $from: no such folder" >&2; exit 1; fi
mkdir -p "$out"
status=0

say() { echo "get-models.sh: $*"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# verify FILE against the recorded hash of its base name (if any); 1 on mismatch
verify() {
  local f="$1" want="${SHA256[$(basename "$1")]:-}"
  [ -z "$want" ] && return 0
  local got; got="$(sha "$f")"
  if [ "$got" != "$want" ]; then
    echo "get-models.sh: $f: sha256 $got does not match the recorded $want" >&2
    return 1
  fi
}

fetch() { # URL DEST
  local tmp="$2.part"
  if command -v curl >/dev/null; then curl -fL --retry 2 -o "$tmp" "$1"
  elif command -v wget >/dev/null; then wget -O "$tmp" "$1"
  else echo "get-models.sh: neither curl nor wget found" >&2; return 1; fi
  mv "$tmp" "$2"
}

convert() { # IN OUT ARCH
  "$FACENET" convert "$1" "$2" --arch "$3"
}

# ---- MTCNN
mt="$out/mtcnn.safetensors"
if [ "$force" = 0 ] && [ -f "$mt" ]; then
  say "$mt: present (use --force to redo)"
else
  src=""
  if [ -n "$from" ] && [ -d "$from/mtcnn" ]; then src="$from/mtcnn"
  elif [ -n "$from" ] && { [ -f "$from/pnet.pt" ] || [ -f "$from/det1.npy" ]; }; then src="$from"
  elif [ "$download" = 1 ]; then
    src="$out/mtcnn"; mkdir -p "$src"
    for n in pnet rnet onet; do [ -f "$src/$n.pt" ] || fetch "$RAW/$n.pt" "$src/$n.pt"; done
  fi
  if [ -z "$src" ]; then
    say "no MTCNN source: pass --from DIR (a folder with mtcnn/) or --download"; status=1
  else
    ok=1
    for f in "$src"/pnet.pt "$src"/rnet.pt "$src"/onet.pt "$src"/det1.npy "$src"/det2.npy "$src"/det3.npy; do
      [ -f "$f" ] || continue
      if verify "$f"; then say "$f: sha256 ok"; else ok=0; fi
    done
    if [ "$ok" = 1 ] && convert "$src" "$mt" mtcnn; then :
    elif [ "$ok" = 1 ]; then
      # the converter failed: keep the published files where the detector also looks
      say "conversion failed; copying the .pt files to $out/mtcnn/ instead"
      mkdir -p "$out/mtcnn"; cp "$src"/*.pt "$out/mtcnn/" 2>/dev/null || cp "$src"/*.npy "$out/mtcnn/"
    else status=1; fi
  fi
fi

# ---- facenet Inception-ResNet-v1 (facenet-pytorch releases or facenet's TF .pb)
for name in "${EMBEDDERS[@]}"; do
  dst="$out/$name.safetensors"
  if [ "$force" = 0 ] && [ -f "$dst" ]; then say "$dst: present"; continue; fi
  stem="${name%-*}"; stem="${stem%-casia}"   # 20180402-114759 / 20180408-102900
  src=""
  for c in "$from/$name.pt" "$from/$stem.pb" "$from/$stem/$stem.pb"; do
    [ -n "$from" ] && [ -f "$c" ] && { src="$c"; break; }
  done
  if [ -z "$src" ] && [ "$download" = 1 ]; then
    src="$out/$name.pt"
    [ -f "$src" ] || fetch "$RELEASE/$name.pt" "$src" || { say "download of $name.pt failed"; status=1; continue; }
  fi
  if [ -z "$src" ]; then say "$name: not available (no $name.pt/.pb in --from; --download fetches it)"; continue; fi
  verify "$src" || { status=1; continue; }
  [ -z "${SHA256[$(basename "$src")]:-}" ] && say "$src: sha256 $(sha "$src") (no recorded hash: compare with the release page)"
  convert "$src" "$dst" inception_resnet_v1 || status=1
done

# ---- face-api dlib-style ResNet (npm)
if [ "$npm" = 1 ]; then
  if [ ! -f scripts/get-faceapi-model.sh ]; then say "scripts/get-faceapi-model.sh absent: skipping the npm model"
  elif [ "$out" != models ]; then say "the npm model goes to models/ only: skipped with --models $out"
  else FACENET="$FACENET" bash scripts/get-faceapi-model.sh || { say "npm model failed (is npm reachable?)"; status=1; }
  fi
fi

say "contents of $out/:"
ls -l "$out" | sed 's/^/  /'
exit $status
