/* pool_backward.c — gradients of max / average pooling (NHWC, contiguous). Taps outside
 * the image are skipped exactly as in pool.c. */
#include "ops_backward.h"
#include <float.h>

void fn_maxpool_backward(float *din, const float *dout, const float *in, int N, int H, int W,
                         int C, int k, int stride, int pad_top, int pad_left, int OH, int OW) {
    /* one image per thread: windows of one image overlap, images do not */
    #pragma omp parallel
    {
        float *best = malloc(sizeof(float) * (size_t)C);
        long *arg = malloc(sizeof(long) * (size_t)C);
        FN_ASSERT(best && arg);
        #pragma omp for schedule(static)
        for (int n = 0; n < N; n++)
            for (int oy = 0; oy < OH; oy++) {
                int y0, y1;
                fn_pool_window(oy, k, stride, pad_top, H, &y0, &y1);
                for (int ox = 0; ox < OW; ox++) {
                    int x0, x1;
                    fn_pool_window(ox, k, stride, pad_left, W, &x0, &x1);
                    /* taps in row-major order, strict > : the first maximal tap wins */
                    for (int c = 0; c < C; c++) { best[c] = -FLT_MAX; arg[c] = -1; }
                    for (int y = y0; y < y1; y++)
                        for (int x = x0; x < x1; x++) {
                            long base = (((long)n * H + y) * W + x) * C;
                            const float *p = in + base;
                            for (int c = 0; c < C; c++)
                                if (p[c] > best[c]) { best[c] = p[c]; arg[c] = base + c; }
                        }
                    const float *g = dout + (((long)n * OH + oy) * OW + ox) * C;
                    for (int c = 0; c < C; c++) if (arg[c] >= 0) din[arg[c]] += g[c];
                }
            }
        free(best); free(arg);
    }
}

void fn_avgpool_backward(float *din, const float *dout, int N, int H, int W, int C, int k,
                         int stride, int pad_top, int pad_left, int OH, int OW) {
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < OH; oy++) {
            int y0, y1;
            fn_pool_window(oy, k, stride, pad_top, H, &y0, &y1);
            for (int ox = 0; ox < OW; ox++) {
                int x0, x1;
                fn_pool_window(ox, k, stride, pad_left, W, &x0, &x1);
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
