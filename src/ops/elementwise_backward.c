/* elementwise_backward.c — gradients of ReLU, the residual add, dropout, dense and L2
 * normalisation (contiguous tensors). */
#include "ops_backward.h"
#include <cblas.h>

void fn_relu_backward(float *din, const float *dout, const float *out, long n) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (long i = 0; i < n; i++) if (out[i] > 0) din[i] += dout[i];
}

void fn_residual_backward(float *dtrunk, float *dup, const float *dout, const float *out, long n,
                          float scale, fn_act act) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (long i = 0; i < n; i++) {
        float g = act == FN_ACT_RELU && out[i] <= 0 ? 0 : dout[i];
        dtrunk[i] += g;
        dup[i] += scale * g;
    }
}

void fn_dropout_forward(float *out, float *mask, const float *in, long rows, long cols, float keep,
                        uint64_t seed, long row0) {
    const long n = rows * cols;
    if (keep >= 1.0f) {
        for (long i = 0; i < n; i++) { mask[i] = 1.0f; out[i] = in[i]; }
        return;
    }
    float inv = 1.0f / keep;
    for (long r = 0; r < rows; r++) {
        fn_rng rng = {fn_splitmix64(seed ^ fn_splitmix64((uint64_t)(row0 + r)))};
        for (long i = r * cols; i < (r + 1) * cols; i++) {
            mask[i] = fn_rng_uniform(&rng) < keep ? inv : 0.0f;
            out[i] = in[i] * mask[i];
        }
    }
}

void fn_dropout_backward(float *din, const float *dout, const float *mask, long n) {
    for (long i = 0; i < n; i++) din[i] += dout[i] * mask[i];
}

void fn_dense_backward(float *din, float *dw, float *dbias, const float *dout, const float *in,
                       const float *w, int N, int Cin, int Cout) {
    if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Cin, Cout, 1.0f, dout, Cout,
                         w, Cout, 1.0f, din, Cin);
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Cin, Cout, N, 1.0f, in, Cin,
                        dout, Cout, 1.0f, dw, Cout);
    if (dbias)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < Cout; c++) dbias[c] += dout[(long)n * Cout + c];
}

void fn_l2norm_backward(float *din, const float *dout, const float *in, const float *out, int N,
                        int D, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (long)n * D, *y = out + (long)n * D, *g = dout + (long)n * D;
        float *d = din + (long)n * D;
        double s = 0, yg = 0;
        for (int i = 0; i < D; i++) { s += (double)x[i] * x[i]; yg += (double)y[i] * g[i]; }
        if (s > eps) {
            float inv = (float)(1.0 / sqrt(s));
            for (int i = 0; i < D; i++) d[i] += (g[i] - y[i] * (float)yg) * inv;
        } else {
            float inv = (float)(1.0 / sqrt(eps)); /* max() is flat in x here */
            for (int i = 0; i < D; i++) d[i] += g[i] * inv;
        }
    }
}
