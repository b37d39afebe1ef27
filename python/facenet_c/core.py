"""The Pythonic core over libfacenet: images, MTCNN detection, alignment, embedding,
distances and facenet's validation metrics. NumPy in and out: images are H×W×3 uint8 RGB
(C-contiguous), embeddings float32. Bad input raises ValueError (or facenet_c.Error, itself
a ValueError subclass where the library says the argument is wrong) before reaching C."""
import ctypes
import os
import threading

import numpy as np

from . import _lib
from ._lib import POINTER, c_float, c_int, c_uint8, c_void_p, check, fn_face, fn_image, lib, libc

# ------------------------------------------------------------------ models on disk

_SRC_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_MODEL_NAMES = ("20180402-114759-vggface2.safetensors", "dlib_resnet.safetensors")
DEFAULT_MTCNN_NAMES = ("mtcnn.safetensors", "mtcnn")
DEFAULT_LANDMARK68_NAMES = ("landmark68.safetensors",)


def models_dirs():
    """Where models are looked up, as the CLI does: $FACENET_MODELS, ./models, then models/
    beside the library (the checkout's models/ for a build-tree libfacenet.so)."""
    dirs = []
    if os.environ.get("FACENET_MODELS"):
        dirs.append(os.environ["FACENET_MODELS"])
    dirs.append("models")
    lib_dir = os.path.dirname(os.path.abspath(_lib.LIB_PATH)) if os.sep in _lib.LIB_PATH else None
    if lib_dir:
        dirs.append(os.path.join(lib_dir, "..", "models"))
    try:
        from ._install_paths import MODELS_DIR  # written by setup.py at install time
        dirs.append(MODELS_DIR)
    except ImportError:
        pass
    dirs.append(os.path.join(_SRC_ROOT, "models"))
    return dirs


def find_model(names):
    for d in models_dirs():
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p):
                return p
    raise FileNotFoundError("no model (%s) found in %s; run scripts/get-models.sh or pass a path"
                            % (" or ".join(names), ", ".join(models_dirs())))


# ------------------------------------------------------------------ images

def _image_arg(img, name="image"):
    """An fn_image viewing img's pixels (no copy). img must stay alive while it is used."""
    if not isinstance(img, np.ndarray):
        raise ValueError("%s must be a numpy.ndarray (H x W x 3 uint8 RGB), got %s" % (name, type(img).__name__))
    if img.dtype != np.uint8:
        raise ValueError("%s must have dtype uint8 (got %s); convert with img.astype(np.uint8) "
                         "after scaling to 0..255" % (name, img.dtype))
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("%s must be H x W x 3 RGB (got shape %s)" % (name, img.shape))
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError("%s is empty (shape %s)" % (name, img.shape))
    if not img.flags.c_contiguous:
        raise ValueError("%s must be C-contiguous (got a strided view, e.g. img[:, :, ::-1]); "
                         "pass np.ascontiguousarray(%s)" % (name, name))
    if img.shape[0] > 32768 or img.shape[1] > 32768:
        raise ValueError("%s is %dx%d: a side above 32768 pixels" % (name, img.shape[1], img.shape[0]))
    return fn_image(img.shape[1], img.shape[0], img.ctypes.data_as(POINTER(c_uint8)))


def _take_image(fi):
    """Copy a library-owned fn_image into a new array and free it."""
    try:
        n = fi.w * fi.h * 3
        out = np.empty((fi.h, fi.w, 3), np.uint8)
        if n:
            ctypes.memmove(out.ctypes.data, fi.rgb, n)
        return out
    finally:
        lib.fn_image_free(ctypes.byref(fi))


def load_image(path, exif_rotate=True):
    """Decode a JPEG/PNG/GIF/BMP/PNM file (by content) or bytes to H×W×3 uint8 RGB; JPEG EXIF
    orientation applied unless exif_rotate=False."""
    fi = fn_image()
    if isinstance(path, (bytes, bytearray, memoryview)):
        data = bytes(path)
        if not data:
            raise ValueError("empty image data")
        check(lib.fn_image_decode(data, len(data), int(bool(exif_rotate)), ctypes.byref(fi)))
    else:
        check(lib.fn_image_load(os.fsencode(path), int(bool(exif_rotate)), ctypes.byref(fi)))
    return _take_image(fi)


