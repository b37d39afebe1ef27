"""ctypes declarations of include/facenet.h (the part the package uses) and the loader.

ctypes releases the GIL around every call into a CDLL, so detection and embedding run in
parallel with other Python threads. Every fn_status is checked by `check`, which raises
facenet_c.Error (or a subclass) carrying fn_last_error()'s message.
"""
import ctypes
import os
from ctypes import POINTER, c_char_p, c_double, c_float, c_int, c_int64, c_size_t, c_uint8, c_uint64, c_void_p

from ._errors import raise_status

_HERE = os.path.dirname(os.path.abspath(__file__))


class fn_image(ctypes.Structure):
    _fields_ = [("w", c_int), ("h", c_int), ("rgb", POINTER(c_uint8))]


class fn_face(ctypes.Structure):
    _fields_ = [("box", c_float * 4), ("score", c_float), ("landmarks", (c_float * 2) * 5)]


class fn_detect_params(ctypes.Structure):
    _fields_ = [("min_size", c_float), ("thresholds", c_float * 3), ("factor", c_float)]


class fn_eval_params(ctypes.Structure):
    _fields_ = [("n_folds", c_int), ("metric", c_int), ("subtract_mean", c_int), ("far_target", c_double)]


FN_EVAL_ROC_THRESHOLDS = 400


class fn_eval_result(ctypes.Structure):
    _fields_ = [("n_pairs", c_int), ("n_folds", c_int),
                ("accuracy", c_double), ("accuracy_std", c_double), ("threshold", c_double),
                ("val", c_double), ("val_std", c_double), ("far", c_double),
                ("auc", c_double), ("eer", c_double),
                ("tpr", c_double * FN_EVAL_ROC_THRESHOLDS), ("fpr", c_double * FN_EVAL_ROC_THRESHOLDS),
                ("fold_accuracy", POINTER(c_double)), ("fold_threshold", POINTER(c_double)),
                ("fold_val", POINTER(c_double)), ("fold_far", POINTER(c_double)),
                ("fold_val_threshold", POINTER(c_double)), ("fold_best_index", POINTER(c_int))]


def _candidates():
    env = os.environ.get("FACENET_LIB")
    if env:
        yield env
        return
    yield os.path.join(_HERE, "libfacenet.so")                 # copied in by `pip install`
    src = os.path.dirname(os.path.dirname(_HERE))                # python/facenet_c -> checkout
    yield os.path.join(src, "build", "libfacenet.so")          # used from the build tree
    yield "libfacenet.so"                                       # cmake --install (ld.so paths)


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("facenet_c: cannot load libfacenet.so; build it (scripts/build.sh release) "
                      "or set FACENET_LIB. Tried: " + "; ".join(tried))


# The CLI's OpenMP wait policy (cli/main.c): threads that spin between parallel regions steal
# the cores BLAS and the other workers need. libgomp reads it once, when it is first loaded
# into the process, so this applies unless the user set it or loaded OpenMP (e.g. torch) first.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
lib, LIB_PATH = _load()

lib.fn_status_str.restype = c_char_p
lib.fn_status_str.argtypes = [c_int]
lib.fn_last_error.restype = c_char_p
lib.fn_last_error.argtypes = []


def last_error():
    return lib.fn_last_error().decode("utf-8", "replace")


def check(status):
    if status:
        raise_status(status, lib.fn_status_str(status).decode(), last_error())


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


P = POINTER
_fn("fn_image_load", c_int, c_char_p, c_int, P(fn_image))
_fn("fn_image_decode", c_int, c_void_p, c_size_t, c_int, P(fn_image))
_fn("fn_image_free", None, P(fn_image))
_fn("fn_image_save_png", c_int, c_char_p, P(fn_image))
_fn("fn_image_save_jpeg", c_int, c_char_p, P(fn_image), c_int)
_fn("fn_image_resize", c_int, P(fn_image), c_int, c_int, P(fn_image))
_fn("fn_detect_params_default", None, P(fn_detect_params))
_fn("fn_detector_open", c_int, c_char_p, P(c_void_p))
_fn("fn_detector_close", None, c_void_p)
_fn("fn_detect", c_int, c_void_p, P(fn_image), P(fn_detect_params), P(P(fn_face)), P(c_int))
_fn("fn_detect_batch", c_int, c_void_p, P(fn_image), c_int, P(fn_detect_params), P(P(fn_face)),
    P(c_int), P(c_int))
_fn("fn_face_pick_largest", c_int, P(fn_face), c_int, c_int, c_int, c_int)
_fn("fn_crop_margin", c_int, P(fn_image), P(c_float), c_int, c_int, P(fn_image))
_fn("fn_align_chip", c_int, P(fn_image), P((c_float * 2) * 5), c_int, c_float, P(fn_image))
_fn("fn_model_open", c_int, c_char_p, P(c_void_p))
_fn("fn_model_close", None, c_void_p)
_fn("fn_model_dim", c_int, c_void_p)
_fn("fn_model_input_size", c_int, c_void_p)
_fn("fn_model_arch", c_char_p, c_void_p)
_fn("fn_model_id", c_char_p, c_void_p)
_fn("fn_model_set_standardize", None, c_void_p, c_int)
_fn("fn_model_embed", c_int, c_void_p, P(fn_image), c_int, P(c_float))
_fn("fn_model_crop", c_int, c_void_p, P(fn_image), P(fn_face), P(fn_image))
_fn("fn_embed_image_faces", c_int, c_void_p, c_void_p, P(fn_image), P(fn_detect_params), c_int, c_int,
    P(P(fn_face)), P(P(c_float)), P(c_int))
