/* conv2d_backward.c — gradients of the im2col + SGEMM convolution (NHWC, HWIO):
 * dW = im2col(in)^T @ dout, din = col2im(dout @ W^T). Processed in groups of images so
 * the column buffer stays bounded, like the forward. */
#include "ops_backward.h"
#include <cblas.h>

#define COL_MAX_FLOATS ((size_t)16 << 20) /* 64 MiB of workspace at most */

static int is_pointwise(const fn_conv_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 &&
           s->pad_left == 0;
}

static int col_group(const fn_conv_shape *s) {
    size_t per = (size_t)s->OH * s->OW * s->kh * s->kw * s->Cin;
    if (per == 0) return 1;
    size_t g = COL_MAX_FLOATS / per;
    if (g < 1) g = 1;
    if (g > (size_t)s->N) g = s->N;
    return (int)g;
}

size_t fn_conv2d_backward_workspace(const fn_conv_shape *s) {
    if (is_pointwise(s)) return 0;
    return (size_t)col_group(s) * s->OH * s->OW * s->kh * s->kw * s->Cin;
}

/* col (n_img*OH*OW, kh*kw*Cin) from in (n_img,H,W,Cin) */
static void im2col(float *col, const float *in, const fn_conv_shape *s, int n_img) {
    const int K = s->kh * s->kw * s->Cin;
    const long rows = (long)n_img * s->OH * s->OW;
    #pragma omp parallel for schedule(static) if (rows * K > 32768)
    for (long r = 0; r < rows; r++) {
        int n = (int)(r / (s->OH * s->OW)), rem = (int)(r % (s->OH * s->OW));
        int oy = rem / s->OW, ox = rem % s->OW;
        float *dst = col + r * K;
        for (int ky = 0; ky < s->kh; ky++) {
            int iy = oy * s->sh - s->pad_top + ky;
            for (int kx = 0; kx < s->kw; kx++) {
                int ix = ox * s->sw - s->pad_left + kx;
                float *d = dst + (ky * s->kw + kx) * s->Cin;
                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) memset(d, 0, sizeof(float) * s->Cin);
                else memcpy(d, in + (((long)n * s->H + iy) * s->W + ix) * s->Cin, sizeof(float) * s->Cin);
            }
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
    if (is_pointwise(s)) {
        const int M = (int)(s->N * pix);
        if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, s->Cout, M, 1.0f, in, K,
                            dout, s->Cout, 1.0f, dw, s->Cout);
        if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, s->Cout, 1.0f, dout,
                             s->Cout, w, s->Cout, 1.0f, din, K);
        return;
    }
    int g = col_group(s);
    for (int n0 = 0; n0 < s->N; n0 += g) {
        int nb = s->N - n0 < g ? s->N - n0 : g;
        const int M = (int)(nb * pix);
        const float *dout_g = dout + n0 * pix * s->Cout;
        if (dw) {
            im2col(workspace, in + (long)n0 * s->H * s->W * s->Cin, s, nb);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, s->Cout, M, 1.0f, workspace, K,
                        dout_g, s->Cout, 1.0f, dw, s->Cout);
        }
        if (din) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, s->Cout, 1.0f, dout_g,
                        s->Cout, w, s->Cout, 0.0f, workspace, K);
            col2im_add(din + (long)n0 * s->H * s->W * s->Cin, workspace, s, nb);
        }
    }
}