def save_image(path, img, quality=95):
    """Write img as PNG, or as JPEG when path ends in .jpg/.jpeg (atomically)."""
    fi = _image_arg(img)
    p = os.fsencode(path)
    if p.lower().endswith((b".jpg", b".jpeg")):
        check(lib.fn_image_save_jpeg(p, ctypes.byref(fi), int(quality)))
    else:
        check(lib.fn_image_save_png(p, ctypes.byref(fi)))


def resize(img, width, height):
    """Bilinear resize exactly as PIL's Image.resize(..., BILINEAR)."""
    fi, out = _image_arg(img), fn_image()
    check(lib.fn_image_resize(ctypes.byref(fi), int(width), int(height), ctypes.byref(out)))
    return _take_image(out)


# ------------------------------------------------------------------ detection

class Face:
    """One detected face: box (x1, y1, x2, y2) in pixels, score, landmarks (5 × 2: left eye,
    right eye, nose, left and right mouth corner)."""
    __slots__ = ("box", "score", "landmarks")

    def __init__(self, box, score, landmarks):
        self.box = np.asarray(box, np.float32).reshape(4)
        self.score = float(score)
        self.landmarks = np.asarray(landmarks, np.float32).reshape(5, 2)

    @classmethod
    def _from_c(cls, f):
        return cls(np.ctypeslib.as_array(f.box).copy(), f.score,
                   np.ctypeslib.as_array(f.landmarks).copy())

    def _to_c(self):
        f = fn_face()
        for i in range(4):
            f.box[i] = float(self.box[i])
        f.score = self.score
        for k in range(5):
            f.landmarks[k][0], f.landmarks[k][1] = float(self.landmarks[k, 0]), float(self.landmarks[k, 1])
        return f

    @property
    def area(self):
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))

    def __repr__(self):
        return "Face(box=[%.1f, %.1f, %.1f, %.1f], score=%.4f)" % (*self.box, self.score)


def _faces_from_c(ptr, n):
    try:
        return [Face._from_c(ptr[i]) for i in range(n)]
    finally:
        libc.free(ptr)


def _face_arg(face):
    if isinstance(face, Face):
        return face._to_c()
    raise ValueError("expected a facenet_c.Face, got %s" % type(face).__name__)


class _Handle:
    """An opened C object: closed once (close(), `with`, or garbage collection); calls on a
    closed handle raise ValueError instead of reaching C. A lock keeps close() from freeing
    the object while another thread is inside a call."""
    _close_fn = None

    def __init__(self):
        self._ptr = None
        self._lock = threading.RLock()
        self._users = 0

    def _get(self):
        p = self._ptr
        if not p:
            raise ValueError("%s is closed" % type(self).__name__)
        return p

    def _enter(self):
        with self._lock:
            p = self._get()
            self._users += 1
            return p

    def _leave(self):
        with self._lock:
            self._users -= 1

    def close(self):
        with self._lock:
            if self._users:
                raise RuntimeError("%s.close() while another thread is using it" % type(self).__name__)
            p, self._ptr = self._ptr, None
        if p:
            type(self)._close_fn(p)

    @property
    def closed(self):
        return not self._ptr

    def __enter__(self):
        self._get()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            p, self._ptr = self._ptr, None
            if p:
                type(self)._close_fn(p)
        except Exception:
            pass


class _Call:
    """with handle._call() as ptr: the handle stays open for the duration of the C call."""
    __slots__ = ("h", "p")

    def __init__(self, h):
        self.h = h

    def __enter__(self):
        self.p = self.h._enter()
        return self.p

    def __exit__(self, *exc):
        self.h._leave()


