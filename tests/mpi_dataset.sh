#!/bin/bash
# mpi_dataset.sh BUILD_DIR SHARED_DIR SOURCE_DIR — sharded dataset jobs (registered only
# when MPI is built, cmake/mpi.cmake): `mpirun -np 2 facenet align | export-embeddings |
# validate` give byte-identical outputs to one process — align: every crop PNG and
# bounding_boxes.txt (a corrupt photo's failure line included); export-embeddings:
# embeddings.npy, labels.npy, label_strings.npy; validate: its --cache .npy and the
# printed accuracy lines — with one report (rank 0) for the whole job. Both sides run one
# BLAS thread per process: OpenBLAS splits a GEMM differently for another thread count,
# which moves embeddings by ~2e-7 (so 1 process x 2 threads is not bit-equal to either).
set -u
B=$1; SHARED=$2; SRC=$3
source "$SRC/tests/lib_cli.sh"
F=$B/facenet
need_default_models
# LeakSanitizer off in the ranks (ASan build): see tests/mpi_train.sh
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPI="mpirun -np 2 --oversubscribe --allow-run-as-root -x OPENBLAS_NUM_THREADS=1 -x ASAN_OPTIONS -x UBSAN_OPTIONS"

# align: ORL faces, photos, a corrupt file, 3 LFW people (sorted order spans the ranks)
DS=$T/ds
mkdir -p "$DS/orl_s1" "$DS/photos"
cp "$SHARED"/data/orl/s1/{1,2,3}.pgm "$DS/orl_s1/"
cp "$SHARED/data/faces/facenet/Anthony_Hopkins_0001.jpg" "$SHARED/data/faces/facenet-pytorch/multiface.jpg" "$DS/photos/"
head -c 3000 /dev/zero | tr '\0' 'x' > "$DS/photos/corrupt.jpg"
for p in Aaron_Eckhart AJ_Lamas Aaron_Guiel; do cp -r "$SHARED/data/lfw/deepfunneled/$p" "$DS/"; done
$F align "$DS" "$T/a1" --mtcnn "$MTCNN" --json > "$T/a1.json" 2> "$T/a1.err"; rc1=$?
timeout 300 $MPI $F align "$DS" "$T/a2" --mtcnn "$MTCNN" --json > "$T/a2.json" 2> "$T/a2.err"; rc2=$?
expect "align: one process and 2 ranks exit 0 ($rc1, $rc2)" "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]"
expect "align: one JSON report for the whole job, equal to one process's" "[ \$(wc -l < '$T/a2.json') -eq 1 ] && cmp -s '$T/a1.json' '$T/a2.json'"
expect "align: the report counts every image" "grep -q '\"total\":9,\"aligned\":8,\"crops\":8' '$T/a2.json' && grep -q corrupt.jpg '$T/a2.json'"
expect "align: the same files" "[ \"\$(cd '$T/a1' && find . -type f | sort)\" = \"\$(cd '$T/a2' && find . -type f | sort)\" ]"
same=1; n=0
while read -r f; do n=$((n + 1)); cmp -s "$T/a1/$f" "$T/a2/$f" || { echo "differs: $f"; same=0; }; done < <(cd "$T/a1" && find . -type f ! -name bounding_boxes.txt)
expect "align: all $n crops byte-identical" "[ $same -eq 1 ] && [ $n -ge 8 ]"
expect "align: bounding_boxes.txt identical but for the output folder's name in its paths" \
  "[ \"\$(sed 's#/a1/#/OUT/#' '$T/a1/bounding_boxes.txt')\" = \"\$(sed 's#/a2/#/OUT/#' '$T/a2/bounding_boxes.txt')\" ] && [ \$(wc -l < '$T/a2/bounding_boxes.txt') -eq 9 ]"

# export-embeddings: aligned ORL faces, 2 people
mkdir -p "$T/orl"
for i in 1 2; do ln -s "$SHARED/data/orl/s$i" "$T/orl/s$i"; done
$F export-embeddings "$T/orl" --is-aligned --model "$MODEL" -o "$T/e1" > "$T/e1.out" 2>&1; rc1=$?
timeout 300 $MPI $F export-embeddings "$T/orl" --is-aligned --model "$MODEL" -o "$T/e2" > "$T/e2.out" 2>&1; rc2=$?
expect "export-embeddings: one process and 2 ranks exit 0 ($rc1, $rc2)" "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]"
for f in embeddings.npy labels.npy label_strings.npy; do
  expect "export-embeddings: $f byte-identical" "[ -s '$T/e1/$f' ] && cmp -s '$T/e1/$f' '$T/e2/$f'"
done
expect "export-embeddings: one summary (rank 0), 20 images" "[ \$(grep -c '^Number of images: 20' '$T/e2.out') -eq 1 ]"

# validate: 20 LFW pairs as aligned crops (no detection: quick under ASan) in batches of 4,
# so the ranks' shares are whole batches of a chunk, and its cache
awk 'NR == 1 { print; next } NR >= 2 && NR <= 11 { same[NR - 2] = $0 } NR >= 302 && NR <= 311 { diff[NR - 302] = $0 }
     END { for (i = 0; i < 10; i++) { print same[i]; print diff[i] } }' "$SHARED/data/lfw/pairs.txt" > "$T/pairs20.txt"
LFW=$SHARED/data/lfw/deepfunneled
$F validate "$LFW" --pairs "$T/pairs20.txt" --model "$MODEL" --is-aligned --batch-size 4 --folds 2 --cache "$T/v1.npy" > "$T/v1.out" 2>&1; rc1=$?
timeout 300 $MPI $F validate "$LFW" --pairs "$T/pairs20.txt" --model "$MODEL" --is-aligned --batch-size 4 --folds 2 --cache "$T/v2.npy" > "$T/v2.out" 2>&1; rc2=$?
expect "validate: one process and 2 ranks exit 0 ($rc1, $rc2)" "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]"
expect "validate: the cached embeddings byte-identical" "[ -s '$T/v1.npy' ] && cmp -s '$T/v1.npy' '$T/v2.npy'"
expect "validate: the same accuracy, VAL, AUC and EER lines, once" \
  "[ \"\$(grep -E '^(Accuracy|Validation rate|Area|Equal)' '$T/v1.out')\" = \"\$(grep -E '^(Accuracy|Validation rate|Area|Equal)' '$T/v2.out')\" ] && [ \$(grep -c '^Accuracy' '$T/v2.out') -eq 1 ]"
timeout 300 $MPI $F validate "$LFW" --pairs "$T/pairs20.txt" --model "$MODEL" --is-aligned --batch-size 4 --folds 2 --cache "$T/v2.npy" > "$T/v3.out" 2>&1; rc=$?
expect "validate: a second MPI run reads rank 0's cache (exit $rc)" "[ $rc -eq 0 ] && grep -q '(0 embedded, ' '$T/v3.out'"
finish mpi_dataset
