/* landmark68.c — face-api's 68-point landmark net (FaceLandmark68Net of @vladmandic/face-api,
 * model/face_landmark_68_model): the iBUG 300-W points dlib's shape_predictor_68 gives.
 *
 *   input   the face box, clipped and floored to whole pixels, zero-padded to a centred
 *           square, resized to 112×112 (TF's legacy bilinear), (x - mean RGB) / 255
 *   dense0  conv 3×3/2 SAME 3→32 + bias, ReLU, then 3 separable convs      112 → 56
 *   dense1..3  separable 3×3/2 (C → 2C), ReLU, then 3 separable convs      56 → 7
 *   head    average pool 7×7, fully connected 256 → 136 (x, y interleaved, in [0, 1] of
 *           the padded square), mapped back to the box (face-api's postProcess)
 *
 * Each dense block (face-api's denseBlock4): a = relu(conv0(x)); b = sep1(a);
 * c = sep2(relu(a + b)); d = sep3(relu(a + b + c)); out = relu(a + b + c + d), where a
 * separable conv is depthwise 3×3 → pointwise 1×1 + bias (no activation of its own). */
#include "core.h"
#include "weights.h"
#include "ops/ops.h"

#define LM_INPUT 112
#define LM_POINTS 68

static const float mean_rgb[3] = { 122.782f, 117.001f, 104.298f };

typedef struct {
    float *dw;      /* depthwise (3, 3, cin); NULL for dense0's plain conv */
    float *pw, *b;  /* pointwise (cin, cout) or dense0's conv (3, 3, 3, 32); bias (cout) */
    int cin, cout, stride;
} sep_conv;

struct fn_landmarker {
    sep_conv conv[4][4]; /* dense block, conv */
    float *fc_w, *fc_b;  /* (256, 136), (136) */
};

static fn_status copy_f32(const fn_tensor_set *ts, const char *name, int ndim, const int64_t *shape, float **out) {
    const float *src;
    FN_TRY(fn_tensor_set_get_f32(ts, name, ndim, shape, &src));
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (!(*out = fn_malloc(n * sizeof(float)))) return fn_fail(FN_ERR_NOMEM, "out of memory");
    memcpy(*out, src, n * sizeof(float));
    return FN_OK;
}

static fn_status load_conv(const fn_tensor_set *ts, int block, int k, int cin, int cout, sep_conv *c) {
    char name[64];
    int64_t dshape[4] = { 3, 3, cin, 1 }, pshape[4] = { 1, 1, cin, cout }, cshape[4] = { 3, 3, cin, cout },
            bshape[1] = { cout };
    c->cin = cin; c->cout = cout; c->stride = k == 0 ? 2 : 1;
    if (block == 0 && k == 0) {
        snprintf(name, sizeof name, "dense0/conv0/filters");
        FN_TRY(copy_f32(ts, name, 4, cshape, &c->pw));
    } else {
        snprintf(name, sizeof name, "dense%d/conv%d/depthwise_filter", block, k);
        FN_TRY(copy_f32(ts, name, 4, dshape, &c->dw));
        snprintf(name, sizeof name, "dense%d/conv%d/pointwise_filter", block, k);
        FN_TRY(copy_f32(ts, name, 4, pshape, &c->pw));
    }
    snprintf(name, sizeof name, "dense%d/conv%d/bias", block, k);
    return copy_f32(ts, name, 1, bshape, &c->b);
}

void fn_landmarker_close(fn_landmarker *l) {
    if (!l) return;
    for (int b = 0; b < 4; b++)
        for (int k = 0; k < 4; k++) { fn_free(l->conv[b][k].dw); fn_free(l->conv[b][k].pw); fn_free(l->conv[b][k].b); }
    fn_free(l->fc_w);
    fn_free(l->fc_b);
    free(l);
}

fn_status fn_landmarker_open(const char *path, fn_landmarker **out) {
    *out = NULL;
    if (!path) return fn_fail(FN_ERR_ARG, "fn_landmarker_open: no path");
    fn_tensor_set ts;
    FN_TRY(fn_weights_load(path, &ts, "landmark68"));
    fn_landmarker *l = calloc(1, sizeof *l);
    fn_status s = l ? FN_OK : fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int b = 0; b < 4 && s == FN_OK; b++) {
        const int cout = 32 << b, cin = b == 0 ? 3 : cout / 2;
        for (int k = 0; k < 4 && s == FN_OK; k++) s = load_conv(&ts, b, k, k == 0 ? cin : cout, cout, &l->conv[b][k]);
    }
    int64_t wshape[2] = { 256, LM_POINTS * 2 }, bshape[1] = { LM_POINTS * 2 };
    if (s == FN_OK) s = copy_f32(&ts, "fc/weights", 2, wshape, &l->fc_w);
    if (s == FN_OK) s = copy_f32(&ts, "fc/bias", 1, bshape, &l->fc_b);
    fn_tensor_set_free(&ts);
    if (s) {
        fn_landmarker_close(l);
        return fn_fail(s, "%s: not face-api's 68-point landmark net: %s", path, fn_last_error());
    }
    *out = l;
    return FN_OK;
}

