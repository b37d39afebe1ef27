#!/bin/bash
# cli_images.sh BUILD_DIR SHARED_DIR SOURCE_DIR — real photos as people have them: a shared
# JPEG converted to WebP (lossless and lossy), TIFF (LZW, and stored rotated with the
# Orientation tag), HEIC and AVIF (lossy, and HEIC stored rotated with irot) goes through
# `facenet detect` and finds the same face as the JPEG; a HEIC named .jpg loads (content,
# not extension); `facenet compare` embeds a WebP and a HEIC of one person; a folder of
# such files is listed by extension (cluster, gallery enroll) and the gallery names the
# people of a WebP, a rotated TIFF and an AVIF. Converters: Debian's Pillow (WebP, TIFF) and
# tools/heif_write.py (libheif, HEIC/AVIF).
set -u
BUILD=$1 SHARED=$2 SRC=$3
FN=$BUILD/facenet
F=$SHARED/data/faces
. "$SRC/tests/lib_cli.sh"
need_default_models
PHOTO=$F/facenet/Anthony_Hopkins_0001.jpg
PHOTO2=$F/face_recognition/examples/obama_small.jpg

/usr/bin/python3 - "$PHOTO" "$T" "$SRC/tools" <<'EOF'
import sys
from PIL import Image
sys.path.insert(0, sys.argv[3])
import heif_write
import numpy as np
photo, out = sys.argv[1], sys.argv[2]
im = Image.open(photo).convert('RGB')
im.save(f'{out}/lossless.webp', lossless=True)
im.save(f'{out}/lossy.webp', quality=85)
im.save(f'{out}/lzw.tif', compression='tiff_lzw')
# stored turned a quarter left; Orientation 6 says "turn right to display"
im.transpose(Image.ROTATE_90).save(f'{out}/rot6.tif', tiffinfo={274: 6})
a = np.asarray(im)
heif_write.write(f'{out}/photo.heic', a, 'heic', quality=85)
heif_write.write(f'{out}/photo.avif', a, 'avif', quality=85)
heif_write.write(f'{out}/rot6.heic', np.asarray(im.transpose(Image.ROTATE_90)), 'heic', quality=85, orientation=6)
EOF
expect "converted the photo to WebP, TIFF, HEIC, AVIF" "[ $? -eq 0 ] && [ -s '$T/photo.heic' ] && [ -s '$T/photo.avif' ]"
cp "$T/photo.heic" "$T/heic_named.jpg"

FILES=("$PHOTO" "$T/lossless.webp" "$T/lossy.webp" "$T/lzw.tif" "$T/rot6.tif" "$T/photo.heic" "$T/photo.avif" "$T/rot6.heic" "$T/heic_named.jpg")
"$FN" detect --mtcnn "$MTCNN" --json "${FILES[@]}" > "$T/det.json" 2> "$T/det.err"
rc=$?
cat "$T/det.err"
expect "detect exits 0 on all ${#FILES[@]} files" "[ $rc -eq 0 ]"
/usr/bin/python3 - "$T/det.json" <<'EOF'
import json, sys
im = json.load(open(sys.argv[1]))["images"]
ref = im[0]
assert len(ref["faces"]) == 1, ref
rb = ref["faces"][0]["box"]
fails = 0
# lossless copies: the same pixels, the same box; lossy ones within 3 px on every side
for d, tol in zip(im[1:], [0.01, 3, 0.01, 0.01, 3, 3, 3, 3]):
    name = d["path"].rsplit('/', 1)[-1]
    ok = (d["width"], d["height"]) == (ref["width"], ref["height"]) and len(d["faces"]) == 1
    diff = max(abs(a - b) for a, b in zip(d["faces"][0]["box"], rb)) if ok else float('inf')
    ok = ok and diff <= tol
    print(f'  {name:16s} {d["width"]}x{d["height"]} faces {len(d["faces"])} box max |diff| {diff:.2f} px (tol {tol}) {"ok" if ok else "FAIL"}')
    fails += not ok
sys.exit(fails != 0)
EOF
expect "every format finds the JPEG's face, upright and at the same place" "[ $? -eq 0 ]"

