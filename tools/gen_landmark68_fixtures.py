#!/usr/bin/python3
"""gen_landmark68_fixtures.py — face crops for the 68-point landmark net's test.

Cuts six face regions out of the shared photos around facenet-pytorch's MTCNN boxes
(../shared/fixtures/mtcnn_reference.json) — tall and wide regions (the net pads them to a
square on either axis), faces smaller than the net's 112 px input (upsampled) and larger
(downsampled) — and writes them as tests/fixtures/landmark68/crop_<i>.png with crops.json
(source photo and region). Then `node tools/faceapi_reference/landmarks68_crops.js` runs
face-api's own FaceLandmark68Net on each crop (tests/fixtures/landmark68/expected.json),
which tests/test_landmark68.c compares with fn_landmarks68.
Usage: /usr/bin/python3 tools/gen_landmark68_fixtures.py [SHARED_DIR]
"""
import json
import os
import sys

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
OUT = os.path.join(ROOT, "tests", "fixtures", "landmark68")

# (photo, face index, how to widen the box: left, top, right, bottom as fractions of its size)
PICKS = [
    ("data/faces/face_recognition/examples/obama_small.jpg", 0, (0.0, 0.0, 0.0, 0.0)),  # the box (tall)
    ("data/faces/face_recognition/examples/two_people.jpg", 0, (0.3, 0.05, 0.3, 0.05)),  # wide
    ("data/faces/facenet-pytorch/multiface.jpg", 0, (0.1, 0.1, 0.1, 0.1)),              # ~100 px
    ("data/faces/facenet-pytorch/multiface.jpg", 5, (0.0, 0.2, 0.0, 0.0)),              # small, tall
    ("data/faces/face_recognition/examples/knn_examples/test/kit_with_rose.jpg", 1, (0.05, 0.0, 0.05, 0.1)),
    ("data/faces/facenet/Anthony_Hopkins_0001.jpg", 0, (0.2, 0.2, 0.2, 0.2)),           # LFW, square-ish
]


def main():
    ref = json.load(open(os.path.join(SHARED, "fixtures", "mtcnn_reference.json")))
    by_image = {r["image"]: r for r in ref["results"]}
    os.makedirs(OUT, exist_ok=True)
    crops = []
    for i, (photo, k, (l, t, r, b)) in enumerate(PICKS):
        faces = sorted(by_image[photo]["faces"], key=lambda f: -f["prob"])
        x1, y1, x2, y2 = faces[k]["box"]
        w, h = x2 - x1, y2 - y1
        img = Image.open(os.path.join(SHARED, photo)).convert("RGB")
        region = [max(0, int(x1 - l * w)), max(0, int(y1 - t * h)),
                  min(img.size[0], int(x2 + r * w)), min(img.size[1], int(y2 + b * h))]
        crop = img.crop(region)
        crop.save(os.path.join(OUT, "crop_%d.png" % i))
        crops.append({"file": "crop_%d.png" % i, "source": photo, "region": region,
                      "width": crop.size[0], "height": crop.size[1]})
        print("crop_%d.png: %s region %s (%dx%d)" % (i, photo, region, crop.size[0], crop.size[1]))
    with open(os.path.join(OUT, "crops.json"), "w") as f:
        json.dump({"generator": "tools/gen_landmark68_fixtures.py", "crops": crops}, f, indent=1)


if __name__ == "__main__":
    main()
