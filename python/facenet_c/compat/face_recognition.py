"""face_recognition's API over facenet-c: scripts written for ageitgey's face_recognition run
with `import facenet_c.compat.face_recognition as face_recognition`.

What maps to what:
- detection is MTCNN (both `model="hog"` and `"cnn"`), finding faces down to 20 px;
  `number_of_times_to_upsample` above 1 lowers the smallest face size (halved per step);
- encodings come from the same dlib ResNet face_recognition uses (face-api's port of
  dlib_face_recognition_resnet_model_v1), aligned on MTCNN's 5 landmarks, on dlib's scale:
  the L2-normalised embedding times dlib_scale() = 0.6 / the model's LFW threshold (the
  similarity calibration the gallery and the service use: distance 0.409 for this model,
  chosen on LFW pairsDevTrain), so that face_recognition's tolerance 0.6 sits where dlib put
  it — at the threshold that separates people best on LFW. Raw face-api descriptors have
  norm ≈ 1.4, so this is also their scale.
- landmarks: `model="large"` is face-api's 68-point net (dlib's iBUG 68-point layout),
  `model="small"` dlib's 5-point set taken from it (eye corners and the nose base).
Images are loaded without applying EXIF orientation, as PIL.Image.open does for
face_recognition.
"""
import collections
import hashlib
import math
import threading

import numpy as np

from .. import core
from ..gallery import similarity_calibration

DLIB_TOLERANCE = 0.6

_lock = threading.Lock()
_state = {}
_cache = collections.OrderedDict()  # image digest -> faces (the last few images)
_CACHE_SIZE = 4


def _detector():
    with _lock:
        if "detector" not in _state:
            _state["detector"] = core.Detector()
        return _state["detector"]


def _embedder():
    with _lock:
        if "embedder" not in _state:
            _state["embedder"] = core.Embedder(core.find_model(("dlib_resnet.safetensors",)))
        return _state["embedder"]


def dlib_scale():
    """The factor from unit embeddings to dlib's scale: 0.6 / the model's LFW threshold."""
    emb = _embedder()
    with _lock:
        if "scale" not in _state:
            _state["scale"] = DLIB_TOLERANCE / similarity_calibration(emb)[0]
        return _state["scale"]


def set_models(mtcnn=None, model=None, landmark68=None):
    """Use other weights than the defaults (an mtcnn file/folder, a dlib ResNet .safetensors,
    face-api's 68-point landmark net)."""
    with _lock:
        if landmark68 is not None:
            _state["landmarker"] = core.Landmarker68(landmark68)
        if mtcnn is not None:
            _state["detector"] = core.Detector(mtcnn)
        if model is not None:
            _state["embedder"] = core.Embedder(model)
            _state.pop("scale", None)
        _cache.clear()


# ------------------------------------------------------------------ images

def load_image_file(file, mode="RGB"):
    """An image file (name or file object) as a numpy array: H×W×3 uint8 ('RGB') or H×W
    ('L', PIL's luma conversion)."""
    if mode not in ("RGB", "L"):
        raise ValueError("mode must be 'RGB' or 'L' (got %r)" % (mode,))
    src = file.read() if hasattr(file, "read") else file
    img = core.load_image(src, exif_rotate=False)
    if mode == "L":  # PIL's ITU-R 601-2 luma, fixed point as in its Convert.c
        rgb = img.astype(np.uint32)
        img = ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)
    return img


def _rgb(img, name="image"):
    """face_recognition takes what dlib takes: H×W×3 RGB or H×W grey uint8, any strides."""
    if not isinstance(img, np.ndarray):
        raise ValueError("%s must be a numpy array (as load_image_file returns), got %s" % (name, type(img).__name__))
    if img.dtype != np.uint8:
        raise ValueError("%s must be 8-bit (uint8), got %s" % (name, img.dtype))
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("%s must be H x W x 3 RGB or H x W grey (got shape %s)" % (name, img.shape))
    return np.ascontiguousarray(img)


def _digest(img):
    # SHA-256 runs on the CPU's SHA instructions through OpenSSL: 1.7x faster than BLAKE2b here
    return (img.shape, hashlib.sha256(memoryview(img).cast("B")).digest())


