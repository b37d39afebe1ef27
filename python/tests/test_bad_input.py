"""Bad input from Python gets a ValueError / facenet_c.Error with a message — never a crash
(a crash would take this whole test process down)."""
import os

import numpy as np
import pytest

import facenet_c
from conftest import FR_TESTS


@pytest.fixture(scope="module")
def photo():
    return facenet_c.load_image(os.path.join(FR_TESTS, "obama2.jpg"))


BAD_IMAGES = [
    ("float", lambda im: im.astype(np.float32), "dtype uint8"),
    ("uint16", lambda im: im.astype(np.uint16), "dtype uint8"),
    ("grey", lambda im: im[:, :, 0].copy(), "H x W x 3"),
    ("rgba", lambda im: np.dstack([im, im[:, :, :1]]), "H x W x 3"),
    ("4-d", lambda im: im[None], "H x W x 3"),
    ("empty", lambda im: im[:0], "empty"),
    ("strided", lambda im: im[:, ::2], "C-contiguous"),
    ("bgr view", lambda im: im[:, :, ::-1], "C-contiguous"),
    ("list", lambda im: im.tolist(), "numpy.ndarray"),
    ("None", lambda im: None, "numpy.ndarray"),
]


@pytest.mark.parametrize("name,make,msg", BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_bad_images(name, make, msg, photo, detector, embedder):
    bad = make(photo)
    for call in (detector.detect, lambda x: detector.detect_batch([photo, x]),
                 lambda x: facenet_c.align(x, np.zeros((5, 2))),
                 lambda x: facenet_c.save_image("/nonexistent/x.png", x),
                 lambda x: embedder.embed_image(x, detector), lambda x: embedder.crop(x, facenet_c.Face(
                     [0, 0, 10, 10], 1, np.zeros((5, 2))))):
        with pytest.raises(ValueError, match=msg):
            call(bad)
    with pytest.raises(ValueError):  # a 4-d array is a batch of crops: then the size is wrong
        embedder.embed(bad)


def test_bad_arguments(photo, detector, embedder, models):
    f = detector.detect(photo)[0]
    with pytest.raises(ValueError, match="150x150"):
        embedder.embed(np.zeros((160, 160, 3), np.uint8))
    with pytest.raises(ValueError, match="landmarks"):
        facenet_c.align(photo, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="landmarks"):
        facenet_c.align(photo, np.full((5, 2), np.nan))
    with pytest.raises(ValueError):
        facenet_c.align(photo, f, size=0)
    with pytest.raises(ValueError):
        embedder.crop(photo, "not a face")
    with pytest.raises(ValueError, match="thresholds"):
        facenet_c.Detector(models[0], thresholds=(0.6, 0.7))
    with pytest.raises(ValueError, match="factor"):
        facenet_c.Detector(models[0], factor=1.5)
    with pytest.raises(ValueError, match="min_size"):
        facenet_c.Detector(models[0], min_size=-1)
    with pytest.raises(ValueError, match="select"):
        embedder.embed_image(photo, detector, select="biggest")
    with pytest.raises(ValueError, match="different sizes"):
        facenet_c.distance(np.zeros(128), np.zeros(64))
    with pytest.raises(ValueError, match="issame"):
        facenet_c.evaluate(np.zeros((20, 4)), [True] * 9)
    with pytest.raises(ValueError, match="2 \\* n_pairs"):
        facenet_c.evaluate(np.zeros((21, 4)), [True] * 10)
    with pytest.raises(facenet_c.InvalidArgumentError, match="fold"):  # the library's own check
        facenet_c.evaluate_distances(np.zeros(4), [True, False, True, False], n_folds=10)
    assert len(embedder.embed([])) == 0 and detector.detect_batch([]) == []


def test_bad_files(tmp_path, models):
    with pytest.raises(facenet_c.FileError, match="nope.jpg"):
        facenet_c.load_image(tmp_path / "nope.jpg")
    with pytest.raises(OSError):  # FileError is an OSError too
        facenet_c.load_image(tmp_path / "nope.jpg")
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no jpeg" * 10)
    with pytest.raises(facenet_c.Error) as e:
        facenet_c.load_image(tmp_path / "junk.jpg")
    assert e.value.status != 0 and str(e.value)
    with pytest.raises(facenet_c.Error):
        facenet_c.load_image(b"GIF89a\x01")
    with pytest.raises(ValueError):
        facenet_c.load_image(b"")
    with pytest.raises(facenet_c.Error):
        facenet_c.Embedder(tmp_path / "junk.jpg")
    with pytest.raises(facenet_c.Error):
        facenet_c.Detector(tmp_path / "missing.safetensors")
    with pytest.raises(facenet_c.Error) as e:
        facenet_c.Embedder(models[0])  # MTCNN weights are no embedding model
    assert "fn_last_error" not in str(e.value) and len(str(e.value)) > 10


def test_closed_handles(models, photo):
    d = facenet_c.Detector(models[0])
    m = facenet_c.Embedder(models[1])
    f = d.detect(photo)[0]
    chip = m.crop(photo, f)
    d.close()
    m.close()
    d.close()  # twice is fine
    assert d.closed and m.closed
    with pytest.raises(ValueError, match="closed"):
        d.detect(photo)
    with pytest.raises(ValueError, match="closed"):
        m.embed(chip)
    with pytest.raises(ValueError, match="closed"):
        m.dim
    with facenet_c.Detector(models[0]) as d2:
        assert len(d2.detect(photo)) == 1
    with pytest.raises(ValueError, match="closed"):
        d2.detect(photo)


def test_face_recognition_bad_input(fr, photo):
    with pytest.raises(ValueError, match="uint8"):
        fr.face_locations(photo.astype(np.float64))
    with pytest.raises(ValueError, match="numpy"):
        fr.face_encodings("obama.jpg")
    with pytest.raises(ValueError, match="H x W x 3"):
        fr.face_locations(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="location"):
        fr.face_encodings(photo, [(10, 5, 20)])
    with pytest.raises(ValueError, match="location"):
        fr.face_encodings(photo, [(50, 10, 10, 40)])  # bottom above top
    with pytest.raises(ValueError):
        fr.face_landmarks(photo, model="medium")
