#!/usr/bin/python3
"""Reference fixtures for tests/test_irv1.c (Inception-ResNet-v1 inference).

Builds Inception-ResNet-v1 independently in PyTorch with facenet-pytorch's parameter names,
fills every parameter from a seeded splitmix64 stream that the C test reproduces (seed =
64-bit FNV-1a of the tensor name), runs it on the five aligned 160x160 crops in
../shared/data/faces/facenet-pytorch/aligned/ and writes small fixtures to
tests/fixtures/irv1/:

  params.txt                   name, dtype and shape of each state_dict entry (D = bottleneck dim)
  emb_<dim>_<std>.npy          (5, dim) embeddings, dim in {512, 128}, std in {fixed, prewhiten}
  emb_512_fixed_s96.npy        (5, 512) embeddings of the centre 96x96 of the standardised input
  tap_<name>.npy               (1, k) values x.flat[::97] of NHWC intermediates (512-d, fixed):
                               stem (after conv2d_4b), mixed_6a, mixed_7a, pooled (before last_linear)

Run: /usr/bin/python3 tools/gen_irv1_fixtures.py [--shared ../shared]
Weights: value = c + s * (2u - 1), u = (splitmix64(seed + i) >> 40) / 2^24 for i = 1..n,
computed in float64 and rounded to float32. (c, s) by name: conv/linear weights (0, sqrt(6/fan_in)),
bn weight (1, 0.25), bn bias (0, 0.2), running_mean (0, 0.2), running_var (1, 0.5),
up-conv bias (0, 0.1); num_batches_tracked = 0.
"""
import argparse
import glob
import math
import os

import numpy as np
import torch
from PIL import Image
from torch import nn

TAP_STRIDE = 97
M64 = (1 << 64) - 1


def fnv1a64(name):
    h = 14695981039346656037
    for b in name.encode():
        h ^= b
        h = (h * 1099511628211) & M64
    return h


def splitmix64(x):
    """Vectorised splitmix64 finaliser over a uint64 array (wrapping arithmetic)."""
    with np.errstate(over='ignore'):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def uniform(name, n):
    seed = np.uint64(fnv1a64(name))
    with np.errstate(over='ignore'):
        counters = seed + np.arange(1, n + 1, dtype=np.uint64)
    z = splitmix64(counters)
    return (z >> np.uint64(40)).astype(np.float64) / 16777216.0


def param_rule(name, shape):
    """(c, s) of value = c + s * (2u - 1); mirrored by param_rule() in tests/test_irv1.c."""
    if name.endswith('running_var'):
        return 1.0, 0.5
    if name.endswith('running_mean'):
        return 0.0, 0.2
    if name.endswith('bn.weight'):
        return 1.0, 0.25
    if name.endswith('bn.bias'):
        return 0.0, 0.2
    if name.endswith('conv2d.bias'):
        return 0.0, 0.1
    if name.endswith('weight') and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return 0.0, math.sqrt(6.0 / fan_in)
    raise ValueError('no rule for ' + name)


def seeded(name, shape):
    c, s = param_rule(name, shape)
    u = uniform(name, int(np.prod(shape)))
    return (c + s * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


# ---------------------------------------------------------------- the network (facenet-pytorch names)

class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Block35(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(256, 32, 1)
        self.branch1 = nn.Sequential(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, padding=1),
                                     BasicConv2d(32, 32, 3, padding=1))
        self.conv2d = nn.Conv2d(96, 256, 1)

    def forward(self, x):
        up = self.conv2d(torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1))
        return torch.relu(x + 0.17 * up)


