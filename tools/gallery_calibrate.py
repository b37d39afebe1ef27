#!/usr/bin/python3
"""gallery_calibrate.py — the distance -> similarity calibration of a model, from LFW.

similarity(d) = 1 / (1 + exp(slope * (d - threshold))), d the Euclidean distance of unit
embeddings (src/gallery/similarity.c). Fitted on LFW's training pairs only (View 1
pairsDevTrain.txt; pairs whose images are missing are skipped):
  threshold: the best-accuracy distance threshold (0.001 grid; the middle of the best run),
  slope:     maximum likelihood of same/different given d with that threshold fixed, so the
             similarity reads as P(same person | d) at equal priors.
Then reports, on the held-out pairsDevTest.txt and on the 6000 pairs of pairs.txt, the
accuracy at the threshold and the share of same-person pairs above 0.6 and of different
people below 0.4 (what CompreFace / Double Take users expect).

Input: the output of `facenet export-embeddings LFW_DIR -o DIR --json > DIR/rows.json`.
usage: tools/gallery_calibrate.py EMB_DIR LFW_DIR   (prints C constants and the figures)
"""
import json, os, sys
import numpy as np


def read_pairs(path):
    lines = open(path).read().split("\n")[1:]
    out = []
    for ln in lines:
        f = ln.split()
        if len(f) == 3:
            out.append((f[0], int(f[1]), f[0], int(f[2]), True))
        elif len(f) == 4:
            out.append((f[0], int(f[1]), f[2], int(f[3]), False))
    return out


def pair_distances(pairs, row_of, emb):
    d, same, skipped = [], [], 0
    for a, i, b, j, s in pairs:
        ka, kb = "%s/%s_%04d" % (a, a, i), "%s/%s_%04d" % (b, b, j)
        if ka not in row_of or kb not in row_of:
            skipped += 1
            continue
        d.append(np.linalg.norm(emb[row_of[ka]] - emb[row_of[kb]]))
        same.append(s)
    return np.array(d, np.float64), np.array(same, bool), skipped


def best_threshold(d, same):
    grid = np.arange(0, 2, 0.001)
    acc = np.array([np.mean((d < t) == same) for t in grid])
    best = np.flatnonzero(acc == acc.max())
    return float(grid[best[len(best) // 2]]), float(acc.max())


def fit_slope(d, same, t):
    # maximise sum log p(y|d), p = 1/(1+exp(k(d-t))), by Newton's method on k
    y = same.astype(np.float64)
    k = 10.0
    for _ in range(100):
        z = k * (d - t)
        p = 1 / (1 + np.exp(z))
        g = np.sum((y - p) * -(d - t))          # d logL / dk
        h = -np.sum(p * (1 - p) * (d - t) ** 2)  # d2 logL / dk2
        step = g / h
        k -= step
        if abs(step) < 1e-9:
            break
    return float(k)


def sim(d, t, k):
    return 1 / (1 + np.exp(k * (d - t)))


def report(name, d, same, t, k):
    s = sim(d, t, k)
    print("  %-22s %5d pairs: accuracy %.4f, same > 0.6: %.3f, different < 0.4: %.3f, "
          "same median sim %.3f, different median sim %.3f" % (
              name, len(d), np.mean((d < t) == same), np.mean(s[same] > 0.6), np.mean(s[~same] < 0.4),
              np.median(s[same]), np.median(s[~same])))


def main():
    emb_dir, lfw = sys.argv[1], sys.argv[2]
    emb = np.load(os.path.join(emb_dir, "embeddings.npy")).astype(np.float64)
    rows = json.load(open(os.path.join(emb_dir, "rows.json")))["rows"]
    row_of = {}
    for r, row in enumerate(rows):
        p = row["path"]
        key = os.path.splitext("/".join(p.split("/")[-2:]))[0]
        row_of[key] = r
    dtr, str_, sk = pair_distances(read_pairs(os.path.join(lfw, "pairsDevTrain.txt")), row_of, emb)
    t, acc = best_threshold(dtr, str_)
    k = fit_slope(dtr, str_, t)
    print("model: %s (%d embeddings)" % (json.load(open(os.path.join(emb_dir, "rows.json")))["model"], len(emb)))
    print("fitted on pairsDevTrain.txt: %d pairs (%d skipped: image missing or no face), "
          "threshold %.3f (train accuracy %.4f), slope %.3f" % (len(dtr), sk, t, acc, k))
    report("pairsDevTrain (fit)", dtr, str_, t, k)
    for f in ("pairsDevTest.txt", "pairs.txt"):
        d, s, sk = pair_distances(read_pairs(os.path.join(lfw, f)), row_of, emb)
        report(f + " (held out)" if f != "pairs.txt" else f, d, s, t, k)
    print("C: out->threshold = %.3ff; out->slope = %.2ff;" % (t, k))


if __name__ == "__main__":
    main()
