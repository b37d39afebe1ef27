#!/usr/bin/python3
"""lfw_cache_to_export.py — `facenet validate LFW --cache C.npy` embeddings (the face nearest
the centre of each photo, as facenet's align picks it) in export-embeddings' layout, so that
tools/gallery_calibrate.py and bench/bench_gallery(_lfw) read them:
DIR/embeddings.npy, labels.npy (person index, sorted names), label_strings.npy (per row),
rows.json ({"model", "rows": [{"path", "label", "name"}]}). Photos without a face are dropped.
usage: tools/lfw_cache_to_export.py C.npy OUT_DIR"""
import json, os, sys
import numpy as np

cache, out = sys.argv[1], sys.argv[2]
emb = np.load(cache)
meta = json.load(open(cache + ".json"))
keep = [i for i, nf in enumerate(meta["no_face"]) if not nf]
paths = [meta["paths"][i] for i in keep]
names = [os.path.basename(os.path.dirname(p)) for p in paths]
people = sorted(set(names))
label = {n: k for k, n in enumerate(people)}
os.makedirs(out, exist_ok=True)
np.save(os.path.join(out, "embeddings.npy"), emb[keep].astype(np.float32))
np.save(os.path.join(out, "labels.npy"), np.array([label[n] for n in names], np.int64))
np.save(os.path.join(out, "label_strings.npy"), np.array(names))
json.dump({"model": meta["model"], "rows": [{"path": p, "label": label[n], "name": n} for p, n in zip(paths, names)]},
          open(os.path.join(out, "rows.json"), "w"))
print("%d rows (%d without a face dropped), %d people" % (len(keep), len(meta["no_face"]) - len(keep), len(people)))
