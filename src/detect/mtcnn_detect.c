/* mtcnn_detect.c — the MTCNN cascade as facenet-pytorch runs it (models/utils/
 * detect_face.py): image pyramid -> P-Net per scale (NMS 0.5) -> NMS 0.7 across scales ->
 * box regression, squaring -> R-Net on 24x24 crops (NMS 0.7, regression, squaring) ->
 * O-Net on 48x48 crops (landmarks, regression, NMS 0.7 'Min').
 *
 * Memory stays bounded on large photos: each pyramid level is resampled, run through P-Net
 * (in row strips, see nets/mtcnn.c) and reduced to its candidate boxes before the next.
 * R-Net and O-Net run every crop of the image as one batch through the GEMM ops. */
#include "detect.h"
#include "weights.h"

#define MAX_SCALES 64
/* Boxes are cast to int for cropping: keep them in a range where that is defined. */
#define COORD_LIMIT 1e8f

void fn_detect_params_default(fn_detect_params *p) {
    p->min_size = 20.0f;
    p->thresholds[0] = 0.6f;
    p->thresholds[1] = 0.7f;
    p->thresholds[2] = 0.7f;
    p->factor = 0.709f;
}

fn_status fn_detector_open(const char *path, fn_detector **out) {
    *out = NULL;
    if (!path || !*path) return fn_fail(FN_ERR_ARG, "no MTCNN weights path given");
    fn_tensor_set ts;
    fn_tensor_set_init(&ts);
    FN_TRY(fn_mtcnn_weights_load(path, &ts));
    fn_detector *d = fn_calloc(1, sizeof *d);
    if (!d) { fn_tensor_set_free(&ts); return FN_ERR_NOMEM; }
    fn_status s = mtcnn_nets_init(&d->nets, &ts);
    fn_tensor_set_free(&ts);
    if (s != FN_OK) { fn_free(d); return s; }
    *out = d;
    return FN_OK;
}

void fn_detector_close(fn_detector *d) {
    if (!d) return;
    mtcnn_nets_free(&d->nets);
    fn_free(d);
}

/* ------------------------------------------------------------------ box arithmetic */

typedef struct { mtcnn_box *b; int n, cap; } box_list;

static fn_status box_list_reserve(box_list *l, int more) {
    if (l->n + more <= l->cap) return FN_OK;
    int cap = l->cap ? l->cap : 256;
    while (cap < l->n + more) {
        if (cap > (1 << 26)) return fn_fail(FN_ERR_LIMIT, "too many candidate boxes");
        cap *= 2;
    }
    mtcnn_box *nb = realloc(l->b, sizeof(mtcnn_box) * (size_t)cap);
    if (!nb) return fn_fail(FN_ERR_NOMEM, "out of memory (%d candidate boxes)", cap);
    l->b = nb;
    l->cap = cap;
    return FN_OK;
}

/* rerec: grow the shorter side about the centre to make the box square */
static void square_box(mtcnn_box *b) {
    float h = b->y2 - b->y1, w = b->x2 - b->x1, l = fmaxf(w, h);
    b->x1 = b->x1 + w * 0.5f - l * 0.5f;
    b->y1 = b->y1 + h * 0.5f - l * 0.5f;
    b->x2 = b->x1 + l;
    b->y2 = b->y1 + l;
}

