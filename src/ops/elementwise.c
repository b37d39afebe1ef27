/* elementwise.c — residual add, ReLU, PReLU, softmax, L2 normalisation, dense. */
/* Single-threaded on purpose, like conv2d.c: OpenBLAS owns the threads. */
#include "ops.h"
#include <cblas.h>

void fn_residual_forward(float *x, int ld_x, const float *up, int ld_up, long rows, int C,
                         float scale, fn_act act) {
    for (long r = 0; r < rows; r++) {
        float *a = x + r * ld_x;
        const float *u = up + r * ld_up;
        if (act == FN_ACT_RELU) for (int c = 0; c < C; c++) { float v = a[c] + scale * u[c]; a[c] = v > 0 ? v : 0; }
        else for (int c = 0; c < C; c++) a[c] += scale * u[c];
    }
}

void fn_relu_forward(float *x, long rows, int C, int ld) {
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) { float *v = x + r * ld + c; *v = *v > 0 ? *v : 0; }
}

void fn_prelu_forward(float *x, long rows, int C, int ld, const float *alpha) {
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) { float *v = x + r * ld + c; *v = *v > 0 ? *v : alpha[c] * *v; }
}

void fn_softmax_forward(float *out, const float *in, long rows, int C) {
    for (long r = 0; r < rows; r++) {
        const float *a = in + r * C;
        float *o = out + r * C;
        float m = a[0];
        for (int c = 1; c < C; c++) m = a[c] > m ? a[c] : m;
        float s = 0;
        for (int c = 0; c < C; c++) { o[c] = expf(a[c] - m); s += o[c]; }
        for (int c = 0; c < C; c++) o[c] /= s;
    }
}

void fn_l2norm_forward(float *out, const float *in, int N, int D, float eps) {
    for (int n = 0; n < N; n++) {
        const float *a = in + (long)n * D;
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)a[d] * a[d];
        float inv = 1.0f / sqrtf((float)(s > eps ? s : eps));
        for (int d = 0; d < D; d++) out[(long)n * D + d] = a[d] * inv;
    }
}

void fn_dense_forward(float *out, const float *in, const float *w, const float *bias, int N,
                      int Cin, int Cout) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, Cout, Cin, 1.0f, in, Cin, w, Cout,
                0.0f, out, Cout);
    if (bias)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < Cout; c++) out[(long)n * Cout + c] += bias[c];
}