_fn("fn_distance_sq", c_float, P(c_float), P(c_float), c_int)
_fn("fn_landmarker_open", c_int, c_char_p, P(c_void_p))
_fn("fn_landmarker_close", None, c_void_p)
_fn("fn_landmarks68", c_int, c_void_p, P(fn_image), P(c_float), c_int, P(c_float))
_fn("fn_eval_params_default", None, P(fn_eval_params))
_fn("fn_evaluate_embeddings", c_int, P(c_double), c_int, c_int, P(c_uint8), P(fn_eval_params),
    P(fn_eval_result))
_fn("fn_evaluate_distances", c_int, P(c_double), c_int, P(c_uint8), P(fn_eval_params), P(fn_eval_result))
_fn("fn_eval_result_free", None, P(fn_eval_result))
_fn("fn_pair_distance", c_double, P(c_double), P(c_double), c_int, c_int)

libc = ctypes.CDLL(None)
libc.free.restype = None
libc.free.argtypes = [c_void_p]

__all__ = ["lib", "libc", "check", "last_error", "fn_image", "fn_face", "fn_detect_params",
           "fn_eval_params", "fn_eval_result", "c_int", "c_int64", "c_uint64", "c_float", "c_double",
           "c_void_p", "c_char_p", "c_uint8", "c_size_t", "POINTER"]

# ---------------------------------------------------------------- gallery (src/gallery)
NAME_MAX = 255


class fn_similarity_calib(ctypes.Structure):
    _fields_ = [("threshold", c_float), ("slope", c_float)]


class fn_gallery_options(ctypes.Structure):
    _fields_ = [("model_id", c_char_p), ("dim", c_int), ("calib", fn_similarity_calib), ("collection", c_char_p),
                ("create", c_int), ("read_only", c_int), ("index", c_int), ("index_threshold", c_int)]


class fn_gallery_face(ctypes.Structure):
    _fields_ = [("subject", c_char_p), ("embedding", POINTER(c_float)), ("source", c_char_p),
                ("source_sha256", c_char_p), ("box", c_float * 4), ("landmarks", (c_float * 2) * 5),
                ("score", c_float), ("image", c_void_p), ("image_size", c_size_t)]


class fn_gallery_subject(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * (NAME_MAX + 1)), ("n_faces", c_int)]


class fn_gallery_face_info(ctypes.Structure):
    _fields_ = [("id", c_int64), ("subject", ctypes.c_char * (NAME_MAX + 1)), ("source", ctypes.c_char * (NAME_MAX + 1)),
                ("source_sha256", ctypes.c_char * 65), ("box", c_float * 4), ("landmarks", (c_float * 2) * 5),
                ("score", c_float), ("created", c_double), ("has_image", c_int)]


class fn_gallery_match(ctypes.Structure):
    _fields_ = [("face_id", c_int64), ("subject", ctypes.c_char * (NAME_MAX + 1)), ("distance", c_float),
                ("similarity", c_float)]


class fn_gallery_stats(ctypes.Structure):
    _fields_ = [("n_subjects", c_int), ("n_faces", c_int), ("dim", c_int), ("model_id", ctypes.c_char * 80),
                ("collection", ctypes.c_char * (NAME_MAX + 1)), ("backend", ctypes.c_char * 16), ("index", c_int),
                ("calib", fn_similarity_calib), ("change_seq", c_int64)]


_fn("fn_similarity", c_float, P(fn_similarity_calib), c_float)
_fn("fn_model_similarity_calib", None, c_void_p, P(fn_similarity_calib))
_fn("fn_gallery_options_default", None, P(fn_gallery_options))
_fn("fn_gallery_open", c_int, c_char_p, P(fn_gallery_options), P(c_void_p))
_fn("fn_gallery_close", None, c_void_p)
_fn("fn_gallery_enroll", c_int, c_void_p, P(fn_gallery_face), P(c_int64), P(c_int))
_fn("fn_gallery_enroll_many", c_int, c_void_p, P(fn_gallery_face), c_int, P(c_int64), P(c_int))
_fn("fn_gallery_add_subject", c_int, c_void_p, c_char_p, P(c_int))
_fn("fn_gallery_rename_subject", c_int, c_void_p, c_char_p, c_char_p)
_fn("fn_gallery_remove_subject", c_int, c_void_p, c_char_p, P(c_int))
_fn("fn_gallery_remove_face", c_int, c_void_p, c_int64)
_fn("fn_gallery_remove_all", c_int, c_void_p, P(c_int))
_fn("fn_gallery_list_subjects", c_int, c_void_p, P(P(fn_gallery_subject)), P(c_int))
_fn("fn_gallery_list_faces", c_int, c_void_p, c_char_p, c_int, c_int, P(P(fn_gallery_face_info)), P(c_int), P(c_int))
_fn("fn_gallery_get_face", c_int, c_void_p, c_int64, P(fn_gallery_face_info), P(c_float), P(P(c_uint8)), P(c_size_t))
_fn("fn_gallery_search", c_int, c_void_p, P(c_float), c_int, c_int, P(fn_gallery_match), P(c_int))
_fn("fn_gallery_search_subjects", c_int, c_void_p, P(c_float), c_int, c_int, P(fn_gallery_match), P(c_int))
_fn("fn_gallery_refresh", c_int, c_void_p)
_fn("fn_gallery_info", c_int, c_void_p, P(fn_gallery_stats))
_fn("fn_gallery_export_npy", c_int, c_void_p, c_char_p)
_fn("fn_gallery_import_npy", c_int, c_void_p, c_char_p, P(c_int))
_fn("fn_sha256_hex", None, c_void_p, c_size_t, ctypes.c_char * 65)
