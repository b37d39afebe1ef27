#!/usr/bin/python3
"""A small PyTorch MTCNN following facenet-pytorch's public algorithm (models/mtcnn.py,
models/utils/detect_face.py), loading its pnet/rnet/onet.pt state dicts. It is the
reference that bench/bench_detect.sh times `facenet detect` against.

usage: /usr/bin/python3 tools/mtcnn_torch_reference.py MODELS_DIR RUNS IMAGE...
Prints one line per image: path WxH median_wall_ms median_cpu_ms n_faces x1,y1,x2,y2 ...
(same format as bench_detect; CPU time counts all threads). Timing: median of RUNS runs after one warm-up, model load excluded,
torch.set_num_threads(2) unless MTCNN_REF_THREADS says otherwise.
"""
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn.functional import interpolate
from torchvision.ops import batched_nms


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()  # the weights expect (W, H, C) flattening
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


def area(img, size):
    return interpolate(img, size=size, mode="area")


def rerec(b):
    h = b[:, 3] - b[:, 1]
    w = b[:, 2] - b[:, 0]
    l = torch.max(w, h)
    b[:, 0] = b[:, 0] + w * 0.5 - l * 0.5
    b[:, 1] = b[:, 1] + h * 0.5 - l * 0.5
    b[:, 2:4] = b[:, :2] + l.repeat(2, 1).permute(1, 0)
    return b


def bbreg(b, reg):
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, :4] = torch.stack([b[:, 0] + reg[:, 0] * w, b[:, 1] + reg[:, 1] * h,
                            b[:, 2] + reg[:, 2] * w, b[:, 3] + reg[:, 3] * h]).permute(1, 0)
    return b


def crops(img, boxes, size):
    """facenet-pytorch's pad(): integer crops clipped to the image, area-resampled."""
    h, w = img.shape[2:4]
    ib = boxes[:, :4].trunc().int().numpy()
    out, keep = [], []
    for k, (x, y, ex, ey) in enumerate(ib):
        x, y, ex, ey = max(x, 1), max(y, 1), min(ex, w), min(ey, h)
        if ey > y - 1 and ex > x - 1:
            out.append(area(img[:, :, y - 1:ey, x - 1:ex], (size, size)))
            keep.append(k)
    return torch.cat(out, 0), torch.tensor(keep, dtype=torch.long)


def nms_min(boxes, scores, thresh):
    """facenet's numpy 'Min' NMS with +1 pixel areas."""
    b = boxes.numpy()
    s = scores.numpy()
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    a = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s)
    pick = []
    while order.size > 0:
        i = order[-1]
        pick.append(i)
        idx = order[:-1]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[idx]) - np.maximum(x1[i], x1[idx]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[idx]) - np.maximum(y1[i], y1[idx]) + 1)
        o = iw * ih / np.minimum(a[i], a[idx])
        order = idx[o <= thresh]
    return torch.as_tensor(np.array(pick, dtype=np.int64))


@torch.no_grad()
def detect(img_u8, nets, minsize=20, thresholds=(0.6, 0.7, 0.7), factor=0.709):
    pnet, rnet, onet = nets
    img = torch.as_tensor(img_u8).permute(2, 0, 1).unsqueeze(0).float()
    h, w = img.shape[2:4]
    m = 12.0 / minsize
    minl = min(h, w) * m
    scales = []
    s = m
    while minl >= 12:
        scales.append(s)
        s *= factor
        minl *= factor
    all_boxes = []
    for scale in scales:
        x = (area(img, (int(h * scale + 1), int(w * scale + 1))) - 127.5) * 0.0078125
        reg, probs = pnet(x)
        p = probs[0, 1]
        mask = p >= thresholds[0]
        idx = mask.nonzero()
        if idx.shape[0] == 0:
            continue
        r = reg[0][:, mask].permute(1, 0)
        bb = idx.float().flip(1)
        q1 = ((2 * bb + 1) / scale).floor()
        q2 = ((2 * bb + 12) / scale).floor()
        boxes = torch.cat([q1, q2, p[mask].unsqueeze(1), r], dim=1)
        keep = batched_nms(boxes[:, :4], boxes[:, 4], torch.zeros(len(boxes)), 0.5)
        all_boxes.append(boxes[keep])
    if not all_boxes:
        return np.zeros((0, 5)), np.zeros((0, 5, 2))
    boxes = torch.cat(all_boxes)
    boxes = boxes[batched_nms(boxes[:, :4], boxes[:, 4], torch.zeros(len(boxes)), 0.7)]
    regw = boxes[:, 2] - boxes[:, 0]
    regh = boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack([boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
                         boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh,
                         boxes[:, 4]]).permute(1, 0)
    boxes = rerec(boxes)

    x, keep = crops(img, boxes, 24)
    boxes = boxes[keep]
    reg, probs = rnet((x - 127.5) * 0.0078125)
    score = probs[:, 1]
    ok = score > thresholds[1]
    boxes = torch.cat([boxes[ok, :4], score[ok].unsqueeze(1)], dim=1)
    reg = reg[ok]
    keep = batched_nms(boxes[:, :4], boxes[:, 4], torch.zeros(len(boxes)), 0.7)
    boxes = rerec(bbreg(boxes[keep], reg[keep]))
    if len(boxes) == 0:
        return np.zeros((0, 5)), np.zeros((0, 5, 2))

    x, keep = crops(img, boxes, 48)
    boxes = boxes[keep]
    reg, pts, probs = onet((x - 127.5) * 0.0078125)
    score = probs[:, 1]
    ok = score > thresholds[2]
    boxes = torch.cat([boxes[ok, :4], score[ok].unsqueeze(1)], dim=1)
    reg, pts = reg[ok], pts[ok]
    wi = (boxes[:, 2] - boxes[:, 0] + 1).unsqueeze(1)
    hi = (boxes[:, 3] - boxes[:, 1] + 1).unsqueeze(1)
    px = wi * pts[:, :5] + boxes[:, 0:1] - 1
    py = hi * pts[:, 5:] + boxes[:, 1:2] - 1
    points = torch.stack([px, py], dim=2)
    boxes = bbreg(boxes, reg)
    if len(boxes) == 0:
        return np.zeros((0, 5)), np.zeros((0, 5, 2))
    keep = nms_min(boxes[:, :4], boxes[:, 4], 0.7)
    return boxes[keep].numpy(), points[keep].numpy()


def load_nets(models_dir):
    nets = []
    for cls, name in ((PNet, "pnet"), (RNet, "rnet"), (ONet, "onet")):
        net = cls()
        net.load_state_dict(torch.load(os.path.join(models_dir, name + ".pt")))
        net.eval()
        nets.append(net)
    return nets


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    torch.set_num_threads(int(os.environ.get("MTCNN_REF_THREADS", "2")))
    nets = load_nets(sys.argv[1])
    runs = max(1, int(sys.argv[2]))
    for path in sys.argv[3:]:
        img = np.array(Image.open(path).convert("RGB"))  # no EXIF rotation, like the fixture
        detect(img, nets)  # warm-up
        times, cpu = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            boxes, _ = detect(img, nets)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        line = "%s %dx%d %.1f %.1f %d" % (path, img.shape[1], img.shape[0], float(np.median(times)),
                                          float(np.median(cpu)), len(boxes))
        for b in boxes:
            line += " %.1f,%.1f,%.1f,%.1f" % tuple(b[:4])
        print(line, flush=True)


if __name__ == "__main__":
    main()
