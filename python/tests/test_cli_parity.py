"""The package gives what the CLI gives on the same photos: boxes, scores and landmarks
(`facenet detect --json`), embeddings (`facenet export-embeddings`, to 1e-6) and distances
(`facenet compare --json`)."""
import json
import os

import numpy as np

import facenet_c
from conftest import FACES, FR_TESTS, run_cli

PHOTOS = [os.path.join(FR_TESTS, f) for f in ("obama.jpg", "obama2.jpg", "biden.jpg", "32bit.png")] + \
         [os.path.join(FACES, "facenet-pytorch", "multiface.jpg"), os.path.join(FACES, "facenet", "Anthony_Hopkins_0001.jpg")]


def test_detect_equals_cli(models, detector):
    out = json.loads(run_cli("detect", "--json", "--mtcnn", models[0], *PHOTOS))
    n_faces = 0
    for entry in out["images"]:
        img = facenet_c.load_image(entry["path"])
        assert (img.shape[1], img.shape[0]) == (entry["width"], entry["height"])
        faces = detector.detect(img)
        assert len(faces) == len(entry["faces"]), entry["path"]
        for f, c in zip(faces, entry["faces"]):
            # the CLI prints boxes and landmarks with 2 decimals, scores with 6
            assert np.abs(f.box - np.float32(c["box"])).max() <= 0.0051, (entry["path"], f.box, c["box"])
            assert np.abs(f.landmarks - np.float32(c["landmarks"])).max() <= 0.0051
            assert abs(f.score - c["score"]) <= 5.1e-7
        n_faces += len(faces)
    assert n_faces >= 10  # 2 + 1 + 1 + 1 + 6 + 1 faces: the comparison compared something


def test_detect_batch_equals_detect(detector):
    imgs = [facenet_c.load_image(p) for p in PHOTOS]
    batch = detector.detect_batch(imgs)
    for img, faces in zip(imgs, batch):
        one = detector.detect(img)
        assert len(one) == len(faces)
        for a, b in zip(one, faces):
            assert np.array_equal(a.box, b.box) and a.score == b.score


def test_embeddings_equal_export_embeddings(tmp_path, models, detector, embedder, fr):
    data = tmp_path / "data"
    for i, p in enumerate(PHOTOS):
        d = data / ("p%d" % i)
        d.mkdir(parents=True)
        os.symlink(p, d / os.path.basename(p))
    run_cli("export-embeddings", str(data), "-o", str(tmp_path / "out"), "--model", models[1], "--mtcnn", models[0])
    cli = np.load(tmp_path / "out" / "embeddings.npy")
    assert cli.shape == (len(PHOTOS), 128)
    for i, p in enumerate(PHOTOS):
        img = facenet_c.load_image(p)
        faces = detector.detect(img)
        k = facenet_c.pick_largest(faces, img.shape)
        e = embedder.embed_faces(img, [faces[k]])[0]
        assert np.abs(e - cli[i]).max() <= 1e-6, p
        # the same through the one-call pipeline
        f2, e2 = embedder.embed_image(img, detector, select="largest")
        assert len(f2) == 1 and np.abs(e2[0] - cli[i]).max() <= 1e-6
        # and through face_recognition: the same embedding on dlib's scale
        enc = fr.face_encodings(fr.load_image_file(p))
        assert len(enc) == len(faces)
        assert np.abs(enc[k] / fr.dlib_scale() - cli[i]).max() <= 1e-6


def test_distances_equal_compare(models, detector, embedder):
    photos = PHOTOS[:4]
    out = json.loads(run_cli("compare", "--json", "--model", models[1], "--mtcnn", models[0], *photos))
    emb = []
    for p in photos:
        img = facenet_c.load_image(p)
        faces = detector.detect(img)
        emb.append(embedder.embed_faces(img, [faces[facenet_c.pick_largest(faces, img.shape)]])[0])
    d = facenet_c.distance_matrix(np.array(emb))
    assert np.abs(d - np.array(out["distances"])).max() <= 1.1e-6  # printed with 6 decimals
    assert abs(facenet_c.distance(emb[0], emb[1]) - out["distances"][0][1]) <= 1.1e-6
