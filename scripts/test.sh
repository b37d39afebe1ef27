#!/usr/bin/env bash
# test.sh — the whole test suite, exactly as CI runs it:
#   1. install Debian packages, fetch the default models (MTCNN from ../shared/models,
#      the dlib-style ResNet from npm),
#   2. Release build + every test (ctest),
#   3. AddressSanitizer + UBSan build + every test,
#   4. libFuzzer targets: replay the committed corpus, then fuzz each for FUZZ_SECONDS (30).
# Usage: scripts/test.sh [--quick]   (--quick: Release tests only)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FN_SHARED:-$(cd .. && pwd)/shared}"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
quick=0; [ "${1:-}" = "--quick" ] && quick=1

bash scripts/deps.sh
bash scripts/build.sh release
bash scripts/get-models.sh --from "$SHARED/models"

echo "== Release tests"
ctest --test-dir build --output-on-failure -j2
[ $quick = 1 ] && exit 0

echo "== AddressSanitizer + UBSan tests"
bash scripts/build.sh asan
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
  ctest --test-dir build-asan --output-on-failure -j2

echo "== Fuzzing (corpus replay + ${FUZZ_SECONDS}s per target)"
bash scripts/build.sh fuzz
fail=0
for f in build-fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="fuzz/corpus/$name"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  if ! "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/crash-" "$work" >"$work/log" 2>&1; then
    echo "FUZZ FAIL $name"; tail -40 "$work/log"; fail=1
  else
    echo "fuzz ok   $name ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/log" | awk '{print $2}') runs)"
  fi
  rm -rf "$work"
done
[ $fail = 0 ] || { echo "fuzzing found a crash"; exit 1; }
echo "== all test stages passed"
