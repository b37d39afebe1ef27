/* conv2d_backward.c — gradients of the convolution (NHWC, HWIO):
 *   dW = im2col(in)^T @ dout (im2col shared with conv2d.c, in groups of images);
 *   din of a stride-1 conv = a stride-1 conv of dout with the kernel flipped and its
 *   channels swapped, padded k-1-pad, so it takes the forward's paths (Winograd for 3x3,
 *   gathers instead of scatters) and adds into din in the GEMM (beta = 1);
 *   din of a strided conv = col2im(dout @ W^T);
 *   dW of a 3x3 stride-1 conv that the forward runs as Winograd F(2x2,3x3)
 *   (Y = A^T [(G g G^T) . (B^T d B)] A): dW = G^T [sum over tiles (B^T d B) . (A dY A^T)] G,
 *   16 GEMMs over the tiles instead of im2col (2.25x fewer products, no column buffer). */
#include "ops_backward.h"
#include <cblas.h>

/* the data-gradient conv: input dout (N,OH,OW,Cout), output din (N,H,W,Cin) */
static void transposed_shape(fn_conv_shape *t, const fn_conv_shape *s) {
    *t = *s;
    t->H = s->OH; t->W = s->OW; t->Cin = s->Cout;
    t->OH = s->H; t->OW = s->W; t->Cout = s->Cin;
    t->pad_top = s->kh - 1 - s->pad_top;
    t->pad_left = s->kw - 1 - s->pad_left;
}

static int din_as_conv(const fn_conv_shape *s) {
    return s->sh == 1 && s->sw == 1 && !fn_conv_is_pointwise(s) && s->pad_top < s->kh && s->pad_left < s->kw;
}

#ifndef WGRAD_CHUNK
#define WGRAD_CHUNK 128 /* tiles per pass (1024 ran 10-20% slower) */
#endif
#define WGRAD4_CHUNK 64 /* F(4x4): the 36 planes stay in L2 (1024 tiles ran 1.4-1.5x slower) */

static int wgrad_chunk(const fn_conv_shape *s) {
    long t = fn_winograd_tiles(s);
    return (int)(t < WGRAD_CHUNK ? t : WGRAD_CHUNK);
}

static int wgrad4_chunk(const fn_conv_shape *s) {
    long t = fn_winograd4_tiles(s);
    return (int)(t < WGRAD4_CHUNK ? t : WGRAD4_CHUNK);
}

static size_t wgrad_workspace(const fn_conv_shape *s) {
    if (fn_winograd_f4(s)) /* dU, V, Mg planes, then one tile's transform stages */
        return 36 * ((size_t)s->Cin * s->Cout + (size_t)wgrad4_chunk(s) * (s->Cin + s->Cout)) +
               36 * (size_t)s->Cin + 24 * (size_t)s->Cout;
    return 16 * ((size_t)s->Cin * s->Cout + (size_t)wgrad_chunk(s) * (s->Cin + s->Cout));
}

size_t fn_conv2d_backward_workspace(const fn_conv_shape *s) {
    if (fn_conv_is_pointwise(s)) return 0;
    size_t col = fn_conv2d_uses_winograd(s) ? wgrad_workspace(s)
               : (size_t)fn_im2col_images(s) * s->OH * s->OW * s->kh * s->kw * s->Cin;
    if (fn_conv2d_uses_winograd1d(s)) col = fn_conv2d_winograd1d_workspace(s);
    if (din_as_conv(s)) {
        fn_conv_shape t;
        transposed_shape(&t, s);
        size_t d = (size_t)s->kh * s->kw * s->Cin * s->Cout + fn_conv2d_workspace(&t);
        if (d > col) col = d;
    }
    return col;
}

void fn_conv2d_flip_kernel(float *wt, const float *w, const fn_conv_shape *s) {
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++) {
            const float *src = w + ((size_t)(s->kh - 1 - ky) * s->kw + (s->kw - 1 - kx)) * s->Cin * s->Cout;
            float *dst = wt + ((size_t)ky * s->kw + kx) * s->Cout * s->Cin;
            for (int ci = 0; ci < s->Cin; ci++)
                for (int co = 0; co < s->Cout; co++) dst[(size_t)co * s->Cin + ci] = src[(size_t)ci * s->Cout + co];
        }
}


