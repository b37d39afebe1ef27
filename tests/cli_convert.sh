#!/usr/bin/env bash
# cli_convert.sh — `facenet convert`, `facenet inspect` and scripts/get-models.sh end to end.
# Usage: bash tests/cli_convert.sh BUILD_DIR SHARED_DIR SOURCE_DIR
set -uo pipefail
BUILD="$1" SHARED="$2" SRC="$3"
FN="$BUILD/facenet"
FIX="$SRC/tests/fixtures/weights"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fail=0 checks=0
check() { # DESCRIPTION COMMAND...
  local what="$1"; shift
  checks=$((checks + 1))
  if "$@" >/dev/null 2>&1; then echo "  ok   $what"; else echo "  FAIL $what"; fail=$((fail + 1)); fi
}
has() { grep -q -- "$2" "$1"; }
run() { # OUT_FILE EXPECTED_RC COMMAND...: runs, captures stdout+stderr, checks the exit status
  local out="$1" rc="$2"; shift 2
  "$@" >"$out" 2>&1
  local got=$?
  [ "$got" = "$rc" ] || { echo "  (exit $got, expected $rc: $*)"; cat "$out"; return 1; }
}

# MTCNN: the .pt folder, and a folder holding only det1-3.npy, give the same tensor bytes
mkdir -p "$T/npy_only"
for f in det1 det2 det3; do ln -s "$SHARED/models/mtcnn/$f.npy" "$T/npy_only/$f.npy"; done
check "convert MTCNN .pt folder" run "$T/o1" 0 "$FN" convert "$SHARED/models/mtcnn" "$T/pt.safetensors"
check "  one summary line" test "$(wc -l <"$T/o1")" = 1
check "  summary: 50 tensors, arch mtcnn" has "$T/o1" "50 tensors, 495850 parameters, arch mtcnn"
check "convert det*.npy folder" run "$T/o2" 0 "$FN" convert "$T/npy_only" "$T/npy.safetensors" --arch mtcnn
BODY=$((495850 * 4))
check "  .pt and .npy tensors byte-identical" cmp <(tail -c $BODY "$T/pt.safetensors") <(tail -c $BODY "$T/npy.safetensors")
check "inspect --json of the result" run "$T/o3" 0 "$FN" inspect --json "$T/pt.safetensors"
check "  json: format, arch, a canonical tensor" has "$T/o3" '"format":"safetensors","arch":"mtcnn"'
check "  json: onet.dense6_3.weight [10,256]" has "$T/o3" '{"name":"onet.dense6_3.weight","shape":\[10,256\],"dtype":"F32"}'
check "  json: provenance metadata" has "$T/o3" '"source_format":"torch-legacy"'
check "  json has 50 tensors" test "$(grep -o '"name":' "$T/o3" | wc -l)" = 50

# inspect shows what is stored (dtypes kept, views made contiguous)
check "inspect legacy .pt (text)" run "$T/o4" 0 "$FN" inspect "$FIX/torch_legacy.pt"
check "  transposed view [5, 3]" has "$T/o4" "transposed *F32 *\[5, 3\]"
check "  float16 kept as F16" has "$T/o4" "f16 *F16 *\[2, 3\]"
check "  footer" has "$T/o4" "11 tensors, 76 parameters, format torch-legacy"

# Inception-ResNet-v1: facenet-pytorch .pt (shared storages) and TF GraphDef names
check "convert InceptionResnetV1 .pt --json" run "$T/o5" 0 "$FN" convert "$FIX/irv1_shared.pt" "$T/irv1.safetensors" --arch inception_resnet_v1 --json
check "  714 tensors, 23.5M parameters" has "$T/o5" '"format":"torch-zip","arch":"inception_resnet_v1","tensors":714,"parameters":23512336'
check "convert TF GraphDef (auto maps names)" run "$T/o6" 0 "$FN" convert "$FIX/graphdef_irv1.pb" "$T/tf.safetensors"
check "inspect the converted graph" run "$T/o7" 0 "$FN" inspect "$T/tf.safetensors"
check "  conv2d_1a.conv.weight OIHW [4, 3, 3, 3]" has "$T/o7" "conv2d_1a.conv.weight *F32 *\[4, 3, 3, 3\]"
check "  last_linear.weight [4, 6]" has "$T/o7" "last_linear.weight *F32 *\[4, 6\]"
check "  last_bn.weight added" has "$T/o7" "last_bn.weight *F32 *\[4\]"

