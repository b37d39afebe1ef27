"""facenet-pytorch's API over facenet-c: `MTCNN` and an `InceptionResnetV1`-like embedder,
NumPy arrays where facenet-pytorch has tensors (N × 3 × S × S float32 crops, N × 512
embeddings). Scripts switch with
    from facenet_c.compat.facenet_pytorch import MTCNN, InceptionResnetV1

Differences worth knowing: crops are resized with PIL's bilinear filter for every input
type (facenet-pytorch uses OpenCV's INTER_AREA for NumPy input); `device` is accepted and
ignored; InceptionResnetV1 needs a converted model file (`facenet convert`, README) instead
of downloading one, and it embeds crops made with fixed_image_standardization (MTCNN's
post_process=True), which it turns back into the pixels the C model standardises itself.
"""
import os

import numpy as np

from .. import core

_PRETRAINED = {"vggface2": "20180402-114759-vggface2.safetensors",
               "casia-webface": "20180408-102900-casia-webface.safetensors"}


def fixed_image_standardization(image_tensor):
    return (np.asarray(image_tensor, np.float32) - np.float32(127.5)) / np.float32(128.0)


def _as_rgb(img):
    """A PIL image or an H×W×3 uint8 array (any strides) as a contiguous RGB array."""
    if hasattr(img, "convert") and hasattr(img, "size"):  # PIL.Image
        img = np.asarray(img.convert("RGB"))
    if not isinstance(img, np.ndarray):
        raise ValueError("expected a PIL image or an H x W x 3 uint8 array, got %s" % type(img).__name__)
    if img.dtype != np.uint8:
        raise ValueError("image must be uint8 (got %s)" % img.dtype)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("image must be H x W x 3 RGB (got shape %s)" % (img.shape,))
    return np.ascontiguousarray(img)


