#!/usr/bin/python3
"""gen_eval_fixtures.py — reference LFW metrics for tests/test_eval.c.

Computes facenet's validation metrics (src/facenet.py calculate_roc / calculate_accuracy /
calculate_val / calculate_val_far / distance, src/lfw.py evaluate, src/validate_on_lfw.py
AUC and EER) with Debian's numpy/scipy/sklearn on small seeded embedding and distance
sets, and writes the expected numbers to tests/fixtures/eval/eval_cases.json.

The inputs are not stored: both this script and the C test regenerate them from a seed
with splitmix64 (src/core/core.h fn_rng) so the fixture stays small; the fixture keeps a
few generated values so the C test can check it rebuilt the same inputs.

facenet's functions are re-implemented verbatim below (facenet itself is not installed),
with two documented adaptations:
  1. interp1d(far_train, thresholds, kind='slinear'): scipy >= 1.9 rejects duplicate x
     ("Expect x to not have duplicates") and facenet's calculate_val then raises. The
     scipy facenet ran on built the k=1 B-spline with knots r_[x[0], x, x[-1]] and
     coefficients y without that check; we build exactly that BSpline (construct_fast)
     and evaluate it with scipy's own compiled de Boor code.
  2. calculate_val_far divides Python floats, which raises ZeroDivisionError when a fold
     has no same (or no different) pairs; we divide numpy float64 instead (IEEE: 0/0 = nan,
     k/0 = inf), which the C code matches. EER is nan where scipy would raise (FPR range not
     covering [0, 1], or no sign change), and the C code does the same.

Usage: /usr/bin/python3 tools/gen_eval_fixtures.py  (from the repository root)
"""
import json
import math
import os
import sys
import warnings

import numpy as np
from scipy import interpolate
from scipy.interpolate import BSpline
from scipy.optimize import brentq
from sklearn import metrics
from sklearn.model_selection import KFold

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_fixture_inputs import gen_distances, gen_embeddings  # noqa: E402  (the seeded inputs)


# ----------------------------------------------------------------- facenet, verbatim
def distance(embeddings1, embeddings2, distance_metric=0):
    if distance_metric == 0:
        diff = np.subtract(embeddings1, embeddings2)
        dist = np.sum(np.square(diff), 1)
    elif distance_metric == 1:
        dot = np.sum(np.multiply(embeddings1, embeddings2), axis=1)
        norm = np.linalg.norm(embeddings1, axis=1) * np.linalg.norm(embeddings2, axis=1)
        similarity = dot / norm
        dist = np.arccos(similarity) / math.pi
    else:
        raise ValueError('Undefined distance metric %d' % distance_metric)
    return dist


def calculate_accuracy(threshold, dist, actual_issame):
    predict_issame = np.less(dist, threshold)
    tp = np.sum(np.logical_and(predict_issame, actual_issame))
    fp = np.sum(np.logical_and(predict_issame, np.logical_not(actual_issame)))
    tn = np.sum(np.logical_and(np.logical_not(predict_issame), np.logical_not(actual_issame)))
    fn = np.sum(np.logical_and(np.logical_not(predict_issame), actual_issame))
    tpr = 0 if (tp + fn == 0) else float(tp) / float(tp + fn)
    fpr = 0 if (fp + tn == 0) else float(fp) / float(fp + tn)
    acc = float(tp + tn) / dist.size
    return tpr, fpr, acc


def calculate_val_far(threshold, dist, actual_issame):
    predict_issame = np.less(dist, threshold)
    true_accept = np.sum(np.logical_and(predict_issame, actual_issame))
    false_accept = np.sum(np.logical_and(predict_issame, np.logical_not(actual_issame)))
    n_same = np.sum(actual_issame)
    n_diff = np.sum(np.logical_not(actual_issame))
    with np.errstate(divide='ignore', invalid='ignore'):  # adaptation 2
        val = np.float64(true_accept) / np.float64(n_same)
        far = np.float64(false_accept) / np.float64(n_diff)
    return val, far


def interp1d_slinear(x, y):
    """interp1d(x, y, kind='slinear') as facenet's scipy built it (adaptation 1)."""
    ind = np.argsort(x, kind="mergesort")
    x = np.asarray(x)[ind]
    y = np.asarray(y)[ind]
    spline = BSpline.construct_fast(np.r_[x[0], x, x[-1]], np.ascontiguousarray(y), 1)

    def f(xn):
        if xn < x[0] or xn > x[-1]:
            raise ValueError("A value in x_new is out of the interpolation range.")
        return spline(xn)
    return f


def fold_dist(embeddings1, embeddings2, train_set, distance_metric, subtract_mean, dist_given):
    if dist_given is not None:
        return dist_given
    if subtract_mean:
        mean = np.mean(np.concatenate([embeddings1[train_set], embeddings2[train_set]]), axis=0)
    else:
        mean = 0.0
    return distance(embeddings1 - mean, embeddings2 - mean, distance_metric)


