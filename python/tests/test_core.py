"""The core API: images against Pillow (Debian's, an independent decoder), alignment and
crops as the model's, validation helpers against facenet's numpy metrics (the committed
fixtures of tools/gen_eval_fixtures.py), and threads."""
import json
import os
import threading

import numpy as np
import pytest
from PIL import Image

import facenet_c
from conftest import FR_EXAMPLES, FR_TESTS, SRC


@pytest.mark.parametrize("name", ["32bit.png", "obama.jpg", "biden.jpg"])
def test_load_image_equals_pillow(name):
    p = os.path.join(FR_TESTS, name)
    ours = facenet_c.load_image(p, exif_rotate=False)
    ref = np.array(Image.open(p).convert("RGB"))
    assert ours.dtype == np.uint8 and ours.shape == ref.shape
    # PNG is lossless; JPEG: the same libjpeg-turbo decode (ISLOW IDCT, fancy upsampling)
    assert np.abs(ours.astype(int) - ref).max() <= (0 if name.endswith(".png") else 1)
    with open(p, "rb") as f:
        assert np.array_equal(facenet_c.load_image(f.read(), exif_rotate=False), ours)


def test_save_and_resize_roundtrip(tmp_path):
    img = facenet_c.load_image(os.path.join(FR_EXAMPLES, "obama_small.jpg"))
    facenet_c.save_image(tmp_path / "a.png", img)
    assert np.array_equal(facenet_c.load_image(tmp_path / "a.png"), img)
    small = facenet_c.resize(img, 40, 30)
    ref = np.array(Image.fromarray(img).resize((40, 30), Image.BILINEAR))
    assert small.shape == (30, 40, 3) and np.abs(small.astype(int) - ref).max() <= 1


def test_align_and_crop_are_the_models(detector, embedder):
    img = facenet_c.load_image(os.path.join(FR_TESTS, "obama.jpg"))
    f = detector.detect(img)[0]
    chip = facenet_c.align(img, f, size=150, padding=0.25)
    assert chip.shape == (150, 150, 3)
    assert np.array_equal(chip, embedder.crop(img, f))
    assert np.array_equal(facenet_c.align(img, f.landmarks), chip)
    assert np.array_equal(embedder.embed(chip), embedder.embed([chip]))
    m = facenet_c.crop_margin(img, f, margin=44, size=160)
    assert m.shape == (160, 160, 3)


def test_embedder_properties(embedder):
    assert (embedder.arch, embedder.dim, embedder.input_size) == ("dlib_resnet", 128, 150)
    assert len(embedder.id) >= 16


def test_distance_broadcasts():
    a = np.eye(3, dtype=np.float32)
    assert facenet_c.distance(a[0], a[1]) == pytest.approx(np.sqrt(2))
    assert facenet_c.distance(a, a[0]).shape == (3,)
    assert np.allclose(facenet_c.distance_matrix(a), np.sqrt(2) * (1 - np.eye(3)))


def test_evaluate_equals_facenets_metrics():
    from eval_fixture_inputs import gen_distances, gen_embeddings
    with open(os.path.join(SRC, "tests", "fixtures", "eval", "eval_cases.json")) as f:
        cases = json.load(f)["cases"]
    checked = 0
    for c in cases:
        exp = c["expected"]
        if c["kind"] == "emb":
            emb, issame = gen_embeddings(c)
            r = facenet_c.evaluate(emb, issame, n_folds=c["n_folds"], metric=c["metric"],
                                   subtract_mean=bool(c["subtract_mean"]))
        else:
            dist, issame = gen_distances(c)
            r = facenet_c.evaluate_distances(dist, issame, n_folds=c["n_folds"])
        for key in ("accuracy", "accuracy_std", "val", "val_std", "far", "auc"):
            e, got = exp[key], r[key]
            if e is None:
                assert np.isnan(got), (c["name"], key)
            else:
                assert got == pytest.approx(e, rel=1e-12, abs=1e-12), (c["name"], key, got, e)
        assert np.allclose(r.fold_accuracy, exp["fold_accuracy"], rtol=0, atol=1e-12)
        checked += 1
    assert checked == len(cases) >= 10


def test_threads_share_a_detector_and_embedder(detector, embedder):
    """Eight threads on one detector and one model give the single-thread answer (the GIL is
    released in C, so this also runs them concurrently). Not bit-identical: under concurrent
    calls the library's thread pool splits the GEMMs differently (float32 rounding, ~2e-7)."""
    img = facenet_c.load_image(os.path.join(FR_EXAMPLES, "two_people.jpg"))
    faces = detector.detect(img)
    want = embedder.embed_faces(img, faces)
    results, errors = [], []

    def work():
        try:
            f = detector.detect(img)
            results.append(np.abs(embedder.embed_faces(img, f) - want).max())
        except Exception as e:  # reported below
            errors.append(e)
    ts = [threading.Thread(target=work) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors and len(results) == 8 and max(results) <= 1e-6
