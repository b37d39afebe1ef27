/* conv2d_winograd1d.c — 1x7 and 7x1 stride-1 convolutions (Inception-ResNet-v1's Block17) as
 * the 1-D Winograd / Toom-Cook algorithm F(2,7): an 8-point input tile d along the kernel's
 * axis gives 2 outputs from 8 products per (Cin, Cout) pair instead of 14,
 *   y = A^T [(G g) . (B^T d)]   (A^T 2x8, G 8x7, B^T 8x8),
 * run as 8 GEMMs (tiles x Cin) @ (Cin x Cout) between an input and an output transform, like
 * the F(2x2,3x3) code in conv2d.c. Interpolation points 0, 1, -1, 2, -2, 1/2, -1/2, inf
 * (B^T is the input transform of the well-known F(6,3), which has the same 8 points);
 * tools/winograd_f27.py derives A, B, G and checks the ones written here exactly.
 * Rounding: ~2e-6 of the largest output at 128 input channels (max-abs ~4e-5 with outputs
 * up to ~20; im2col ~5e-7), float32 against a double direct conv (test_ops, bench_conv1d).
 * 1x3 / 3x1 (Block8, 3x3 maps) stay im2col: F(2,3) there would save at most 10% (its 4
 * GEMMs against im2col's one, measured before any transform), not worth a second path.
 *
 * Forward and both gradients:
 *   forward     out = act(beta * out + alpha * (conv + bias)), the semantics of conv2d.c;
 *   data grad   conv2d_backward.c runs it as a forward conv of dout with the flipped kernel,
 *               so it comes through the forward path;
 *   weight grad dW = G^T dU with dU (8, Cin, Cout) = sum over tiles (B^T d)^T (A dY): 8 GEMMs
 *               over the tiles instead of im2col + one GEMM with K = 7 * Cin.
 * The transforms run on the calling thread (see conv2d.c: only OpenBLAS threads). */
#include "ops_backward.h"
#include <cblas.h>

#define W1_CHUNK 256       /* tiles per pass: V and M stay in L2 (measured best of 128..2048) */
#define W1_MAX_C 4096      /* channel cap: zero taps and edge scratch are static/stack arrays */
/* Where it pays (bench_conv1d, one thread): Block17 in training (45 images, 8x8, 128 channels)
 * 1.45-1.6x forward, 1.4-1.6x data gradient, 1.6-1.8x weight gradient; batch 1 at 8x8 (32
 * tiles) ~1.1x. With fewer than 32 channels, 32 tiles or 2^17 tiles * Cin * Cout (the 8
 * GEMMs too small next to the transforms and the per-call weight transform) im2col was as
 * fast or faster. */
#define W1_MIN_C 32
#define W1_MIN_TILES 32
#define W1_MIN_WORK ((long)1 << 17)

/* G (8x7) with rows for 0, 1, -1, 2, -2, 1/2, -1/2, inf (row 0 negated, as is B^T's row 0) */
static const float G7[8][7] = {
    {1, 0, 0, 0, 0, 0, 0},
    {-2.f / 9, -2.f / 9, -2.f / 9, -2.f / 9, -2.f / 9, -2.f / 9, -2.f / 9},
    {-2.f / 9, 2.f / 9, -2.f / 9, 2.f / 9, -2.f / 9, 2.f / 9, -2.f / 9},
    {1.f / 90, 1.f / 45, 2.f / 45, 4.f / 45, 8.f / 45, 16.f / 45, 32.f / 45},
    {1.f / 90, -1.f / 45, 2.f / 45, -4.f / 45, 8.f / 45, -16.f / 45, 32.f / 45},
    {32.f / 45, 16.f / 45, 8.f / 45, 4.f / 45, 2.f / 45, 1.f / 45, 1.f / 90},
    {32.f / 45, -16.f / 45, 8.f / 45, -4.f / 45, 2.f / 45, -1.f / 45, 1.f / 90},
    {0, 0, 0, 0, 0, 0, 1},
};

