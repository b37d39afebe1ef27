/* pool.c — max / average pooling over NHWC; taps outside the image are skipped, so
 * TF SAME average pooling divides by the in-image count and max pooling pads with -inf. */
/* Single-threaded on purpose, like conv2d.c: OpenBLAS owns the threads. */
#include "ops.h"
#include <float.h>

static void pool(float *out, int ld_out, const float *in, int ld_in, int N, int H, int W, int C,
                 int k, int stride, int pad_top, int pad_left, int OH, int OW, int is_max) {
    for (long r = 0; r < (long)N * OH; r++) {
        int n = (int)(r / OH), oy = (int)(r % OH), y0, y1;
        fn_pool_window(oy, k, stride, pad_top, H, &y0, &y1);
        for (int ox = 0; ox < OW; ox++) {
            int x0, x1;
            fn_pool_window(ox, k, stride, pad_left, W, &x0, &x1);
            float *o = out + (r * OW + ox) * ld_out;
            for (int c = 0; c < C; c++) o[c] = is_max ? -FLT_MAX : 0.0f;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    const float *p = in + (((long)n * H + y) * W + x) * ld_in;
                    if (is_max) { for (int c = 0; c < C; c++) o[c] = p[c] > o[c] ? p[c] : o[c]; }
                    else for (int c = 0; c < C; c++) o[c] += p[c];
                }
            if (!is_max) {
                int cnt = (y1 - y0) * (x1 - x0);
                float inv = cnt > 0 ? 1.0f / cnt : 0.0f;
                for (int c = 0; c < C; c++) o[c] *= inv;
            }
        }
    }
}

void fn_maxpool_forward(float *out, int ld_out, const float *in, int ld_in, int N, int H, int W,
                        int C, int k, int stride, int pad_top, int pad_left, int OH, int OW) {
    pool(out, ld_out, in, ld_in, N, H, W, C, k, stride, pad_top, pad_left, OH, OW, 1);
}

void fn_avgpool_forward(float *out, int ld_out, const float *in, int ld_in, int N, int H, int W,
                        int C, int k, int stride, int pad_top, int pad_left, int OH, int OW) {
    pool(out, ld_out, in, ld_in, N, H, W, C, k, stride, pad_top, pad_left, OH, OW, 0);
}

void fn_global_avgpool_forward(float *out, const float *in, int N, int HW, int C) {
    for (int n = 0; n < N; n++) {
        float *o = out + (long)n * C;
        for (int c = 0; c < C; c++) o[c] = 0;
        for (int p = 0; p < HW; p++) {
            const float *x = in + ((long)n * HW + p) * C;
            for (int c = 0; c < C; c++) o[c] += x[c];
        }
        for (int c = 0; c < C; c++) o[c] /= HW;
    }
}
