#!/usr/bin/python3
"""PyTorch float32 reference for bench/bench_int8.c: the dlib ResNet's layers (face-api's
faceRecognitionNet: 7x7/2 stem, max-pool, 14 residual blocks, average pool, 256x128
matrix product) with random weights, timed only. A face's embedding is two network passes
(the chip and its mirror image), as in facenet-c, so a batch of B faces runs 2B images.

  bench_dlib_torch.py --batch B --seconds T [--threads 2]
      prints "images_per_s X maxrss_kb Y cpu_ms_per_image Z" (images = faces)
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_embed_torch import time_forward

BLOCKS = [(32, 32, 0)] * 3 + [(32, 64, 1)] + [(64, 64, 0)] * 3 + [(64, 128, 1)] + [(128, 128, 0)] * 2 + \
         [(128, 256, 1)] + [(256, 256, 0)] * 2 + [(256, 256, 1)]


class Block(nn.Module):
    def __init__(self, cin, cout, down):
        super().__init__()
        self.down, self.cin, self.cout = down, cin, cout
        self.c1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x):
        y = self.c2(F.relu(self.c1(x)))
        if not self.down:
            return F.relu(x + y)
        s = F.avg_pool2d(x, 2)
        if self.cout > self.cin:
            s = F.pad(s, (0, 0, 0, 0, 0, self.cout - self.cin))
        y = F.pad(y, (0, s.shape[3] - y.shape[3], 0, s.shape[2] - y.shape[2]))
        return F.relu(s + y)


class DlibResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        self.blocks = nn.Sequential(*[Block(*b) for b in BLOCKS])
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean((2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--seconds', type=float, default=5.0)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = DlibResNet().eval()
    time_forward(net, torch.rand(2 * args.batch, 3, 150, 150) - 0.5, args.batch, args.seconds)


if __name__ == '__main__':
    main()