static const float w1_zeros[W1_MAX_C]; /* taps outside the image (and dY past the edge) read these */

/* the fewest tiles for which a shape takes F(2,7) */
static long min_tiles(const fn_conv_shape *s) {
    long cc = (long)s->Cin * s->Cout, t = cc > 0 ? (W1_MIN_WORK + cc - 1) / cc : W1_MIN_TILES;
    return t > W1_MIN_TILES ? t : W1_MIN_TILES;
}

int fn_conv2d_uses_winograd1d(const fn_conv_shape *s) {
    int k7 = (s->kh == 1 && s->kw == 7) || (s->kh == 7 && s->kw == 1);
    return k7 && s->sh == 1 && s->sw == 1 && s->Cin >= W1_MIN_C && s->Cout >= W1_MIN_C && s->Cin <= W1_MAX_C &&
           s->Cout <= W1_MAX_C && fn_winograd1d_tiles(s) >= min_tiles(s);
}

/* 1x7: tiles of 2 outputs along x, numbered (N, OH, ceil(OW/2)); 7x1: along y, (N, ceil(OH/2), OW) */
static int along_x(const fn_conv_shape *s) { return s->kh == 1; }

long fn_winograd1d_tiles(const fn_conv_shape *s) {
    return along_x(s) ? (long)s->N * s->OH * ((s->OW + 1) / 2) : (long)s->N * ((s->OH + 1) / 2) * s->OW;
}

static void tile_at(const fn_conv_shape *s, long t, int *n, int *oy0, int *ox0) {
    const int th = along_x(s) ? s->OH : (s->OH + 1) / 2, tw = along_x(s) ? (s->OW + 1) / 2 : s->OW;
    const long per_image = (long)th * tw, rem = t % per_image;
    *n = (int)(t / per_image);
    *oy0 = (int)(rem / tw) * (along_x(s) ? 1 : 2);
    *ox0 = (int)(rem % tw) * (along_x(s) ? 2 : 1);
}

/* a shape below the tile threshold takes im2col; a caller sizes the workspace for its
 * largest batch and may run smaller ones, so the workspace covers those too */
static size_t im2col_below_threshold(const fn_conv_shape *s) {
    long per_image = fn_winograd1d_tiles(s) / (s->N > 0 ? s->N : 1);
    if (per_image <= 0) return 0;
    long n = (min_tiles(s) - 1) / per_image;
    if (n > s->N) n = s->N;
    fn_conv_shape t = *s;
    t.N = (int)n;
    return n ? (size_t)fn_im2col_images(&t) * s->OH * s->OW * s->kh * s->kw * s->Cin : 0;
}

static int chunk(const fn_conv_shape *s) {
    long t = fn_winograd1d_tiles(s);
    return (int)(t < W1_CHUNK ? t : W1_CHUNK);
}

/* U or dU (8, Cin, Cout), V (8, chunk, Cin), M (8, chunk, Cout): the same for both passes */
size_t fn_conv2d_winograd1d_workspace(const fn_conv_shape *s) {
    size_t w = 8 * ((size_t)s->Cin * s->Cout + (size_t)chunk(s) * ((size_t)s->Cin + s->Cout));
    size_t c = im2col_below_threshold(s);
    return w > c ? w : c;
}

/* U (8, Cin, Cout) = G g from HWIO w (7 taps, Cin, Cout): 1x7 and 7x1 store the taps alike */
static void weights(float *U, const float *w, size_t plane) {
    #pragma omp simd
    for (size_t q = 0; q < plane; q++) {
        float g[7];
        for (int k = 0; k < 7; k++) g[k] = w[k * plane + q];
        for (int a = 0; a < 8; a++) {
            float u = 0;
            for (int k = 0; k < 7; k++) u += G7[a][k] * g[k];
            U[a * plane + q] = u;
        }
    }
}

