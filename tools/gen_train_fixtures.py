#!/usr/bin/python3
"""gen_train_fixtures.py — PyTorch autograd references for the trainable Inception-ResNet-v1
and the optimizers (tests/test_train_torch.c). Run with Debian's torch 1.13:

    /usr/bin/python3 tools/gen_train_fixtures.py tests/fixtures/train

A small configuration of the real network (1 block per stage, width 0.25, 80x80 input,
16-d embedding, 12 images = 4 triplets) is built with the same parameter order as
src/train/trainnet.c; weights and inputs come from splitmix64 (core.h) so the C test
regenerates them instead of reading them. Stored: losses, per-tensor gradient norms,
max-abs and samples, and per-tensor samples after 3 Adagrad steps — a few KB of JSON.
"""
import json, math, sys
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
M64 = (1 << 64) - 1

def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)

def splitmix_np(idx):
    """splitmix64 of an uint64 array (wrapping arithmetic)."""
    with np.errstate(over='ignore'):
        x = idx + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))

def uniform(seed, start, n):
    """fn_rng_uniform-style floats: (splitmix64(seed + i + 1) >> 40) / 2^24 for i in start..start+n-1"""
    i = np.arange(start, start + n, dtype=np.uint64) + np.uint64(seed + 1)
    return (splitmix_np(i) >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)

CFG = dict(depth=(1, 1, 1), width=0.25, image=80, dim=16, batch=12, alpha=1.0, wd=1e-4,
           lr=0.002, steps=3, weight_seed=1, input_seed=2)

class Net:
    """Parameter table and functional forward in the order of trainnet.c."""
    def __init__(self, cfg):
        self.cfg = cfg
        self.params = []   # (name, kind, internal shape)
        self.stats = []    # BN names
        self.ops = []
        w = cfg['width']
        self.ch = lambda c: max(1, int(c * w + 0.5))

    def P(self, name, kind, shape):
        self.params.append((name, kind, tuple(shape)))
        return name

