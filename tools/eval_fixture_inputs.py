"""eval_fixture_inputs.py — the seeded inputs of tests/fixtures/eval/eval_cases.json
(fn_rng's splitmix64 stream), shared by tools/gen_eval_fixtures.py, which computes the
expected metrics with numpy/scipy/sklearn, and the Python package's tests, which need only
numpy to rebuild the inputs."""
import numpy as np

MASK64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class Rng:
    """fn_rng: state += 1, then splitmix64; uniform = top 24 bits / 2^24 (exact)."""

    def __init__(self, seed):
        self.s = seed & MASK64

    def next(self):
        self.s = (self.s + 1) & MASK64
        return splitmix64(self.s)

    def uniform(self):
        return float(self.next() >> 40) * (1.0 / 16777216.0)

    def below(self, n):
        return (self.next() >> 33) % n


def gen_embeddings(c):
    """pairs as rows 2i, 2i+1 (facenet's embeddings[0::2], [1::2])."""
    rng = Rng(c['seed'])
    n, dim, scale, noise = c['n_pairs'], c['dim'], c['scale'], c['noise']
    emb = np.zeros((2 * n, dim))
    issame = np.zeros(n, dtype=bool)
    for i in range(n):
        same = rng.uniform() < c['same_frac']
        issame[i] = same
        a = [(rng.uniform() - 0.5) * scale for _ in range(dim)]
        if same:
            b = [a[d] + (rng.uniform() - 0.5) * noise for d in range(dim)]
        else:
            b = [(rng.uniform() - 0.5) * scale for _ in range(dim)]
        emb[2 * i] = a
        emb[2 * i + 1] = b
    return emb, issame


def gen_distances(c):
    """distances k*0.01 (exactly the ROC thresholds: ties) from integer ranges."""
    rng = Rng(c['seed'])
    n = c['n_pairs']
    dist = np.zeros(n)
    issame = np.zeros(n, dtype=bool)
    for i in range(n):
        same = rng.uniform() < c['same_frac']
        for lo, hi, value in c.get('force_same', []):
            if lo <= i < hi:
                same = bool(value)
        issame[i] = same
        lo, hi = c['same_k'] if same else c['diff_k']
        for a, b, klo, khi in c.get('diff_k_override', []):
            if not same and a <= i < b:
                lo, hi = klo, khi
        dist[i] = (lo + rng.below(hi - lo)) * 0.01
    return dist, issame
