#!/bin/bash
# cli_cluster.sh BUILD_DIR SHARED_DIR SOURCE_DIR — `facenet cluster` on real photos: a folder
# mixing face_recognition's knn_examples with facenet's Anthony Hopkins photos must be
# partitioned by person (DBSCAN and Chinese whispers, default model and thresholds), with one
# folder of PNG crops per cluster; plus --largest-cluster-only, --min-cluster-size (noise),
# determinism of Chinese whispers for a seed, and clear errors that leave nothing behind.
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
KNN=$SHARED/data/faces/face_recognition/examples/knn_examples
. "$SRC/tests/lib_cli.sh"

need_default_models

# 12 photos, 15 faces of 7 people (the girl in obama_and_biden.jpg appears once)
MIX=$T/mix
mkdir -p "$MIX"
cp "$KNN"/test/*.jpg "$SHARED"/data/faces/facenet/*.jpg "$MIX/"
for f in alex_lacamoire/img1.jpg biden/biden2.jpg kit_harington/john2.jpeg obama/obama2.jpg rose_leslie/img2.jpg; do
    cp "$KNN/train/$f" "$MIX/train_$(dirname "$f")_$(basename "$f")"
done

# Which detection index is who in the two group photos: by the x of the box (detect's order)
face_at() { # photo xmin xmax -> 0-based index of the first face whose x1 is in [xmin, xmax)
    "$FN" detect --mtcnn "$MTCNN" "$MIX/$1" | awk -v a="$2" -v b="$3" \
        '/face [0-9]+: box/ { x = $4; if (x >= a && x < b) { sub(":", "", $2); print $2 - 1; exit } }'
}
KIT=$(face_at kit_with_rose.jpg 200 501)   ROSE=$(face_at kit_with_rose.jpg 0 200)
BIDEN=$(face_at obama_and_biden.jpg 600 1000)   OBAMA=$(face_at obama_and_biden.jpg 1000 1500)
GIRL=$(face_at obama_and_biden.jpg 1500 2000)
echo "group photos: kit #$KIT rose #$ROSE; biden #$BIDEN obama #$OBAMA girl #$GIRL"
GROUPS_WANT=(
  "Anthony_Hopkins_0001.jpg#0 Anthony_Hopkins_0002.jpg#0"
  "alex_lacamoire1.jpg#0 train_alex_lacamoire_img1.jpg#0"
  "johnsnow_test1.jpg#0 kit_with_rose.jpg#$KIT train_kit_harington_john2.jpeg#0"
  "kit_with_rose.jpg#$ROSE train_rose_leslie_img2.jpg#0"
  "obama1.jpg#0 obama_and_biden.jpg#$OBAMA train_obama_obama2.jpg#0"
  "obama_and_biden.jpg#$BIDEN train_biden_biden2.jpg#0"
  "obama_and_biden.jpg#$GIRL"
)
sorted_words() { tr ' ' '\n' | grep -v '^$' | sort | paste -sd' '; }
# the partition printed ("Cluster k: a#0 b#1 ...") equals the people, as sets
check_partition() { # name output-file
    local got want
    got=$(grep '^Cluster [0-9]*:' "$2" | sed 's/^Cluster [0-9]*: //' | while read -r l; do echo "$l" | sorted_words; done | sort)
    want=$(for g in "${GROUPS_WANT[@]}"; do echo "$g" | sorted_words; done | sort)
    if [ "$got" = "$want" ]; then ok "$1: each person's faces form one cluster (7 clusters)"
    else fail "$1: partition differs"; echo "  got:"; echo "$got" | sed 's/^/    /'; echo "  want:"; echo "$want" | sed 's/^/    /'; fi
}

"$FN" cluster --help > "$T/help" 2>&1
expect "--help exits 0 and documents --method" "[ $? -eq 0 ] && grep -q -- '--method' '$T/help'"

"$FN" cluster "${M[@]}" "$MIX" "$T/db" > "$T/db.out" 2> "$T/db.err"
rc=$?
cat "$T/db.out"
expect "DBSCAN exits 0" "[ $rc -eq 0 ]"
check_partition "DBSCAN (default threshold)" "$T/db.out"
expect "DBSCAN: no noise with --min-cluster-size 1" "! grep -q '^Noise' '$T/db.out'"
expect "one folder per cluster, 15 PNG crops in all" \
    "[ \$(ls -d '$T/db'/*/ | wc -l) -eq 7 ] && [ \$(find '$T/db' -name '*.png' | wc -l) -eq 15 ] && head -c 8 \"\$(find '$T/db' -name '*.png' | head -1)\" | grep -q PNG"