# TF.js manifest (parsed by src/io/tfjs.c): detected by content, not by the .json name
printf '[{"paths":["w.bin"],"weights":[{"name":"conv/filters","shape":[2],"dtype":"float32"}]}]' > "$T/manifest.txt"
printf '\x00\x00\xc0\x3f\x00\x00\x20\xc0' > "$T/w.bin"   # 1.5, -2.5
check "convert a TF.js manifest" run "$T/o8" 0 "$FN" convert "$T/manifest.txt" "$T/tfjs.safetensors"
check "  format tfjs" has "$T/o8" "(tfjs): 1 tensors, 2 parameters"
check "  values 1.5, -2.5 after the header" cmp <(tail -c 8 "$T/tfjs.safetensors") "$T/w.bin"

# errors: one clear line, non-zero exit, no output file left behind
check "forbidden pickle global refused" run "$T/e1" 1 "$FN" convert "$FIX/evil_global.pkl" "$T/evil.safetensors"
check "  message names os.system" has "$T/e1" "refusing global 'os.system'"
check "  no output written" test ! -e "$T/evil.safetensors"
check "truncated .pt refused" bash -c "head -c 1000 '$SHARED/models/mtcnn/pnet.pt' > '$T/trunc.pt'"
check "  exit 1" run "$T/e2" 1 "$FN" convert "$T/trunc.pt" "$T/trunc.safetensors"
check "  one line" test "$(wc -l <"$T/e2")" = 1
check "wrong --arch for the file" run "$T/e3" 1 "$FN" convert "$SHARED/models/mtcnn/pnet.pt" "$T/x.safetensors" --arch inception_resnet_v1
check "unknown --arch" run "$T/e4" 1 "$FN" convert "$FIX/torch_zip.pt" "$T/x.safetensors" --arch resnet9000
check "single net with --arch mtcnn needs all three" run "$T/e5" 1 "$FN" convert "$SHARED/models/mtcnn/pnet.pt" "$T/x.safetensors" --arch mtcnn
check "missing input" run "$T/e6" 1 "$FN" convert "$T/nope.pt" "$T/x.safetensors"
check "missing arguments -> usage, exit 2" run "$T/e7" 2 "$FN" convert "$FIX/torch_zip.pt"
check "inspect of a non-weight file" run "$T/e8" 1 "$FN" inspect "$SRC/CMakeLists.txt"
check "--help" run "$T/e9" 0 "$FN" convert --help
check "  no output files from failures" test ! -e "$T/x.safetensors"

# scripts/get-models.sh from a local folder (what CI does), into a temp models folder
check "get-models.sh --from shared" run "$T/g1" 0 env FACENET="$FN" bash "$SRC/scripts/get-models.sh" --from "$SHARED/models" --no-npm --models "$T/models"
check "  sha256 of the MTCNN files verified" has "$T/g1" "pnet.pt: sha256 ok"
check "  models/mtcnn.safetensors written" test -s "$T/models/mtcnn.safetensors"
check "  same tensors as the direct conversion" cmp <(tail -c $BODY "$T/pt.safetensors") <(tail -c $BODY "$T/models/mtcnn.safetensors")
check "  second run keeps it" run "$T/g2" 0 env FACENET="$FN" bash "$SRC/scripts/get-models.sh" --from "$SHARED/models" --no-npm --models "$T/models"
check "  says present" has "$T/g2" "present"
check "get-models.sh without a binary fails clearly" run "$T/g3" 1 env FACENET="$T/none" bash "$SRC/scripts/get-models.sh" --from "$SHARED/models" --no-npm --models "$T/m2"

echo "cli_convert: $checks checks, $fail failed"
[ "$fail" = 0 ]