/* Mg (16, nt, Cout) = A dy A^T for 2x2 output tiles t0 .. t0+nt of dout (N,OH,OW,Cout) */
static void wgrad_dy(float *Mg, const float *dout, const fn_conv_shape *s, long t0, int nt) {
    const int C = s->Cout;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        long t = t0 + j;
        int n, oy0, ox0;
        fn_winograd_tile(s, 2, t, &n, &oy0, &ox0);
        const float *d[4];
        fn_winograd_window(d, dout, C, n, s->OH, s->OW, oy0, ox0, 2);
        float *m = Mg + (size_t)j * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) {
            /* A = [1 0; 1 1; 1 -1; 0 -1]: rows of A dy, then columns times A^T */
            float r[4][2] = {{d[0][c], d[1][c]}, {d[0][c] + d[2][c], d[1][c] + d[3][c]},
                             {d[0][c] - d[2][c], d[1][c] - d[3][c]}, {-d[2][c], -d[3][c]}};
            for (int i = 0; i < 4; i++) {
                m[(i * 4 + 0) * plane + c] = r[i][0];
                m[(i * 4 + 1) * plane + c] = r[i][0] + r[i][1];
                m[(i * 4 + 2) * plane + c] = r[i][0] - r[i][1];
                m[(i * 4 + 3) * plane + c] = -r[i][1];
            }
        }
    }
}

/* dw (3,3,Cin,Cout) += G^T dU G, dU (16, Cin, Cout) summed over all tiles */
static void wgrad_winograd(float *dw, const float *dout, const float *in, const fn_conv_shape *s, float *ws) {
    const int Cin = s->Cin, Cout = s->Cout, tc = wgrad_chunk(s);
    const long T = fn_winograd_tiles(s);
    const size_t plane = (size_t)Cin * Cout;
    float *dU = ws, *V = dU + 16 * plane, *Mg = V + 16 * (size_t)tc * Cin;
    for (long t0 = 0; t0 < T; t0 += tc) {
        int nt = (int)(T - t0 < tc ? T - t0 : tc);
        fn_winograd_input(V, in, Cin, s, t0, nt);
        wgrad_dy(Mg, dout, s, t0, nt);
        fn_winograd_wgrad_gemms(dU, V, Mg, 16, nt, Cin, Cout, t0 > 0);
    }
    /* G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1] (the forward's kernel transform) */
    for (size_t q = 0; q < plane; q++) {
        float u[4][4], t[4][3];
        for (int k = 0; k < 16; k++) u[k / 4][k % 4] = dU[k * plane + q];
        for (int i = 0; i < 4; i++) { /* dU G */
            t[i][0] = u[i][0] + 0.5f * (u[i][1] + u[i][2]);
            t[i][1] = 0.5f * (u[i][1] - u[i][2]);
            t[i][2] = 0.5f * (u[i][1] + u[i][2]) + u[i][3];
        }
        for (int x = 0; x < 3; x++) { /* G^T (dU G) */
            dw[(0 * 3 + x) * plane + q] += t[0][x] + 0.5f * (t[1][x] + t[2][x]);
            dw[(1 * 3 + x) * plane + q] += 0.5f * (t[1][x] - t[2][x]);
            dw[(2 * 3 + x) * plane + q] += 0.5f * (t[1][x] + t[2][x]) + t[3][x];
        }
    }
}

/* ---- the same for F(4x4,3x3), taken where the forward takes it (large maps): 36 GEMMs per
 * 16 outputs instead of 16 per 4, 4x fewer products than im2col against F(2x2)'s 2.25x.
 * A (6x4) is the transpose of the forward's output transform A^T. */

