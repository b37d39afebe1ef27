/* conv2d_backward.c — gradients of the convolution (NHWC, HWIO):
 *   dW = im2col(in)^T @ dout (im2col shared with conv2d.c, in groups of images);
 *   din of a stride-1 conv = a stride-1 conv of dout with the kernel flipped and its
 *   channels swapped, padded k-1-pad, so it takes the forward's paths (Winograd for 3x3,
 *   gathers instead of scatters) and adds into din in the GEMM (beta = 1);
 *   din of a strided conv = col2im(dout @ W^T). */
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

size_t fn_conv2d_backward_workspace(const fn_conv_shape *s) {
    if (fn_conv_is_pointwise(s)) return 0;
    size_t col = (size_t)fn_im2col_images(s) * s->OH * s->OW * s->kh * s->kw * s->Cin;
    if (din_as_conv(s)) {
        fn_conv_shape t;
        transposed_shape(&t, s);
        size_t d = (size_t)s->kh * s->kw * s->Cin * s->Cout + fn_conv2d_workspace(&t);
        if (d > col) col = d;
    }
    return col;
}

/* wt (kh,kw,Cout,Cin) = w (kh,kw,Cin,Cout) rotated by 180 degrees, channels swapped */
static void flip_kernel(float *wt, const float *w, const fn_conv_shape *s) {
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++) {
            const float *src = w + ((size_t)(s->kh - 1 - ky) * s->kw + (s->kw - 1 - kx)) * s->Cin * s->Cout;
            float *dst = wt + ((size_t)ky * s->kw + kx) * s->Cout * s->Cin;
            for (int ci = 0; ci < s->Cin; ci++)
                for (int co = 0; co < s->Cout; co++) dst[(size_t)co * s->Cin + ci] = src[(size_t)ci * s->Cout + co];
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
    const int g = fn_im2col_images(s), by_conv = din_as_conv(s);
    if (din && by_conv) {
        fn_conv_shape t;
        transposed_shape(&t, s);
        float *wt = workspace;
        flip_kernel(wt, w, s);
        fn_conv2d_forward_ex(din, s->Cin, dout, s->Cout, wt, NULL, NULL, &t, 1.0f, 1.0f, FN_ACT_NONE,
                             workspace + (size_t)K * s->Cout);
    }
    for (int n0 = 0; n0 < s->N; n0 += g) {
        int nb = s->N - n0 < g ? s->N - n0 : g;
        const int M = (int)(nb * pix);
        const float *dout_g = dout + n0 * pix * s->Cout;
        if (dw) {
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
