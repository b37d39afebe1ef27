/* resize.c — fn_image_resize, a port of PIL's ImagingResample with the BILINEAR filter
 * (Pillow >= 7, src/libImaging/Resample.c): a triangle kernel whose support scales with the
 * shrink factor, centres at (i + 0.5)·scale, coefficients normalised then converted to
 * 22-bit fixed point, horizontal pass then vertical pass, each rounded and clipped to uint8.
 * Bit-exact with PIL is the goal: facenet-pytorch makes its crops this way. */
#include "image_internal.h"

#define PRECISION_BITS (32 - 8 - 2)

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* For each output index: first input index, count, and ksize fixed-point weights. */
typedef struct { int ksize; int *bounds; int32_t *k; } resample_coeffs;

static fn_status coeffs_build(int in_size, int out_size, resample_coeffs *rc) {
    const double support_base = 1.0; /* bilinear */
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support_base * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    rc->ksize = ksize;
    rc->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    rc->k = calloc((size_t)out_size * ksize, sizeof(int32_t));
    double *pre = malloc(sizeof(double) * (size_t)ksize);
    if (!rc->bounds || !rc->k || !pre) {
        free(rc->bounds); free(rc->k); free(pre);
        return fn_fail(FN_ERR_NOMEM, "resize: out of memory");
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * ss);
            pre[x] = w;
            ww += w;
        }
        int32_t *k = rc->k + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? pre[x] / ww : pre[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS)) : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        rc->bounds[xx * 2] = xmin;
        rc->bounds[xx * 2 + 1] = xmax;
    }
    free(pre);
    return FN_OK;
}

static void coeffs_free(resample_coeffs *rc) { free(rc->bounds); free(rc->k); }

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* src (h, sw, 3) → dst (h, dw, 3) */
static void resample_horizontal(const uint8_t *src, int sw, int h, uint8_t *dst, int dw, const resample_coeffs *rc) {
    for (int y = 0; y < h; y++) {
        const uint8_t *in = src + (size_t)y * sw * 3;
        uint8_t *o = dst + (size_t)y * dw * 3;
        for (int xx = 0; xx < dw; xx++) {
            int xmin = rc->bounds[xx * 2], n = rc->bounds[xx * 2 + 1];
            const int32_t *k = rc->k + (size_t)xx * rc->ksize;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < n; x++) {
                const uint8_t *p = in + (size_t)(x + xmin) * 3;
                s0 += p[0] * k[x]; s1 += p[1] * k[x]; s2 += p[2] * k[x];
            }
            o[xx * 3] = clip8(s0); o[xx * 3 + 1] = clip8(s1); o[xx * 3 + 2] = clip8(s2);
        }
    }
}

/* src (sh, w, 3) → dst (dh, w, 3). Accumulates whole rows (tap by tap) so the inner loop is
 * contiguous and vectorises; acc holds w*3 int32 sums. */
static void resample_vertical(const uint8_t *src, int w, uint8_t *dst, int dh, const resample_coeffs *rc, int32_t *acc) {
    const size_t row = (size_t)w * 3;
    for (int yy = 0; yy < dh; yy++) {
        int ymin = rc->bounds[yy * 2], n = rc->bounds[yy * 2 + 1];
        const int32_t *k = rc->k + (size_t)yy * rc->ksize;
        for (size_t i = 0; i < row; i++) acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < n; y++) {
            const uint8_t *in = src + (size_t)(y + ymin) * row;
            const int32_t ky = k[y];
            for (size_t i = 0; i < row; i++) acc[i] += in[i] * ky;
        }
        uint8_t *o = dst + (size_t)yy * row;
        for (size_t i = 0; i < row; i++) o[i] = clip8(acc[i]);
    }
}

fn_status fn_image_resize(const fn_image *src, int w, int h, fn_image *out) {
    out->w = out->h = 0;
    out->rgb = NULL;
    if (!src || !src->rgb || src->w <= 0 || src->h <= 0)
        return fn_fail(FN_ERR_ARG, "resize: empty source image");
    if (w <= 0 || h <= 0) return fn_fail(FN_ERR_ARG, "resize: invalid target size %dx%d", w, h);
    FN_TRY(fn_image_alloc(w, h, out));
    if (w == src->w && h == src->h) {
        memcpy(out->rgb, src->rgb, (size_t)w * h * 3);
        return FN_OK;
    }
    resample_coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    fn_status s = FN_OK;
    if (w != src->w && h != src->h) {
        size_t n;
        if (!fn_mul_size((size_t)w * 3, (size_t)src->h, &n)) { s = fn_fail(FN_ERR_LIMIT, "resize: too large"); goto done; }
        if (!(tmp = fn_malloc(n))) { s = FN_ERR_NOMEM; goto done; }
    }
    if (w != src->w) {
        if ((s = coeffs_build(src->w, w, &ch)) != FN_OK) goto done;
        resample_horizontal(src->rgb, src->w, src->h, h != src->h ? tmp : out->rgb, w, &ch);
    }
    if (h != src->h) {
        if ((s = coeffs_build(src->h, h, &cv)) != FN_OK) goto done;
        if (!(acc = malloc(sizeof(int32_t) * (size_t)w * 3))) { s = fn_fail(FN_ERR_NOMEM, "resize: out of memory"); goto done; }
        resample_vertical(w != src->w ? tmp : src->rgb, w, out->rgb, h, &cv, acc);
    }
done:
    coeffs_free(&ch); coeffs_free(&cv);
    fn_free(tmp);
    free(acc);
    if (s != FN_OK) fn_image_free(out);
    return s;
}