/* r_i = (A d)_i for four channel vectors d0..d3 (one column or row of a 4x4 dY tile) */
static void f4_a_vec(float *restrict r0, float *restrict r1, float *restrict r2, float *restrict r3,
                     float *restrict r4, float *restrict r5, const float *d0, const float *d1,
                     const float *d2, const float *d3, int C) {
    for (int c = 0; c < C; c++) {
        float a0 = d0[c], a1 = d1[c], a2 = d2[c], a3 = d3[c];
        float even = a0 + a2, odd = a1 + a3, even4 = a0 + 4 * a2, odd2 = 2 * a1 + 8 * a3;
        r0[c] = a0;
        r1[c] = even + odd;
        r2[c] = even - odd;
        r3[c] = even4 + odd2;
        r4[c] = even4 - odd2;
        r5[c] = a3;
    }
}

/* Mg (36, nt, Cout) = A dy A^T for 4x4 output tiles t0 .. t0+nt; scratch: 24 * Cout floats */
static void wgrad4_dy(float *Mg, const float *dout, const fn_conv_shape *s, long t0, int nt, float *scratch) {
    const int C = s->Cout;
    const size_t plane = (size_t)nt * C;
    for (int j = 0; j < nt; j++) {
        int n, oy0, ox0;
        fn_winograd_tile(s, 4, t0 + j, &n, &oy0, &ox0);
        const float *d[16];
        fn_winograd_window(d, dout, C, n, s->OH, s->OW, oy0, ox0, 4);
        float *r = scratch; /* r[(i*4+x)*C] = (A dy)[i][x] */
        for (int x = 0; x < 4; x++)
            f4_a_vec(r + (0 * 4 + x) * C, r + (1 * 4 + x) * C, r + (2 * 4 + x) * C, r + (3 * 4 + x) * C,
                     r + (4 * 4 + x) * C, r + (5 * 4 + x) * C, d[0 * 4 + x], d[1 * 4 + x], d[2 * 4 + x], d[3 * 4 + x], C);
        float *m = Mg + (size_t)j * C;
        for (int i = 0; i < 6; i++) {
            const float *ri = r + (size_t)i * 4 * C;
            f4_a_vec(m + (i * 6 + 0) * plane, m + (i * 6 + 1) * plane, m + (i * 6 + 2) * plane,
                     m + (i * 6 + 3) * plane, m + (i * 6 + 4) * plane, m + (i * 6 + 5) * plane,
                     ri, ri + C, ri + 2 * C, ri + 3 * C, C);
        }
    }
}

/* (G^T v) for the forward's kernel transform G (6x3) */
static inline void f4_gt(const float v[6], float r[3]) {
    r[0] = 0.25f * v[0] - (v[1] + v[2]) * (1.0f / 6) + (v[3] + v[4]) * (1.0f / 24);
    r[1] = (v[2] - v[1]) * (1.0f / 6) + (v[3] - v[4]) * (1.0f / 12);
    r[2] = (v[3] + v[4] - v[1] - v[2]) * (1.0f / 6) + v[5];
}

/* dw (3,3,Cin,Cout) += G^T dU G, dU (36, Cin, Cout) summed over all 4x4 tiles */
static void wgrad_winograd4(float *dw, const float *dout, const float *in, const fn_conv_shape *s, float *ws) {
    const int Cin = s->Cin, Cout = s->Cout, tc = wgrad4_chunk(s);
    const long T = fn_winograd4_tiles(s);
    const size_t plane = (size_t)Cin * Cout;
    float *dU = ws, *V = dU + 36 * plane, *Mg = V + 36 * (size_t)tc * Cin, *scratch = Mg + 36 * (size_t)tc * Cout;
    for (long t0 = 0; t0 < T; t0 += tc) {
        int nt = (int)(T - t0 < tc ? T - t0 : tc);
        fn_winograd4_input(V, in, Cin, s, t0, nt, scratch);
        wgrad4_dy(Mg, dout, s, t0, nt, scratch);
        fn_winograd_wgrad_gemms(dU, V, Mg, 36, nt, Cin, Cout, t0 > 0);
    }
    for (size_t q = 0; q < plane; q++) {
        float u[6], t[6][3], col[6], r[3];
        for (int i = 0; i < 6; i++) { /* dU G, row by row */
            for (int k = 0; k < 6; k++) u[k] = dU[(i * 6 + k) * plane + q];
            f4_gt(u, t[i]);
        }
        for (int x = 0; x < 3; x++) { /* G^T (dU G), column by column */
            for (int i = 0; i < 6; i++) col[i] = t[i][x];
            f4_gt(col, r);
            for (int y = 0; y < 3; y++) dw[(y * 3 + x) * plane + q] += r[y];
        }
    }
}