/* out (OH, OW, cout) = conv(in (H, W, cin)); tmp holds the depthwise result. */
static void sep_forward(const sep_conv *c, const float *in, int H, int W, float *out, float *tmp, float *ws,
                        int *OH, int *OW) {
    fn_conv_shape s;
    if (!c->dw) {
        fn_conv_shape_init(&s, 1, H, W, c->cin, c->cout, 3, 3, c->stride, c->stride, FN_PAD_SAME);
        fn_conv2d_forward(out, c->cout, in, c->cin, c->pw, c->b, &s, FN_ACT_NONE, ws);
    } else {
        fn_conv_shape_init(&s, 1, H, W, c->cin, c->cin, 3, 3, c->stride, c->stride, FN_PAD_SAME);
        fn_depthwise_conv2d_forward(tmp, in, c->dw, NULL, &s);
        fn_conv_shape p;
        fn_conv_shape_init(&p, 1, s.OH, s.OW, c->cin, c->cout, 1, 1, 1, 1, FN_PAD_VALID);
        fn_conv2d_forward(out, c->cout, tmp, c->cin, c->pw, c->b, &p, FN_ACT_NONE, NULL);
    }
    *OH = s.OH; *OW = s.OW;
}

static void add_relu(float *dst, const float *a, const float *b, const float *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = a[i] + b[i] + (c ? c[i] : 0.0f);
        dst[i] = v > 0 ? v : 0;
    }
}

/* Floats of each activation buffer: the largest map, dense0's 56×56×32. */
#define LM_BUF ((size_t)56 * 56 * 32)

/* The network on one normalised 112×112×3 input x: 136 outputs. buf: 6 buffers of LM_BUF
 * floats; a block reads its input only in its first conv, so every block writes its output
 * into the same buffer (io) that the next one reads. */
static void forward(const fn_landmarker *l, const float *x, float *buf[6], float *ws, float *out136) {
    float *a = buf[0], *b = buf[1], *c = buf[2], *d = buf[3], *tmp = buf[4], *io = buf[5];
    const float *in = x;
    int H = LM_INPUT, W = LM_INPUT, OH = 0, OW = 0, h, w;
    for (int k = 0; k < 4; k++) {
        const sep_conv *cv = l->conv[k];
        const int C = cv[0].cout;
        sep_forward(&cv[0], in, H, W, a, tmp, ws, &OH, &OW);
        const size_t n = (size_t)OH * OW * C;
        fn_relu_forward(a, (long)OH * OW, C, C);
        sep_forward(&cv[1], a, OH, OW, b, tmp, ws, &h, &w);
        add_relu(io, a, b, NULL, n);
        sep_forward(&cv[2], io, OH, OW, c, tmp, ws, &h, &w);
        add_relu(io, a, b, c, n);
        sep_forward(&cv[3], io, OH, OW, d, tmp, ws, &h, &w);
        for (size_t i = 0; i < n; i++) {
            const float v = a[i] + (b[i] + (c[i] + d[i])); /* face-api's add order */
            io[i] = v > 0 ? v : 0;
        }
        in = io;
        H = OH; W = OW;
    }
    /* 7×7 average pool (stride 2, VALID) of the 7×7×256 map = its mean */
    float pooled[256];
    fn_global_avgpool_forward(pooled, in, 1, H * W, 256);
    fn_dense_forward(out136, pooled, l->fc_w, l->fc_b, 1, 256, LM_POINTS * 2);
}

/* face-api's input for one box: the region (clipped, floored: Box.clipAtImageBorders),
 * zero-padded to a centred square (padToSquare: round(diff / 2) after, the rest before),
 * resized to 112 with TF's legacy bilinear (align_corners = half_pixel_centers = false),
 * then (x - mean) / 255. *rx, *ry, *rw, *rh: the region. */
