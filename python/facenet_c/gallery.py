"""Gallery: a persistent face database (fn_gallery_*: a SQLite file, or PostgreSQL when the
library is built with it) — enrol faces under subjects, identify with "nobody I know" for
strangers, remove and rename. The same store the CLI (`facenet gallery`) and the service use.

    with facenet_c.Gallery("faces.db", embedder) as g:
        g.enroll("obama", emb[0], source="obama.jpg")
        g.identify(query)       # [[Match(subject, face_id, distance, similarity)], ...]
"""
import ctypes
import os
from collections import namedtuple

import numpy as np

from . import _lib
from ._lib import POINTER, c_float, c_int, c_int64, check, lib, libc
from .core import Embedder, Face, _Call, _Handle

Match = namedtuple("Match", "subject face_id distance similarity")
FaceInfo = namedtuple("FaceInfo", "id subject source source_sha256 box landmarks score created has_image")
_INDEX = {"auto": 0, "exact": 1, "hnsw": 2, "ivf": 3}


def _name(s, what="subject"):
    if not isinstance(s, str) or not s:
        raise ValueError("%s must be a non-empty string" % what)
    b = s.encode("utf-8")
    if len(b) > _lib.NAME_MAX or b"\0" in b:
        raise ValueError("%s must be at most %d UTF-8 bytes without NUL" % (what, _lib.NAME_MAX))
    return b


def _str(b):
    return b.decode("utf-8", "replace")


def sha256_hex(data):
    """Hex sha256 of bytes (a source photo's fingerprint, as the gallery stores it)."""
    data = bytes(data)
    out = (ctypes.c_char * 65)()
    lib.fn_sha256_hex(data, len(data), out)
    return out.value.decode()


def similarity_calibration(embedder):
    """(threshold, slope) of the model's distance -> similarity mapping: similarity 0.5 at
    the Euclidean distance `threshold` between unit embeddings (the LFW threshold)."""
    c = _lib.fn_similarity_calib()
    with _Call(embedder) as p:
        lib.fn_model_similarity_calib(p, ctypes.byref(c))
    return float(c.threshold), float(c.slope)