class MTCNN:
    """facenet-pytorch's MTCNN: detect() gives boxes, probabilities and 5 landmarks;
    calling it gives the face crops (3 × image_size × image_size float32, standardised when
    post_process), the largest face (select_largest) or the most confident, or all faces
    (keep_all); None where there is no face."""

    def __init__(self, image_size=160, margin=0, min_face_size=20, thresholds=(0.6, 0.7, 0.7), factor=0.709,
                 post_process=True, select_largest=True, selection_method=None, keep_all=False, device=None,
                 weights=None):
        if int(image_size) < 1 or margin < 0 or margin >= image_size:
            raise ValueError("need image_size >= 1 and 0 <= margin < image_size")
        if selection_method not in (None, "largest", "probability"):
            raise ValueError("selection_method must be None, 'largest' or 'probability' (got %r)" % (selection_method,))
        self.image_size, self.margin = int(image_size), margin
        self.post_process, self.keep_all = post_process, keep_all
        self.select_largest = select_largest if selection_method is None else selection_method == "largest"
        self.detector = core.Detector(weights, min_size=min_face_size, thresholds=list(thresholds), factor=factor)

    def to(self, device):
        return self

    def eval(self):
        return self

    # -- detection
    def _detect_one(self, faces):
        if not faces:
            return None, [None], None
        boxes = np.array([f.box for f in faces], np.float32)
        probs = np.array([f.score for f in faces], np.float32)
        points = np.array([f.landmarks for f in faces], np.float32)
        if self.select_largest:
            order = np.argsort((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[::-1]
            boxes, probs, points = boxes[order], probs[order], points[order]
        return boxes, probs, points

    def detect(self, img, landmarks=False):
        """boxes (n × 4, x1 y1 x2 y2), probs (n), and with landmarks points (n × 5 × 2); for a
        list of images, one entry per image."""
        batch = isinstance(img, (list, tuple))
        imgs = [_as_rgb(i) for i in (img if batch else [img])]
        res = [self._detect_one(f) for f in self.detector.detect_batch(imgs)]
        boxes, probs, points = [r[0] for r in res], [r[1] for r in res], [r[2] for r in res]
        if not batch:
            boxes, probs, points = boxes[0], probs[0], points[0]
        return (boxes, probs, points) if landmarks else (boxes, probs)

    # -- crops
    def _extract(self, img, box, save_path=None):
        """facenet-pytorch's extract_face: the box widened by a margin scaled to the output
        size, truncated to whole pixels inside the image, resized (bilinear)."""
        m = self.margin
        mx, my = m * (box[2] - box[0]) / (self.image_size - m), m * (box[3] - box[1]) / (self.image_size - m)
        h, w = img.shape[:2]
        x0, y0 = int(max(box[0] - mx / 2, 0)), int(max(box[1] - my / 2, 0))
        x1, y1 = int(min(box[2] + mx / 2, w)), int(min(box[3] + my / 2, h))
        if x1 <= x0 or y1 <= y0:
            raise ValueError("face box %s is outside the image" % (list(box),))
        face = core.resize(np.ascontiguousarray(img[y0:y1, x0:x1]), self.image_size, self.image_size)
        if save_path is not None:
            d = os.path.dirname(save_path)
            if d:
                os.makedirs(d, exist_ok=True)
            core.save_image(save_path, face)
        return face.transpose(2, 0, 1).astype(np.float32)

    def extract(self, img, batch_boxes, save_path=None):
        batch = isinstance(img, (list, tuple))
        imgs = [_as_rgb(i) for i in (img if batch else [img])]
        boxes_list = batch_boxes if batch else [batch_boxes]
        paths = save_path if batch and save_path is not None else [save_path] * len(imgs)
        out = []
        for im, boxes, path in zip(imgs, boxes_list, paths):
            if boxes is None:
                out.append(None)
                continue
            boxes = boxes if self.keep_all else boxes[:1]
            faces = []
            for i, b in enumerate(boxes):
                p = path
                if path is not None and i > 0:
                    base, ext = os.path.splitext(path)
                    p = base + "_" + str(i + 1) + ext
                faces.append(self._extract(im, b, p))
            faces = np.stack(faces) if self.keep_all else faces[0]
            if self.post_process:
                faces = fixed_image_standardization(faces)
            out.append(faces)
        return out if batch else out[0]

    def __call__(self, img, save_path=None, return_prob=False):
        boxes, probs = self.detect(img)
        faces = self.extract(img, boxes, save_path)
        if return_prob:
            if isinstance(img, (list, tuple)):
                probs = [p if self.keep_all or p[0] is None else p[0] for p in probs]
            elif not self.keep_all:
                probs = probs[0]
            return faces, probs
        return faces


class InceptionResnetV1:
    """An InceptionResnetV1-like embedder over a converted model: pretrained='vggface2' or
    'casia-webface' (found as models/20180402-114759-vggface2.safetensors, ... — convert
    facenet-pytorch's release files with `facenet convert`), or model=PATH. Calling it on
    N × 3 × S × S crops (MTCNN with post_process=True) gives N × dim L2-normalised float32."""

    def __init__(self, pretrained=None, classify=False, num_classes=None, dropout_prob=0.6, device=None, model=None):
        if classify:
            raise ValueError("classify=True is not supported: facenet-c embeds faces (classify with "
                             "`facenet classify` or an SVM on the embeddings)")
        if model is None:
            if pretrained not in _PRETRAINED:
                raise ValueError("pass pretrained='vggface2' or 'casia-webface' (a converted model file) or model=PATH")
            model = core.find_model((_PRETRAINED[pretrained],))
        self.embedder = core.Embedder(model)
        self.classify = False

    def eval(self):
        return self

    def train(self, mode=True):
        if mode:
            raise ValueError("training runs with `facenet train`; this embedder is inference only")
        return self

    def to(self, device):
        return self

    def forward(self, x):
        if hasattr(x, "detach"):  # a torch tensor
            x = x.detach().cpu().numpy()
        x = np.asarray(x, np.float32)
        if x.ndim == 3:
            x = x[None]
        S = self.embedder.input_size
        if x.ndim != 4 or x.shape[1:] != (3, S, S):
            raise ValueError("expected N x 3 x %d x %d crops, got shape %s" % (S, S, x.shape))
        u = x * np.float32(128.0) + np.float32(127.5)  # undo fixed_image_standardization, exactly
        pixels = np.rint(u)
        if not np.all(np.isfinite(u)) or np.abs(u - pixels).max(initial=0) > 1e-3 or pixels.min(initial=0) < 0 \
                or pixels.max(initial=0) > 255:
            raise ValueError("expected crops standardised with fixed_image_standardization ((x - 127.5) / 128 of "
                             "8-bit pixels, MTCNN(post_process=True))")
        crops = np.ascontiguousarray(pixels.astype(np.uint8).transpose(0, 2, 3, 1))
        return self.embedder.embed(crops)

    __call__ = forward