"$FN" compare "${M[@]}" "$T/lossy.webp" "$T/rot6.heic" "$PHOTO2" > "$T/cmp.out" 2>&1
rc=$?
cat "$T/cmp.out"
d01=$(awk '/^Distance matrix/ { on = 1; getline; next } on && $1 == 0 { print $3 }' "$T/cmp.out")
d02=$(awk '/^Distance matrix/ { on = 1; getline; next } on && $1 == 0 { print $4 }' "$T/cmp.out")
expect "compare: WebP vs rotated HEIC of one person ($d01) < 0.2, vs another person ($d02) > 0.45" \
    "[ $rc -eq 0 ] && awk -v a='$d01' -v b='$d02' 'BEGIN { exit !(a != \"\" && a < 0.2 && b > 0.45) }'"

mkdir -p "$T/folder/p"
cp "$T/lossy.webp" "$T/photo.heic" "$T/photo.avif" "$T/lzw.tif" "$T/folder/p/"
cp "$T/lzw.tif" "$T/folder/p/copy.tiff"
cp "$T/photo.heic" "$T/folder/p/copy.HEIF"
"$FN" cluster "${M[@]}" --json "$T/folder/p" "$T/clusters" > "$T/cl.json" 2> "$T/cl.err"
rc=$?
cat "$T/cl.err"
/usr/bin/python3 - "$T/cl.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(f["path"].rsplit('/', 1)[-1] for c in d["clusters"] for f in c["faces"])
print(f'  {len(d["clusters"])} cluster(s): {names}; no_face {d["no_face"]}, errors {d["errors"]}')
sys.exit(not (len(d["clusters"]) == 1 and names == ['copy.HEIF', 'copy.tiff', 'lossy.webp', 'lzw.tif', 'photo.avif', 'photo.heic']))
EOF2
py=$?
expect "cluster lists all 6 (.webp .heic .avif .tif .tiff .HEIF) and puts them in one cluster" "[ $rc -eq 0 ] && [ $py -eq 0 ]"

# the gallery: enrol a HEIC and a WebP (DATA_DIR walk by extension), identify a WebP, the
# rotated TIFF and the AVIF
mkdir -p "$T/people/anthony_hopkins" "$T/people/obama"
cp "$T/photo.heic" "$T/people/anthony_hopkins/"
/usr/bin/python3 -c "from PIL import Image; import sys; Image.open(sys.argv[1]).save(sys.argv[2], quality=90)" \
    "$F/face_recognition/examples/obama.jpg" "$T/people/obama/obama.webp"
"$FN" gallery enroll "$T/g.db" "${M[@]}" "$T/people" > "$T/en.out" 2>&1
rc=$?
tail -1 "$T/en.out"
expect "gallery enroll: a HEIC and a WebP, exit 0" "[ $rc -eq 0 ] && grep -q 'enrolled 2 face' '$T/en.out'"
"$FN" gallery identify "$T/g.db" "${M[@]}" --json "$T/lossy.webp" "$T/rot6.tif" "$T/photo.avif" "$PHOTO2" > "$T/id.json" 2> "$T/id.err"
rc=$?
cat "$T/id.err"
/usr/bin/python3 - "$T/id.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
got = [[f["name"] if f["known"] else "unknown" for f in im["faces"]] for im in d["images"]]
print("  identified:", got)
sys.exit(got != [["anthony_hopkins"]] * 3 + [["obama"]])
EOF2
py=$?
expect "gallery identify names the WebP, rotated TIFF and AVIF copies, and obama_small.jpg" "[ $rc -eq 0 ] && [ $py -eq 0 ]"

printf 'RIFF\x10\x00\x00\x00WEBPVP8 ' > "$T/cut.webp"
"$FN" detect --mtcnn "$MTCNN" "$T/cut.webp" > /dev/null 2> "$T/cut.err"
rc=$?
expect "a cut WebP -> exit $rc and a WebP error: $(cat "$T/cut.err")" "[ $rc -ne 0 ] && grep -q 'WebP: corrupt' '$T/cut.err'"

finish cli_images
