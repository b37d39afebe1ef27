/* chip.c — 5-point face chips framed like dlib's get_face_chip_details.
 *
 * The template: dlib's mean face shape (points 17..67 of the 68-point markup, in a unit
 * square; dlib/image_transforms/interpolation.h) reduced to MTCNN's five points: eye centres
 * = mean of each eye's six points (36..41, 42..47), nose tip = 30, mouth corners = 48, 54.
 * dlib pads the unit square: p = (padding + m) / (1 + 2·padding) · size.
 * The chip→image map is the least-squares similarity (rotation, uniform scale, translation;
 * no shear or reflection) from the template to the landmarks, sampled bilinearly with pixel
 * centres at integer coordinates (dlib's convention). When the face is much larger than the
 * chip, the region is first halved (2×2 box filter) until at most 2 image pixels fall on one
 * chip pixel, as dlib's extract_image_chips does with its pyramid, so bilinear sampling
 * does not alias. Chip pixels that fall outside the image are black (dlib zero-fills). */
#include "core.h"

/* dlib mean_face_shape_{x,y}, indexed by 68-point id - 17, only the ids we use. */
static const double eye_l_x[6] = { 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743 };
static const double eye_l_y[6] = { 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077 };
static const double eye_r_x[6] = { 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335 };
static const double eye_r_y[6] = { 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099 };
static const double nose_tip[2] = { 0.490127, 0.515625 };     /* point 30 */
static const double mouth_l[2] = { 0.254149, 0.780233 };      /* point 48 */
static const double mouth_r[2] = { 0.726104, 0.780233 };      /* point 54 */

/* The five template points in a unit square (before padding). */
static void unit_template(double t[5][2]) {
    t[0][0] = t[0][1] = t[1][0] = t[1][1] = 0;
    for (int i = 0; i < 6; i++) {
        t[0][0] += eye_l_x[i] / 6; t[0][1] += eye_l_y[i] / 6;
        t[1][0] += eye_r_x[i] / 6; t[1][1] += eye_r_y[i] / 6;
    }
    t[2][0] = nose_tip[0]; t[2][1] = nose_tip[1];
    t[3][0] = mouth_l[0];  t[3][1] = mouth_l[1];
    t[4][0] = mouth_r[0];  t[4][1] = mouth_r[1];
}

/* Least-squares similarity dst ≈ [a -b; b a]·src + (tx, ty) (Umeyama in 2-D). */
static int fit_similarity(const double src[5][2], const double dst[5][2], double *a, double *b,
                          double *tx, double *ty) {
    double sx = 0, sy = 0, dx = 0, dy = 0;
    for (int i = 0; i < 5; i++) { sx += src[i][0]; sy += src[i][1]; dx += dst[i][0]; dy += dst[i][1]; }
    sx /= 5; sy /= 5; dx /= 5; dy /= 5;
    double num_a = 0, num_b = 0, den = 0;
    for (int i = 0; i < 5; i++) {
        double px = src[i][0] - sx, py = src[i][1] - sy, qx = dst[i][0] - dx, qy = dst[i][1] - dy;
        num_a += px * qx + py * qy;
        num_b += px * qy - py * qx;
        den += px * px + py * py;
    }
    if (!(den > 0)) return 0;
    *a = num_a / den; *b = num_b / den;
    if (!(hypot(*a, *b) > 1e-9)) return 0; /* all landmarks on one point */
    *tx = dx - (*a * sx - *b * sy);
    *ty = dy - (*b * sx + *a * sy);
    return 1;
}

/* A float RGB image: one pyramid level of the region around the face. */
typedef struct { int w, h; float *p; } level_img;

/* src (uint8 image or float level) halved with a 2x2 box filter over [x0, x0+w) × [y0, y0+h). */
static fn_status halve_u8(const fn_image *img, int x0, int y0, int w, int h, level_img *out) {
    out->w = w / 2; out->h = h / 2;
    out->p = fn_malloc((size_t)(out->w ? out->w : 1) * (out->h ? out->h : 1) * 3 * sizeof(float));
    if (!out->p) return FN_ERR_NOMEM;
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < 3; c++) {
                const uint8_t *r0 = img->rgb + ((size_t)(y0 + 2 * y) * img->w + x0 + 2 * x) * 3 + c;
                const uint8_t *r1 = r0 + (size_t)img->w * 3;
                out->p[((size_t)y * out->w + x) * 3 + c] = 0.25f * (r0[0] + r0[3] + r1[0] + r1[3]);
            }
    return FN_OK;
}

static fn_status halve_f(const level_img *in, level_img *out) {
    out->w = in->w / 2; out->h = in->h / 2;
    out->p = fn_malloc((size_t)(out->w ? out->w : 1) * (out->h ? out->h : 1) * 3 * sizeof(float));
    if (!out->p) return FN_ERR_NOMEM;
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < 3; c++) {
                const float *r0 = in->p + ((size_t)(2 * y) * in->w + 2 * x) * 3 + c;
                const float *r1 = r0 + (size_t)in->w * 3;
                out->p[((size_t)y * out->w + x) * 3 + c] = 0.25f * (r0[0] + r0[3] + r1[0] + r1[3]);
            }
    return FN_OK;
}

static inline uint8_t to_u8(float v) {
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    return (uint8_t)lrintf(v);
}

