/* resample.c — facenet-pytorch resamples the pyramid and the R/O-Net crops with
 * interpolate(mode='area'), i.e. adaptive average pooling: output cell i averages input
 * [floor(i*in/out), ceil((i+1)*in/out)). Doing the same (integer sums, then sum/kh/kw in
 * float like ATen) reproduces its inputs exactly, which keeps our boxes close to its. */
#include "detect.h"

#define NORM_MEAN 127.5f
#define NORM_SCALE 0.0078125f

/* Images up to this many pixels get a summed-area table (12 bytes per pixel). */
#define INTEGRAL_MAX_PIXELS ((size_t)32 << 20)

uint32_t *mtcnn_integral(const fn_image *img) {
    const size_t W1 = (size_t)img->w + 1, H1 = (size_t)img->h + 1;
    if ((size_t)img->w * img->h > INTEGRAL_MAX_PIXELS) return NULL;
    uint32_t *sat = malloc(sizeof(uint32_t) * 3 * W1 * H1);
    if (!sat) return NULL;
    memset(sat, 0, sizeof(uint32_t) * 3 * W1);
    for (int y = 0; y < img->h; y++) {
        const uint8_t *row = img->rgb + (size_t)y * img->w * 3;
        const uint32_t *up = sat + (size_t)y * W1 * 3;
        uint32_t *cur = sat + (size_t)(y + 1) * W1 * 3;
        uint32_t r = 0, g = 0, b = 0;
        cur[0] = cur[1] = cur[2] = 0;
        for (int x = 0; x < img->w; x++) {
            r += row[x * 3]; g += row[x * 3 + 1]; b += row[x * 3 + 2];
            cur[(x + 1) * 3] = up[(x + 1) * 3] + r;
            cur[(x + 1) * 3 + 1] = up[(x + 1) * 3 + 1] + g;
            cur[(x + 1) * 3 + 2] = up[(x + 1) * 3 + 2] + b;
        }
    }
    return sat;
}

/* out[i] = (sum[i] / kh / kw[i] - 127.5) * 0.0078125 over a row: a loop the compiler
 * vectorises (vector division rounds exactly like the scalar one). */
static void normalise_row(float *out, const float *sum, const float *kw, float kh, int n) {
    for (int i = 0; i < n; i++) out[i] = (sum[i] / kh / kw[i] - NORM_MEAN) * NORM_SCALE;
}

fn_status mtcnn_area_resample_rows(const fn_image *img, const uint32_t *sat, int x0, int y0, int w,
                                   int h, int ow, int oh, int row0, int nrows, float *out) {
    FN_ASSERT(row0 >= 0 && nrows >= 0 && row0 + nrows <= oh);
    FN_ASSERT(x0 >= 0 && y0 >= 0 && w > 0 && h > 0 && x0 + w <= img->w && y0 + h <= img->h);
    const size_t n3 = (size_t)ow * 3;
    int *xs = malloc(sizeof(int) * 2 * (size_t)ow);
    float *kw = malloc(sizeof(float) * n3), *sum = malloc(sizeof(float) * n3);
    uint32_t *acc = sat ? NULL : malloc(sizeof(uint32_t) * n3);
    if (!xs || !kw || !sum || (!sat && !acc)) {
        free(xs); free(kw); free(sum); free(acc);
        return fn_fail(FN_ERR_NOMEM, "resample: out of memory");
    }
    int *xe = xs + ow;
    for (int i = 0; i < ow; i++) {
        xs[i] = (int)(((long)i * w) / ow);
        xe[i] = (int)(((long)(i + 1) * w + ow - 1) / ow);
        kw[i * 3] = kw[i * 3 + 1] = kw[i * 3 + 2] = (float)(xe[i] - xs[i]);
    }
    const size_t stride = (size_t)img->w * 3, W1 = (size_t)img->w + 1;
    for (int oy = row0; oy < row0 + nrows; oy++) {
        const int ys = (int)(((long)oy * h) / oh), ye = (int)(((long)(oy + 1) * h + oh - 1) / oh);
        if (sat) {
            /* window sums from the table: exact, since every window holds far fewer than
             * 2^32 / 255 pixels (unsigned wrap-around cancels out) */
            const uint32_t *top = sat + (size_t)(y0 + ys) * W1 * 3, *bot = sat + (size_t)(y0 + ye) * W1 * 3;
            for (int ox = 0; ox < ow; ox++) {
                const size_t a = (size_t)(x0 + xs[ox]) * 3, b = (size_t)(x0 + xe[ox]) * 3;
                for (int c = 0; c < 3; c++)
                    sum[ox * 3 + c] = (float)(bot[b + c] - bot[a + c] - top[b + c] + top[a + c]);
            }
        } else {
            memset(acc, 0, sizeof(uint32_t) * n3);
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
            for (size_t i = 0; i < n3; i++) sum[i] = (float)acc[i];
        }
        normalise_row(out + (size_t)(oy - row0) * n3, sum, kw, (float)(ye - ys), (int)n3);
    }
    free(acc);
    free(sum);
    free(kw);
    free(xs);
    return FN_OK;
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

fn_status mtcnn_area_resample(const fn_image *img, const uint32_t *sat, int x0, int y0, int w,
                              int h, int ow, int oh, float *out) {
    return mtcnn_area_resample_rows(img, sat, x0, y0, w, h, ow, oh, 0, oh, out);
}