def calculate_roc(thresholds, embeddings1, embeddings2, actual_issame, nrof_folds=10,
                  distance_metric=0, subtract_mean=False, dist_given=None):
    nrof_pairs = len(actual_issame)
    nrof_thresholds = len(thresholds)
    k_fold = KFold(n_splits=nrof_folds, shuffle=False)
    tprs = np.zeros((nrof_folds, nrof_thresholds))
    fprs = np.zeros((nrof_folds, nrof_thresholds))
    accuracy = np.zeros((nrof_folds))
    best = np.zeros((nrof_folds), dtype=np.int64)
    indices = np.arange(nrof_pairs)
    for fold_idx, (train_set, test_set) in enumerate(k_fold.split(indices)):
        dist = fold_dist(embeddings1, embeddings2, train_set, distance_metric, subtract_mean, dist_given)
        acc_train = np.zeros((nrof_thresholds))
        for threshold_idx, threshold in enumerate(thresholds):
            _, _, acc_train[threshold_idx] = calculate_accuracy(threshold, dist[train_set], actual_issame[train_set])
        best_threshold_index = np.argmax(acc_train)
        best[fold_idx] = best_threshold_index
        for threshold_idx, threshold in enumerate(thresholds):
            tprs[fold_idx, threshold_idx], fprs[fold_idx, threshold_idx], _ = calculate_accuracy(threshold, dist[test_set], actual_issame[test_set])
        _, _, accuracy[fold_idx] = calculate_accuracy(thresholds[best_threshold_index], dist[test_set], actual_issame[test_set])
        tpr = np.mean(tprs, 0)
        fpr = np.mean(fprs, 0)
    return tpr, fpr, accuracy, best


def calculate_val(thresholds, embeddings1, embeddings2, actual_issame, far_target, nrof_folds=10,
                  distance_metric=0, subtract_mean=False, dist_given=None):
    nrof_pairs = len(actual_issame)
    nrof_thresholds = len(thresholds)
    k_fold = KFold(n_splits=nrof_folds, shuffle=False)
    val = np.zeros(nrof_folds)
    far = np.zeros(nrof_folds)
    thr = np.zeros(nrof_folds)
    indices = np.arange(nrof_pairs)
    for fold_idx, (train_set, test_set) in enumerate(k_fold.split(indices)):
        dist = fold_dist(embeddings1, embeddings2, train_set, distance_metric, subtract_mean, dist_given)
        far_train = np.zeros(nrof_thresholds)
        for threshold_idx, threshold in enumerate(thresholds):
            _, far_train[threshold_idx] = calculate_val_far(threshold, dist[train_set], actual_issame[train_set])
        if np.max(far_train) >= far_target:
            f = interp1d_slinear(far_train, thresholds)
            threshold = f(far_target)
        else:
            threshold = 0.0
        thr[fold_idx] = threshold
        val[fold_idx], far[fold_idx] = calculate_val_far(threshold, dist[test_set], actual_issame[test_set])
    val_mean = np.mean(val)
    far_mean = np.mean(far)
    val_std = np.std(val)
    return val_mean, val_std, far_mean, val, far, thr


def auc_eer(fpr, tpr):
    auc = metrics.auc(fpr, tpr)
    try:
        eer = brentq(lambda x: 1. - x - interpolate.interp1d(fpr, tpr)(x), 0., 1.)
    except (ValueError, RuntimeError):
        eer = float('nan')
    return float(auc), float(eer)