def _params(min_size, thresholds, factor):
    p = _lib.fn_detect_params()
    lib.fn_detect_params_default(ctypes.byref(p))
    if min_size is not None:
        if not (min_size > 0):
            raise ValueError("min_size must be > 0 (got %r)" % (min_size,))
        p.min_size = float(min_size)
    if thresholds is not None:
        t = [float(x) for x in thresholds]
        if len(t) != 3 or not all(0 <= x <= 1 for x in t):
            raise ValueError("thresholds must be three numbers in [0, 1] (got %r)" % (thresholds,))
        for i in range(3):
            p.thresholds[i] = t[i]
    if factor is not None:
        if not (0 < factor < 1):
            raise ValueError("factor must be in (0, 1) (got %r)" % (factor,))
        p.factor = float(factor)
    return p


class Detector(_Handle):
    """MTCNN face detector (facenet's detect_face / facenet-pytorch's MTCNN).

    Detector(path=None, min_size=20, thresholds=(0.6, 0.7, 0.7), factor=0.709); path is an
    mtcnn .safetensors or a folder with det1-3.npy / pnet,rnet,onet.pt (default: found as the
    CLI finds it). Thread-safe: several threads may call detect() on one detector."""
    _close_fn = staticmethod(lambda p: lib.fn_detector_close(p))

    def __init__(self, path=None, min_size=None, thresholds=None, factor=None):
        super().__init__()
        self.path = str(path) if path is not None else find_model(DEFAULT_MTCNN_NAMES)
        self.params = _params(min_size, thresholds, factor)
        h = c_void_p()
        check(lib.fn_detector_open(os.fsencode(self.path), ctypes.byref(h)))
        self._ptr = h.value

    @property
    def min_size(self):
        return self.params.min_size

    @property
    def thresholds(self):
        return tuple(self.params.thresholds)

    @property
    def factor(self):
        return self.params.factor

    def detect(self, img):
        """Faces of img, sorted by score (descending)."""
        fi = _image_arg(img)
        faces, n = POINTER(fn_face)(), c_int()
        with _Call(self) as p:
            check(lib.fn_detect(p, ctypes.byref(fi), ctypes.byref(self.params), ctypes.byref(faces),
                                ctypes.byref(n)))
        return _faces_from_c(faces, n.value)

    def detect_batch(self, imgs):
        """detect() over a list of images at once (threads spread over the images)."""
        imgs = list(imgs)
        if not imgs:
            return []
        arr = (fn_image * len(imgs))(*[_image_arg(im, "images[%d]" % i) for i, im in enumerate(imgs)])
        faces = (POINTER(fn_face) * len(imgs))()
        ns = (c_int * len(imgs))()
        st = (c_int * len(imgs))()
        with _Call(self) as p:
            s = lib.fn_detect_batch(p, arr, len(imgs), ctypes.byref(self.params), faces, ns, st)
        out = [_faces_from_c(faces[i], ns[i]) if st[i] == 0 else None for i in range(len(imgs))]
        for i in range(len(imgs)):
            if st[i]:
                check(st[i])  # first failure, with its message when the library kept one
        check(s)
        return out

    def __call__(self, img):
        return self.detect(img)


def pick_largest(faces, image_shape, center_penalty=False):
    """facenet's align choice: index of the largest box (penalised by its squared distance
    from the centre with center_penalty); None when faces is empty."""
    if not faces:
        return None
    arr = (fn_face * len(faces))(*[_face_arg(f) for f in faces])
    return lib.fn_face_pick_largest(arr, len(faces), int(image_shape[1]), int(image_shape[0]),
                                    int(bool(center_penalty)))


# ------------------------------------------------------------------ alignment

def align(img, face, size=150, padding=0.25):
    """The 5-point similarity warp (no shear) to a dlib-style face chip of size × size:
    face is a Face or its 5 × 2 landmarks."""
    fi = _image_arg(img)
    lm = face.landmarks if isinstance(face, Face) else np.asarray(face, np.float32)
    if lm.shape != (5, 2) or not np.all(np.isfinite(lm)):
        raise ValueError("landmarks must be 5 x 2 finite numbers (got shape %s)" % (lm.shape,))
    if not (0 < size <= 4096):
        raise ValueError("size must be in 1..4096 (got %r)" % (size,))
    c_lm = ((c_float * 2) * 5)(*[(c_float * 2)(float(x), float(y)) for x, y in lm])
    out = fn_image()
    check(lib.fn_align_chip(ctypes.byref(fi), ctypes.byref(c_lm), int(size), float(padding), ctypes.byref(out)))
    return _take_image(out)