expect "cluster folder sizes follow the printed clusters" \
    "for k in 0 1 2 3 4 5 6; do n=\$(grep \"^Cluster \$k:\" '$T/db.out' | wc -w); [ \$(ls '$T/db/'\$k | wc -l) -eq \$((n - 2)) ] || exit 1; done"
expect "no staging folder left behind" "[ -z \"\$(ls '$T' | grep tmp)\" ]"

"$FN" cluster "${M[@]}" --method chinese-whispers --seed 3 "$MIX" "$T/cw" > "$T/cw.out" 2>/dev/null
rc=$?
expect "Chinese whispers exits 0" "[ $rc -eq 0 ]"
check_partition "Chinese whispers (default threshold, seed 3)" "$T/cw.out"
expect "Chinese whispers numbers clusters by size (cluster 0 has 3 faces, cluster 6 one)" \
    "[ \$(grep '^Cluster 0:' '$T/cw.out' | wc -w) -eq 5 ] && [ \$(grep '^Cluster 6:' '$T/cw.out' | wc -w) -eq 3 ]"

# --- a small folder: 5 photos (Anthony x2, Alex x2, Kit x1) -------------------------------
SMALL=$T/small
mkdir -p "$SMALL"
cp "$SHARED"/data/faces/facenet/*.jpg "$KNN/test/alex_lacamoire1.jpg" "$KNN/test/johnsnow_test1.jpg" "$SMALL/"
cp "$KNN/train/alex_lacamoire/img1.jpg" "$SMALL/alex_train.jpg"
"$FN" cluster "${M[@]}" --largest-cluster-only "$SMALL" "$T/largest" > "$T/l.out" 2>&1
rc=$?
expect "--largest-cluster-only: exit 0, 2 crops straight into OUTPUT_DIR" \
    "[ $rc -eq 0 ] && [ \$(ls '$T/largest' | wc -l) -eq 2 ] && [ \$(find '$T/largest' -mindepth 1 -type d | wc -l) -eq 0 ]"
mkdir -p "$T/emptyout"
"$FN" cluster "${M[@]}" --min-cluster-size 2 --json "$SMALL" "$T/emptyout" > "$T/ms.json" 2>/dev/null
rc=$?
expect "--min-cluster-size 2 (into an existing empty folder): Kit alone is noise, 2 clusters" \
    "[ $rc -eq 0 ] && grep -q '\"noise\":\[{\"path\":\"[^\"]*johnsnow_test1.jpg\"' '$T/ms.json' && [ \$(ls '$T/emptyout' | wc -l) -eq 2 ]"

# --- errors ----------------------------------------------------------------------------------
"$FN" cluster "${M[@]}" "$SMALL" "$T/db" > /dev/null 2> "$T/ne.err"
rc=$?
expect "a non-empty OUTPUT_DIR is refused and left alone ($(cat "$T/ne.err"))" \
    "[ $rc -eq 1 ] && [ \$(find '$T/db' -name '*.png' | wc -l) -eq 15 ]"
mkdir -p "$T/empty"
"$FN" cluster "${M[@]}" "$T/empty" "$T/o1" > /dev/null 2> "$T/e.err"
rc=$?
expect "an empty INPUT_DIR: exit 1, no output ($(cat "$T/e.err"))" "[ $rc -eq 1 ] && [ ! -e '$T/o1' ]"
mkdir -p "$T/noface"
{ printf 'P5\n64 64\n255\n'; head -c 4096 /dev/zero | tr '\0' '\200'; } > "$T/noface/grey.pgm"
printf 'garbage' > "$T/noface/broken.png"
"$FN" cluster "${M[@]}" "$T/noface" "$T/o2" > /dev/null 2> "$T/nf.err"
rc=$?
cat "$T/nf.err"
expect "photos without faces / corrupt: each reported, exit 1, no output" \
    "[ $rc -eq 1 ] && grep -q 'broken.png' '$T/nf.err' && grep -q 'no face.*grey.pgm' '$T/nf.err' && [ ! -e '$T/o2' ] && [ -z \"\$(ls '$T' | grep tmp)\" ]"
"$FN" cluster "${M[@]}" --method kmeans "$SMALL" "$T/o3" > /dev/null 2>&1
expect "an unknown --method exits 1" "[ $? -eq 1 ] && [ ! -e '$T/o3' ]"

finish cli_cluster