class Gallery(_Handle):
    """Gallery(uri, embedder=None, model_id=None, dim=None, collection=None, create=True,
    read_only=False, index='auto'): uri is a SQLite path (or a postgresql:// URI). A new
    gallery needs the model (an Embedder, or model_id + dim); an existing one refuses another
    model (facenet_c.MismatchError). Thread-safe as the C handle is."""
    _close_fn = staticmethod(lambda p: lib.fn_gallery_close(p))

    def __init__(self, uri, embedder=None, model_id=None, dim=None, collection=None, create=True,
                 read_only=False, index="auto"):
        super().__init__()
        o = _lib.fn_gallery_options()
        lib.fn_gallery_options_default(ctypes.byref(o))
        if embedder is not None:
            if not isinstance(embedder, Embedder):
                raise ValueError("embedder must be a facenet_c.Embedder")
            model_id, dim = embedder.id, embedder.dim
            c = _lib.fn_similarity_calib()
            lib.fn_model_similarity_calib(embedder._get(), ctypes.byref(c))
            o.calib = c
        self._keep = [model_id.encode() if model_id else None, _name(collection, "collection") if collection else None]
        o.model_id, o.collection = self._keep
        o.dim = int(dim or 0)
        o.create, o.read_only = int(bool(create)), int(bool(read_only))
        if index not in _INDEX:
            raise ValueError("index must be one of %s" % ", ".join(_INDEX))
        o.index = _INDEX[index]
        h = ctypes.c_void_p()
        check(lib.fn_gallery_open(os.fsencode(uri), ctypes.byref(o), ctypes.byref(h)))
        self._ptr = h.value
        self.uri = str(uri)

    # ---- facts
    def info(self):
        s = _lib.fn_gallery_stats()
        with _Call(self) as p:
            check(lib.fn_gallery_info(p, ctypes.byref(s)))
        return {"n_subjects": s.n_subjects, "n_faces": s.n_faces, "dim": s.dim, "model_id": _str(s.model_id),
                "collection": _str(s.collection), "backend": _str(s.backend),
                "index": {v: k for k, v in _INDEX.items()}.get(s.index, s.index),
                "threshold": s.calib.threshold, "slope": s.calib.slope, "change_seq": s.change_seq}

    @property
    def dim(self):
        return self.info()["dim"]

    def __len__(self):
        return self.info()["n_faces"]

    def _queries(self, embeddings):
        q = np.asarray(embeddings)
        if q.dtype.kind not in "fiu":
            raise ValueError("embeddings must be numbers")
        q = np.ascontiguousarray(q, np.float32)
        if q.ndim == 1:
            q = q[None]
        dim = self.dim
        if q.ndim != 2 or q.shape[1] != dim:
            raise ValueError("embeddings must be n x %d (this gallery's size), got shape %s" % (dim, np.shape(embeddings)))
        if not np.all(np.isfinite(q)):
            raise ValueError("embeddings must be finite")
        return q

    # ---- writes
    def _face(self, subject, emb, source, source_sha256, face, image, keep):
        f = _lib.fn_gallery_face()
        keep += [_name(subject), source.encode() if source else None,
                 source_sha256.encode() if source_sha256 else None, emb]
        f.subject, f.source, f.source_sha256 = keep[-4], keep[-3], keep[-2]
        f.embedding = emb.ctypes.data_as(POINTER(c_float))
        if face is not None:
            if not isinstance(face, Face):
                raise ValueError("face must be a facenet_c.Face")
            for i in range(4):
                f.box[i] = float(face.box[i])
            for k in range(5):
                f.landmarks[k][0], f.landmarks[k][1] = float(face.landmarks[k, 0]), float(face.landmarks[k, 1])
            f.score = face.score
        if image is not None:
            data = bytes(image)
            keep.append(data)
            f.image = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p)
            f.image_size = len(data)
        return f

    def enroll(self, subject, embedding, source=None, source_sha256=None, face=None, image=None):
        """Enrol one face (one transaction); returns (face_id, duplicate) — duplicate when the
        same photo (source_sha256) was already enrolled for this subject."""
        emb = self._queries(embedding)
        if emb.shape[0] != 1:
            raise ValueError("enroll takes one embedding; use enroll_many")
        keep = []
        f = self._face(subject, emb[0], source, source_sha256, face, image, keep)
        fid, dup = c_int64(), c_int()
        with _Call(self) as p:
            check(lib.fn_gallery_enroll(p, ctypes.byref(f), ctypes.byref(fid), ctypes.byref(dup)))
        return fid.value, bool(dup.value)

    def enroll_many(self, subjects, embeddings, sources=None):
        """Enrol n faces in one transaction; returns their ids."""
        emb = self._queries(embeddings)
        subjects = list(subjects)
        if len(subjects) != emb.shape[0]:
            raise ValueError("one subject per embedding (%d vs %d)" % (len(subjects), emb.shape[0]))
        sources = list(sources) if sources is not None else [None] * len(subjects)
        keep = []
        faces = (_lib.fn_gallery_face * len(subjects))(
            *[self._face(s, emb[i], src, None, None, None, keep) for i, (s, src) in enumerate(zip(subjects, sources))])
        ids, dups = (c_int64 * len(subjects))(), c_int()
        if subjects:
            with _Call(self) as p:
                check(lib.fn_gallery_enroll_many(p, faces, len(subjects), ids, ctypes.byref(dups)))
        return list(ids)

    def add_subject(self, subject):
        created = c_int()
        with _Call(self) as p:
            check(lib.fn_gallery_add_subject(p, _name(subject), ctypes.byref(created)))
        return bool(created.value)

    def rename_subject(self, old, new):
        with _Call(self) as p:
            check(lib.fn_gallery_rename_subject(p, _name(old), _name(new)))

    def remove_subject(self, subject):
        """Removes the subject and its faces; returns how many faces (KeyError-like
        facenet_c.NotFoundError when there is no such subject)."""
        n = c_int()
        with _Call(self) as p:
            check(lib.fn_gallery_remove_subject(p, _name(subject), ctypes.byref(n)))
        return n.value

    def remove_face(self, face_id):
        with _Call(self) as p:
            check(lib.fn_gallery_remove_face(p, int(face_id)))

    def remove_all(self):
        n = c_int()
        with _Call(self) as p:
            check(lib.fn_gallery_remove_all(p, ctypes.byref(n)))
        return n.value

    # ---- reads
    def subjects(self):
        """{name: number of faces}, sorted by name."""
        arr, n = POINTER(_lib.fn_gallery_subject)(), c_int()
        with _Call(self) as p:
            check(lib.fn_gallery_list_subjects(p, ctypes.byref(arr), ctypes.byref(n)))
        try:
            return {_str(arr[i].name): arr[i].n_faces for i in range(n.value)}
        finally:
            libc.free(arr)

    def faces(self, subject=None, offset=0, limit=0):
        arr, n, total = POINTER(_lib.fn_gallery_face_info)(), c_int(), c_int()
        with _Call(self) as p:
            check(lib.fn_gallery_list_faces(p, _name(subject) if subject is not None else None, int(offset), int(limit),
                                            ctypes.byref(arr), ctypes.byref(n), ctypes.byref(total)))
        try:
            return [FaceInfo(a.id, _str(a.subject), _str(a.source), _str(a.source_sha256), np.array(a.box[:], np.float32),
                             np.array([a.landmarks[k][:] for k in range(5)], np.float32), a.score, a.created,
                             bool(a.has_image)) for a in (arr[i] for i in range(n.value))]
        finally:
            libc.free(arr)

    def embedding(self, face_id):
        out = np.empty(self.dim, np.float32)
        info = _lib.fn_gallery_face_info()
        with _Call(self) as p:
            check(lib.fn_gallery_get_face(p, int(face_id), ctypes.byref(info), out.ctypes.data_as(POINTER(c_float)),
                                          None, None))
        return out

    def _search(self, fn, embeddings, k):
        q = self._queries(embeddings)
        k = int(k)
        if k < 1:
            raise ValueError("k must be >= 1")
        out = (_lib.fn_gallery_match * (q.shape[0] * k))()
        found = (c_int * q.shape[0])()
        with _Call(self) as p:
            check(fn(p, q.ctypes.data_as(POINTER(c_float)), q.shape[0], k, out, found))
        return [[Match(_str(m.subject), m.face_id, float(m.distance), float(m.similarity))
                 for m in out[i * k:i * k + found[i]]] for i in range(q.shape[0])]

    def identify(self, embeddings, k=1):
        """The k nearest subjects of each query (each scored by its nearest face), nearest
        first: a list per query of Match(subject, face_id, distance, similarity)."""
        return self._search(lib.fn_gallery_search_subjects, embeddings, k)

    def search(self, embeddings, k=1):
        """The k nearest faces of each query, nearest first."""
        return self._search(lib.fn_gallery_search, embeddings, k)

    def refresh(self):
        with _Call(self) as p:
            check(lib.fn_gallery_refresh(p))

    def export_npy(self, directory):
        with _Call(self) as p:
            check(lib.fn_gallery_export_npy(p, os.fsencode(directory)))

    def import_npy(self, directory):
        n = c_int()
        with _Call(self) as p:
            check(lib.fn_gallery_import_npy(p, os.fsencode(directory), ctypes.byref(n)))
        return n.value