def crop_margin(img, box, margin=44, size=160):
    """facenet's crop: box ± margin/2 clipped to the image, bilinear resize to size × size."""
    fi = _image_arg(img)
    b = np.asarray(box.box if isinstance(box, Face) else box, np.float32).reshape(-1)
    if b.shape != (4,) or not np.all(np.isfinite(b)):
        raise ValueError("box must be 4 finite numbers x1, y1, x2, y2")
    if not (0 < size <= 4096) or margin < 0:
        raise ValueError("size must be in 1..4096 and margin >= 0")
    cb = (c_float * 4)(*[float(v) for v in b])
    out = fn_image()
    check(lib.fn_crop_margin(ctypes.byref(fi), cb, int(margin), int(size), ctypes.byref(out)))
    return _take_image(out)


class Landmarker68(_Handle):
    """face-api's 68-point landmark net (iBUG 300-W / dlib shape_predictor_68 layout: 0-16
    jaw, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 lips). Landmarker68(path=None) finds
    models/landmark68.safetensors as the CLI does (scripts/get-models.sh fetches it)."""
    _close_fn = staticmethod(lambda p: lib.fn_landmarker_close(p))

    def __init__(self, path=None):
        super().__init__()
        self.path = str(path) if path is not None else find_model(DEFAULT_LANDMARK68_NAMES)
        h = c_void_p()
        check(lib.fn_landmarker_open(os.fsencode(self.path), ctypes.byref(h)))
        self._ptr = h.value

    def landmarks(self, img, faces):
        """n × 68 × 2 float32 image coordinates for a Face, a box (x1, y1, x2, y2) or a list of
        either (one 68 × 2 array for a single face or box)."""
        single = isinstance(faces, Face) or (np.ndim(faces) == 1 and not isinstance(faces, list))
        items = [faces] if single else list(faces)
        boxes = np.ascontiguousarray([f.box if isinstance(f, Face) else np.asarray(f, np.float32).reshape(-1)
                                      for f in items], np.float32).reshape(-1, 4) if items else np.empty((0, 4), np.float32)
        if boxes.shape[1] != 4 or not np.all(np.isfinite(boxes)):
            raise ValueError("boxes must be finite x1, y1, x2, y2")
        fi = _image_arg(img)
        out = np.empty((len(boxes), 68, 2), np.float32)
        if len(boxes):
            with _Call(self) as p:
                check(lib.fn_landmarks68(p, ctypes.byref(fi), boxes.ctypes.data_as(POINTER(c_float)), len(boxes),
                                         out.ctypes.data_as(POINTER(c_float))))
        return out[0] if single else out


# ------------------------------------------------------------------ embedding

FACES_ALL, FACES_LARGEST, FACES_LARGEST_CENTERED = 0, 1, 2
_SELECT = {"all": FACES_ALL, "largest": FACES_LARGEST, "largest_centered": FACES_LARGEST_CENTERED}