def _detect(img, upsample=1, key=None):
    """The faces of img; remembered under its digest (key, when the caller has it) so that
    face_encodings(img, face_locations(img)) reuses them."""
    det = _detector()
    if upsample <= 1:
        faces = det.detect(img)
        key = key or _digest(img)
        with _lock:
            _cache[key] = faces
            _cache.move_to_end(key)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return faces
    d = core.Detector(det.path, min_size=max(12.0, 20.0 / 2 ** (upsample - 1)))
    with d:
        return d.detect(img)


# ------------------------------------------------------------------ locations

def _css(face, shape):
    x1, y1, x2, y2 = (int(round(float(v))) for v in face.box)
    return max(y1, 0), min(x2, shape[1]), min(y2, shape[0]), max(x1, 0)


def _check_model(model):
    if model not in ("hog", "cnn"):
        raise ValueError("model must be 'hog' or 'cnn' (got %r); both run MTCNN here" % (model,))


def face_locations(img, number_of_times_to_upsample=1, model="hog"):
    """Boxes of the faces in img as (top, right, bottom, left) tuples, most confident first."""
    _check_model(model)
    img = _rgb(img)
    return [_css(f, img.shape) for f in _detect(img, int(number_of_times_to_upsample))]


def batch_face_locations(images, number_of_times_to_upsample=1, batch_size=128):
    """face_locations of many images, detected in batches (threads spread over the images)."""
    images = [_rgb(im, "images[%d]" % i) for i, im in enumerate(images)]
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if int(number_of_times_to_upsample) > 1:
        return [face_locations(im, number_of_times_to_upsample) for im in images]
    out = []
    det = _detector()
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        out += [[_css(f, im.shape) for f in faces] for im, faces in zip(chunk, det.detect_batch(chunk))]
    return out


# ------------------------------------------------------------------ faces for given locations

def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _location_box(loc, shape):
    try:
        top, right, bottom, left = (float(v) for v in loc)
    except (TypeError, ValueError):
        raise ValueError("a face location is a (top, right, bottom, left) tuple, got %r" % (loc,))
    if not (right > left and bottom > top) or not all(map(math.isfinite, (top, right, bottom, left))):
        raise ValueError("empty or invalid face location %r" % (loc,))
    return (left, top, right, bottom)


def _faces_at(img, locations):
    """The detected face behind each (top, right, bottom, left) location: the detection of
    this image (cached from face_locations) that overlaps it most; for a location MTCNN did
    not produce, MTCNN run on the region around it."""
    if locations is None:
        return _detect(img)
    boxes = [_location_box(loc, img.shape) for loc in locations]
    if not boxes:
        return []
    key = _digest(img)
    with _lock:
        faces = _cache.get(key)
    if faces is None:
        faces = _detect(img, key=key)
    out = []
    for b in boxes:
        best = max(faces, key=lambda f: _iou(f.box, b), default=None)
        if best is not None and _iou(best.box, b) >= 0.5:
            out.append(best)
            continue
        out.append(_face_in_region(img, b))
    return out


def _face_in_region(img, b):
    w, h = b[2] - b[0], b[3] - b[1]
    x0, y0 = int(max(0, b[0] - w / 2)), int(max(0, b[1] - h / 2))
    x1, y1 = int(min(img.shape[1], b[2] + w / 2)), int(min(img.shape[0], b[3] + h / 2))
    if x1 - x0 >= 12 and y1 - y0 >= 12:
        region = np.ascontiguousarray(img[y0:y1, x0:x1])
        found = [f for f in _detector().detect(region)]
        if found:
            f = max(found, key=lambda f: _iou(f.box + np.float32([x0, y0, x0, y0]), b))
            off = np.float32([x0, y0])
            return core.Face(f.box + np.float32([x0, y0, x0, y0]), f.score, f.landmarks + off)
    # nothing detected there: the mean MTCNN landmark positions within a box
    rel = np.float32([[0.31, 0.45], [0.69, 0.45], [0.50, 0.62], [0.35, 0.80], [0.65, 0.80]])
    return core.Face(b, 0.0, np.float32([b[0], b[1]]) + rel * np.float32([w, h]))


# ------------------------------------------------------------------ encodings