def build(cfg):
    net = Net(cfg)
    ch = net.ch
    prog = []   # closures over (params dict, train state)

    def basic(prefix, cin, cout, kh, kw, stride, same):
        wn = net.P(prefix + '.conv.weight', 'conv', (kh, kw, cin, cout))
        bn = net.P(prefix + '.bn.bias', 'vec', (cout,))
        net.stats.append(prefix + '.bn')
        pad = ((kh - 1) // 2, (kw - 1) // 2) if same else (0, 0)
        def f(x, p, st):
            y = F.conv2d(x, p[wn].permute(3, 2, 0, 1), stride=stride, padding=pad)
            y = F.batch_norm(y, st[prefix + '.bn'][0], st[prefix + '.bn'][1], None, p[bn],
                             training=True, momentum=0.005, eps=1e-3)
            return F.relu(y)
        return f, cout

    def seq(*fs):
        def f(x, p, st):
            for g in fs: x = g(x, p, st)
            return x
        return f

    def block(prefix, cin, branches, scale, relu):
        fs = []; cat = 0
        for br in branches:
            parts = []; c = cin
            for (suffix, cout, kh, kw) in br:
                g, c = basic(prefix + suffix, c, cout, kh, kw, 1, True)
                parts.append(g)
            fs.append(seq(*parts)); cat += c
        wn = net.P(prefix + '.conv2d.weight', 'conv', (1, 1, cat, cin))
        bn = net.P(prefix + '.conv2d.bias', 'vec', (cin,))
        def f(x, p, st):
            c = torch.cat([g(x, p, st) for g in fs], 1)
            up = F.conv2d(c, p[wn].permute(3, 2, 0, 1), p[bn])
            y = x + scale * up
            return F.relu(y) if relu else y
        return f

    def b35(prefix, C):
        c = ch(32)
        return block(prefix, C, [[('.branch0', c, 1, 1)],
                                 [('.branch1.0', c, 1, 1), ('.branch1.1', c, 3, 3)],
                                 [('.branch2.0', c, 1, 1), ('.branch2.1', c, 3, 3), ('.branch2.2', c, 3, 3)]], 0.17, True)
    def b17(prefix, C):
        c = ch(128)
        return block(prefix, C, [[('.branch0', c, 1, 1)],
                                 [('.branch1.0', c, 1, 1), ('.branch1.1', c, 1, 7), ('.branch1.2', c, 7, 1)]], 0.10, True)
    def b8(prefix, C, scale, relu):
        c = ch(192)
        return block(prefix, C, [[('.branch0', c, 1, 1)],
                                 [('.branch1.0', c, 1, 1), ('.branch1.1', c, 1, 3), ('.branch1.2', c, 3, 1)]], scale, relu)

    stem = []
    c = 3
    for (name, cout, k, s, same, pool_before) in [('conv2d_1a', 32, 3, 2, False, False), ('conv2d_2a', 32, 3, 1, False, False),
                                                   ('conv2d_2b', 64, 3, 1, True, False), ('conv2d_3b', 80, 1, 1, False, True),
                                                   ('conv2d_4a', 192, 3, 1, False, False), ('conv2d_4b', 256, 3, 2, False, False)]:
        if pool_before: stem.append(lambda x, p, st: F.max_pool2d(x, 3, 2))
        g, c = basic(name, c, ch(cout), k, k, s, same)
        stem.append(g)
    prog.append(seq(*stem))
    C = c
    for i in range(cfg['depth'][0]): prog.append(b35('repeat_1.%d' % i, C))
    # mixed_6a
    a0, c0 = basic('mixed_6a.branch0', C, ch(384), 3, 3, 2, False)
    a1, c1 = basic('mixed_6a.branch1.0', C, ch(192), 1, 1, 1, True)
    a2, c1 = basic('mixed_6a.branch1.1', c1, ch(192), 3, 3, 1, True)
    a3, c1 = basic('mixed_6a.branch1.2', c1, ch(256), 3, 3, 2, False)
    prog.append(lambda x, p, st: torch.cat([a0(x, p, st), seq(a1, a2, a3)(x, p, st), F.max_pool2d(x, 3, 2)], 1))
    C = c0 + c1 + C
    for i in range(cfg['depth'][1]): prog.append(b17('repeat_2.%d' % i, C))
    m0, d0 = basic('mixed_7a.branch0.0', C, ch(256), 1, 1, 1, True)
    m1, d0 = basic('mixed_7a.branch0.1', d0, ch(384), 3, 3, 2, False)
    m2, d1 = basic('mixed_7a.branch1.0', C, ch(256), 1, 1, 1, True)
    m3, d1 = basic('mixed_7a.branch1.1', d1, ch(256), 3, 3, 2, False)
    m4, d2 = basic('mixed_7a.branch2.0', C, ch(256), 1, 1, 1, True)
    m5, d2 = basic('mixed_7a.branch2.1', d2, ch(256), 3, 3, 1, True)
    m6, d2 = basic('mixed_7a.branch2.2', d2, ch(256), 3, 3, 2, False)
    prog.append(lambda x, p, st: torch.cat([seq(m0, m1)(x, p, st), seq(m2, m3)(x, p, st),
                                            seq(m4, m5, m6)(x, p, st), F.max_pool2d(x, 3, 2)], 1))
    C = d0 + d1 + d2 + C
    for i in range(cfg['depth'][2]): prog.append(b8('repeat_3.%d' % i, C, 0.20, True))
    prog.append(b8('block8', C, 1.0, False))
    ln = net.P('last_linear.weight', 'dense', (C, cfg['dim']))
    lb = net.P('last_bn.bias', 'vec', (cfg['dim'],))
    net.stats.append('last_bn')
    def head(x, p, st):
        x = x.mean((2, 3))
        x = x @ p[ln]
        x = F.batch_norm(x, st['last_bn'][0], st['last_bn'][1], None, p[lb], training=True, momentum=0.005, eps=1e-3)
        return x
    prog.append(head)
    net.forward = seq(*prog)
    return net

def init_params(net, seed):
    """xavier uniform in parameter order, exactly as fn_trainnet_init"""
    p = {}; i = 0
    for (name, kind, shape) in net.params:
        n = int(np.prod(shape))
        if kind == 'vec':
            p[name] = np.zeros(shape, np.float32); continue
        if kind == 'conv': fin, fout = shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]
        else: fin, fout = shape[0], shape[1]
        limit = np.float32(math.sqrt(6.0 / (fin + fout)))
        u = uniform(seed, i, n); i += n
        p[name] = ((np.float32(2.0) * u - np.float32(1.0)) * limit).reshape(shape)
    return p

