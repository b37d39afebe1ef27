#!/usr/bin/env bash
# mpi_train.sh [ROUNDS] [extra train flags] — one training step, 1 process x 2 threads
# against `mpirun -np 2` x 1 thread, alternated in the same run (softmax on ORL s1-s30,
# the ORL recipe's reduced network by default; `--depth 5,10,5 --width-multiplier 1
# --image-size 160 --embedding-size 128 --batch-size 30` for the full one). Prints the median
# step time of each (train_log.csv, first 3 steps left out), their ratio, and what the
# ranks all-reduced and how long they spent in MPI (facenet train's MPI line). Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${FN_SHARED:-$(cd .. && pwd)/shared}"
ROUNDS="${1:-2}"; shift || true
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/data"
for i in $(seq 1 30); do ln -s "$SHARED/data/orl/s$i" "$T/data/s$i"; done
export OMP_WAIT_POLICY=passive OMPI_MCA_btl_vader_single_copy_mechanism=none
NET=(--depth 2,2,2 --width-multiplier 0.5 --image-size 80 --image-fit stretch --embedding-size 64 --batch-size 60)
ARGS=(softmax --data-dir "$T/data" "${NET[@]}" --epoch-size 12 --max-epochs 1 --quiet "$@")
median_step() { # median of the step-to-step differences of train_log.csv's seconds, after step 3
  tail -n +2 "$1" | cut -d, -f8 | awk 'NR > 3 { if (p != "") print $1 - p } { p = $1 }' | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "CPU: $(lscpu | grep 'Model name' | sed 's/Model name: *//'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 build/facenet train "${ARGS[@]}" --models-dir "$T/one$r" > /dev/null 2>&1
  mpirun -np 2 --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 -x OMP_WAIT_POLICY \
    build/facenet train "${ARGS[@]}" --models-dir "$T/two$r" > "$T/two$r.out" 2>&1
  a=$(median_step "$T/one$r/train_log.csv"); b=$(median_step "$T/two$r/train_log.csv")
  echo "round $r: 1 process x 2 threads $a s/step, 2 ranks x 1 thread $b s/step, ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')x;" \
       "$(grep -o 'MPI: [0-9]* steps.*' "$T/two$r.out")"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
