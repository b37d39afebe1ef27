/* dataset.c — the data side of facenet's training: sample_people, select_triplets, image
 * preparation (crop/flip/standardise) and the held-out verification accuracy reported
 * after each epoch. The class folders are read by fn_dataset_load (src/pipeline). */
#include "train.h"

static void shuffle_int(int *a, int n, fn_rng *rng) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(fn_rng_next(rng) % (uint64_t)(i + 1));
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

int fn_sample_people(const fn_dataset *ds, int people_per_batch, int images_per_person,
                     fn_rng *rng, fn_sample_ref *out, int *num_per_class, int *n_classes) {
    const int want = people_per_batch * images_per_person;
    int *order = malloc(sizeof(int) * (ds->n_classes ? ds->n_classes : 1));
    FN_ASSERT(order);
    for (int i = 0; i < ds->n_classes; i++) order[i] = i;
    shuffle_int(order, ds->n_classes, rng);
    int count = 0, k = 0;
    /* facenet loops until the batch is full; it would index past the classes when the
     * dataset is too small, here the sample just ends */
    for (int i = 0; count < want && i < ds->n_classes; i++) {
        const fn_dataset_class *c = &ds->classes[order[i]];
        if (c->n_paths == 0) continue;
        int *idx = malloc(sizeof(int) * c->n_paths);
        FN_ASSERT(idx);
        for (int j = 0; j < c->n_paths; j++) idx[j] = j;
        shuffle_int(idx, c->n_paths, rng);
        int take = c->n_paths < images_per_person ? c->n_paths : images_per_person;
        if (take > want - count) take = want - count;
        for (int j = 0; j < take; j++) out[count++] = (fn_sample_ref){order[i], idx[j]};
        num_per_class[k++] = take;
        free(idx);
    }
    free(order);
    *n_classes = k;
    return count;
}

int fn_select_triplets_capacity(const int *num_per_class, int n_classes) {
    int cap = 0;
    for (int i = 0; i < n_classes; i++) cap += num_per_class[i] * (num_per_class[i] - 1) / 2;
    return cap;
}

int fn_select_triplets(const float *emb, int dim, const int *num_per_class, int n_classes,
                       float alpha, fn_rng *rng, int *triplets, int *n_pairs) {
    int total = 0;
    for (int i = 0; i < n_classes; i++) total += num_per_class[i];
    float *neg = malloc(sizeof(float) * (total ? total : 1));
    int *cand = malloc(sizeof(int) * (total ? total : 1));
    FN_ASSERT(neg && cand);
    int start = 0, n = 0, pairs = 0;
    for (int i = 0; i < n_classes; i++) {
        int ni = num_per_class[i];
        for (int j = 1; j < ni; j++) {
            int a = start + j - 1;
            const float *ea = emb + (long)a * dim;
            for (int k = 0; k < total; k++) {
                const float *e = emb + (long)k * dim;
                double s = 0;
                for (int d = 0; d < dim; d++) { double t = ea[d] - e[d]; s += t * t; }
                neg[k] = (float)s;
            }
            for (int pair = j; pair < ni; pair++) {
                int p = start + pair;
                float pos = neg[p];
                /* VGG Face selection: any negative inside the margin (the anchor's own
                 * class is excluded, as facenet's NaN assignment does) */
                int nc = 0;
                for (int k = 0; k < total; k++) {
                    if (k >= start && k < start + ni) continue;
                    if (neg[k] - pos < alpha) cand[nc++] = k;
                }
                if (nc > 0) {
                    int pick = cand[fn_rng_next(rng) % (uint64_t)nc];
                    triplets[3 * n] = a; triplets[3 * n + 1] = p; triplets[3 * n + 2] = pick;
                    n++;
                }
                pairs++;
            }
        }
        start += ni;
    }
    /* np.random.shuffle(triplets) */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(fn_rng_next(rng) % (uint64_t)(i + 1));
        for (int k = 0; k < 3; k++) { int t = triplets[3 * i + k]; triplets[3 * i + k] = triplets[3 * j + k]; triplets[3 * j + k] = t; }
    }
    free(neg); free(cand);
    if (n_pairs) *n_pairs = pairs;
    return n;
}