def _jitter(face, k, rng):
    """A randomly moved copy of the face's landmarks (dlib's jitter: a few degrees of rotation,
    a few percent of scale and shift)."""
    lm = face.landmarks.astype(np.float64)
    c = lm.mean(axis=0)
    size = np.linalg.norm(lm[1] - lm[0]) * 2.5
    a = math.radians(rng.uniform(-5, 5))
    s = rng.uniform(0.95, 1.05)
    R = s * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    t = rng.uniform(-0.03, 0.03, 2) * size
    return core.Face(face.box, face.score, (lm - c) @ R.T + c + t)


def face_encodings(face_image, known_face_locations=None, num_jitters=1, model="small"):
    """The 128-d encoding (float64, dlib's scale) of each face, in face_locations' order.
    num_jitters > 1 averages the encodings of randomly shifted, rotated and scaled crops
    (seeded, so the same call gives the same result); model ('small'/'large') is accepted."""
    if model not in ("small", "large"):
        raise ValueError("model must be 'small' or 'large' (got %r)" % (model,))
    num_jitters = int(num_jitters)
    if num_jitters < 1:
        raise ValueError("num_jitters must be >= 1")
    img = _rgb(face_image, "face_image")
    emb = _embedder()
    scale = dlib_scale()
    if known_face_locations is None:  # detect, crop and embed in one library call, as the CLI does
        faces, e = emb.embed_image(img, _detector())
    else:
        faces = _faces_at(img, known_face_locations)
        e = emb.embed_faces(img, faces)
    if not faces:
        return []
    e = e.astype(np.float64)
    if num_jitters > 1:
        rng = np.random.default_rng(0)
        acc = e.copy()
        for k in range(1, num_jitters):
            acc += emb.embed_faces(img, [_jitter(f, k, rng) for f in faces])
        e = acc / np.linalg.norm(acc, axis=1, keepdims=True)
    return [row * scale for row in e]


def face_distance(face_encodings, face_to_compare):
    """Euclidean distance of each encoding to face_to_compare (an empty array for none)."""
    if len(face_encodings) == 0:
        return np.empty((0))
    return np.linalg.norm(np.asarray(face_encodings, np.float64) - np.asarray(face_to_compare, np.float64), axis=1)


def compare_faces(known_face_encodings, face_encoding_to_check, tolerance=0.6):
    """[distance <= tolerance] for each known encoding; 0.6 is dlib's (and LFW's) threshold."""
    return list(face_distance(known_face_encodings, face_encoding_to_check) <= tolerance)


# ------------------------------------------------------------------ landmarks

def face_landmarks(face_image, face_locations=None, model="large"):
    """A dict of facial features per face. 'large': chin, left/right_eyebrow, nose_bridge,
    nose_tip, left/right_eye, top_lip, bottom_lip (68-point layout); 'small': nose_tip,
    left_eye, right_eye (dlib's 5-point set)."""
    if model not in ("large", "small"):
        raise ValueError("Invalid landmarks model type. Supported models are ['small', 'large'].")
    img = _rgb(face_image, "face_image")
    faces = _faces_at(img, face_locations)
    if not faces:
        return []
    pts = _landmarks68(img, faces)
    out = []
    for p in pts:
        p = [(int(round(float(x))), int(round(float(y)))) for x, y in p]
        if model == "large":
            out.append({
                "chin": p[0:17], "left_eyebrow": p[17:22], "right_eyebrow": p[22:27],
                "nose_bridge": p[27:31], "nose_tip": p[31:36], "left_eye": p[36:42], "right_eye": p[42:48],
                "top_lip": p[48:55] + [p[64], p[63], p[62], p[61], p[60]],
                "bottom_lip": p[54:60] + [p[48], p[60], p[67], p[66], p[65], p[64]]})
        else:  # dlib's 5-point model: right eye corners, left eye corners, base of the nose
            five = [p[45], p[42], p[36], p[39], p[33]]
            out.append({"nose_tip": [five[4]], "left_eye": five[2:4], "right_eye": five[0:2]})
    return out


def _landmarks68(img, faces):
    with _lock:
        if "landmarker" not in _state:
            _state["landmarker"] = core.Landmarker68()
        l68 = _state["landmarker"]
    return l68.landmarks(img, faces)
