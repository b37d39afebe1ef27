#!/usr/bin/python3
"""The Python sides of bench/bench_python.sh (Debian's /usr/bin/python3).

  bench_python.py fr MTCNN MODEL RUNS IMAGE...
      face_recognition-style face_encodings(load_image_file(f)) through
      facenet_c.compat.face_recognition, timed per image (one line per image: path
      median_ms n_faces; model load and one warm-up excluded) — against
      bench_python_pipeline.c, the same pipeline in-process in C.
  bench_python.py facenet_pytorch MTCNN_DIR IRV1 RUNS IMAGE...
      facenet-pytorch's pattern, resnet(mtcnn(img)) with keep_all, through
      facenet_c.compat.facenet_pytorch (IRV1: the seeded 512-d test weights) ...
  bench_python.py torch MTCNN_DIR IRV1 RUNS IMAGE...
      ... and the same with PyTorch (Debian's python3-torch): the MTCNN of
      tools/mtcnn_torch_reference.py (facenet-pytorch's algorithm and weights) and the
      InceptionResnetV1 of tools/gen_irv1_fixtures.py (facenet-pytorch's module), crops made
      as facenet-pytorch's extract_face (PIL bilinear, fixed standardisation).
"""
import os
import sys
import time

import numpy as np

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "python"))
sys.path.insert(0, os.path.join(SRC, "tools"))


def timed(fn, runs, images):
    for p in images:  # warm-up
        fn(p)
    out = []
    for p in images:
        ts, n = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            n = fn(p)
            ts.append(time.perf_counter() - t0)
        out.append((p, 1e3 * sorted(ts)[runs // 2], n))
    return out


def main():
    mode, a, b, runs, images = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
    if mode == "fr":
        import facenet_c.compat.face_recognition as face_recognition
        face_recognition.set_models(mtcnn=a, model=b)
        fn = lambda p: len(face_recognition.face_encodings(face_recognition.load_image_file(p)))
    elif mode == "facenet_pytorch":
        from PIL import Image
        from facenet_c.compat.facenet_pytorch import MTCNN, InceptionResnetV1
        mtcnn, resnet = MTCNN(keep_all=True, weights=a), InceptionResnetV1(model=b).eval()

        def fn(p):
            faces = mtcnn(Image.open(p).convert("RGB"))
            return 0 if faces is None else len(resnet(faces))
    elif mode == "torch":
        import torch
        from PIL import Image
        import gen_irv1_fixtures as irv1
        import mtcnn_torch_reference as ref
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        nets = ref.load_nets(a)
        resnet = irv1.build(512).eval()
        resnet.load_state_dict(_load_safetensors(b))

        def fn(p):
            img = Image.open(p).convert("RGB")
            with torch.no_grad():
                boxes = ref.detect(np.asarray(img), nets)[0]
                if len(boxes) == 0:
                    return 0
                crops = [np.float32(img.crop([int(max(v, 0)) for v in bx[:4]]).resize((160, 160), Image.BILINEAR))
                         for bx in boxes]
                x = torch.from_numpy((np.stack(crops) - 127.5) / 128.0).permute(0, 3, 1, 2).float()
                return len(resnet(x))
    else:
        raise SystemExit("mode: fr | facenet_pytorch | torch")
    for p, ms, n in timed(fn, runs, images):
        print("%s %.3f %d" % (p, ms, n))


def _load_safetensors(path):
    import json
    import struct
    import torch
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        s, e = h["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[h["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[s:e], dt).reshape(h["shape"]).copy())
    return out


if __name__ == "__main__":
    main()