class Block17(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(896, 128, 1)
        self.branch1 = nn.Sequential(BasicConv2d(896, 128, 1), BasicConv2d(128, 128, (1, 7), padding=(0, 3)),
                                     BasicConv2d(128, 128, (7, 1), padding=(3, 0)))
        self.conv2d = nn.Conv2d(256, 896, 1)

    def forward(self, x):
        up = self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return torch.relu(x + 0.10 * up)


class Block8(nn.Module):
    def __init__(self, scale=0.20, relu=True):
        super().__init__()
        self.scale, self.relu = scale, relu
        self.branch0 = BasicConv2d(1792, 192, 1)
        self.branch1 = nn.Sequential(BasicConv2d(1792, 192, 1), BasicConv2d(192, 192, (1, 3), padding=(0, 1)),
                                     BasicConv2d(192, 192, (3, 1), padding=(1, 0)))
        self.conv2d = nn.Conv2d(384, 1792, 1)

    def forward(self, x):
        out = x + self.scale * self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return torch.relu(out) if self.relu else out


class Mixed6a(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(256, 384, 3, stride=2)
        self.branch1 = nn.Sequential(BasicConv2d(256, 192, 1), BasicConv2d(192, 192, 3, padding=1),
                                     BasicConv2d(192, 256, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Mixed7a(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, stride=2))
        self.branch2 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, padding=1),
                                     BasicConv2d(256, 256, 3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class InceptionResnetV1(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.conv2d_4b = BasicConv2d(192, 256, 3, stride=2)
        self.repeat_1 = nn.Sequential(*[Block35() for _ in range(5)])
        self.mixed_6a = Mixed6a()
        self.repeat_2 = nn.Sequential(*[Block17() for _ in range(10)])
        self.mixed_7a = Mixed7a()
        self.repeat_3 = nn.Sequential(*[Block8() for _ in range(5)])
        self.block8 = Block8(scale=1.0, relu=False)
        self.last_linear = nn.Linear(1792, dim, bias=False)
        self.last_bn = nn.BatchNorm1d(dim, eps=0.001)

    def forward(self, x, taps=None):
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))
        x = self.conv2d_4b(self.conv2d_4a(self.conv2d_3b(self.maxpool_3a(x))))
        if taps is not None: taps['stem'] = x
        x = self.mixed_6a(self.repeat_1(x))
        if taps is not None: taps['mixed_6a'] = x
        x = self.mixed_7a(self.repeat_2(x))
        if taps is not None: taps['mixed_7a'] = x
        x = self.block8(self.repeat_3(x))
        x = x.mean(dim=(2, 3))
        if taps is not None: taps['pooled'] = x
        x = self.last_bn(self.last_linear(x))
        return nn.functional.normalize(x, p=2, dim=1, eps=1e-10)


def build(dim):
    net = InceptionResnetV1(dim).eval()
    sd = net.state_dict()
    for name, t in sd.items():
        if name.endswith('num_batches_tracked'):
            t.zero_()
        else:
            t.copy_(torch.from_numpy(seeded(name, tuple(t.shape))))
    return net


def standardize(img_u8, kind):
    x = img_u8.astype(np.float64)
    if kind == 'fixed':
        return ((img_u8.astype(np.float32) - np.float32(127.5)) / np.float32(128.0)).astype(np.float32)
    mean, std = x.mean(), x.std()  # facenet.prewhiten
    std_adj = max(std, 1.0 / math.sqrt(x.size))
    return ((x - mean) * (1.0 / std_adj)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--shared', default=os.path.join(here, '..', '..', 'shared'))
    ap.add_argument('--out', default=os.path.join(here, '..', 'tests', 'fixtures', 'irv1'))
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)

    paths = sorted(glob.glob(os.path.join(args.shared, 'data/faces/facenet-pytorch/aligned/*.png')))
    assert len(paths) == 5, paths
    imgs = [np.asarray(Image.open(p).convert('RGB')) for p in paths]
    assert all(i.shape == (160, 160, 3) for i in imgs)

    nets = {d: build(d) for d in (512, 128)}
    sd = nets[512].state_dict()
    with open(os.path.join(args.out, 'params.txt'), 'w') as f:
        f.write('# facenet-pytorch InceptionResnetV1 state_dict: name dtype shape (D = bottleneck dim)\n')
        for name, t in sd.items():
            dtype = 'I64' if t.dtype == torch.int64 else 'F32'
            shape = ['D' if (name.startswith('last_') and i == 0) else str(s) for i, s in enumerate(t.shape)]
            f.write('%s %s %s\n' % (name, dtype, ','.join(shape) if shape else '-'))
    print('state_dict entries:', len(sd))

    with torch.no_grad():
        for std in ('fixed', 'prewhiten'):
            x = torch.from_numpy(np.stack([standardize(i, std) for i in imgs])).permute(0, 3, 1, 2).contiguous()
            for dim, net in nets.items():
                taps = {} if (dim == 512 and std == 'fixed') else None
                emb = net(x, taps).numpy()
                np.save(os.path.join(args.out, 'emb_%d_%s.npy' % (dim, std)), emb.astype(np.float32))
                d = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
                print('%d %s: pairwise squared distances\n%s' % (dim, std, np.array2string(d, precision=3)))
                if taps is not None:
                    for k, v in taps.items():
                        a = v.numpy()
                        if a.ndim == 4:
                            a = a.transpose(0, 2, 3, 1)  # NCHW -> NHWC as the C code stores it
                        flat = np.ascontiguousarray(a).reshape(-1)
                        sample = flat[::TAP_STRIDE].astype(np.float32)[None, :]
                        np.save(os.path.join(args.out, 'tap_%s.npy' % k), sample)
                        print('tap %-9s shape %s  |x| max %.3f mean %.3f  (%d samples)' % (
                            k, a.shape, np.abs(a).max(), np.abs(a).mean(), sample.shape[1]))
                    # the same network on the centre 96x96 of the standardised crops
                    emb96 = net(x[:, :, 32:128, 32:128].contiguous()).numpy()
                    np.save(os.path.join(args.out, 'emb_512_fixed_s96.npy'), emb96.astype(np.float32))


if __name__ == '__main__':
    main()
