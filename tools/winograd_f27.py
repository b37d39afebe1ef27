#!/usr/bin/env python3
"""winograd_f27.py — derives and checks the matrices of src/ops/conv2d_winograd1d.c.

1-D Winograd / Toom-Cook F(2,7) (2 outputs of a 7-tap correlation from an 8-point tile):
    y = A^T [(G g) * (B^T d)],   y_i = sum_k d[i+k] g[k]
with interpolation points 0, 1, -1, 2, -2, 1/2, -1/2, inf (Lavin & Gray's construction, as in
wincnn): A^T[i][j] = p_j^i, G[j][k] = p_j^k / prod_{l!=j}(p_j - p_l), B^T row j = the
coefficients of prod_{l!=j}(x - p_l), and for inf the last rows/column. The C code negates
row 0 of B^T and of G (the usual F(6,3) form). Prints the matrices, checks the C ones exactly
(rational arithmetic) and reports the float32 error against float64 on random data.

    /usr/bin/python3 tools/winograd_f27.py
"""
from fractions import Fraction as Fr
import numpy as np

M_OUT, R = 2, 7
PTS = [Fr(0), Fr(1), Fr(-1), Fr(2), Fr(-2), Fr(1, 2), Fr(-1, 2)]
ALPHA = M_OUT + R - 1  # 8 = 7 finite points + inf


def poly_from_roots(roots):
    c = [Fr(1)]  # coefficients, lowest power first
    for r in roots:
        c = [Fr(0)] + c
        for i in range(len(c) - 1):
            c[i] -= r * c[i + 1]
    return c


def derive():
    AT = [[Fr(0)] * ALPHA for _ in range(M_OUT)]
    G = [[Fr(0)] * R for _ in range(ALPHA)]
    BT = [[Fr(0)] * ALPHA for _ in range(ALPHA)]
    for j, p in enumerate(PTS):
        for i in range(M_OUT):
            AT[i][j] = p ** i
        f = Fr(1)
        for q in PTS:
            if q != p:
                f *= p - q
        for k in range(R):
            G[j][k] = p ** k / f
        for i, c in enumerate(poly_from_roots([q for q in PTS if q != p])):
            BT[j][i] = c
    AT[M_OUT - 1][ALPHA - 1] = Fr(1)
    G[ALPHA - 1][R - 1] = Fr(1)
    for i, c in enumerate(poly_from_roots(PTS)):
        BT[ALPHA - 1][i] = c
    # the C code's form: row 0 of B^T and G negated (their product is unchanged)
    BT[0] = [-x for x in BT[0]]
    G[0] = [-x for x in G[0]]
    return AT, G, BT


def exact_check(AT, G, BT):
    for i in range(M_OUT):
        for k in range(R):
            for j in range(ALPHA):
                v = sum(AT[i][a] * G[a][k] * BT[a][j] for a in range(ALPHA))
                if v != (1 if j == i + k else 0):
                    return False
    return True


# the matrices as written in conv2d_winograd1d.c (G7, the input/output transforms)
C_BT = [[1, 0, Fr(-21, 4), 0, Fr(21, 4), 0, -1, 0],
        [0, 1, 1, Fr(-17, 4), Fr(-17, 4), 1, 1, 0],
        [0, -1, 1, Fr(17, 4), Fr(-17, 4), -1, 1, 0],
        [0, Fr(1, 2), Fr(1, 4), Fr(-5, 2), Fr(-5, 4), 2, 1, 0],
        [0, Fr(-1, 2), Fr(1, 4), Fr(5, 2), Fr(-5, 4), -2, 1, 0],
        [0, 2, 4, Fr(-5, 2), -5, Fr(1, 2), 1, 0],
        [0, -2, 4, Fr(5, 2), -5, Fr(-1, 2), 1, 0],
        [0, -1, 0, Fr(21, 4), 0, Fr(-21, 4), 0, 1]]
C_G = [[1, 0, 0, 0, 0, 0, 0],
       [Fr(-2, 9)] * 7,
       [Fr(-2, 9), Fr(2, 9), Fr(-2, 9), Fr(2, 9), Fr(-2, 9), Fr(2, 9), Fr(-2, 9)],
       [Fr(1, 90), Fr(1, 45), Fr(2, 45), Fr(4, 45), Fr(8, 45), Fr(16, 45), Fr(32, 45)],
       [Fr(1, 90), Fr(-1, 45), Fr(2, 45), Fr(-4, 45), Fr(8, 45), Fr(-16, 45), Fr(32, 45)],
       [Fr(32, 45), Fr(16, 45), Fr(8, 45), Fr(4, 45), Fr(2, 45), Fr(1, 45), Fr(1, 90)],
       [Fr(32, 45), Fr(-16, 45), Fr(8, 45), Fr(-4, 45), Fr(2, 45), Fr(-1, 45), Fr(1, 90)],
       [0, 0, 0, 0, 0, 0, 1]]
C_AT = [[1, 1, 1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, Fr(1, 2), Fr(-1, 2), 1]]


def float32_error(AT, G, BT, cin=128, cout=32, length=8, trials=20, seed=1):
    """max |F(2,7) in float32 - direct in float64| over rows of `length` outputs, SAME padding."""
    at, g_, bt = (np.array(m, dtype=np.float64).astype(np.float32) for m in (AT, G, BT))
    rng = np.random.default_rng(seed)
    err = scale = 0.0
    for _ in range(trials):
        d = np.zeros((length + 6, cin))
        d[3:3 + length] = rng.uniform(-1, 1, (length, cin))
        w = rng.uniform(-0.5, 0.5, (R, cin, cout))
        ref = np.stack([np.einsum('kc,kco->o', d[i:i + R], w) for i in range(length)])
        U = np.einsum('ak,kco->aco', g_, w.astype(np.float32)).astype(np.float32)
        d32 = d.astype(np.float32)
        y = np.concatenate([at @ np.einsum('ac,aco->ao', bt @ d32[t:t + ALPHA], U).astype(np.float32)
                            for t in range(0, length, M_OUT)])
        err = max(err, float(np.abs(y - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
    return err, scale


def main():
    AT, G, BT = derive()
    for name, m in (("A^T", AT), ("G", G), ("B^T", BT)):
        print(name)
        for row in m:
            print("  " + " ".join("%6s" % str(x) for x in row))
    ok_derived = exact_check(AT, G, BT)
    same = [[Fr(x) for x in r] for r in C_BT] == BT and [[Fr(x) for x in r] for r in C_G] == G and \
        [[Fr(x) for x in r] for r in C_AT] == AT
    ok_c = exact_check([[Fr(x) for x in r] for r in C_AT], [[Fr(x) for x in r] for r in C_G],
                       [[Fr(x) for x in r] for r in C_BT])
    print("derived matrices give the correlation exactly:", ok_derived)
    print("conv2d_winograd1d.c's matrices equal them:", same, "and are exact:", ok_c)
    err, scale = float32_error(C_AT, C_G, C_BT)
    print("float32 vs float64, Cin 128, 8-wide rows: max-abs %.3g, max |y| %.3g, relative %.3g"
          % (err, scale, err / scale))
    return 0 if ok_derived and ok_c and same else 1


if __name__ == "__main__":
    raise SystemExit(main())
