#!/usr/bin/python3
"""gen_int8_fixtures.py — the int8 kernels' independent reference (issue 18).

NumPy computes u8 x s8 matrix products in int64 and PyTorch the int8 convolutions (float64
conv2d of the integer codes: every partial sum is an integer far below 2^53, so exact),
then the epilogue of src/ops/ops_int8.h in float32: y = float32(acc + bias) * scale;
u8 output = rint(clip(y, 0, 255)) (half to even); float output = y (+ residual) (ReLU).
Convolutions read the input zero point z in their padding (torch pads the centred codes
q - z with 0).

Writes tests/fixtures/int8/gemm.safetensors and conv.safetensors.
Usage: /usr/bin/python3 tools/gen_int8_fixtures.py
"""
import json, os, struct
import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "int8")
DT = {np.dtype('float32'): 'F32', np.dtype('int32'): 'I32', np.dtype('int8'): 'I8', np.dtype('uint8'): 'U8'}


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        b = a.astype(a.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DT[a.dtype], 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def epilogue(acc, bias, scale, residual=None, relu=False):
    y = (acc + bias).astype(np.float32) * scale.astype(np.float32)
    u8 = np.rint(np.clip(y, np.float32(0), np.float32(255))).astype(np.uint8)
    f = y if residual is None else (y + residual).astype(np.float32)
    if relu:
        f = np.maximum(f, np.float32(0))
    return u8, f.astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(18)
    # GEMM: K not a multiple of 4, N not a multiple of 16, M not a multiple of any tile
    M, K, N = 37, 150, 40
    A = rng.integers(0, 256, (M, K), dtype=np.uint8)
    B = rng.integers(-127, 128, (K, N), dtype=np.int8)
    bias = rng.integers(-200000, 200000, N, dtype=np.int32)
    scale = (rng.uniform(0.2, 2.0, N) / 4000).astype(np.float32)
    acc = A.astype(np.int64) @ B.astype(np.int64)
    residual = rng.standard_normal((M, N)).astype(np.float32) * 5
    out_u8, _ = epilogue(acc, bias, scale)
    _, out_res_relu = epilogue(acc, bias, scale, residual, relu=True)
    save_safetensors(os.path.join(OUT, "gemm.safetensors"), {
        "A": A, "B": B, "bias": bias, "scale": scale, "residual": residual,
        "out_u8": out_u8, "out_f32_residual_relu": out_res_relu})
    # convolutions: 3x3 SAME stride 1 and 2, input zero point 7
    n, H, W, C, O, z = 2, 9, 11, 12, 20, 7
    x = rng.integers(0, 256, (n, H, W, C), dtype=np.uint8)
    w = rng.integers(-127, 128, (3, 3, C, O), dtype=np.int8)
    cb = rng.integers(-50000, 50000, O, dtype=np.int32)
    cs = (rng.uniform(0.2, 2.0, O) / 1000).astype(np.float32)
    xt = torch.from_numpy(x.astype(np.float64) - z).permute(0, 3, 1, 2)
    wt = torch.from_numpy(w.astype(np.float64)).permute(3, 2, 0, 1)
    t = {"x": x, "w": w, "bias": cb, "scale": cs}
    for stride in (1, 2):
        # TF SAME: total pad = max((out-1)*s + k - in, 0), the odd pixel at the bottom/right
        oh, ow = -(-H // stride), -(-W // stride)
        ph, pw = max((oh - 1) * stride + 3 - H, 0), max((ow - 1) * stride + 3 - W, 0)
        xp = torch.nn.functional.pad(xt, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        y = torch.nn.functional.conv2d(xp, wt, stride=stride).permute(0, 2, 3, 1).numpy()
        acc = np.rint(y).astype(np.int64)
        assert np.array_equal(acc, y)
        _, f = epilogue(acc, cb, cs)
        t["out_s%d" % stride] = f
    save_safetensors(os.path.join(OUT, "conv.safetensors"), t)


if __name__ == "__main__":
    main()