# ----------------------------------------------------------------- seeded inputs
CASES = [
    # embeddings, facenet's default metric
    dict(name='emb8_euclid', kind='emb', seed=1, n_pairs=600, dim=8, scale=0.5, noise=0.25,
         same_frac=0.5, metric=0, subtract_mean=0, n_folds=10),
    dict(name='emb8_cosine', kind='emb', seed=1, n_pairs=600, dim=8, scale=0.5, noise=0.25,
         same_frac=0.5, metric=1, subtract_mean=0, n_folds=10),
    dict(name='emb8_euclid_submean', kind='emb', seed=2, n_pairs=600, dim=8, scale=0.5, noise=0.25,
         same_frac=0.5, metric=0, subtract_mean=1, n_folds=10),
    dict(name='emb8_cosine_submean', kind='emb', seed=2, n_pairs=600, dim=8, scale=0.5, noise=0.25,
         same_frac=0.5, metric=1, subtract_mean=1, n_folds=10),
    # 130-d exercises numpy's pairwise summation above its 128-element block
    dict(name='emb130_euclid_7folds', kind='emb', seed=3, n_pairs=203, dim=130, scale=0.125,
         noise=0.15625, same_frac=0.5, metric=0, subtract_mean=0, n_folds=7),
    dict(name='emb130_cosine_submean', kind='emb', seed=3, n_pairs=203, dim=130, scale=0.125,
         noise=0.5, same_frac=0.5, metric=1, subtract_mean=1, n_folds=10),
    # 5-d: sums shorter than numpy's 8-wide unroll; odd pair count (uneven folds)
    dict(name='emb5_cosine_uneven', kind='emb', seed=4, n_pairs=537, dim=5, scale=0.5, noise=0.5,
         same_frac=0.3, metric=1, subtract_mean=0, n_folds=10),
    # distances on the threshold grid: ties everywhere
    dict(name='dist_ties', kind='dist', seed=5, n_pairs=600, same_frac=0.5,
         same_k=[0, 80], diff_k=[40, 200], n_folds=10),
    # different pairs never closer than 4: FAR never reaches 1e-3 (threshold 0.0), EER undefined
    dict(name='dist_far_never', kind='dist', seed=6, n_pairs=600, same_frac=0.5,
         same_k=[0, 150], diff_k=[400, 500], n_folds=10),
    # impostors only in fold 0: fold 0 never reaches the FAR target, the others do
    dict(name='dist_far_some_folds', kind='dist', seed=7, n_pairs=600, same_frac=0.5,
         same_k=[0, 150], diff_k=[380, 420], diff_k_override=[[0, 60, 0, 300]], n_folds=10),
    # fold 0 all same, fold 9 all different (VAL has 0/0 -> nan folds)
    dict(name='dist_degenerate_folds', kind='dist', seed=8, n_pairs=600, same_frac=0.5,
         same_k=[0, 120], diff_k=[60, 250], force_same=[[0, 60, 1], [540, 600, 0]], n_folds=10),
    # 5 folds x 300 pairs, 250 different per fold: training FAR hits exactly 1/1000 == 1e-3
    dict(name='dist_far_exact', kind='dist', seed=9, n_pairs=1500, same_frac=0.0,
         same_k=[0, 100], diff_k=[300, 399], diff_k_override=[[0, 1, 10, 11], [300, 301, 20, 21]],
         force_same=[[f * 300 + 250, f * 300 + 300, 1] for f in range(5)], n_folds=5),
]


def clean(v):
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def run_case(c):
    if c['kind'] == 'emb':
        emb, issame = gen_embeddings(c)
        e1, e2 = emb[0::2], emb[1::2]
        dist_given = None
        metric, subtract_mean = c['metric'], bool(c['subtract_mean'])
        probe = [emb[0, 0], emb[0, -1], emb[-1, -1]]
    else:
        dist_given, issame = gen_distances(c)
        e1 = e2 = np.zeros((len(issame), 1))
        metric, subtract_mean = 0, False
        probe = [dist_given[0], dist_given[1], dist_given[-1]]
    nf = c['n_folds']
    thresholds = np.arange(0, 4, 0.01)
    tpr, fpr, accuracy, best = calculate_roc(thresholds, e1, e2, issame, nf, metric, subtract_mean, dist_given)
    thresholds = np.arange(0, 4, 0.001)
    val, val_std, far, fval, ffar, fthr = calculate_val(thresholds, e1, e2, issame, 1e-3, nf, metric,
                                                        subtract_mean, dist_given)
    auc, eer = auc_eer(fpr, tpr)
    out = dict(c)
    out['probe'] = [float(p) for p in probe]
    out['n_same'] = int(np.sum(issame))
    out['expected'] = dict(
        accuracy=clean(np.mean(accuracy)), accuracy_std=clean(np.std(accuracy)),
        fold_accuracy=[clean(a) for a in accuracy], fold_best_index=[int(b) for b in best],
        val=clean(val), val_std=clean(val_std), far=clean(far),
        fold_val=[clean(v) for v in fval], fold_far=[clean(v) for v in ffar],
        fold_val_threshold=[clean(v) for v in fthr],
        auc=clean(auc), eer=clean(eer),
        tpr=[clean(v) for v in tpr], fpr=[clean(v) for v in fpr])
    print('%-24s acc %.5f+-%.5f val %.5f+-%.5f far %.5f auc %.4f eer %s' % (
        c['name'], np.mean(accuracy), np.std(accuracy), val, val_std, far, auc, eer))
    return out


def main():
    assert np.array_equal(np.arange(0, 4, 0.01), np.arange(400) * 0.01)  # C: i * 0.01
    assert np.array_equal(np.arange(0, 4, 0.001), np.arange(4000) * 0.001)
    warnings.simplefilter('ignore')
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    out_dir = os.path.join(root, 'tests', 'fixtures', 'eval')
    os.makedirs(out_dir, exist_ok=True)
    cases = [run_case(c) for c in CASES]
    doc = dict(generator='tools/gen_eval_fixtures.py', numpy=np.__version__,
               scipy=__import__('scipy').__version__, sklearn=__import__('sklearn').__version__,
               far_target=1e-3, cases=cases)
    path = os.path.join(out_dir, 'eval_cases.json')
    with open(path, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)), file=sys.stderr)


if __name__ == '__main__':
    main()
