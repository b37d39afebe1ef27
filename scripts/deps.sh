#!/usr/bin/env bash
# deps.sh — install the Debian packages facenet-c needs to build, test and fetch its
# default models. Safe to run repeatedly: it installs only what is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-dev
      libopenblas-dev libjpeg-dev libpng-dev libgif-dev libsvm-dev
      python3 python3-numpy nodejs npm)
PKGS+=(python3-numpy python3-pytest python3-setuptools python3-pip python3-pil python3-opencv)  # issue 19
PKGS+=(libsqlite3-dev sqlite3 libfaiss-dev)  # issue 13: gallery (SQLite store, FAISS index)
PKGS+=(libopenmpi-dev openmpi-bin)  # issue 17: mpirun -np N facenet train|align|export-embeddings|validate
PKGS+=(libwebp-dev libheif-dev libtiff-dev python3-pil)  # issue 16: WebP, HEIC/AVIF, TIFF (Pillow: tests/cli_images.sh)
PKGS+=(libpq-dev postgresql)  # issue 15: PostgreSQL gallery + its throwaway test clusters
PKGS+=(libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libavdevice-dev ffmpeg jq)  # issue 16 (video)
PKGS+=(libmicrohttpd-dev libjansson-dev chromium curl)  # issue 14: facenet serve (HTTP, JSON), its page test, its curl tests
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from elsewhere (e.g. a Node install that bundles it): accept a working one.
if command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [[ "$p" == npm || "$p" == nodejs ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
