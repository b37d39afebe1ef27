"""facenet_c.compat.facenet_pytorch: MTCNN's detect / __call__ conventions (crops checked
against facenet-pytorch's extract_face done with Pillow), and InceptionResnetV1 against the
PyTorch reference embeddings of tests/fixtures/irv1 (tools/gen_irv1_fixtures.py)."""
import glob
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

import facenet_c
from conftest import BUILD, FACES, SRC
from facenet_c.compat.facenet_pytorch import MTCNN, InceptionResnetV1, fixed_image_standardization

MULTI = os.path.join(FACES, "facenet-pytorch", "multiface.jpg")


def pil_extract(img, box, image_size, margin):
    """facenet-pytorch's extract_face for a PIL image, written out with Pillow."""
    margin = [margin * (box[2] - box[0]) / (image_size - margin), margin * (box[3] - box[1]) / (image_size - margin)]
    box = [int(max(box[0] - margin[0] / 2, 0)), int(max(box[1] - margin[1] / 2, 0)),
           int(min(box[2] + margin[0] / 2, img.size[0])), int(min(box[3] + margin[1] / 2, img.size[1]))]
    face = img.crop(box).copy().resize((image_size, image_size), Image.BILINEAR)
    return np.float32(face).transpose(2, 0, 1)


def test_detect_conventions(models, detector):
    mtcnn = MTCNN(keep_all=True, weights=models[0])
    pil = Image.open(MULTI)
    boxes, probs, points = mtcnn.detect(pil, landmarks=True)
    faces = detector.detect(facenet_c.load_image(MULTI, exif_rotate=False))
    assert boxes.shape == (6, 4) and probs.shape == (6,) and points.shape == (6, 5, 2)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert np.all(np.diff(areas) <= 0)  # select_largest: by area
    assert sorted(map(tuple, boxes.tolist())) == sorted(tuple(f.box.tolist()) for f in faces)
    b2, p2 = MTCNN(selection_method="probability", weights=models[0]).detect(np.asarray(pil))
    assert np.all(np.diff(p2) <= 0) and np.array_equal(np.sort(p2), np.sort(probs))
    blank = np.zeros((100, 100, 3), np.uint8)
    assert mtcnn.detect(blank) == (None, [None])
    bb, pp = mtcnn.detect([np.asarray(pil), blank])
    assert bb[0].shape == (6, 4) and bb[1] is None and pp[1] == [None]


@pytest.mark.parametrize("image_size,margin", [(160, 0), (160, 32), (182, 44)])
def test_crops_equal_extract_face(models, image_size, margin):
    pil = Image.open(MULTI).convert("RGB")
    mtcnn = MTCNN(image_size=image_size, margin=margin, keep_all=True, post_process=False, weights=models[0])
    boxes, _ = mtcnn.detect(pil)
    crops = mtcnn(pil)
    assert crops.shape == (6, 3, image_size, image_size) and crops.dtype == np.float32
    for c, b in zip(crops, boxes):
        assert np.array_equal(c, pil_extract(pil, b, image_size, margin))
    one = MTCNN(image_size=image_size, margin=margin, weights=models[0])(pil)
    assert np.array_equal(one, fixed_image_standardization(crops[0]))  # the largest, standardised
    faces, prob = MTCNN(weights=models[0])(pil, return_prob=True)
    assert faces.shape == (3, 160, 160) and 0.9 < prob <= 1
    assert MTCNN(weights=models[0])(np.zeros((80, 80, 3), np.uint8)) is None


def test_save_path(models, tmp_path):
    MTCNN(keep_all=True, weights=models[0])(Image.open(MULTI), save_path=str(tmp_path / "f" / "face.png"))
    saved = sorted(os.listdir(tmp_path / "f"))
    assert saved[0] == "face.png" and len(saved) == 6
    assert facenet_c.load_image(tmp_path / "f" / "face.png").shape == (160, 160, 3)


def test_inception_resnet_v1_equals_pytorch(tmp_path):
    """The seeded test weights (tests/test_irv1.c --write-model), fed facenet-pytorch-style
    crops, give the PyTorch reference embeddings (tolerance 1e-4, as test_irv1)."""
    model = tmp_path / "irv1.safetensors"
    subprocess.run([os.path.join(BUILD, "test_irv1"), "--write-model", str(model), "512"], check=True)
    crops = [np.asarray(Image.open(p).convert("RGB"))
             for p in sorted(glob.glob(os.path.join(FACES, "facenet-pytorch", "aligned", "*.png")))]
    x = fixed_image_standardization(np.stack(crops).transpose(0, 3, 1, 2))
    resnet = InceptionResnetV1(model=str(model)).eval()
    emb = resnet(x)
    ref = np.load(os.path.join(SRC, "tests", "fixtures", "irv1", "emb_512_fixed.npy"))
    assert emb.shape == (5, 512)
    assert np.abs(emb - ref).max() <= 1e-4
    assert np.abs(resnet(x[0]) - emb[:1]).max() <= 1e-6  # batch of 1 vs 5: GEMM rounding only
    with pytest.raises(ValueError, match="fixed_image_standardization"):
        resnet(x * 0.5 + 0.001)
    with pytest.raises(ValueError, match="3 x 160 x 160"):
        resnet(x[:, :, :100])
    with pytest.raises(ValueError):
        InceptionResnetV1(pretrained=None)
    with pytest.raises(ValueError):
        InceptionResnetV1(model=str(model), classify=True)


def test_pretrained_missing_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("FACENET_MODELS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    try:
        InceptionResnetV1(pretrained="vggface2")
    except FileNotFoundError as e:
        assert "20180402-114759-vggface2.safetensors" in str(e)
    # (a checkout that holds the converted model opens it instead: nothing to assert then)