/* V (8, nt, Cin) = B^T d for tiles t0 .. t0+nt of in (N, H, W, [ld]) */
static void input_transform(float *V, const float *in, int ld, const fn_conv_shape *s, long t0, int nt) {
    const int C = s->Cin, dy = along_x(s) ? 0 : 1, dx = 1 - dy;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        int n, y0, x0;
        tile_at(s, t0 + j, &n, &y0, &x0);
        y0 -= s->pad_top; x0 -= s->pad_left;
        const float *d[8];
        for (int i = 0; i < 8; i++) {
            int iy = y0 + i * dy, ix = x0 + i * dx;
            d[i] = (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) ? w1_zeros : in + (((long)n * s->H + iy) * s->W + ix) * ld;
        }
        const float *d0 = d[0], *d1 = d[1], *d2 = d[2], *d3 = d[3], *d4 = d[4], *d5 = d[5], *d6 = d[6], *d7 = d[7];
        float *v = V + (size_t)j * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) {
            /* B^T rows: [1 0 -21/4 0 21/4 0 -1 0], [0 1 1 -17/4 -17/4 1 1 0] and its odd-negated
             * twin, [0 1/2 1/4 -5/2 -5/4 2 1 0] and twin, [0 2 4 -5/2 -5 1/2 1 0] and twin,
             * [0 -1 0 21/4 0 -21/4 0 1] */
            float a1 = d2[c] + d6[c] - 4.25f * d4[c], b1 = d1[c] + d5[c] - 4.25f * d3[c];
            float a3 = d6[c] + 0.25f * d2[c] - 1.25f * d4[c], b3 = 0.5f * d1[c] - 2.5f * d3[c] + 2.0f * d5[c];
            float a5 = d6[c] + 4.0f * d2[c] - 5.0f * d4[c], b5 = 2.0f * d1[c] - 2.5f * d3[c] + 0.5f * d5[c];
            v[0 * plane + c] = d0[c] - d6[c] + 5.25f * (d4[c] - d2[c]);
            v[1 * plane + c] = a1 + b1;
            v[2 * plane + c] = a1 - b1;
            v[3 * plane + c] = a3 + b3;
            v[4 * plane + c] = a3 - b3;
            v[5 * plane + c] = a5 + b5;
            v[6 * plane + c] = a5 - b5;
            v[7 * plane + c] = d7[c] - d1[c] + 5.25f * (d3[c] - d5[c]);
        }
    }
}

/* out tiles t0 .. t0+nt = act(beta * out + alpha * (A^T M + bias)) from M (8, nt, Cout) */
static void output_transform(float *out, int ld, const float *M, const fn_conv_shape *s, long t0, int nt,
                             const float *bias, float alpha, float beta, fn_act act) {
    const int C = s->Cout, dy = along_x(s) ? 0 : 1, dx = 1 - dy;
    const size_t plane = (size_t)nt * C;
    float junk[W1_MAX_C]; /* the second output of a tile past the edge goes here */
    for (int j = 0; j < nt; j++) {
        int n, oy, ox;
        tile_at(s, t0 + j, &n, &oy, &ox);
        float *o0 = out + (((long)n * s->OH + oy) * s->OW + ox) * ld, *o1 = junk;
        if (oy + dy < s->OH && ox + dx < s->OW) o1 = out + (((long)n * s->OH + oy + dy) * s->OW + ox + dx) * ld;
        else if (beta != 0.0f) memset(junk, 0, sizeof(float) * C);
        const float *m = M + (size_t)j * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) {
            /* A^T = [1 1 1 1 1 1 1 0; 0 1 -1 2 -2 1/2 -1/2 1] */
            float m1 = m[1 * plane + c], m2 = m[2 * plane + c], m3 = m[3 * plane + c], m4 = m[4 * plane + c];
            float m5 = m[5 * plane + c], m6 = m[6 * plane + c];
            float y0 = m[c] + (m1 + m2) + (m3 + m4) + (m5 + m6);
            float y1 = (m1 - m2) + 2.0f * (m3 - m4) + 0.5f * (m5 - m6) + m[7 * plane + c];
            float b = bias ? bias[c] : 0.0f;
            float v0 = alpha * (y0 + b), v1 = alpha * (y1 + b);
            if (beta != 0.0f) { v0 += beta * o0[c]; v1 += beta * o1[c]; }
            if (act == FN_ACT_RELU) { v0 = v0 > 0 ? v0 : 0; v1 = v1 > 0 ? v1 : 0; }
            o0[c] = v0; o1[c] = v1;
        }
    }
}

