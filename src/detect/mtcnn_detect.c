/* mtcnn_detect.c — the MTCNN cascade as facenet-pytorch runs it (models/utils/
 * detect_face.py): image pyramid -> P-Net per scale (NMS 0.5) -> NMS 0.7 across scales ->
 * box regression, squaring -> R-Net on 24x24 crops (NMS 0.7, regression, squaring) ->
 * O-Net on 48x48 crops (landmarks, regression, NMS 0.7 'Min').
 *
 * Threads (OpenMP) share the work in one parallel loop per stage: P-Net over (pyramid
 * level, strip of rows) items, R-Net and O-Net over chunks of crops. Memory stays bounded
 * on large photos: a P-Net item resamples only its own input rows and keeps only its
 * candidate boxes. Area resampling reads a summed-area table of the photo. */
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

/* Drops boxes that have no pixels in the image (facenet-pytorch skips their crops). */
static fn_status crop_rects(const fn_image *img, box_list *l, int (**rects)[4]) {
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
    *rects = rect;
    return FN_OK;
}

#define CROP_CHUNK 32

/* R-Net (size 24, 5 outputs) or O-Net (size 48, 15 outputs) over the area-resampled crops
 * of every box: chunks of CROP_CHUNK crops are shared out among the threads. */
static fn_status run_crops(const fn_detector *d, const fn_image *img, const uint32_t *sat,
                           box_list *l, int size, int n_out, float **out_p) {
    int (*rect)[4];
    FN_TRY(crop_rects(img, l, &rect));
    float *out = fn_malloc(sizeof(float) * n_out * (size_t)(l->n ? l->n : 1));
    if (!out) { free(rect); return FN_ERR_NOMEM; }
    const int n = l->n, chunks = (n + CROP_CHUNK - 1) / CROP_CHUNK;
    const size_t per = (size_t)size * size * 3;
    fn_status status = FN_OK;
    #pragma omp parallel if (chunks > 1)
    {
        float *x = fn_malloc(sizeof(float) * per * CROP_CHUNK);
        fn_status s = x ? FN_OK : FN_ERR_NOMEM;
        #pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < chunks; c++) {
            if (s != FN_OK) continue;
            const int i0 = c * CROP_CHUNK, nb = n - i0 < CROP_CHUNK ? n - i0 : CROP_CHUNK;
            for (int i = 0; i < nb && s == FN_OK; i++)
                s = mtcnn_area_resample(img, sat, rect[i0 + i][0], rect[i0 + i][1], rect[i0 + i][2],
                                        rect[i0 + i][3], size, size, x + per * i);
            if (s == FN_OK)
                s = size == 24 ? mtcnn_rnet_forward(&d->nets, x, nb, out + (size_t)i0 * n_out)
                               : mtcnn_onet_forward(&d->nets, x, nb, out + (size_t)i0 * n_out);
        }
        fn_free(x);
        if (s != FN_OK) {
            #pragma omp critical(mtcnn_status)
            status = s;
        }
    }
    free(rect);
    if (status != FN_OK) { fn_free(out); return status; }
    *out_p = out;
    return FN_OK;
}

/* ------------------------------------------------------------------ stages */

/* P-Net work is cut into (pyramid level, strip of output rows) items that the threads
 * share; each item resamples just its input rows, so memory stays bounded. */
typedef struct {
    int level, oy0, rows;
    long cost;
    box_list found;
    fn_status status;
} pnet_item;

static int by_cost_desc(const void *a, const void *b) {
    const pnet_item *x = a, *y = b;
    return x->cost < y->cost ? 1 : x->cost > y->cost ? -1 : 0;
}

static int by_position(const void *a, const void *b) {
    const pnet_item *x = a, *y = b;
    if (x->level != y->level) return x->level - y->level;
    return x->oy0 - y->oy0;
}

/* Output rows per item: at least 32 (the 10-row input halo stays cheap), about a quarter
 * of the level (work for several threads), and activations of a few MB at most. */