/* Bilinear sample at (u, v) of a w×h RGB image given as uint8 or float; 0 outside. */
static void sample(const uint8_t *u8, const float *f, int w, int h, double u, double v, uint8_t out[3]) {
    if (!(u >= -0.5 && v >= -0.5 && u <= w - 0.5 && v <= h - 0.5)) { out[0] = out[1] = out[2] = 0; return; }
    if (u < 0) u = 0;
    if (v < 0) v = 0;
    if (u > w - 1) u = w - 1;
    if (v > h - 1) v = h - 1;
    int x0 = (int)u, y0 = (int)v;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float fx = (float)(u - x0), fy = (float)(v - y0);
    size_t i00 = ((size_t)y0 * w + x0) * 3, i01 = ((size_t)y0 * w + x1) * 3;
    size_t i10 = ((size_t)y1 * w + x0) * 3, i11 = ((size_t)y1 * w + x1) * 3;
    for (int c = 0; c < 3; c++) {
        float p00 = u8 ? u8[i00 + c] : f[i00 + c], p01 = u8 ? u8[i01 + c] : f[i01 + c];
        float p10 = u8 ? u8[i10 + c] : f[i10 + c], p11 = u8 ? u8[i11 + c] : f[i11 + c];
        float top = p00 + fx * (p01 - p00), bot = p10 + fx * (p11 - p10);
        out[c] = to_u8(top + fy * (bot - top));
    }
}

fn_status fn_align_chip(const fn_image *img, const float landmarks[5][2], int size, float padding,
                        fn_image *out) {
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0 || !landmarks || !out)
        return fn_fail(FN_ERR_ARG, "align_chip: empty image or NULL argument");
    if (size <= 0 || size > 4096)
        return fn_fail(FN_ERR_ARG, "align_chip: chip size %d out of range (1..4096)", size);
    if (!(padding >= 0 && padding <= 10))
        return fn_fail(FN_ERR_ARG, "align_chip: padding %g out of range (0..10)", (double)padding);
    double tmpl[5][2], pts[5][2];
    unit_template(tmpl);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 2; k++) {
            tmpl[i][k] = (padding + tmpl[i][k]) / (1 + 2.0 * padding) * size;
            pts[i][k] = landmarks[i][k];
            if (!isfinite(pts[i][k]) || fabs(pts[i][k]) > 1e7)
                return fn_fail(FN_ERR_ARG, "align_chip: landmark %d is not a finite coordinate", i);
        }
    double a, b, tx, ty;
    if (!fit_similarity(tmpl, pts, &a, &b, &tx, &ty))
        return fn_fail(FN_ERR_ARG, "align_chip: degenerate landmarks (all at one point)");
    FN_TRY(fn_image_alloc(size, size, out));

    /* how many halvings: until one chip pixel covers at most 2 image pixels */
    double scale = hypot(a, b);
    int levels = 0;
    while (scale > 2.0 && levels < 24) { scale /= 2; levels++; }

    const uint8_t *u8 = img->rgb;
    level_img cur = { img->w, img->h, NULL };
    double ox = 0, oy = 0; /* image coordinate of the level's pixel (0,0) at level 0 */
    if (levels > 0) {
        /* the chip's footprint in the image, grown for the filter taps, clipped */
        double cx[4] = { -0.5, size - 0.5, -0.5, size - 0.5 }, cy[4] = { -0.5, -0.5, size - 0.5, size - 0.5 };
        double xmin = 1e30, xmax = -1e30, ymin = 1e30, ymax = -1e30;
        for (int i = 0; i < 4; i++) {
            double X = a * cx[i] - b * cy[i] + tx, Y = b * cx[i] + a * cy[i] + ty;
            xmin = fmin(xmin, X); xmax = fmax(xmax, X); ymin = fmin(ymin, Y); ymax = fmax(ymax, Y);
        }
        double grow = 2.0 * (1 << levels);
        int x0 = (int)fmax(0, floor(xmin - grow)), y0 = (int)fmax(0, floor(ymin - grow));
        int x1 = (int)fmin(img->w, ceil(xmax + grow)), y1 = (int)fmin(img->h, ceil(ymax + grow));
        if (x1 - x0 < (2 << levels) || y1 - y0 < (2 << levels)) {
            /* the chip is (almost) entirely outside the image */
            memset(out->rgb, 0, (size_t)size * size * 3);
            return FN_OK;
        }
        fn_status s = halve_u8(img, x0, y0, x1 - x0, y1 - y0, &cur);
        if (s) { fn_image_free(out); return s; }
        for (int l = 1; l < levels && s == FN_OK; l++) {
            level_img next;
            s = halve_f(&cur, &next);
            fn_free(cur.p);
            cur = next;
        }
        if (s) { fn_image_free(out); return s; }
        u8 = NULL;
        ox = x0; oy = y0;
    }
    /* level-L pixel i covers level-0 pixels [2^L·i, 2^L·(i+1)), centred at 2^L·i + (2^L-1)/2 */
    const double step = (double)(1 << levels), off = (step - 1) / 2;
    #pragma omp parallel for schedule(static) if (size >= 256)
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double X = a * x - b * y + tx, Y = b * x + a * y + ty;
            double u = (X - ox - off) / step, v = (Y - oy - off) / step;
            sample(u8, cur.p, cur.w, cur.h, u, v, out->rgb + ((size_t)y * size + x) * 3);
        }
    fn_free(cur.p);
    return FN_OK;
}
