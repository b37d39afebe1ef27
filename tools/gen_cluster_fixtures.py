#!/usr/bin/python3
"""Fixtures for tests/test_cluster.c and tests/test_classify.c, from Debian's sklearn.

DBSCAN: float32 distance matrices (.npy) and sklearn's DBSCAN(metric='precomputed') labels
for several (eps, min_samples); eps values are float32-exact so C's float comparison and
sklearn's float64 one see the same numbers.
SVM: embedding-like data (unit vectors around class centres), sklearn's
SVC(kernel='linear', probability=True) labels (predict and argmax predict_proba) and
probabilities on held-out points.

Usage: /usr/bin/python3 tools/gen_cluster_fixtures.py   (writes tests/fixtures/{cluster,classify})
"""
import json
import os

import numpy as np
import sklearn
from sklearn.cluster import DBSCAN
from sklearn.svm import SVC

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CL = os.path.join(ROOT, "tests", "fixtures", "cluster")
CF = os.path.join(ROOT, "tests", "fixtures", "classify")
os.makedirs(CL, exist_ok=True)
os.makedirs(CF, exist_ok=True)
rng = np.random.RandomState(20261128)


def dist_matrix(x):
    x = x.astype(np.float64)
    d = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0))
    return d.astype(np.float32)


def unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def faces(n_ids, per_id, n_single, dim, spread):
    """unit vectors: n_ids identities with per_id samples each, plus n_single strangers"""
    centres = unit(rng.randn(n_ids + n_single, dim))
    pts, ids = [], []
    for k in range(n_ids):
        for _ in range(per_id):
            pts.append(unit(centres[k] + spread * rng.randn(dim) / np.sqrt(dim)))
            ids.append(k)
    for k in range(n_single):
        pts.append(centres[n_ids + k])
        ids.append(n_ids + k)
    order = rng.permutation(len(pts))  # interleave so cluster ids are not just index order
    return np.array(pts, np.float32)[order], np.array(ids)[order]


# --- DBSCAN -------------------------------------------------------------------------------
matrices = {}
blobs = np.concatenate([rng.randn(15, 2) * 0.25 + c for c in ([0, 0], [2, 0], [1, 2])] +
                       [rng.uniform(-1, 3, (6, 2))]).astype(np.float32)
matrices["blobs"] = dist_matrix(blobs[rng.permutation(len(blobs))])
matrices["faces"] = dist_matrix(faces(6, 5, 6, 128, 0.9)[0])
# 1-D chain where border points sit between two clusters (sklearn: lowest cluster id wins)
chain = np.array([0, .1, .2, .5, .8, .9, 1.0, 2.0, 2.1, 5.0], np.float32)[[9, 4, 0, 3, 7, 1, 5, 8, 2, 6]]
matrices["chain"] = dist_matrix(chain[:, None])
# one border point (0.43) within eps of a core point of each of two clusters
border = np.array([0, .05, .1, .15, .2, .43, .66, .7, .75, .8, .85], np.float32)[[8, 5, 2, 10, 0, 7, 4, 1, 9, 3, 6]]
matrices["border"] = dist_matrix(border[:, None])

cases = []
for name, eps, ms in [("blobs", 0.5, 4), ("blobs", 0.8, 1), ("blobs", 0.3, 5), ("blobs", 0.25, 50),
                      ("faces", 0.8, 2), ("faces", 0.9, 3), ("faces", 1.1, 1),
                      ("chain", 0.3, 3), ("chain", 0.35, 2), ("chain", 0.15, 2), ("border", 0.25, 4)]:
    eps32 = float(np.float32(eps))
    labels = DBSCAN(eps=eps32, min_samples=ms, metric="precomputed").fit(matrices[name].astype(np.float64)).labels_
    cases.append({"matrix": name + ".npy", "eps": eps32, "min_samples": ms, "labels": labels.tolist()})
for name, m in matrices.items():
    np.save(os.path.join(CL, name + ".npy"), m)
with open(os.path.join(CL, "dbscan.json"), "w") as f:
    json.dump({"generator": "tools/gen_cluster_fixtures.py", "sklearn": sklearn.__version__, "cases": cases}, f)

# --- SVM ----------------------------------------------------------------------------------
# 5 people, 6..12 enrolled faces each (like a small classify train set), 128-d
n_cls, dim = 5, 128
centres = unit(rng.randn(n_cls, dim))
xs, ys = [], []
for k in range(n_cls):
    for _ in range(6 + 2 * k - (k % 2) * 3):
        xs.append(unit(centres[k] + 0.8 * rng.randn(dim) / np.sqrt(dim)))
        ys.append(k)
perm = rng.permutation(len(xs))
x_train = np.array(xs, np.float32)[perm]
y_train = np.array(ys)[perm]
# held-out: 4 per class plus 4 points between two classes (less certain probabilities)
xt, yt = [], []
for k in range(n_cls):
    for _ in range(4):
        xt.append(unit(centres[k] + 0.8 * rng.randn(dim) / np.sqrt(dim)))
        yt.append(k)
for a, b in [(0, 1), (2, 3), (1, 4), (3, 0)]:
    xt.append(unit(0.6 * centres[a] + 0.4 * centres[b] + 0.3 * rng.randn(dim) / np.sqrt(dim)))
    yt.append(a)
x_test = np.array(xt, np.float32)
np.save(os.path.join(CF, "svm_train.npy"), x_train)
np.save(os.path.join(CF, "svm_test.npy"), x_test)
out = {"generator": "tools/gen_cluster_fixtures.py", "sklearn": sklearn.__version__,
       "model": "SVC(kernel='linear', probability=True, C=C)", "train_labels": y_train.tolist(), "test_truth": yt}
for C, suffix in [(1.0, ""), (10.0, "_c10")]:
    svc = SVC(kernel="linear", C=C, probability=True, random_state=0).fit(x_train.astype(np.float64), y_train)
    proba = svc.predict_proba(x_test.astype(np.float64))
    out["predict" + suffix] = svc.predict(x_test.astype(np.float64)).tolist()
    out["argmax_proba" + suffix] = proba.argmax(1).tolist()
    out["proba" + suffix] = [[round(float(p), 6) for p in row] for row in proba]
    out["n_support" + suffix] = svc.n_support_.tolist()
with open(os.path.join(CF, "svm.json"), "w") as f:
    json.dump(out, f)
print("dbscan cases:", [(c["matrix"], c["eps"], c["min_samples"], len(set(c["labels"]))) for c in cases])
print("svm: train", x_train.shape, "test", x_test.shape, "acc (C=10)", float(np.mean(svc.predict(x_test) == np.array(yt))),
      "min max-proba", float(proba.max(1).min()))
