#!/usr/bin/python3
"""gen_dlib_fixtures.py — 150x150 dlib-style face chips for the dlib ResNet tests.

An independent NumPy implementation of the 5-point chip (dlib's mean face shape reduced to
eye centres, nose tip and mouth corners; least-squares similarity solved with lstsq;
bilinear sampling at integer pixel centres) applied to MTCNN landmarks from
../shared/fixtures/mtcnn_reference.json (facenet-pytorch's detections). Only faces that
need no pyramid (at most 2 image pixels per chip pixel) are used, so the C fn_align_chip
must reproduce these chips up to decoder/rounding differences.

Writes tests/fixtures/dlib/chip_<i>.png and chips.json (source image, landmarks, the
similarity). Then `node tools/faceapi_reference/descriptors.js` computes face-api's
descriptors of those chips (tests/fixtures/dlib/descriptors.json).

`tfjs` mode writes tests/fixtures/tfjs/: a small TF.js manifest (two groups, a tensor split
across two shards, uint8/uint16 affine, float16, float32, int32 and an empty tensor) and
expected.json with the values NumPy dequantises them to (float64 q*scale+min, then float32
as TF.js stores them).
Usage: /usr/bin/python3 tools/gen_dlib_fixtures.py [SHARED_DIR]
       /usr/bin/python3 tools/gen_dlib_fixtures.py tfjs
"""
import json, os, sys
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "tfjs" else os.path.join(ROOT, "..", "shared")
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


def tfjs_fixture():
    out = os.path.join(ROOT, "tests", "fixtures", "tfjs")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(8)
    u8 = rng.integers(0, 256, size=(2, 3), dtype=np.uint8)
    f32 = rng.standard_normal(4).astype(np.float32)
    f16 = np.array([1.5, -0.000123, 65504.0, -3e-6], dtype=np.float16)  # the last is subnormal
    u16 = rng.integers(0, 65536, size=(2, 2), dtype=np.uint16)
    i32 = np.array([7, -3, 123456], dtype=np.int32)
    s8, m8 = 0.0123, -1.25
    s16, m16 = 3.1e-5, -0.75
    group0 = u8.tobytes() + f32.astype("<f4").tobytes() + f16.astype("<f2").tobytes()
    group1 = u16.astype("<u2").tobytes() + i32.astype("<i4").tobytes()
    cut = 8  # the first shard ends inside the float32 tensor
    open(os.path.join(out, "group1-shard1of2.bin"), "wb").write(group0[:cut])
    open(os.path.join(out, "group1-shard2of2.bin"), "wb").write(group0[cut:])
    open(os.path.join(out, "group2-shard1of1.bin"), "wb").write(group1)
    manifest = [
        {"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"], "weights": [
            {"name": "layer/u8", "shape": [2, 3], "dtype": "float32",
             "quantization": {"dtype": "uint8", "scale": s8, "min": m8}},
            {"name": "layer/f32", "shape": [4], "dtype": "float32"},
            {"name": "layer/f16", "shape": [4], "dtype": "float32", "quantization": {"dtype": "float16"}}]},
        {"paths": ["group2-shard1of1.bin"], "weights": [
            {"name": "other/u16", "shape": [2, 2], "dtype": "float32",
             "quantization": {"dtype": "uint16", "scale": s16, "min": m16}},
            {"name": "other/i32", "shape": [3], "dtype": "int32"},
            {"name": "other/empty", "shape": [0, 5], "dtype": "float32"}]},
    ]
    json.dump(manifest, open(os.path.join(out, "weights_manifest.json"), "w"), indent=1)
    f = lambda a: [float(v) for v in np.asarray(a).ravel()]
    expected = {
        "layer/u8": f((u8.astype(np.float64) * s8 + m8).astype(np.float32)),
        "layer/f32": f(f32), "layer/f16": f(f16.astype(np.float32)),
        "other/u16": f((u16.astype(np.float64) * s16 + m16).astype(np.float32)),
        "other/i32": [int(v) for v in i32], "other/empty": [],
    }
    json.dump(expected, open(os.path.join(out, "expected.json"), "w"), indent=1)
    print("wrote", out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "tfjs":
        tfjs_fixture()
    else:
        main()
