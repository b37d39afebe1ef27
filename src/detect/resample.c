/* resample.c — facenet-pytorch resamples the pyramid and the R/O-Net crops with
 * interpolate(mode='area'), i.e. adaptive average pooling: output cell i averages input
 * [floor(i*in/out), ceil((i+1)*in/out)). Doing the same (integer sums, then sum/kh/kw in
 * float like ATen) reproduces its inputs exactly, which keeps our boxes close to its. */
#include "detect.h"

#define NORM_MEAN 127.5f
#define NORM_SCALE 0.0078125f

void mtcnn_area_resample(const fn_image *img, int x0, int y0, int w, int h, int ow, int oh,
                         float *out) {
    FN_ASSERT(x0 >= 0 && y0 >= 0 && w > 0 && h > 0 && x0 + w <= img->w && y0 + h <= img->h);
    int *xs = malloc(sizeof(int) * 2 * (size_t)ow);
    FN_ASSERT(xs); /* ow is small next to the image buffers already held */
    int *xe = xs + ow;
    for (int i = 0; i < ow; i++) {
        xs[i] = (int)(((long)i * w) / ow);
        xe[i] = (int)(((long)(i + 1) * w + ow - 1) / ow);
    }
    const size_t stride = (size_t)img->w * 3;
    #pragma omp parallel if ((long)oh * ow * 8 > 100000)
    {
        uint32_t *acc = malloc(sizeof(uint32_t) * 3 * (size_t)ow);
        FN_ASSERT(acc);
        #pragma omp for schedule(static)
        for (int oy = 0; oy < oh; oy++) {
            const int ys = (int)(((long)oy * h) / oh), ye = (int)(((long)(oy + 1) * h + oh - 1) / oh);
            memset(acc, 0, sizeof(uint32_t) * 3 * (size_t)ow);
            for (int y = ys; y < ye; y++) {
                const uint8_t *row = img->rgb + (size_t)(y0 + y) * stride + (size_t)x0 * 3;
                for (int ox = 0; ox < ow; ox++) {
                    uint32_t r = 0, g = 0, b = 0;
                    for (int x = xs[ox]; x < xe[ox]; x++) {
                        r += row[x * 3]; g += row[x * 3 + 1]; b += row[x * 3 + 2];
                    }
                    acc[ox * 3] += r; acc[ox * 3 + 1] += g; acc[ox * 3 + 2] += b;
                }
            }
            const float kh = (float)(ye - ys);
            float *o = out + (size_t)oy * ow * 3;
            for (int ox = 0; ox < ow; ox++) {
                const float kw = (float)(xe[ox] - xs[ox]);
                for (int c = 0; c < 3; c++) {
                    float mean = (float)acc[ox * 3 + c] / kh / kw;
                    o[ox * 3 + c] = (mean - NORM_MEAN) * NORM_SCALE;
                }
            }
        }
        free(acc);
    }
    free(xs);
}

int mtcnn_pyramid_scales(int w, int h, double min_size, double factor, double *scales, int max) {
    /* facenet-pytorch computes these in Python floats (double) */
    double m = 12.0 / min_size, minl = (w < h ? w : h) * m, s = m;
    int n = 0;
    while (minl >= 12 && n < max) {
        scales[n++] = s;
        s *= factor;
        minl *= factor;
    }
    return n;
}