def sample_idx(n):
    return sorted(set([0, n // 3, n // 2, (2 * n) // 3, n - 1]))

def triplet(emb, alpha):
    a, pz, n = emb[0::3], emb[1::3], emb[2::3]
    d = ((a - pz) ** 2).sum(1) - ((a - n) ** 2).sum(1) + alpha
    return torch.clamp(d, min=0).mean(), int((d > 0).sum())

def network_fixture():
    cfg = CFG
    net = build(cfg)
    p0 = init_params(net, cfg['weight_seed'])
    S, N = cfg['image'], cfg['batch']
    x = (2 * uniform(cfg['input_seed'], 0, N * S * S * 3) - 1).reshape(N, S, S, 3)  # NHWC
    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    params = {k: torch.tensor(v, requires_grad=True) for k, v in p0.items()}
    st = {}
    for name in net.stats:
        c = [s for (n, k, s) in net.params if n == name + '.bias'][0][0]
        st[name] = (torch.zeros(c), torch.ones(c))
    decayed = [n for (n, k, s) in net.params if k != 'vec']
    out = {'config': dict(cfg), 'params': [], 'steps': []}
    accum = {k: np.full(v.shape, 0.1, np.float32) for k, v in p0.items()}
    for step in range(cfg['steps'] + 1):
        for t in params.values():
            t.grad = None
        pre = net.forward(xt, params, st)
        emb = F.normalize(pre, dim=1, eps=1e-10)
        tl, active = triplet(emb, cfg['alpha'])
        reg = sum((params[n] ** 2).sum() for n in decayed) * (cfg['wd'] / 2)
        loss = tl + reg
        if step == 0:
            out['embedding_sample'] = emb.detach().numpy()[:, :4].ravel().tolist()
        out['steps'].append(dict(loss=float(loss), triplet=float(tl), reg=float(reg), active=active))
        if step == cfg['steps']:
            break
        loss.backward()
        if step == 0:
            for (name, kind, shape) in net.params:
                g = params[name].grad.numpy().ravel()
                idx = sample_idx(g.size)
                out['params'].append(dict(name=name, shape=list(shape), grad_norm=float(np.linalg.norm(g.astype(np.float64))),
                                          grad_maxabs=float(np.abs(g).max()), idx=idx,
                                          grad=[float(g[i]) for i in idx]))
        with torch.no_grad():  # TF Adagrad: accum += g^2; w -= lr g / sqrt(accum)
            for k, t in params.items():
                g = t.grad.numpy()
                accum[k] += g * g
                t -= torch.tensor(cfg['lr'] * g / np.sqrt(accum[k]))
    for rec in out['params']:
        w = params[rec['name']].detach().numpy().ravel()
        rec['final'] = [float(w[i]) for i in rec['idx']]
        rec['final_norm'] = float(np.linalg.norm(w.astype(np.float64)))
    out['stats'] = []
    for name in net.stats:
        m, v = st[name]
        out['stats'].append(dict(name=name, mean_sum=float(m.double().sum()), var_sum=float(v.double().sum()),
                                 mean0=float(m[0]), var0=float(v[0])))
    return out

def optimizer_fixture():
    """Each optimizer for 4 steps on a fixed 6-vector with gradients g_t = sin(7 i + 3 t) / (1 + t),
    TF 1.x update rules with facenet's hyper-parameters, written in float64 numpy."""
    n, lr, T = 6, 0.1, 4
    res = {}
    w0 = np.linspace(-1, 1, n)
    grads = [np.sin(7 * np.arange(n) + 3 * t) / (1 + t) for t in range(T)]
    # ADAGRAD
    w = w0.copy(); a = np.full(n, 0.1)
    for g in grads: a += g * g; w -= lr * g / np.sqrt(a)
    res['ADAGRAD'] = w.tolist()
    w = w0.copy(); a = np.zeros(n); b = np.zeros(n)
    for g in grads:
        a = 0.9 * a + 0.1 * g * g; u = np.sqrt(b + 1e-6) / np.sqrt(a + 1e-6) * g; b = 0.9 * b + 0.1 * u * u; w -= lr * u
    res['ADADELTA'] = w.tolist()
    w = w0.copy(); m = np.zeros(n); v = np.zeros(n)
    for t, g in enumerate(grads, 1):
        m = 0.9 * m + 0.1 * g; v = 0.999 * v + 0.001 * g * g
        w -= lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 0.1)
    res['ADAM'] = w.tolist()
    w = w0.copy(); ms = np.ones(n); mom = np.zeros(n)
    for g in grads:
        ms = 0.9 * ms + 0.1 * g * g; mom = 0.9 * mom + lr * g / np.sqrt(ms + 1.0); w -= mom
    res['RMSPROP'] = w.tolist()
    w = w0.copy(); acc = np.zeros(n)
    for g in grads:
        acc = 0.9 * acc + g; w -= lr * g + lr * 0.9 * acc
    res['MOM'] = w.tolist()
    return dict(n=n, lr=lr, steps=T, w0=w0.tolist(), results=res)

if __name__ == '__main__':
    outdir = sys.argv[1] if len(sys.argv) > 1 else 'tests/fixtures/train'
    fx = network_fixture()
    fx['optimizers'] = optimizer_fixture()
    with open(outdir + '/irv1_small.json', 'w') as f:
        json.dump(fx, f, indent=0)
    print('params', len(fx['params']), 'losses', [s['loss'] for s in fx['steps']], 'active', [s['active'] for s in fx['steps']])
