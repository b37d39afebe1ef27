#!/usr/bin/python3
"""gen_dlib_fixtures.py — 150x150 dlib-style face chips for the dlib ResNet tests.

An independent NumPy implementation of the 5-point chip (dlib's mean face shape reduced to
eye centres, nose tip and mouth corners; least-squares similarity solved with lstsq;
bilinear sampling at integer pixel centres) applied to MTCNN landmarks from
../shared/fixtures/mtcnn_reference.json (facenet-pytorch's detections). Only faces that
need no pyramid (at most 2 image pixels per chip pixel) are used, so the C fn_align_chip
must reproduce these chips up to decoder/rounding differences.

Writes tests/fixtures/dlib/chip_<i>.png and chips.json (source image, landmarks, the
similarity). Then run tools/faceapi_reference/run.sh to compute face-api's descriptors.
Usage: /usr/bin/python3 tools/gen_dlib_fixtures.py [SHARED_DIR]
"""
import json, os, sys
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
OUT = os.path.join(ROOT, "tests", "fixtures", "dlib")
SIZE, PADDING = 150, 0.25

# dlib mean_face_shape (interpolation.h), index = 68-point id - 17
MX = [0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
      0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
      0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
      0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
      0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
      0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
      0.553364, 0.490127, 0.42689]
MY = [0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
      0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
      0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
      0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
      0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
      0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
      0.784792, 0.824182, 0.831803, 0.824182]


def template(size=SIZE, padding=PADDING):
    m = np.stack([MX, MY], 1)
    pts = np.array([m[36 - 17:42 - 17].mean(0), m[42 - 17:48 - 17].mean(0),
                    m[30 - 17], m[48 - 17], m[54 - 17]])
    return (padding + pts) / (2 * padding + 1) * size


def similarity(src, dst):
    """dst ~ [a -b; b a] src + t, by linear least squares."""
    A, y = [], []
    for (sx, sy), (dx, dy) in zip(src, dst):
        A.append([sx, -sy, 1, 0]); y.append(dx)
        A.append([sy, sx, 0, 1]); y.append(dy)
    a, b, tx, ty = np.linalg.lstsq(np.array(A), np.array(y), rcond=None)[0]
    return a, b, tx, ty


def chip(img, landmarks):
    h, w, _ = img.shape
    a, b, tx, ty = similarity(template(), np.array(landmarks, np.float64))
    assert np.hypot(a, b) <= 2.0, "face needs the pyramid: pick another"
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    X = a * xs - b * ys + tx
    Y = b * xs + a * ys + ty
    inside = (X >= -0.5) & (Y >= -0.5) & (X <= w - 0.5) & (Y <= h - 0.5)
    X = np.clip(X, 0, w - 1); Y = np.clip(Y, 0, h - 1)
    x0 = np.floor(X).astype(int); y0 = np.floor(Y).astype(int)
    x1 = np.minimum(x0 + 1, w - 1); y1 = np.minimum(y0 + 1, h - 1)
    fx = (X - x0)[..., None]; fy = (Y - y0)[..., None]
    f = img.astype(np.float64)
    top = f[y0, x0] + fx * (f[y0, x1] - f[y0, x0])
    bot = f[y1, x0] + fx * (f[y1, x1] - f[y1, x0])
    out = np.rint(np.clip(top + fy * (bot - top), 0, 255)).astype(np.uint8)
    out[~inside] = 0
    return out, (a, b, tx, ty)


def main():
    ref = json.load(open(os.path.join(SHARED, "fixtures", "mtcnn_reference.json")))
    by_image = {r["image"]: r for r in ref["results"]}
    picks = ["data/faces/facenet/Anthony_Hopkins_0001.jpg", "data/faces/facenet/Anthony_Hopkins_0002.jpg",
             "data/faces/face_recognition/examples/knn_examples/test/johnsnow_test1.jpg", "data/faces/face_recognition/examples/obama_small.jpg"]
    os.makedirs(OUT, exist_ok=True)
    entries = []
    for i, rel in enumerate(picks):
        r = by_image[rel]
        face = max(r["faces"], key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]))
        img = np.asarray(Image.open(os.path.join(SHARED, rel)).convert("RGB"))
        c, tf = chip(img, face["landmarks"])
        name = "chip_%d.png" % i
        Image.fromarray(c).save(os.path.join(OUT, name), optimize=True)
        entries.append({"chip": name, "image": rel, "landmarks": face["landmarks"],
                        "similarity": [float(v) for v in tf]})
        print(name, rel, "scale %.3f" % np.hypot(tf[0], tf[1]))
    json.dump({"size": SIZE, "padding": PADDING, "template": template().tolist(), "chips": entries},
              open(os.path.join(OUT, "chips.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