float fn_train_pair_accuracy(const float *emb, int dim, const int *labels, int n, float *threshold) {
    if (threshold) *threshold = 0;
    int n_same = 0, n_diff = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) { if (labels[i] == labels[j]) n_same++; else n_diff++; }
    if (n_same == 0 || n_diff == 0) return -1;
    int step = n_diff / n_same > 1 ? n_diff / n_same : 1;
    int cap = n_same + n_diff / step + 2;
    double *dist = malloc(sizeof(double) * cap), *sd = malloc(sizeof(double) * n_same), *dd = malloc(sizeof(double) * (n_diff / step + 1));
    uint8_t *same = malloc(cap);
    FN_ASSERT(dist && same && sd && dd);
    int ks = 0, kd = 0, seen = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            float d = fn_distance_sq(emb + (long)i * dim, emb + (long)j * dim, dim);
            if (labels[i] == labels[j]) sd[ks++] = d;
            else if (seen++ % step == 0) dd[kd++] = d;
        }
    /* interleave so contiguous folds hold both kinds, like pairs.txt */
    int m = 0;
    for (int i = 0; i < ks || i < kd; i++) {
        if (i < ks) { dist[m] = sd[i]; same[m++] = 1; }
        if (i < kd) { dist[m] = dd[i]; same[m++] = 0; }
    }
    /* facenet's calculate_roc over these pairs: the library's LFW protocol */
    fn_eval_params params;
    fn_eval_params_default(&params);
    fn_eval_result r = {0};
    float acc = -1;
    if (m >= params.n_folds && fn_evaluate_distances(dist, m, same, &params, &r) == FN_OK) {
        acc = (float)r.accuracy;
        if (threshold) *threshold = (float)r.threshold;
    }
    fn_eval_result_free(&r);
    free(dist); free(same); free(sd); free(dd);
    return acc;
}

void fn_train_load_geometry(int w, int h, int size, fn_image_fit fit, const fn_augment *aug, int *lw, int *lh) {
    /* facenet trains on 182 px aligned faces cropped to 160 at random: the same ratio */
    int load = aug && aug->random_crop ? (int)(size * 182.0 / 160.0 + 0.5) : size;
    if (fit == FN_FIT_STRETCH || w <= 0 || h <= 0) { *lw = *lh = load; return; }
    int shorter = w < h ? w : h;
    *lw = (int)((long)w * load / shorter); *lh = (int)((long)h * load / shorter);
    if (*lw < load) *lw = load;
    if (*lh < load) *lh = load;
}

/* bilinear sample with the edge replicated (rotated / zoomed views reach past the border) */
static void sample_bilinear(const fn_image *im, float sx, float sy, float *o) {
    if (sx < 0) sx = 0;
    if (sy < 0) sy = 0;
    if (sx > im->w - 1) sx = (float)(im->w - 1);
    if (sy > im->h - 1) sy = (float)(im->h - 1);
    int x0 = (int)sx, y0 = (int)sy;
    int x1 = x0 + 1 < im->w ? x0 + 1 : x0, y1 = y0 + 1 < im->h ? y0 + 1 : y0;
    float fx = sx - x0, fy = sy - y0;
    const uint8_t *a = im->rgb + ((size_t)y0 * im->w + x0) * 3, *b = im->rgb + ((size_t)y0 * im->w + x1) * 3;
    const uint8_t *c = im->rgb + ((size_t)y1 * im->w + x0) * 3, *d = im->rgb + ((size_t)y1 * im->w + x1) * 3;
    for (int k = 0; k < 3; k++)
        o[k] = (a[k] * (1 - fx) + b[k] * fx) * (1 - fy) + (c[k] * (1 - fx) + d[k] * fx) * fy;
}

