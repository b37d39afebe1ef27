#!/usr/bin/env python3
"""compare_checkpoints.py A B [--tensor w] [--rtol R] — the largest difference between one
tensor of two facenet-c safetensors files (checkpoint.safetensors: "w" = raw weights),
as |a-b|/|a| in L2 norm (and the largest difference relative to the largest magnitude).
Exits 1 when the L2 ratio is above --rtol. Reads safetensors itself
(8-byte header length, JSON header, raw little-endian data) with numpy."""
import json, struct, sys
import numpy as np

def load(path, name):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    t = head[name]
    lo, hi = t['data_offsets']
    dt = {'F32': np.float32, 'I64': np.int64, 'F64': np.float64}[t['dtype']]
    return np.frombuffer(data[lo:hi], dtype=dt).reshape(t['shape'])

def main():
    args = sys.argv[1:]
    name, rtol = 'w', None
    if '--tensor' in args: i = args.index('--tensor'); name = args[i + 1]; del args[i:i + 2]
    if '--rtol' in args: i = args.index('--rtol'); rtol = float(args[i + 1]); del args[i:i + 2]
    a, b = (load(p, name).astype(np.float64) for p in args[:2])
    if a.shape != b.shape:
        print(f'{name}: shapes differ {a.shape} vs {b.shape}'); return 1
    scale = max(np.abs(a).max(), 1e-30)
    m = np.abs(a - b).max() / scale
    d = np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-30)
    print(f'{name}: {a.size} values, |a-b| / |a| = {d:.3g} (L2), max |a-b| / max |a| = {m:.3g}')
    return 1 if rtol is not None and not d <= rtol else 0

if __name__ == '__main__':
    sys.exit(main())