static int pnet_item_rows(int OH, int OW) {
    int r = (OH + 3) / 4;
    if (r < 32) r = 32;
    long cap = (4L << 20) / ((long)OW * 64);
    if (cap < 8) cap = 8;
    return r > cap ? (int)cap : r;
}

static void pnet_run_item(const fn_detector *d, const fn_image *img, const uint32_t *sat,
                          const double *scales, float thresh, pnet_item *it) {
    const double scale = scales[it->level];
    const int hs = (int)(img->h * scale + 1), ws = (int)(img->w * scale + 1);
    int OH, OW;
    mtcnn_pnet_out_size(hs, ws, &OH, &OW);
    /* input rows [2*oy0, 2*(oy0+rows)+10), or to the bottom for the last strip (the
     * ceil-mode pool then sees the same bottom edge as on the whole level) */
    const int iy0 = 2 * it->oy0;
    const int ih = it->oy0 + it->rows == OH ? hs - iy0 : 2 * it->rows + 10;
    float *x = fn_malloc(sizeof(float) * (size_t)ih * ws * 3);
    float *map = fn_malloc(sizeof(float) * (size_t)it->rows * OW * 5);
    fn_status s = x && map ? FN_OK : FN_ERR_NOMEM;
    if (s == FN_OK) s = mtcnn_area_resample_rows(img, sat, 0, 0, img->w, img->h, ws, hs, iy0, ih, x);
    if (s == FN_OK) s = mtcnn_pnet_forward(&d->nets, x, ih, ws, map);
    int count = 0;
    for (size_t i = 0; s == FN_OK && i < (size_t)it->rows * OW; i++) count += map[i * 5] >= thresh;
    if (s == FN_OK) s = box_list_reserve(&it->found, count);
    /* generateBoundingBox: cell (y, x) maps back to [2x+1, 2x+12] / scale, in float32 */
    const float sc = (float)scale;
    for (int r = 0; s == FN_OK && r < it->rows; r++)
        for (int xx = 0; xx < OW; xx++) {
            const float *m = map + ((size_t)r * OW + xx) * 5;
            if (!(m[0] >= thresh)) continue;
            const int y = it->oy0 + r;
            mtcnn_box *b = &it->found.b[it->found.n++];
            memset(b, 0, sizeof *b);
            b->x1 = floorf((float)(2 * xx + 1) / sc);
            b->y1 = floorf((float)(2 * y + 1) / sc);
            b->x2 = floorf((float)(2 * xx + 12) / sc);
            b->y2 = floorf((float)(2 * y + 12) / sc);
            b->score = m[0];
            memcpy(b->reg, m + 1, sizeof b->reg);
        }
    fn_free(x);
    fn_free(map);
    it->status = s;
}

/* Every pyramid level through P-Net: candidates with probability >= thresh, NMS 0.5 within
 * each level, all levels appended to out (in level order, so results do not depend on the
 * number of threads). */