fn_status fn_train_prepare_image(const fn_image *img, int size, fn_image_fit fit, const fn_augment *aug,
                                 fn_standardize std, fn_rng *rng, float *out) {
    static const fn_augment none = {0};
    if (!aug || !rng) aug = &none;
    int lw, lh;
    fn_train_load_geometry(img->w, img->h, size, fit, aug, &lw, &lh);
    fn_image tmp = {0};
    const fn_image *src = img;
    if (img->w != lw || img->h != lh) {
        FN_TRY(fn_image_resize(img, lw, lh, &tmp));
        src = &tmp;
    }
    /* every augmented image takes the same seven draws whatever is enabled, so turning
     * one kind of augmentation on does not reshuffle the others */
    uint64_t rx = 0, ry = 0, rflip = 0;
    float u_rot = 0.5f, u_zoom = 0.5f, u_gain = 0.5f, u_shift = 0.5f; /* 0.5 = no change */
    if (aug != &none) {
        rx = fn_rng_next(rng); ry = fn_rng_next(rng); rflip = fn_rng_next(rng);
        u_rot = fn_rng_uniform(rng); u_zoom = fn_rng_uniform(rng);
        u_gain = fn_rng_uniform(rng); u_shift = fn_rng_uniform(rng);
    }
    int x0 = (src->w - size) / 2, y0 = (src->h - size) / 2;
    if (aug->random_crop) {
        x0 = (int)(rx % (uint64_t)(src->w - size + 1));
        y0 = (int)(ry % (uint64_t)(src->h - size + 1));
    }
    int flip = aug->random_flip && (rflip & 1);
    const size_t n = (size_t)size * size * 3;
    if (aug->rotate_deg > 0 || aug->scale > 0) {
        /* facenet's random_rotate (scipy imrotate, uniform +-deg) plus a zoom: one inverse
         * affine map from output pixels to the source, centred on the crop */
        float deg = aug->rotate_deg * (2 * u_rot - 1);
        float zoom = 1 + aug->scale * (2 * u_zoom - 1);
        float th = deg * 3.14159265f / 180, ca = cosf(th) / zoom, sa = sinf(th) / zoom;
        float c = 0.5f * (size - 1), scx = x0 + c, scy = y0 + c;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                float u = (flip ? size - 1 - x : x) - c, v = y - c;
                sample_bilinear(src, scx + ca * u - sa * v, scy + sa * u + ca * v, out + ((size_t)y * size + x) * 3);
            }
    } else {
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int sx = flip ? x0 + size - 1 - x : x0 + x;
                const uint8_t *p = src->rgb + ((size_t)(y0 + y) * src->w + sx) * 3;
                float *o = out + ((size_t)y * size + x) * 3;
                for (int c = 0; c < 3; c++) o[c] = p[c];
            }
    }
    fn_image_free(&tmp);
    if (aug->brightness > 0 || aug->contrast > 0) {
        /* contrast about the image mean, then a brightness shift, both uniform +- */
        float gain = 1 + aug->contrast * (2 * u_gain - 1);
        float shift = 255 * aug->brightness * (2 * u_shift - 1);
        double mean = 0;
        for (size_t i = 0; i < n; i++) mean += out[i];
        mean /= n;
        for (size_t i = 0; i < n; i++) {
            float v = (float)(mean + (out[i] - mean) * gain + shift);
            out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
    }
    if (std == FN_STD_PREWHITEN) {
        double mean = 0, sq = 0;
        for (size_t i = 0; i < n; i++) mean += out[i];
        mean /= n;
        for (size_t i = 0; i < n; i++) sq += (out[i] - mean) * (out[i] - mean);
        double sd = sqrt(sq / n), floor_sd = 1.0 / sqrt((double)n);
        if (sd < floor_sd) sd = floor_sd;
        for (size_t i = 0; i < n; i++) out[i] = (float)((out[i] - mean) / sd);
    } else {
        for (size_t i = 0; i < n; i++) out[i] = (out[i] - 127.5f) / 128.0f;
    }
    return FN_OK;
}
