/* conv2d.c — 2-D convolution as im2col + SGEMM (OpenBLAS) over NHWC tensors.
 * A 1x1 stride-1 convolution is a plain GEMM on the input (no im2col). The im2col
 * buffer is filled for a group of images at a time so memory stays bounded. */
#include "ops.h"
#include <cblas.h>

#define IM2COL_MAX_FLOATS ((size_t)16 << 20) /* 64 MiB of workspace at most */

void fn_conv_out_size(int in, int k, int stride, fn_padding pad, int *out, int *pad_before) {
    if (pad == FN_PAD_SAME) {
        int o = (in + stride - 1) / stride;
        int total = (o - 1) * stride + k - in;
        if (total < 0) total = 0;
        *out = o;
        *pad_before = total / 2;
    } else {
        *out = in >= k ? (in - k) / stride + 1 : 0;
        *pad_before = 0;
    }
}

void fn_conv_shape_init(fn_conv_shape *s, int N, int H, int W, int Cin, int Cout,
                        int kh, int kw, int sh, int sw, fn_padding pad) {
    s->N = N; s->H = H; s->W = W; s->Cin = Cin; s->Cout = Cout;
    s->kh = kh; s->kw = kw; s->sh = sh; s->sw = sw;
    fn_conv_out_size(H, kh, sh, pad, &s->OH, &s->pad_top);
    fn_conv_out_size(W, kw, sw, pad, &s->OW, &s->pad_left);
}

static int is_pointwise(const fn_conv_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_top == 0 && s->pad_left == 0;
}

/* images per im2col group */
static int im2col_group(const fn_conv_shape *s) {
    size_t per = (size_t)s->OH * s->OW * s->kh * s->kw * s->Cin;
    if (per == 0) return 1;
    size_t g = IM2COL_MAX_FLOATS / per;
    if (g < 1) g = 1;
    if (g > (size_t)s->N) g = s->N;
    return (int)g;
}

size_t fn_conv2d_workspace(const fn_conv_shape *s) {
    if (is_pointwise(s)) return 0;
    return (size_t)im2col_group(s) * s->OH * s->OW * s->kh * s->kw * s->Cin;
}

/* col (n_img*OH*OW, kh*kw*Cin) from in (n_img,H,W,[ld]) */
static void im2col(float *col, const float *in, int ld, const fn_conv_shape *s, int n_img) {
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
                else memcpy(d, in + (((long)n * s->H + iy) * s->W + ix) * ld, sizeof(float) * s->Cin);
            }
        }
    }
}

/* out = act(out + alpha * bias) over (rows, C, ld) */
static void bias_act(float *out, int ld, long rows, int C, const float *bias, float alpha, fn_act act) {
    if (!bias && act == FN_ACT_NONE) return;
    #pragma omp parallel for schedule(static) if (rows * C > 32768)
    for (long r = 0; r < rows; r++) {
        float *o = out + r * ld;
        if (bias) for (int c = 0; c < C; c++) o[c] += alpha * bias[c];
        if (act == FN_ACT_RELU) for (int c = 0; c < C; c++) o[c] = o[c] > 0 ? o[c] : 0;
    }
}

void fn_conv2d_forward_ex(float *out, int ld_out, const float *in, int ld_in, const float *w,
                          const float *bias, const fn_conv_shape *s, float alpha, float beta,
                          fn_act act, float *workspace) {
    const int K = s->kh * s->kw * s->Cin;
    const long pix = (long)s->OH * s->OW;
    if (s->N <= 0 || pix <= 0 || s->Cout <= 0) return;
    if (is_pointwise(s)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(s->N * pix), s->Cout, K,
                    alpha, in, ld_in, w, s->Cout, beta, out, ld_out);
    } else {
        int g = im2col_group(s);
        for (int n0 = 0; n0 < s->N; n0 += g) {
            int nb = s->N - n0 < g ? s->N - n0 : g;
            im2col(workspace, in + (long)n0 * s->H * s->W * ld_in, ld_in, s, nb);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(nb * pix), s->Cout, K,
                        alpha, workspace, K, w, s->Cout, beta, out + n0 * pix * ld_out, ld_out);
        }
    }
    bias_act(out, ld_out, s->N * pix, s->Cout, bias, alpha, act);
}

void fn_conv2d_forward(float *out, int ld_out, const float *in, int ld_in, const float *w,
                       const float *bias, const fn_conv_shape *s, fn_act act, float *workspace) {
    fn_conv2d_forward_ex(out, ld_out, in, ld_in, w, bias, s, 1.0f, 0.0f, act, workspace);
}

void fn_fold_batchnorm(float *w, float *bias_out, long k_rows, int Cout, const float *gamma,
                       const float *beta, const float *mean, const float *var, float eps) {
    for (int c = 0; c < Cout; c++) {
        float g = (gamma ? gamma[c] : 1.0f) / sqrtf(var[c] + eps);
        bias_out[c] = (beta ? beta[c] : 0.0f) - mean[c] * g;
        for (long k = 0; k < k_rows; k++) w[k * Cout + c] *= g;
    }
}
