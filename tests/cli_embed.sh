#!/bin/bash
# cli_embed.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet embed` end to end: .npy, --json,
# distance matrix, resizing, batching, and clear one-line errors on bad inputs.
# Weights: the seeded test model of tests/test_irv1.c (its expected embeddings come from the
# independent PyTorch build in tools/gen_irv1_fixtures.py).
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
HELP=$BUILD/test_irv1
FIX=$SRC/tests/fixtures/irv1
ALIGNED=$SHARED/data/faces/facenet-pytorch/aligned
IMGS=("$ALIGNED/angelina_jolie.png" "$ALIGNED/bradley_cooper.png" "$ALIGNED/kate_siegel.png"
      "$ALIGNED/paul_rudd.png" "$ALIGNED/shea_whigham.png")
. "$SRC/tests/lib_cli.sh"

# An error must exit 1 with exactly one line on stderr that names the culprit.
expect_error() { # name culprit args...
    local name=$1 culprit=$2; shift 2
    "$FN" embed "$@" >"$T/out" 2>"$T/err"; local rc=$?
    local lines; lines=$(wc -l <"$T/err")
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF -- "$culprit" "$T/err"; then ok "$name: $(cat "$T/err")"
    else fail "$name (rc $rc, $lines stderr lines): $(cat "$T/err")"; fi
}

"$HELP" --write-model "$T/m128.safetensors" 128 || { echo "FAIL cannot write the test model"; exit 1; }
M=$T/m128.safetensors

"$FN" embed --help >"$T/help" 2>&1
expect "--help exits 0 and documents --standardize" "[ $? -eq 0 ] && grep -q -- '--standardize' '$T/help'"

"$FN" embed --model "$M" -o "$T/fixed.npy" "${IMGS[@]}" 2>"$T/err"
expect "-o writes the embeddings (fixed)" "[ $? -eq 0 ] && '$HELP' --compare-npy '$T/fixed.npy' '$FIX/emb_128_fixed.npy' 1e-4"

"$FN" embed --model "$M" --standardize prewhiten --batch-size 2 --output="$T/pw.npy" "${IMGS[@]}"
expect "--standardize prewhiten --batch-size 2" "[ $? -eq 0 ] && '$HELP' --compare-npy '$T/pw.npy' '$FIX/emb_128_prewhiten.npy' 1e-4"

"$FN" embed --model "$M" --json "${IMGS[@]}" >"$T/json"
expect "--json exits 0" "[ $? -eq 0 ]"
expect "--json has dim 128 and 5 embeddings" "grep -q '\"dim\":128' '$T/json' && [ \$(grep -o '\"path\":' '$T/json' | wc -l) -eq 5 ]"
# python3-numpy is a test dependency (scripts/deps.sh): without it this check fails
/usr/bin/python3 -c 'import numpy' || fail "/usr/bin/python3 cannot import numpy (run scripts/deps.sh)"
if true; then
    /usr/bin/python3 - "$T/json" "$FIX/emb_128_fixed.npy" <<'EOF'
import json, sys, numpy as np
d = json.load(open(sys.argv[1]))
e = np.array([x['embedding'] for x in d['embeddings']], dtype=np.float64)
ref = np.load(sys.argv[2])
err = np.abs(e - ref).max()
print('  json vs fixture max-abs %.3g' % err)
sys.exit(0 if e.shape == ref.shape and err <= 1e-4 else 1)
EOF
    expect "--json embeddings match the PyTorch reference" "[ $? -eq 0 ]"
fi

"$FN" embed --model "$M" "${IMGS[0]}" "${IMGS[3]}" "${IMGS[0]}" >"$T/matrix"
expect "distance matrix printed" "[ $? -eq 0 ] && grep -q 'Distance matrix' '$T/matrix'"
expect "distance matrix: zero diagonal, symmetric, d(0,2)=0" \
    "awk '/^[0-9]  /{for(j=2;j<=NF;j++) d[\$1,j-2]=\$j} END{exit !(d[0,0]==0 && d[1,1]==0 && d[0,2]==0 && d[0,1]==d[1,0] && d[0,1]>0)}' '$T/matrix'"

# the matrix holds the Euclidean distances of the --json embeddings (one printer with compare)
"$FN" embed --model "$M" --json "${IMGS[0]}" "${IMGS[3]}" "${IMGS[0]}" >"$T/matrix.json"
/usr/bin/python3 - "$T/matrix.json" "$T/matrix" <<'EOF2'
import json, sys, numpy as np
e = np.array([x['embedding'] for x in json.load(open(sys.argv[1]))['embeddings']])
rows = [l.split()[1:] for l in open(sys.argv[2]) if l[:1].isdigit() and '  ' in l and ':' not in l]
got = np.array(rows, dtype=float)
want = np.sqrt(((e[:, None, :] - e[None, :, :]) ** 2).sum(-1))
print('  matrix vs json embeddings max-abs %.3g' % np.abs(got - want).max())
sys.exit(0 if got.shape == (3, 3) and np.abs(got - want).max() < 1e-4 else 1)
EOF2
expect "distance matrix = Euclidean distances of the embeddings" "[ $? -eq 0 ]"

# a crop of another size is resized, with a note
"$FN" embed --model "$M" -o "$T/r.npy" "$SHARED/data/faces/facenet/Anthony_Hopkins_0001.jpg" 2>"$T/err"
expect "non-160 crop is resized with a note" "[ $? -eq 0 ] && grep -q 'resized to 160x160' '$T/err'"

# errors
expect_error "missing image" "no_such.png" --model "$M" "${IMGS[0]}" "$T/no_such.png"
printf 'not an image' >"$T/text.png"
expect_error "not an image" "text.png" --model "$M" "$T/text.png"
head -c 300000 "$M" >"$T/trunc.safetensors"
expect_error "truncated model" "trunc.safetensors" --model "$T/trunc.safetensors" "${IMGS[0]}"
printf 'garbage' >"$T/garbage.safetensors"
expect_error "garbage model" "garbage.safetensors" --model "$T/garbage.safetensors" "${IMGS[0]}"
expect_error "missing model" "nope.safetensors" --model "$T/nope.safetensors" "${IMGS[0]}"
expect_error "bad --standardize" "bogus" --model "$M" --standardize bogus "${IMGS[0]}"
expect_error "bad --batch-size" "batch-size" --model "$M" --batch-size 0 "${IMGS[0]}"
expect_error "unknown option" "--frobnicate" --model "$M" --frobnicate "${IMGS[0]}"
expect_error "unwritable output" "no_dir" --model "$M" -o "$T/no_dir/x.npy" "${IMGS[0]}"
expect "no partial output after an error" "[ ! -e '$T/no_dir' ]"

finish cli_embed
