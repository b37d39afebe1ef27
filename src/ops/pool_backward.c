/* pool_backward.c — gradients of max / average pooling (NHWC, contiguous). Taps outside
 * the image are skipped exactly as in pool.c. */
#include "ops_backward.h"
#include <float.h>

void fn_maxpool_backward(float *din, const float *dout, const float *in, int N, int H, int W,
                         int C, int k, int stride, int pad_top, int pad_left, int OH, int OW) {
    /* one image per thread: windows of one image overlap, images do not */
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++) {
            int y0 = oy * stride - pad_top, y1 = y0 + k;
            if (y0 < 0) y0 = 0;
            if (y1 > H) y1 = H;
            for (int ox = 0; ox < OW; ox++) {
                int x0 = ox * stride - pad_left, x1 = x0 + k;
                if (x0 < 0) x0 = 0;
                if (x1 > W) x1 = W;
                const float *g = dout + (((long)n * OH + oy) * OW + ox) * C;
                for (int c = 0; c < C; c++) {
                    float best = -FLT_MAX;
                    long arg = -1;
                    for (int y = y0; y < y1; y++)
                        for (int x = x0; x < x1; x++) {
                            long idx = (((long)n * H + y) * W + x) * C + c;
                            if (in[idx] > best) { best = in[idx]; arg = idx; }
                        }
                    if (arg >= 0) din[arg] += g[c];
                }
            }
        }
}

void fn_avgpool_backward(float *din, const float *dout, int N, int H, int W, int C, int k,
                         int stride, int pad_top, int pad_left, int OH, int OW) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++) {
            int y0 = oy * stride - pad_top, y1 = y0 + k;
            if (y0 < 0) y0 = 0;
            if (y1 > H) y1 = H;
            for (int ox = 0; ox < OW; ox++) {
                int x0 = ox * stride - pad_left, x1 = x0 + k;
                if (x0 < 0) x0 = 0;
                if (x1 > W) x1 = W;
                int cnt = (y1 - y0) * (x1 - x0);
                if (cnt <= 0) continue;
                float inv = 1.0f / cnt;
                const float *g = dout + (((long)n * OH + oy) * OW + ox) * C;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        float *d = din + (((long)n * H + y) * W + x) * C;
                        for (int c = 0; c < C; c++) d[c] += g[c] * inv;
                    }
            }
        }
}

void fn_global_avgpool_backward(float *din, const float *dout, int N, int HW, int C) {
    float inv = 1.0f / HW;
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) {
            float *d = din + ((long)n * HW + p) * C;
            const float *g = dout + (long)n * C;
            for (int c = 0; c < C; c++) d[c] += g[c] * inv;
        }
}
