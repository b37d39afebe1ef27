"""Paths for the package's tests. ctest passes FN_SOURCE_DIR, FN_BUILD_DIR and FN_SHARED_DIR
(cmake/python.cmake); run by hand they default to the checkout, build/ and ../shared:
    /usr/bin/python3 -m pytest -q python/tests"""
import os
import subprocess
import sys

import pytest

SRC = os.environ.get("FN_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("FN_BUILD_DIR") or os.path.join(SRC, "build")
SHARED = os.environ.get("FN_SHARED_DIR") or os.path.join(SRC, "..", "shared")
os.environ.setdefault("FACENET_LIB", os.path.join(BUILD, "libfacenet.so"))
sys.path.insert(0, os.path.join(SRC, "python"))
sys.path.insert(0, os.path.join(SRC, "tools"))

FR_TESTS = os.path.join(SHARED, "data", "faces", "face_recognition", "tests", "test_images")
FR_EXAMPLES = os.path.join(SHARED, "data", "faces", "face_recognition", "examples")
FACES = os.path.join(SHARED, "data", "faces")


def model_paths():
    """The default models, failing (never skipping) when they are missing."""
    mtcnn = next((p for p in (os.path.join(SRC, "models", "mtcnn.safetensors"), os.path.join(SRC, "models", "mtcnn"),
                              os.path.join(SHARED, "models", "mtcnn")) if os.path.exists(p)), None)
    model = os.path.join(SRC, "models", "dlib_resnet.safetensors")
    assert mtcnn, "no MTCNN weights in models/ or ../shared/models: run scripts/get-models.sh"
    assert os.path.exists(model), "%s is missing: run scripts/get-models.sh" % model
    return mtcnn, model


@pytest.fixture(scope="session")
def models():
    return model_paths()


@pytest.fixture(scope="session")
def detector(models):
    import facenet_c
    return facenet_c.Detector(models[0])


@pytest.fixture(scope="session")
def embedder(models):
    import facenet_c
    return facenet_c.Embedder(models[1])


@pytest.fixture(scope="session")
def fr(models):
    """facenet_c.compat.face_recognition on the test's models."""
    from facenet_c.compat import face_recognition
    face_recognition.set_models(mtcnn=models[0], model=models[1])
    return face_recognition


def run_cli(*args):
    exe = os.path.join(BUILD, "facenet")
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    assert r.returncode == 0, "facenet %s failed: %s" % (" ".join(args), r.stderr)
    return r.stdout
