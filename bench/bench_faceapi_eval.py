#!/usr/bin/python3
"""bench_faceapi_eval.py — helper of bench/bench_faceapi.sh.

  subset PAIRS_TXT LFW_DIR PER_CLASS OUT_PAIRS OUT_LIST
      the first PER_CLASS same and PER_CLASS different pairs of each of the 10 folds
  accuracy OUT_PAIRS OUT_LIST EMB.bin
      facenet's protocol on that subset (squared L2 of L2-normalised embeddings,
      thresholds 0..4 step 0.01, 10-fold CV without shuffling); pairs with a missing face
      count as wrong (predicted 'different' for same pairs, 'same' for different pairs) so
      both pipelines are charged for their misses. Prints "accuracy MEAN STD misses".
"""
import sys
import numpy as np


def subset(pairs_txt, lfw, per_class, out_pairs, out_list):
    lines = open(pairs_txt).read().split("\n")
    folds, per = map(int, lines[0].split())
    rows = [l.split() for l in lines[1:] if l.strip()]
    p = lambda n, i: "%s/%s/%s_%04d.jpg" % (lfw, n, n, int(i))
    pairs = []
    for f in range(folds):
        block = rows[f * 2 * per:(f + 1) * 2 * per]
        same = [(p(r[0], r[1]), p(r[0], r[2]), 1) for r in block[:per]][:per_class]
        diff = [(p(r[0], r[1]), p(r[2], r[3]), 0) for r in block[per:]][:per_class]
        pairs += same + diff
    images = sorted({a for a, _, _ in pairs} | {b for _, b, _ in pairs})
    open(out_pairs, "w").write("".join("%s %s %d\n" % q for q in pairs))
    open(out_list, "w").write("\n".join(images) + "\n")
    print("pairs %d images %d" % (len(pairs), len(images)))


def accuracy(out_pairs, out_list, emb_bin):
    images = open(out_list).read().split()
    idx = {p: i for i, p in enumerate(images)}
    pairs = [l.split() for l in open(out_pairs) if l.strip()]
    raw = np.fromfile(emb_bin, dtype=np.float32).reshape(len(images), 129)
    found, emb = raw[:, 0].view(np.int32) == 1, raw[:, 1:]
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-10)
    a = np.array([idx[q[0]] for q in pairs]); b = np.array([idx[q[1]] for q in pairs])
    same = np.array([q[2] == "1" for q in pairs])
    ok = found[a] & found[b]
    dist = ((emb[a] - emb[b]) ** 2).sum(1)
    dist[~ok] = np.where(same[~ok], 1e9, -1.0)  # a miss is a wrong answer
    thresholds = np.arange(0, 4, 0.01)
    acc = lambda t, d, s: np.mean((d < t) == s)
    folds = np.array_split(np.arange(len(pairs)), 10)  # KFold(10, shuffle=False)
    accs = []
    for k in range(10):
        train = np.concatenate([folds[j] for j in range(10) if j != k])
        best = thresholds[np.argmax([acc(t, dist[train], same[train]) for t in thresholds])]
        accs.append(acc(best, dist[folds[k]], same[folds[k]]))
    print("accuracy %.5f %.5f %d" % (np.mean(accs), np.std(accs), int((~ok).sum())))


if __name__ == "__main__":
    if sys.argv[1] == "subset":
        subset(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6])
    else:
        accuracy(sys.argv[2], sys.argv[3], sys.argv[4])
