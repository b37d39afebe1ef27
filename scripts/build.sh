#!/usr/bin/env bash
# build.sh [release|asan|fuzz] — configure and build into build/, build-asan/ or build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
case "$kind" in
  release) cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
           cmake --build build -j2 ;;
  asan)    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFN_SANITIZE=ON >/dev/null
           cmake --build build-asan -j2 ;;
  fuzz)    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFN_FUZZ=ON >/dev/null
           cmake --build build-fuzz -j2 ;;
  *) echo "usage: scripts/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