class Embedder(_Handle):
    """An embedding model (Inception-ResNet-v1 or the dlib-style ResNet): Embedder(model=None)
    takes a .safetensors path (default: the CLI's default model). Embeddings are
    L2-normalised float32 rows, exactly what the CLI computes."""
    _close_fn = staticmethod(lambda p: lib.fn_model_close(p))

    def __init__(self, model=None, standardize=None):
        super().__init__()
        self.path = str(model) if model is not None else find_model(DEFAULT_MODEL_NAMES)
        h = c_void_p()
        check(lib.fn_model_open(os.fsencode(self.path), ctypes.byref(h)))
        self._ptr = h.value
        if standardize is not None:
            if standardize not in ("fixed", "prewhiten"):
                raise ValueError("standardize must be 'fixed' or 'prewhiten'")
            lib.fn_model_set_standardize(self._ptr, 1 if standardize == "prewhiten" else 0)

    @property
    def dim(self):
        return lib.fn_model_dim(self._get())

    @property
    def input_size(self):
        return lib.fn_model_input_size(self._get())

    @property
    def arch(self):
        return lib.fn_model_arch(self._get()).decode()

    @property
    def id(self):
        return lib.fn_model_id(self._get()).decode()

    def crop(self, img, face):
        """The crop this model expects for a detected face (5-point chip or margin crop)."""
        fi, f, out = _image_arg(img), _face_arg(face), fn_image()
        with _Call(self) as p:
            check(lib.fn_model_crop(p, ctypes.byref(fi), ctypes.byref(f), ctypes.byref(out)))
        return _take_image(out)

    def embed(self, crops):
        """Embeddings (n × dim float32) of face crops: one input_size² × 3 uint8 image, an
        n × S × S × 3 array or a list of such images."""
        if isinstance(crops, np.ndarray) and crops.ndim == 3:
            crops = crops[None]
        if isinstance(crops, np.ndarray) and crops.ndim == 4:
            crops = list(crops) if crops.flags.c_contiguous else [crops[0]]  # -> contiguity error
        if not isinstance(crops, (list, tuple)):
            raise ValueError("crops must be an image, an n x S x S x 3 array or a list of images, got %s"
                             % type(crops).__name__)
        S = self.input_size
        fis = []
        for i, c in enumerate(crops):
            fi = _image_arg(c, "crops[%d]" % i)
            if c.shape[:2] != (S, S):
                raise ValueError("crops[%d] is %dx%d; this model takes %dx%d crops (use .crop())"
                                 % (i, c.shape[1], c.shape[0], S, S))
            fis.append(fi)
        out = np.empty((len(fis), self.dim), np.float32)
        if fis:
            arr = (fn_image * len(fis))(*fis)
            with _Call(self) as p:
                check(lib.fn_model_embed(p, arr, len(fis), out.ctypes.data_as(POINTER(c_float))))
        return out

    def embed_faces(self, img, faces):
        """Embeddings of the given faces of img (crop as the model expects, then embed)."""
        return self.embed([self.crop(img, f) for f in faces]) if faces else np.empty((0, self.dim), np.float32)

    def embed_image(self, img, detector, select="all", flip=False):
        """detect → crop → embed in one library call (fn_embed_image_faces): (faces, n × dim
        embeddings); select 'all', 'largest' (compare.py) or 'largest_centered' (align);
        flip appends the mirrored crop's embedding (n × 2·dim)."""
        if select not in _SELECT:
            raise ValueError("select must be one of %s" % ", ".join(_SELECT))
        if not isinstance(detector, Detector):
            raise ValueError("detector must be a facenet_c.Detector")
        fi = _image_arg(img)
        faces, emb, n = POINTER(fn_face)(), POINTER(c_float)(), c_int()
        with _Call(self) as p, _Call(detector) as d:
            check(lib.fn_embed_image_faces(d, p, ctypes.byref(fi), ctypes.byref(detector.params), _SELECT[select],
                                           int(bool(flip)), ctypes.byref(faces), ctypes.byref(emb), ctypes.byref(n)))
        cols = self.dim * (2 if flip else 1)
        try:
            e = np.ctypeslib.as_array(emb, (n.value, cols)).copy() if n.value else np.empty((0, cols), np.float32)
        finally:
            libc.free(emb)
        return _faces_from_c(faces, n.value), e


# ------------------------------------------------------------------ distances and metrics