/* bbreg: offsets scaled by the (+1) box size, as the R-Net/O-Net stages do */
static void regress_box(mtcnn_box *b) {
    float w = b->x2 - b->x1 + 1, h = b->y2 - b->y1 + 1;
    float x1 = b->x1 + b->reg[0] * w, y1 = b->y1 + b->reg[1] * h;
    float x2 = b->x2 + b->reg[2] * w, y2 = b->y2 + b->reg[3] * h;
    b->x1 = x1; b->y1 = y1; b->x2 = x2; b->y2 = y2;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* facenet-pytorch's pad(): the integer crop [x-1, ex) x [y-1, ey) of a box, clipped to the
 * image. Returns 0 when nothing of the box lies inside the image. */
static int crop_rect(const mtcnn_box *b, int w, int h, int *cx, int *cy, int *cw, int *ch) {
    int x = (int)clampf(b->x1, -COORD_LIMIT, COORD_LIMIT); /* trunc toward zero, like .int() */
    int y = (int)clampf(b->y1, -COORD_LIMIT, COORD_LIMIT);
    int ex = (int)clampf(b->x2, -COORD_LIMIT, COORD_LIMIT);
    int ey = (int)clampf(b->y2, -COORD_LIMIT, COORD_LIMIT);
    if (x < 1) x = 1;
    if (y < 1) y = 1;
    if (ex > w) ex = w;
    if (ey > h) ey = h;
    if (ey <= y - 1 || ex <= x - 1) return 0;
    *cx = x - 1; *cy = y - 1; *cw = ex - (x - 1); *ch = ey - (y - 1);
    return 1;
}

/* Drops boxes that have no pixels in the image (facenet-pytorch skips their crops) and
 * fills the (n, size, size, 3) batch with the area-resampled crops of the rest. */
static fn_status crop_batch(const fn_image *img, const uint32_t *sat, box_list *l, int size,
                            float **batch) {
    int kept = 0;
    int (*rect)[4] = malloc(sizeof(int[4]) * (size_t)(l->n ? l->n : 1));
    if (!rect) return fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < l->n; i++) {
        int r[4];
        if (!crop_rect(&l->b[i], img->w, img->h, &r[0], &r[1], &r[2], &r[3])) continue;
        l->b[kept] = l->b[i];
        memcpy(rect[kept++], r, sizeof r);
    }
    l->n = kept;
    size_t per = (size_t)size * size * 3;
    float *x = fn_malloc(sizeof(float) * per * (kept ? kept : 1));
    if (!x) { free(rect); return FN_ERR_NOMEM; }
    #pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < kept; i++)
        mtcnn_area_resample(img, sat, rect[i][0], rect[i][1], rect[i][2], rect[i][3], size, size,
                            x + per * i);
    free(rect);
    *batch = x;
    return FN_OK;
}

/* ------------------------------------------------------------------ stages */

/* P-Net over one pyramid level: candidates with probability >= thresh, NMS 0.5 among them,
 * appended to all. */
static fn_status pnet_stage(const fn_detector *d, const fn_image *img, const uint32_t *sat, double scale,
                            float thresh, box_list *all) {
    const int hs = (int)(img->h * scale + 1), ws = (int)(img->w * scale + 1);
    size_t px;
    if (!fn_mul_size((size_t)hs, (size_t)ws, &px) || px > FN_IMAGE_MAX_PIXELS)
        return fn_fail(FN_ERR_LIMIT, "pyramid level %dx%d too large (min_size too small?)", ws, hs);
    int OH, OW;
    mtcnn_pnet_out_size(hs, ws, &OH, &OW);
    if (OH <= 0 || OW <= 0) return FN_OK;
    float *x = fn_malloc(sizeof(float) * px * 3);
    float *map = fn_malloc(sizeof(float) * (size_t)OH * OW * 5);
    fn_status s = FN_OK;
    if (!x || !map) { s = FN_ERR_NOMEM; goto done; }
    mtcnn_area_resample(img, sat, 0, 0, img->w, img->h, ws, hs, x);
    s = mtcnn_pnet_forward(&d->nets, x, hs, ws, map);
    if (s != FN_OK) goto done;
    fn_free(x); x = NULL;

    int count = 0;
    for (size_t i = 0; i < (size_t)OH * OW; i++) count += map[i * 5] >= thresh;
    box_list l = { 0 };
    if ((s = box_list_reserve(&l, count)) != FN_OK) goto done;
    /* generateBoundingBox: cell (y, x) maps back to [2x+1, 2x+12] / scale, in float32 */
    const float sc = (float)scale;
    for (int y = 0; y < OH; y++)
        for (int xx = 0; xx < OW; xx++) {
            const float *m = map + ((size_t)y * OW + xx) * 5;
            if (!(m[0] >= thresh)) continue;
            mtcnn_box *b = &l.b[l.n++];
            memset(b, 0, sizeof *b);
            b->x1 = floorf((float)(2 * xx + 1) / sc);
            b->y1 = floorf((float)(2 * y + 1) / sc);
            b->x2 = floorf((float)(2 * xx + 12) / sc);
            b->y2 = floorf((float)(2 * y + 12) / sc);
            b->score = m[0];
            memcpy(b->reg, m + 1, sizeof b->reg);
        }
    int kept = mtcnn_nms(l.b, l.n, 0.5f, MTCNN_NMS_UNION);
    if (kept < 0) s = FN_ERR_NOMEM;
    else if ((s = box_list_reserve(all, kept)) == FN_OK) {
        memcpy(all->b + all->n, l.b, sizeof(mtcnn_box) * (size_t)kept);
        all->n += kept;
    }
    free(l.b);
done:
    fn_free(x);
    fn_free(map);
    return s;
}