/* din (n_img,H,W,Cin) += scatter of col; one image per thread so taps never race */
static void col2im_add(float *din, const float *col, const fn_conv_shape *s, int n_img) {
    const int K = s->kh * s->kw * s->Cin;
    #pragma omp parallel for schedule(static) if (n_img > 1)
    for (int n = 0; n < n_img; n++)
        for (int oy = 0; oy < s->OH; oy++)
            for (int ox = 0; ox < s->OW; ox++) {
                const float *src = col + (((long)n * s->OH + oy) * s->OW + ox) * K;
                for (int ky = 0; ky < s->kh; ky++) {
                    int iy = oy * s->sh - s->pad_top + ky;
                    if (iy < 0 || iy >= s->H) continue;
                    for (int kx = 0; kx < s->kw; kx++) {
                        int ix = ox * s->sw - s->pad_left + kx;
                        if (ix < 0 || ix >= s->W) continue;
                        float *d = din + (((long)n * s->H + iy) * s->W + ix) * s->Cin;
                        const float *c = src + (ky * s->kw + kx) * s->Cin;
                        for (int ci = 0; ci < s->Cin; ci++) d[ci] += c[ci];
                    }
                }
            }
}

void fn_conv2d_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                        const float *w, const fn_conv_shape *s, float *workspace) {
    const int K = s->kh * s->kw * s->Cin;
    const long pix = (long)s->OH * s->OW;
    if (s->N <= 0 || pix <= 0 || s->Cout <= 0) return;
    if (dbias) {
        for (long r = 0; r < s->N * pix; r++) {
            const float *g = dout + r * s->Cout;
            for (int c = 0; c < s->Cout; c++) dbias[c] += g[c];
        }
    }
    if (fn_conv_is_pointwise(s)) {
        const int M = (int)(s->N * pix);
        if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, s->Cout, M, 1.0f, in, K,
                            dout, s->Cout, 1.0f, dw, s->Cout);
        if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, s->Cout, 1.0f, dout,
                             s->Cout, w, s->Cout, 1.0f, din, K);
        return;
    }
    const int g = fn_im2col_images(s), by_conv = din_as_conv(s), wino = fn_conv2d_uses_winograd(s);
    if (dw && fn_conv2d_uses_winograd1d(s)) { /* 1x7 / 7x1: F(2,7), conv2d_winograd1d.c */
        fn_conv2d_winograd1d_wgrad(dw, dout, in, s, workspace);
        dw = NULL;
    }
    if (din && by_conv) {
        fn_conv_shape t;
        transposed_shape(&t, s);
        float *wt = workspace;
        fn_conv2d_flip_kernel(wt, w, s);
        fn_conv2d_forward_ex(din, s->Cin, dout, s->Cout, wt, NULL, NULL, &t, 1.0f, 1.0f, FN_ACT_NONE,
                             workspace + (size_t)K * s->Cout);
    }
    if (dw && wino) {
        if (fn_winograd_f4(s)) wgrad_winograd4(dw, dout, in, s, workspace);
        else wgrad_winograd(dw, dout, in, s, workspace);
    }
    if (by_conv && (wino || !dw)) return;
    for (int n0 = 0; n0 < s->N; n0 += g) {
        int nb = s->N - n0 < g ? s->N - n0 : g;
        const int M = (int)(nb * pix);
        const float *dout_g = dout + n0 * pix * s->Cout;
        if (dw && !wino) {
            fn_im2col(workspace, in + (long)n0 * s->H * s->W * s->Cin, s->Cin, s, nb);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, s->Cout, M, 1.0f, workspace, K,
                        dout_g, s->Cout, 1.0f, dw, s->Cout);
        }
        if (din && !by_conv) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, s->Cout, 1.0f, dout_g,
                        s->Cout, w, s->Cout, 0.0f, workspace, K);
            col2im_add(din + (long)n0 * s->H * s->W * s->Cin, workspace, s, nb);
        }
    }
}