def distance(a, b):
    """Euclidean distance (not squared, compare.py's) between embeddings: rows of a against
    rows of b with NumPy broadcasting (a: (dim,) or (n, dim); b likewise)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape[-1:] != b.shape[-1:]:
        raise ValueError("embeddings of different sizes: %s vs %s" % (a.shape, b.shape))
    return np.sqrt(np.sum(np.square(a - b), axis=-1))


def distance_matrix(emb):
    """n × n Euclidean distances between the rows of emb."""
    e = np.asarray(emb, np.float32)
    if e.ndim != 2:
        raise ValueError("emb must be n x dim")
    return distance(e[:, None, :], e[None, :, :])


class EvalResult(dict):
    """facenet's LFW metrics as a dict (accuracy, accuracy_std, threshold, val, val_std, far,
    auc, eer, tpr, fpr, fold_*) with attribute access."""
    __getattr__ = dict.__getitem__


_METRICS = {"euclidean_sq": 0, 0: 0, "cosine": 1, 1: 1}


def _eval_params(n_folds, metric, subtract_mean, far_target):
    p = _lib.fn_eval_params()
    lib.fn_eval_params_default(ctypes.byref(p))
    if metric not in _METRICS:
        raise ValueError("metric must be 'euclidean_sq' (0) or 'cosine' (1)")
    p.n_folds, p.metric, p.subtract_mean, p.far_target = int(n_folds), _METRICS[metric], int(bool(subtract_mean)), float(far_target)
    return p


def _issame_arg(issame, n):
    s = np.ascontiguousarray(np.asarray(issame).astype(bool), dtype=np.uint8)
    if s.shape != (n,):
        raise ValueError("issame must have one flag per pair (%d), got shape %s" % (n, s.shape))
    return s


def _take_result(r):
    try:
        k = r.n_folds
        fold = lambda p: np.ctypeslib.as_array(p, (k,)).copy() if k and p else np.empty(0)
        return EvalResult(
            n_pairs=r.n_pairs, n_folds=k, accuracy=r.accuracy, accuracy_std=r.accuracy_std,
            threshold=r.threshold, val=r.val, val_std=r.val_std, far=r.far, auc=r.auc, eer=r.eer,
            tpr=np.array(r.tpr[:]), fpr=np.array(r.fpr[:]),
            fold_accuracy=fold(r.fold_accuracy), fold_threshold=fold(r.fold_threshold),
            fold_val=fold(r.fold_val), fold_far=fold(r.fold_far), fold_val_threshold=fold(r.fold_val_threshold),
            fold_best_index=fold(r.fold_best_index))
    finally:
        lib.fn_eval_result_free(ctypes.byref(r))


def evaluate(embeddings, issame, n_folds=10, metric="euclidean_sq", subtract_mean=False, far_target=1e-3):
    """facenet's lfw.evaluate: embeddings has 2·n_pairs rows (pair i = rows 2i, 2i+1),
    issame n_pairs flags. Returns accuracy ± std, VAL@FAR, AUC, EER, the mean ROC."""
    e = np.ascontiguousarray(embeddings, np.float64)
    if e.ndim != 2 or e.shape[0] % 2 or e.shape[0] == 0:
        raise ValueError("embeddings must be (2 * n_pairs) x dim (got shape %s)" % (e.shape,))
    n = e.shape[0] // 2
    s = _issame_arg(issame, n)
    r = _lib.fn_eval_result()
    check(lib.fn_evaluate_embeddings(e.ctypes.data_as(POINTER(ctypes.c_double)), n, e.shape[1],
                                     s.ctypes.data_as(POINTER(c_uint8)),
                                     ctypes.byref(_eval_params(n_folds, metric, subtract_mean, far_target)),
                                     ctypes.byref(r)))
    return _take_result(r)


def evaluate_distances(distances, issame, n_folds=10, far_target=1e-3):
    """The same protocol on precomputed pair distances."""
    d = np.ascontiguousarray(distances, np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ValueError("distances must be a non-empty 1-D array")
    s = _issame_arg(issame, d.size)
    r = _lib.fn_eval_result()
    check(lib.fn_evaluate_distances(d.ctypes.data_as(POINTER(ctypes.c_double)), d.size,
                                    s.ctypes.data_as(POINTER(c_uint8)),
                                    ctypes.byref(_eval_params(n_folds, 0, False, far_target)), ctypes.byref(r)))
    return _take_result(r)
