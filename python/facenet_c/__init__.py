"""facenet_c — facenet-c (face detection, alignment, embedding, comparison, validation in C)
from Python, NumPy in and out, the GIL released during every C call.

    import facenet_c as fc
    img = fc.load_image("photo.jpg")            # H x W x 3 uint8 RGB
    det, emb = fc.Detector(), fc.Embedder()
    faces = det.detect(img)                     # [Face(box, score, landmarks)]
    e = emb.embed_faces(img, faces)             # n x 128 float32, L2-normalised
    fc.distance(e[0], e[1])

Drop-in layers: facenet_c.compat.face_recognition and facenet_c.compat.facenet_pytorch.
"""
from ._errors import (Error, FileError, FormatError, InvalidArgumentError, MismatchError,
                      NotFoundError, UnsupportedError)
from ._lib import LIB_PATH, last_error
from .core import (Detector, Embedder, EvalResult, Face, Landmarker68, align, crop_margin, distance,
                   distance_matrix, evaluate, evaluate_distances, find_model, load_image,
                   models_dirs, pick_largest, resize, save_image)

from .gallery import FaceInfo, Gallery, Match, sha256_hex, similarity_calibration

__version__ = "0.1.0"