static fn_status nms_list(box_list *l, float thresh, mtcnn_nms_mode mode) {
    int k = mtcnn_nms(l->b, l->n, thresh, mode);
    if (k < 0) return FN_ERR_NOMEM;
    l->n = k;
    return FN_OK;
}

static fn_status rnet_stage(const fn_detector *d, const fn_image *img, const uint32_t *sat,
                            float thresh, box_list *l) {
    float *batch = NULL;
    FN_TRY(crop_batch(img, sat, l, 24, &batch));
    float *out = fn_malloc(sizeof(float) * 5 * (size_t)(l->n ? l->n : 1));
    fn_status s = out ? mtcnn_rnet_forward(&d->nets, batch, l->n, out) : FN_ERR_NOMEM;
    fn_free(batch);
    if (s != FN_OK) { fn_free(out); return s; }
    int kept = 0;
    for (int i = 0; i < l->n; i++) {
        const float *o = out + (size_t)i * 5;
        if (!(o[0] > thresh)) continue;
        mtcnn_box b = l->b[i];
        b.score = o[0];
        memcpy(b.reg, o + 1, sizeof b.reg);
        l->b[kept++] = b;
    }
    l->n = kept;
    fn_free(out);
    FN_TRY(nms_list(l, 0.7f, MTCNN_NMS_UNION));
    for (int i = 0; i < l->n; i++) {
        regress_box(&l->b[i]);
        square_box(&l->b[i]);
    }
    return FN_OK;
}

static fn_status onet_stage(const fn_detector *d, const fn_image *img, const uint32_t *sat,
                            float thresh, box_list *l) {
    float *batch = NULL;
    FN_TRY(crop_batch(img, sat, l, 48, &batch));
    float *out = fn_malloc(sizeof(float) * 15 * (size_t)(l->n ? l->n : 1));
    fn_status s = out ? mtcnn_onet_forward(&d->nets, batch, l->n, out) : FN_ERR_NOMEM;
    fn_free(batch);
    if (s != FN_OK) { fn_free(out); return s; }
    int kept = 0;
    for (int i = 0; i < l->n; i++) {
        const float *o = out + (size_t)i * 15;
        if (!(o[0] > thresh)) continue;
        mtcnn_box b = l->b[i];
        b.score = o[0];
        memcpy(b.reg, o + 1, sizeof b.reg);
        /* landmarks are relative to the (+1) box before its final regression */
        const float w = b.x2 - b.x1 + 1, h = b.y2 - b.y1 + 1;
        for (int k = 0; k < 5; k++) {
            b.lm[k] = w * o[5 + k] + b.x1 - 1;
            b.lm[5 + k] = h * o[10 + k] + b.y1 - 1;
        }
        regress_box(&b);
        l->b[kept++] = b;
    }
    l->n = kept;
    fn_free(out);
    return nms_list(l, 0.7f, MTCNN_NMS_MIN_PLUS1);
}