static fn_status pnet_stage(const fn_detector *d, const fn_image *img, const uint32_t *sat,
                            const double *scales, int n_scales, float thresh, box_list *out) {
    int n_items = 0, cap = 0;
    pnet_item *items = NULL;
    fn_status s = FN_OK;
    for (int lv = 0; lv < n_scales && s == FN_OK; lv++) {
        const int hs = (int)(img->h * scales[lv] + 1), ws = (int)(img->w * scales[lv] + 1);
        size_t px;
        if (!fn_mul_size((size_t)hs, (size_t)ws, &px) || px > FN_IMAGE_MAX_PIXELS) {
            s = fn_fail(FN_ERR_LIMIT, "pyramid level %dx%d too large (min_size too small?)", ws, hs);
            break;
        }
        int OH, OW;
        mtcnn_pnet_out_size(hs, ws, &OH, &OW);
        if (OH <= 0 || OW <= 0) continue;
        const int step = pnet_item_rows(OH, OW);
        for (int oy0 = 0; oy0 < OH; oy0 += step) {
            if (n_items == cap) {
                cap = cap ? cap * 2 : 64;
                pnet_item *ni = realloc(items, sizeof *items * (size_t)cap);
                if (!ni) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); break; }
                items = ni;
            }
            pnet_item *it = &items[n_items++];
            memset(it, 0, sizeof *it);
            it->level = lv;
            it->oy0 = oy0;
            it->rows = OH - oy0 < step ? OH - oy0 : step;
            it->cost = (long)it->rows * OW;
        }
    }
    if (s == FN_OK && n_items > 0) {
        qsort(items, (size_t)n_items, sizeof *items, by_cost_desc); /* big ones first */
        #pragma omp parallel for schedule(dynamic, 1) if (n_items > 1)
        for (int i = 0; i < n_items; i++) pnet_run_item(d, img, sat, scales, thresh, &items[i]);
        qsort(items, (size_t)n_items, sizeof *items, by_position);
        for (int i = 0; i < n_items && s == FN_OK; i++) s = items[i].status;
    }
    /* per level: gather its strips, NMS 0.5, append */
    for (int i = 0; i < n_items && s == FN_OK;) {
        int j = i, total = 0;
        while (j < n_items && items[j].level == items[i].level) total += items[j++].found.n;
        box_list level = { 0 };
        s = box_list_reserve(&level, total);
        for (int k = i; k < j && s == FN_OK; k++) {
            if (items[k].found.n == 0) continue;
            memcpy(level.b + level.n, items[k].found.b, sizeof(mtcnn_box) * (size_t)items[k].found.n);
            level.n += items[k].found.n;
        }
        int kept = s == FN_OK ? mtcnn_nms(level.b, level.n, 0.5f, MTCNN_NMS_UNION) : 0;
        if (kept < 0) s = FN_ERR_NOMEM;
        if (s == FN_OK && kept > 0 && (s = box_list_reserve(out, kept)) == FN_OK) {
            memcpy(out->b + out->n, level.b, sizeof(mtcnn_box) * (size_t)kept);
            out->n += kept;
        }
        free(level.b);
        i = j;
    }
    for (int i = 0; i < n_items; i++) free(items[i].found.b);
    free(items);
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
    float *out;
    FN_TRY(run_crops(d, img, sat, l, 24, 5, &out));
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
    float *out;
    FN_TRY(run_crops(d, img, sat, l, 48, 15, &out));
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
    s = pnet_stage(d, img, sat, scales, n_scales, p.thresholds[0], &l);
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

fn_status fn_detect_batch(fn_detector *d, const fn_image *imgs, int n,
                          const fn_detect_params *params, fn_face **faces, int *n_faces,
                          fn_status *status) {
    if (n < 0 || (n > 0 && (!imgs || !faces || !n_faces)))
        return fn_fail(FN_ERR_ARG, "fn_detect_batch: bad arguments");
    fn_status first = FN_OK;
    int first_index = -1;
    char first_msg[512] = "";
    if (n == 1) { /* even `parallel if (0)` opens a region, and fn_detect's loops inside it run
                   * on one thread (no nested parallelism): half the speed on 2 cores */
        fn_status s = fn_detect(d, imgs, params, faces, n_faces);
        if (status) status[0] = s;
        return s == FN_OK ? FN_OK : fn_fail(s, "image 0: %s", fn_last_error());
    }
    /* one image per thread; fn_detect's own parallel loops then run on that thread */
    #pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        fn_status s = fn_detect(d, &imgs[i], params, &faces[i], &n_faces[i]);
        if (status) status[i] = s;
        if (s != FN_OK) {
            #pragma omp critical(mtcnn_batch_status)
            if (first_index < 0 || i < first_index) {
                first = s;
                first_index = i;
                snprintf(first_msg, sizeof first_msg, "%s", fn_last_error());
            }
        }
    }
    if (first != FN_OK) return fn_fail(first, "image %d: %s", first_index, first_msg);
    return FN_OK;
}