void fn_conv2d_winograd1d_forward(float *out, int ld_out, const float *in, int ld_in, const float *w,
                                  const float *bias, const fn_conv_shape *s, float alpha, float beta,
                                  fn_act act, float *ws) {
    const int Cin = s->Cin, Cout = s->Cout, tc = chunk(s);
    const long T = fn_winograd1d_tiles(s);
    float *U = ws, *V = U + 8 * (size_t)Cin * Cout, *M = V + 8 * (size_t)tc * Cin;
    weights(U, w, (size_t)Cin * Cout); /* per call: 8/7 of the weights, small next to the GEMMs */
    for (long t0 = 0; t0 < T; t0 += tc) {
        int nt = (int)(T - t0 < tc ? T - t0 : tc);
        input_transform(V, in, ld_in, s, t0, nt);
        fn_winograd_gemms(M, V, U, 8, nt, Cin, Cout);
        output_transform(out, ld_out, M, s, t0, nt, bias, alpha, beta, act);
    }
}

/* Mg (8, nt, Cout) = A dy for tiles t0 .. t0+nt of dout (N, OH, OW, Cout) */
static void dy_transform(float *Mg, const float *dout, const fn_conv_shape *s, long t0, int nt) {
    const int C = s->Cout, dy = along_x(s) ? 0 : 1, dx = 1 - dy;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        int n, oy, ox;
        tile_at(s, t0 + j, &n, &oy, &ox);
        const float *g0 = dout + (((long)n * s->OH + oy) * s->OW + ox) * C, *g1 = w1_zeros;
        if (oy + dy < s->OH && ox + dx < s->OW) g1 = dout + (((long)n * s->OH + oy + dy) * s->OW + ox + dx) * C;
        float *m = Mg + (size_t)j * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) { /* A = (A^T)^T: rows [1 0], [1 1], [1 -1], [1 2], [1 -2], [1 1/2], [1 -1/2], [0 1] */
            float a = g0[c], b = g1[c];
            m[0 * plane + c] = a;
            m[1 * plane + c] = a + b;
            m[2 * plane + c] = a - b;
            m[3 * plane + c] = a + 2.0f * b;
            m[4 * plane + c] = a - 2.0f * b;
            m[5 * plane + c] = a + 0.5f * b;
            m[6 * plane + c] = a - 0.5f * b;
            m[7 * plane + c] = b;
        }
    }
}

void fn_conv2d_winograd1d_wgrad(float *dw, const float *dout, const float *in, const fn_conv_shape *s, float *ws) {
    const int Cin = s->Cin, Cout = s->Cout, tc = chunk(s);
    const long T = fn_winograd1d_tiles(s);
    const size_t plane = (size_t)Cin * Cout;
    float *dU = ws, *V = dU + 8 * plane, *Mg = V + 8 * (size_t)tc * Cin;
    for (long t0 = 0; t0 < T; t0 += tc) {
        int nt = (int)(T - t0 < tc ? T - t0 : tc);
        input_transform(V, in, Cin, s, t0, nt);
        dy_transform(Mg, dout, s, t0, nt);
        fn_winograd_wgrad_gemms(dU, V, Mg, 8, nt, Cin, Cout, t0 > 0);
    }
    #pragma omp simd
    for (size_t q = 0; q < plane; q++) { /* dw[k] += sum_a G[a][k] dU[a] */
        float u[8];
        for (int a = 0; a < 8; a++) u[a] = dU[a * plane + q];
        for (int k = 0; k < 7; k++) {
            float g = 0;
            for (int a = 0; a < 8; a++) g += G7[a][k] * u[a];
            dw[k * plane + q] += g;
        }
    }
}