/* ------------------------------------------------------------------ public */

/* The double a user meant by a float parameter (0.709f -> 0.709), so the pyramid scales
 * equal those facenet-pytorch computes from its Python floats. */
static double intended(float v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", v);
    return strtod(buf, NULL);
}

fn_status fn_detect(fn_detector *d, const fn_image *img, const fn_detect_params *params,
                    fn_face **faces, int *n_faces) {
    *faces = NULL;
    *n_faces = 0;
    if (!d) return fn_fail(FN_ERR_ARG, "fn_detect: no detector");
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0)
        return fn_fail(FN_ERR_ARG, "fn_detect: empty image");
    fn_detect_params p;
    if (params) p = *params;
    else fn_detect_params_default(&p);
    if (!(p.min_size >= 1.0f && p.min_size <= 1e6f))
        return fn_fail(FN_ERR_ARG, "min_size must be >= 1 (got %g)", p.min_size);
    if (!(p.factor > 0.0f && p.factor < 0.99f))
        return fn_fail(FN_ERR_ARG, "pyramid factor must be in (0, 0.99) (got %g)", p.factor);
    for (int i = 0; i < 3; i++)
        if (!(p.thresholds[i] >= 0.0f && p.thresholds[i] <= 1.0f))
            return fn_fail(FN_ERR_ARG, "threshold %d must be in [0, 1] (got %g)", i + 1, p.thresholds[i]);

    double scales[MAX_SCALES];
    int n_scales = mtcnn_pyramid_scales(img->w, img->h, intended(p.min_size), intended(p.factor),
                                        scales, MAX_SCALES);

    /* one summed-area table serves every pyramid level and crop (NULL: direct sums) */
    uint32_t *sat = mtcnn_integral(img);
    box_list l = { 0 };
    fn_status s = FN_OK;
    for (int i = 0; i < n_scales && s == FN_OK; i++)
        s = pnet_stage(d, img, sat, scales[i], p.thresholds[0], &l);
    if (s == FN_OK) s = nms_list(&l, 0.7f, MTCNN_NMS_UNION);
    if (s == FN_OK) {
        /* P-Net's offsets are scaled by the box size without the +1 */
        for (int i = 0; i < l.n; i++) {
            mtcnn_box *b = &l.b[i];
            float w = b->x2 - b->x1, h = b->y2 - b->y1;
            float x1 = b->x1 + b->reg[0] * w, y1 = b->y1 + b->reg[1] * h;
            float x2 = b->x2 + b->reg[2] * w, y2 = b->y2 + b->reg[3] * h;
            b->x1 = x1; b->y1 = y1; b->x2 = x2; b->y2 = y2;
            square_box(b);
        }
    }
    if (s == FN_OK && l.n > 0) s = rnet_stage(d, img, sat, p.thresholds[1], &l);
    if (s == FN_OK && l.n > 0) s = onet_stage(d, img, sat, p.thresholds[2], &l);
    free(sat);
    if (s != FN_OK) { free(l.b); return s; }

    fn_face *f = malloc(sizeof(fn_face) * (size_t)(l.n ? l.n : 1));
    if (!f) { free(l.b); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < l.n; i++) { /* NMS left them in descending score */
        const mtcnn_box *b = &l.b[i];
        f[i].box[0] = b->x1; f[i].box[1] = b->y1; f[i].box[2] = b->x2; f[i].box[3] = b->y2;
        f[i].score = b->score;
        for (int k = 0; k < 5; k++) { f[i].landmarks[k][0] = b->lm[k]; f[i].landmarks[k][1] = b->lm[5 + k]; }
    }
    *faces = f;
    *n_faces = l.n;
    free(l.b);
    return FN_OK;
}