static fn_status prepare(const fn_image *img, const float box[4], float *x, int *rx, int *ry, int *rw, int *rh) {
    if (!(isfinite(box[0]) && isfinite(box[1]) && isfinite(box[2]) && isfinite(box[3])))
        return fn_fail(FN_ERR_ARG, "landmarks: the box is not finite");
    const double x0 = box[0] > 0 ? box[0] : 0, y0 = box[1] > 0 ? box[1] : 0;
    double w = box[2] - x0, h = box[3] - y0;
    if (w > img->w - x0) w = img->w - x0;
    if (h > img->h - y0) h = img->h - y0;
    const int X = (int)floor(x0), Y = (int)floor(y0), Wd = (int)floor(w), Hd = (int)floor(h);
    if (Wd < 1 || Hd < 1 || X >= img->w || Y >= img->h)
        return fn_fail(FN_ERR_ARG, "landmarks: box [%.1f, %.1f, %.1f, %.1f] holds no pixel of the %dx%d image",
                       (double)box[0], (double)box[1], (double)box[2], (double)box[3], img->w, img->h);
    const int S = Wd > Hd ? Wd : Hd, diff = S - (Wd < Hd ? Wd : Hd);
    const int after = (int)floor(diff * 0.5 + 0.5), before = diff - after; /* JS Math.round */
    const int px = Wd < Hd ? before : 0, py = Hd < Wd ? before : 0;
    const float ratio = (float)S / LM_INPUT;
    for (int oy = 0; oy < LM_INPUT; oy++) {
        const float sy = oy * ratio;
        const int y0i = (int)sy, y1i = y0i + 1 < S ? y0i + 1 : S - 1;
        const float fy = sy - y0i;
        for (int ox = 0; ox < LM_INPUT; ox++) {
            const float sx = ox * ratio;
            const int x0i = (int)sx, x1i = x0i + 1 < S ? x0i + 1 : S - 1;
            const float fx = sx - x0i;
            float v[2][2][3];
            const int ys[2] = { y0i, y1i }, xs[2] = { x0i, x1i };
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    const int iy = ys[i] - py, ix = xs[j] - px; /* in the region; outside = padding */
                    const int in = iy >= 0 && iy < Hd && ix >= 0 && ix < Wd;
                    const uint8_t *p = in ? img->rgb + (((size_t)(Y + iy)) * img->w + (X + ix)) * 3 : NULL;
                    for (int ch = 0; ch < 3; ch++) v[i][j][ch] = p ? p[ch] : 0.0f;
                }
            float *o = x + ((size_t)oy * LM_INPUT + ox) * 3;
            for (int ch = 0; ch < 3; ch++) {
                const float top = v[0][0][ch] + (v[0][1][ch] - v[0][0][ch]) * fx;
                const float bottom = v[1][0][ch] + (v[1][1][ch] - v[1][0][ch]) * fx;
                o[ch] = (top + (bottom - top) * fy - mean_rgb[ch]) / 255.0f;
            }
        }
    }
    *rx = X; *ry = Y; *rw = Wd; *rh = Hd;
    return FN_OK;
}

fn_status fn_landmarks68(fn_landmarker *l, const fn_image *img, const float (*boxes)[4], int n,
                         float (*out)[68][2]) {
    if (!l || !img || !img->rgb || img->w < 1 || img->h < 1 || n < 0 || (n > 0 && (!boxes || !out)))
        return fn_fail(FN_ERR_ARG, "fn_landmarks68: bad arguments");
    if (n == 0) return FN_OK;
    fn_conv_shape s0;
    fn_conv_shape_init(&s0, 1, LM_INPUT, LM_INPUT, 3, 32, 3, 3, 2, 2, FN_PAD_SAME);
    const size_t wsz = fn_conv2d_workspace(&s0);
    float *mem = fn_malloc(sizeof(float) * (6 * LM_BUF + (size_t)LM_INPUT * LM_INPUT * 3 + wsz + 1));
    if (!mem) return fn_fail(FN_ERR_NOMEM, "out of memory");
    float *buf[6];
    for (int i = 0; i < 6; i++) buf[i] = mem + i * LM_BUF;
    float *x = mem + 6 * LM_BUF, *ws = x + (size_t)LM_INPUT * LM_INPUT * 3;
    fn_status s = FN_OK;
    for (int f = 0; f < n && s == FN_OK; f++) {
        int rx = 0, ry = 0, rw = 1, rh = 1;
        if ((s = prepare(img, boxes[f], x, &rx, &ry, &rw, &rh))) break;
        float o[LM_POINTS * 2];
        forward(l, x, buf, ws, o);
        /* face-api's postProcess: undo the padding in the 112 frame, scale to the region */
        const float scale = (float)LM_INPUT / (rw > rh ? rw : rh), sw = rw * scale, sh = rh * scale;
        const float padx = sw < sh ? fabsf(sw - sh) / 2 : 0, pady = sh < sw ? fabsf(sw - sh) / 2 : 0;
        for (int p = 0; p < LM_POINTS; p++) {
            out[f][p][0] = (o[2 * p] * LM_INPUT - padx) / sw * rw + rx;
            out[f][p][1] = (o[2 * p + 1] * LM_INPUT - pady) / sh * rh + ry;
        }
    }
    fn_free(mem);
    return s;
}
