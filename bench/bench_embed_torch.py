#!/usr/bin/python3
"""PyTorch reference for bench/bench_embed.c (run with Debian's /usr/bin/python3 + torch).

  bench_embed_torch.py --write-model PATH      the seeded 512-d Inception-ResNet-v1 of
                                               tools/gen_irv1_fixtures.py as .safetensors
  bench_embed_torch.py --batch B --seconds T [--threads 2]
        embeds random 160x160 batches for about T seconds (after one warm-up pass) and prints
        "images_per_s X maxrss_kb Y cpu_ms_per_image Z".

The network is the same module as the fixtures (facenet-pytorch's layout and names),
in eval mode under torch.no_grad(), like facenet-pytorch users run it.
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
import gen_irv1_fixtures as ref  # noqa: E402


def write_safetensors(path, state_dict):
    header, blobs, off = {}, [], 0
    for name, t in state_dict.items():
        a = t.detach().cpu().numpy()
        dtype = {np.dtype('float32'): 'F32', np.dtype('int64'): 'I64'}[a.dtype]
        b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def time_forward(net, x, images_per_call, seconds):
    """Runs net(x) for about `seconds` after one warm-up pass and prints the line the C
    benchmarks read (also bench_dlib_torch.py's)."""
    with torch.no_grad():
        net(x)  # warm-up
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            net(x)
            n += images_per_call
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
        cpu = time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print('images_per_s %.3f maxrss_kb %d cpu_ms_per_image %.2f' % (n / dt, rss, 1e3 * cpu / n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--write-model')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--seconds', type=float, default=5.0)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net = ref.build(512)
    if args.write_model:
        write_safetensors(args.write_model, net.state_dict())
        return
    rng = np.random.default_rng(0)
    x = torch.from_numpy(((rng.integers(0, 256, (args.batch, 3, 160, 160)) - 127.5) / 128).astype(np.float32))
    time_forward(net, x, args.batch, args.seconds)


if __name__ == '__main__':
    main()
