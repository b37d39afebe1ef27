/* tracker.c — faces followed through frames: MTCNN on every Nth frame, each detection
 * joined to a live track by box overlap (against the track's box moved at its last
 * velocity) and embedding distance, boxes carried between detections, lost tracks resumed
 * when the same face (by embedding) comes back, and names voted over each track's best
 * frames. fn_tracker_finish joins what the live pass could not (same name or same face,
 * never overlapping in time) and numbers the tracks by first appearance. Needs no FFmpeg:
 * anything that has frames can feed it. */
#include "core.h"

#define MAX_BEST 32
/* Joining pieces with no position to go by (a face that comes back, a cut back to it) asks
 * more of the embeddings than continuing a track does: blurred and turned faces of
 * different people drift towards each other. */
#define JOIN_FACTOR 0.75f
/* Faces smaller than this (box side, pixels) are too blurred to join pieces by. */
#define JOIN_MIN_SIDE 40


typedef struct { int64_t frame; double time; float box[4]; float score; } observation;

typedef struct {
    int64_t frame;
    double time;
    float box[4], score, quality;
    float *emb;                          /* dim floats, or NULL (too small to name) */
    int named;                           /* the lookup below was done */
    char name[FN_TRACK_NAME_MAX + 1];    /* "" unknown */
    float similarity, distance;
} best_frame;

typedef struct {
    int id, alive, merged;               /* merged: joined into another track */
    observation *obs;
    int n_obs, cap_obs;
    float *emb_sum;                      /* sum of this track's unit embeddings */
    int n_emb;
    float *last_emb;                     /* the most recent one (NULL before any) */
    float vel[4];                        /* box change per frame */
    best_frame best[MAX_BEST];
    int n_best;
    fn_image crop;                       /* best_frame[0]'s face with margin */
    int n_segments;
    fn_track result;                     /* name / vote, refreshed by vote() */
} track;

struct fn_tracker {
    fn_detector *det;
    fn_model *model;
    fn_tracker_options opt;
    int dim;
    float match;                         /* same-person distance */
    fn_similarity_calib calib;           /* the model's distance -> similarity */
    const fn_classifier *cls;
    float unknown_threshold;
    fn_gallery *gallery;
    float min_similarity;
    track *tracks;
    int n_tracks, cap_tracks;
    int next_id;
    int64_t n_fed, last_index, last_detect_index;
    double last_time;
    int finished;
    int *final;                          /* after finish: track indices in id order */
    int n_final;
};

void fn_tracker_options_default(fn_tracker_options *o) {
    memset(o, 0, sizeof *o);
    o->every = 1;
    fn_detect_params_default(&o->detect);
    o->min_iou = 0.2f;
    o->match_distance = 0;
    o->max_gap = 1.0;
    o->best_frames = 7;
    o->min_name_size = 0;
}

/* Same-person distance between unit embeddings: the model's calibrated threshold
 * (similarity 0.5, chosen on LFW training pairs), what the gallery names people at. */
static float default_match_distance(const fn_model *m) {
    fn_similarity_calib c;
    fn_model_similarity_calib(m, &c);
    return c.threshold;
}

fn_status fn_tracker_open(fn_detector *det, fn_model *model, const fn_tracker_options *opt,
                          fn_tracker **out) {
    *out = NULL;
    if (!det || !model) return fn_fail(FN_ERR_ARG, "the tracker needs a detector and a model");
    fn_tracker_options o;
    if (opt) o = *opt; else fn_tracker_options_default(&o);
    if (o.every < 1) return fn_fail(FN_ERR_ARG, "detect every %d frames: must be >= 1", o.every);
    if (o.best_frames < 1 || o.best_frames > MAX_BEST)
        return fn_fail(FN_ERR_ARG, "best_frames %d: must be in 1..%d", o.best_frames, MAX_BEST);
    if (!(o.max_gap >= 0) || !(o.min_iou >= 0 && o.min_iou <= 1) || !(o.match_distance >= 0))
        return fn_fail(FN_ERR_ARG, "tracker options out of range");
    fn_tracker *t = calloc(1, sizeof *t);
    if (!t) return fn_fail(FN_ERR_NOMEM, "out of memory");
    t->det = det; t->model = model; t->opt = o;
    t->dim = fn_model_dim(model);
    t->match = o.match_distance > 0 ? o.match_distance : default_match_distance(model);
    fn_model_similarity_calib(model, &t->calib);
    t->next_id = 1;
    t->last_index = -1;
    t->last_detect_index = -1;
    *out = t;
    return FN_OK;
}

static void track_free(track *k) {
    free(k->obs); free(k->emb_sum); free(k->last_emb);
    for (int b = 0; b < k->n_best; b++) free(k->best[b].emb);
    fn_image_free(&k->crop);
}

void fn_tracker_close(fn_tracker *t) {
    if (!t) return;
    for (int i = 0; i < t->n_tracks; i++) track_free(&t->tracks[i]);
    free(t->tracks); free(t->final);
    free(t);
}

static void forget_names(fn_tracker *t) {
    for (int i = 0; i < t->n_tracks; i++)
        for (int b = 0; b < t->tracks[i].n_best; b++) t->tracks[i].best[b].named = 0;
}

fn_status fn_tracker_set_classifier(fn_tracker *t, const fn_classifier *c, float unknown_threshold) {
    if (c) FN_TRY(fn_classifier_check_model(c, t->model));
    t->cls = c;
    t->unknown_threshold = unknown_threshold < 0 ? default_match_distance(t->model) : unknown_threshold;
    if (c) t->gallery = NULL;
    forget_names(t);
    return FN_OK;
}

fn_status fn_tracker_set_gallery(fn_tracker *t, fn_gallery *g, float min_similarity) {
    t->gallery = g;
    t->min_similarity = min_similarity > 0 ? min_similarity : 0.5f;
    if (g) t->cls = NULL;
    forget_names(t);
    return FN_OK;
}

/* ------------------------------------------------------------------ geometry */

static float iou(const float a[4], const float b[4]) {
    float x1 = fmaxf(a[0], b[0]), y1 = fmaxf(a[1], b[1]), x2 = fminf(a[2], b[2]), y2 = fminf(a[3], b[3]);
    float inter = fmaxf(0, x2 - x1) * fmaxf(0, y2 - y1);
    float ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return ua > 0 ? inter / ua : 0;
}

static float box_side(const float b[4]) { return fminf(b[2] - b[0], b[3] - b[1]); }

/* How good a frame is for naming: confident, large, frontal (the nose between the eyes). */
static float face_quality(const fn_face *f) {
    float side = box_side(f->box);
    float eye_dist = fabsf(f->landmarks[1][0] - f->landmarks[0][0]) + 1e-3f;
    float off = fabsf(f->landmarks[2][0] - 0.5f * (f->landmarks[0][0] + f->landmarks[1][0])) / eye_dist;
    float frontal = fmaxf(0.05f, 1 - off);
    return f->score * fminf(1, side / 112) * frontal;
}

/* The track's box on frame index, moved at its last velocity from its last detection. */
static void predict_box(const track *k, int64_t index, float out[4]) {
    const observation *o = &k->obs[k->n_obs - 1];
    float dt = (float)(index - o->frame);
    for (int c = 0; c < 4; c++) out[c] = o->box[c] + k->vel[c] * dt;
}

/* ------------------------------------------------------------------ naming */

static fn_status name_frame(fn_tracker *t, best_frame *b) {
    b->named = 1;
    b->name[0] = 0;
    b->similarity = 0;
    b->distance = NAN;
    if (!b->emb) return FN_OK;
    if (t->cls) {
        fn_prediction p;
        FN_TRY(fn_classifier_predict(t->cls, b->emb, 1, t->unknown_threshold, &p, NULL));
        b->distance = p.nearest;
        b->similarity = fn_similarity(&t->calib, p.nearest); /* as the gallery reports it */
        if (p.label >= 0) snprintf(b->name, sizeof b->name, "%s", fn_classifier_class_name(t->cls, p.label));
    } else if (t->gallery) {
        fn_gallery_match m;
        int found = 0;
        FN_TRY(fn_gallery_search_subjects(t->gallery, b->emb, 1, 1, &m, &found));
        if (found) {
            b->distance = m.distance;
            b->similarity = m.similarity;
            if (m.similarity >= t->min_similarity) snprintf(b->name, sizeof b->name, "%s", m.subject);
        }
    }
    return FN_OK;
}

/* The track's name: the name with the most quality-weighted votes among its best frames
 * ("" for unknown competes like any name). */
static fn_status vote(fn_tracker *t, track *k) {
    fn_track *r = &k->result;
    r->name[0] = 0; r->similarity = 0; r->distance = NAN; r->votes = r->voters = 0;
    if (!t->cls && !t->gallery) return FN_OK;
    float best_w = -1;
    int winner = -1;
    for (int i = 0; i < k->n_best; i++) {
        best_frame *b = &k->best[i];
        if (!b->emb) continue;
        if (!b->named) FN_TRY(name_frame(t, b));
        r->voters++;
        float w = 0;
        for (int j = 0; j < k->n_best; j++)
            if (k->best[j].emb && !strcmp(k->best[j].name, b->name)) w += k->best[j].quality;
        if (w > best_w) { best_w = w; winner = i; }
    }
    if (winner < 0) return FN_OK;
    snprintf(r->name, sizeof r->name, "%s", k->best[winner].name);
    double s = 0, d = 0;
    for (int j = 0; j < k->n_best; j++)
        if (k->best[j].emb && !strcmp(k->best[j].name, r->name)) { r->votes++; s += k->best[j].similarity; d += k->best[j].distance; }
    r->similarity = (float)(s / r->votes);
    r->distance = (float)(d / r->votes);
    if (2 * r->votes <= r->voters) r->name[0] = 0; /* a name needs most of the frames behind it */
    return FN_OK;
}

/* ------------------------------------------------------------------ tracks */

static fn_status push_obs(track *k, const observation *o) {
    if (k->n_obs == k->cap_obs) {
        int nc = k->cap_obs ? k->cap_obs * 2 : 16;
        observation *a = realloc(k->obs, sizeof *a * (size_t)nc);
        if (!a) return fn_fail(FN_ERR_NOMEM, "out of memory");
        k->obs = a; k->cap_obs = nc;
    }
    k->obs[k->n_obs++] = *o;
    return FN_OK;
}

static fn_status save_crop(track *k, const fn_image *img, const float box[4]) {
    float w = box[2] - box[0], h = box[3] - box[1];
    fn_image c;
    FN_TRY(fn_image_crop(img, (int)floorf(box[0] - w / 2), (int)floorf(box[1] - h / 2),
                         (int)ceilf(2 * w), (int)ceilf(2 * h), &c));
    fn_image_free(&k->crop);
    k->crop = c;
    return FN_OK;
}

/* Offer a detection as one of the track's best frames (kept sorted, best first). */
static fn_status offer_best(fn_tracker *t, track *k, const fn_image *img, const fn_face *f,
                            const float *emb, int64_t index, double time) {
    const int cap = t->opt.best_frames;
    float q = face_quality(f);
    if (!emb) q *= 0.01f; /* a face too small to name only counts when nothing better exists */
    int pos = k->n_best;
    while (pos > 0 && k->best[pos - 1].quality < q) pos--;
    if (pos >= cap) return FN_OK;
    float *copy = NULL;
    if (emb) {
        copy = malloc(sizeof(float) * t->dim);
        if (!copy) return fn_fail(FN_ERR_NOMEM, "out of memory");
        memcpy(copy, emb, sizeof(float) * t->dim);
    }
    if (pos == 0 && img) {
        fn_status s = save_crop(k, img, f->box);
        if (s != FN_OK) { free(copy); return s; }
    }
    if (k->n_best == cap) free(k->best[--k->n_best].emb);
    memmove(&k->best[pos + 1], &k->best[pos], sizeof(best_frame) * (size_t)(k->n_best - pos));
    best_frame *b = &k->best[pos];
    memset(b, 0, sizeof *b);
    b->frame = index; b->time = time; b->score = f->score; b->quality = q; b->emb = copy;
    memcpy(b->box, f->box, sizeof b->box);
    k->n_best++;
    return FN_OK;
}

static fn_status add_detection(fn_tracker *t, track *k, const fn_image *img, const fn_face *f,
                               const float *emb, int64_t index, double time) {
    if (k->n_obs > 0) {
        const observation *p = &k->obs[k->n_obs - 1];
        float df = (float)(index - p->frame);
        /* smoothed velocity; a jump after a long gap says nothing about motion */
        if (df > 0 && time - p->time <= t->opt.max_gap)
            for (int c = 0; c < 4; c++) k->vel[c] = 0.5f * k->vel[c] + 0.5f * (f->box[c] - p->box[c]) / df;
        else
            memset(k->vel, 0, sizeof k->vel);
    }
    observation o = { index, time, { f->box[0], f->box[1], f->box[2], f->box[3] }, f->score };
    FN_TRY(push_obs(k, &o));
    if (emb && box_side(f->box) >= JOIN_MIN_SIDE) {
        if (!k->emb_sum) {
            k->emb_sum = calloc((size_t)t->dim, sizeof(float));
            if (!k->emb_sum) return fn_fail(FN_ERR_NOMEM, "out of memory");
        }
        for (int c = 0; c < t->dim; c++) k->emb_sum[c] += emb[c];
        k->n_emb++;
    }
    if (emb) {
        if (!k->last_emb && !(k->last_emb = malloc(sizeof(float) * t->dim))) return fn_fail(FN_ERR_NOMEM, "out of memory");
        memcpy(k->last_emb, emb, sizeof(float) * t->dim);
    }
    FN_TRY(offer_best(t, k, img, f, emb, index, time));
    return vote(t, k);
}

static track *new_track(fn_tracker *t) {
    if (t->n_tracks == t->cap_tracks) {
        int nc = t->cap_tracks ? t->cap_tracks * 2 : 16;
        track *a = realloc(t->tracks, sizeof *a * (size_t)nc);
        if (!a) { fn_fail(FN_ERR_NOMEM, "out of memory"); return NULL; }
        t->tracks = a; t->cap_tracks = nc;
    }
    track *k = &t->tracks[t->n_tracks++];
    memset(k, 0, sizeof *k);
    k->id = t->next_id++;
    k->alive = 1;
    k->n_segments = 1;
    return k;
}

/* Distance between an embedding and a track's mean face. */
static float mean_distance(const fn_tracker *t, const track *k, const float *emb) {
    double norm = 0;
    for (int c = 0; c < t->dim; c++) norm += (double)k->emb_sum[c] * k->emb_sum[c];
    if (norm <= 0) return INFINITY;
    float inv = (float)(1 / sqrt(norm)), d = 0;
    for (int c = 0; c < t->dim; c++) { float x = k->emb_sum[c] * inv - emb[c]; d += x * x; }
    return sqrtf(d);
}

static fn_status detect_round(fn_tracker *t, const fn_image *img, int64_t index, double time) {
    fn_face *faces = NULL;
    int n = 0;
    FN_TRY(fn_detect(t->det, img, &t->opt.detect, &faces, &n));
    fn_status s = FN_OK;
    const int dim = t->dim;
    float *emb = NULL;
    fn_image *crops = NULL;
    int *crop_of = NULL, *taken = NULL, n_crops = 0;
    if (n > 0) {
        emb = malloc(sizeof(float) * (size_t)n * dim);
        crops = calloc((size_t)n, sizeof *crops);
        crop_of = malloc(sizeof(int) * (size_t)n);
        taken = calloc((size_t)n, sizeof(int));
        if (!emb || !crops || !crop_of || !taken) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
    }
    /* embed the faces large enough to be recognised, all in one batch */
    for (int i = 0; i < n && s == FN_OK; i++) {
        crop_of[i] = -1;
        if (box_side(faces[i].box) < t->opt.min_name_size) continue;
        s = fn_model_crop(t->model, img, &faces[i], &crops[n_crops]);
        if (s == FN_OK) crop_of[i] = n_crops++;
    }
    if (s == FN_OK && n_crops > 0) s = fn_model_embed(t->model, crops, n_crops, emb);
    if (s != FN_OK) goto done;

    /* live tracks against detections, the most alike pair first */
    for (;;) {
        float best = 0;
        int bi = -1, bk = -1;
        for (int k = 0; k < t->n_tracks; k++) {
            track *tr = &t->tracks[k];
            if (!tr->alive || tr->obs[tr->n_obs - 1].frame == index) continue;
            float pred[4];
            predict_box(tr, index, pred);
            for (int i = 0; i < n; i++) {
                if (taken[i]) continue;
                const float *e = crop_of[i] >= 0 ? emb + (size_t)crop_of[i] * dim : NULL;
                float ov = iou(pred, faces[i].box);
                float d = e && tr->last_emb ? sqrtf(fn_distance_sq(e, tr->last_emb, dim)) : NAN;
                /* a track continues where it was going; a face that jumps elsewhere (or a
                 * look-alike after a cut) starts a piece that resuming or finish may join */
                if (ov < t->opt.min_iou) continue;
                if (d > t->match) continue; /* another face in the same place: a cut */
                float aff = ov + (isnan(d) ? 0 : 1 - d / t->match);
                if (aff > best) { best = aff; bi = i; bk = k; }
            }
        }
        if (bi < 0) break;
        taken[bi] = 1;
        const float *e = crop_of[bi] >= 0 ? emb + (size_t)crop_of[bi] * dim : NULL;
        if ((s = add_detection(t, &t->tracks[bk], img, &faces[bi], e, index, time)) != FN_OK) goto done;
    }
    /* the rest: a face that was here before (a lost track resumes), else a new track */
    for (int i = 0; i < n; i++) {
        if (taken[i]) continue;
        const float *e = crop_of[i] >= 0 ? emb + (size_t)crop_of[i] * dim : NULL;
        track *tr = NULL;
        if (e) {
            float bd = JOIN_FACTOR * t->match;
            for (int k = 0; k < t->n_tracks; k++) {
                track *c = &t->tracks[k];
                if (c->alive || c->merged || !c->emb_sum) continue;
                float d = mean_distance(t, c, e);
                if (d < bd) { bd = d; tr = c; }
            }
            if (tr) { tr->alive = 1; tr->n_segments++; memset(tr->vel, 0, sizeof tr->vel); }
        }
        if (!tr && !(tr = new_track(t))) { s = FN_ERR_NOMEM; goto done; }
        if ((s = add_detection(t, tr, img, &faces[i], e, index, time)) != FN_OK) goto done;
    }
    /* tracks unseen for longer than max_gap end (they may still resume) */
    for (int k = 0; k < t->n_tracks; k++) {
        track *tr = &t->tracks[k];
        if (tr->alive && time - tr->obs[tr->n_obs - 1].time > t->opt.max_gap) tr->alive = 0;
    }
done:
    if (crops) for (int i = 0; i < n_crops; i++) fn_image_free(&crops[i]);
    free(crops); free(crop_of); free(taken); free(emb); free(faces);
    return s;
}

static void fill_box(fn_track_box *b, const track *k, const float box[4], int detected) {
    memset(b, 0, sizeof *b);
    b->track = k->id;
    memcpy(b->box, box, sizeof b->box);
    b->detected = detected;
    snprintf(b->name, sizeof b->name, "%s", k->result.name);
    b->similarity = k->result.similarity;
}

fn_status fn_tracker_feed(fn_tracker *t, const fn_image *frame, int64_t index, double time,
                          fn_track_box **boxes, int *n) {
    if (boxes) *boxes = NULL;
    if (n) *n = 0;
    if (t->finished) return fn_fail(FN_ERR_ARG, "the tracker has finished: open a new one");
    if (!frame || !frame->rgb) return fn_fail(FN_ERR_ARG, "no frame");
    if (index <= t->last_index) return fn_fail(FN_ERR_ARG, "frame %lld fed after frame %lld: frames go in order",
                                                (long long)index, (long long)t->last_index);
    const int detect = t->n_fed % t->opt.every == 0;
    t->n_fed++;
    t->last_index = index;
    t->last_time = time;
    if (detect) {
        FN_TRY(detect_round(t, frame, index, time));
        t->last_detect_index = index;
    }
    if (!boxes || !n) return FN_OK;
    /* what is on this frame: tracks seen in the latest detection round */
    int m = 0;
    for (int k = 0; k < t->n_tracks; k++)
        if (t->tracks[k].alive && t->tracks[k].obs[t->tracks[k].n_obs - 1].frame == t->last_detect_index) m++;
    if (m == 0) return FN_OK;
    fn_track_box *out = malloc(sizeof *out * (size_t)m);
    if (!out) return fn_fail(FN_ERR_NOMEM, "out of memory");
    m = 0;
    for (int k = 0; k < t->n_tracks; k++) {
        const track *tr = &t->tracks[k];
        if (!tr->alive || tr->obs[tr->n_obs - 1].frame != t->last_detect_index) continue;
        float box[4];
        predict_box(tr, index, box);
        fill_box(&out[m++], tr, box, detect);
    }
    *boxes = out;
    *n = m;
    return FN_OK;
}

/* ------------------------------------------------------------------ finish: join, number */

static int by_frame(const void *a, const void *b) {
    const observation *x = a, *y = b;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

static int overlap(const track *a, const track *b) {
    return !(a->obs[a->n_obs - 1].frame < b->obs[0].frame || b->obs[b->n_obs - 1].frame < a->obs[0].frame);
}

/* b's detections, faces and best frames become a's. */
static fn_status join(fn_tracker *t, track *a, track *b) {
    for (int i = 0; i < b->n_obs; i++) FN_TRY(push_obs(a, &b->obs[i]));
    qsort(a->obs, (size_t)a->n_obs, sizeof *a->obs, by_frame);
    if (b->emb_sum) {
        if (!a->emb_sum) { a->emb_sum = b->emb_sum; b->emb_sum = NULL; }
        else for (int c = 0; c < t->dim; c++) a->emb_sum[c] += b->emb_sum[c];
        a->n_emb += b->n_emb;
    }
    /* merge the two sorted best lists, keeping best_frames */
    best_frame merged[2 * MAX_BEST];
    int na = 0, nb = 0, nm = 0;
    while (na < a->n_best || nb < b->n_best) {
        if (nb >= b->n_best || (na < a->n_best && a->best[na].quality >= b->best[nb].quality)) merged[nm++] = a->best[na++];
        else merged[nm++] = b->best[nb++];
    }
    const int keep = nm < t->opt.best_frames ? nm : t->opt.best_frames;
    for (int i = keep; i < nm; i++) free(merged[i].emb);
    if (b->n_best > 0 && (a->n_best == 0 || b->best[0].quality > a->best[0].quality)) {
        fn_image_free(&a->crop);
        a->crop = b->crop;
        b->crop = (fn_image){ 0, 0, NULL };
    }
    memcpy(a->best, merged, sizeof(best_frame) * (size_t)keep);
    a->n_best = keep;
    b->n_best = 0;
    a->n_segments += b->n_segments;
    b->merged = 1;
    b->alive = 0;
    return vote(t, a);
}

/* Each track's mean face (unit length; zeros without embeddings) into means (n × dim). */
static void mean_faces(const fn_tracker *t, float *means) {
    for (int k = 0; k < t->n_tracks; k++) {
        const track *tr = &t->tracks[k];
        float *m = means + (size_t)k * t->dim;
        double norm = 0;
        for (int c = 0; c < t->dim; c++) norm += tr->emb_sum ? (double)tr->emb_sum[c] * tr->emb_sum[c] : 0;
        for (int c = 0; c < t->dim; c++) m[c] = norm > 0 ? (float)(tr->emb_sum[c] / sqrt(norm)) : 0;
    }
}

fn_status fn_tracker_finish(fn_tracker *t) {
    if (t->finished) return FN_OK;
    for (int k = 0; k < t->n_tracks; k++) t->tracks[k].alive = 0;
    float *means = malloc(sizeof(float) * (size_t)(t->n_tracks > 0 ? t->n_tracks : 1) * t->dim);
    if (!means) return fn_fail(FN_ERR_NOMEM, "out of memory");
    /* join the closest pair that never share a frame and are one person (one name, or one
     * face by embedding), until none is left */
    for (;;) {
        mean_faces(t, means);
        float best = INFINITY;
        int ba = -1, bb = -1;
        for (int i = 0; i < t->n_tracks; i++) {
            track *a = &t->tracks[i];
            if (a->merged) continue;
            for (int j = i + 1; j < t->n_tracks; j++) {
                track *b = &t->tracks[j];
                if (b->merged || overlap(a, b)) continue;
                float d = a->emb_sum && b->emb_sum
                    ? sqrtf(fn_distance_sq(means + (size_t)i * t->dim, means + (size_t)j * t->dim, t->dim)) : INFINITY;
                int same_name = a->result.name[0] && !strcmp(a->result.name, b->result.name);
                /* one name lets the faces be less alike, not unalike */
                if (!(d < (same_name ? t->match : JOIN_FACTOR * t->match))) continue;
                if (d < best || ba < 0) { best = d; ba = i; bb = j; }
            }
        }
        if (ba < 0) break;
        fn_status s = join(t, &t->tracks[ba], &t->tracks[bb]);
        if (s != FN_OK) { free(means); return s; }
    }
    free(means);
    /* number by first appearance */
    t->final = malloc(sizeof(int) * (size_t)(t->n_tracks > 0 ? t->n_tracks : 1));
    if (!t->final) return fn_fail(FN_ERR_NOMEM, "out of memory");
    t->n_final = 0;
    for (int k = 0; k < t->n_tracks; k++) if (!t->tracks[k].merged) t->final[t->n_final++] = k;
    for (int i = 1; i < t->n_final; i++) { /* insertion sort: by first frame, then left edge */
        int v = t->final[i], j = i - 1;
        const observation *ov = &t->tracks[v].obs[0];
        while (j >= 0) {
            const observation *oj = &t->tracks[t->final[j]].obs[0];
            if (oj->frame < ov->frame || (oj->frame == ov->frame && oj->box[0] <= ov->box[0])) break;
            t->final[j + 1] = t->final[j];
            j--;
        }
        t->final[j + 1] = v;
    }
    for (int i = 0; i < t->n_final; i++) {
        track *k = &t->tracks[t->final[i]];
        k->id = i + 1;
        fn_track *r = &k->result;
        r->id = k->id;
        r->first_frame = k->obs[0].frame; r->first_time = k->obs[0].time;
        r->last_frame = k->obs[k->n_obs - 1].frame; r->last_time = k->obs[k->n_obs - 1].time;
        r->n_detections = k->n_obs;
        r->n_segments = k->n_segments;
        r->best_frame = k->best[0].frame; r->best_time = k->best[0].time;
        memcpy(r->best_box, k->best[0].box, sizeof r->best_box);
        r->best_score = k->best[0].score;
    }
    t->finished = 1;
    return FN_OK;
}

int fn_tracker_n_tracks(const fn_tracker *t) { return t->finished ? t->n_final : 0; }

static fn_status final_track(const fn_tracker *t, int i, const track **k) {
    if (!t->finished) return fn_fail(FN_ERR_ARG, "call fn_tracker_finish first");
    if (i < 0 || i >= t->n_final) return fn_fail(FN_ERR_ARG, "no track %d (there are %d)", i, t->n_final);
    *k = &t->tracks[t->final[i]];
    return FN_OK;
}

fn_status fn_tracker_get_track(const fn_tracker *t, int i, fn_track *out) {
    const track *k = NULL;
    FN_TRY(final_track(t, i, &k));
    *out = k->result;
    return FN_OK;
}

fn_status fn_tracker_track_detections(const fn_tracker *t, int i, int64_t **frames, float **boxes, int *n) {
    *frames = NULL; *boxes = NULL; *n = 0;
    const track *k = NULL;
    FN_TRY(final_track(t, i, &k));
    int64_t *f = malloc(sizeof *f * (size_t)k->n_obs);
    float *b = malloc(sizeof *b * 4 * (size_t)k->n_obs);
    if (!f || !b) { free(f); free(b); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    for (int j = 0; j < k->n_obs; j++) { f[j] = k->obs[j].frame; memcpy(b + 4 * j, k->obs[j].box, sizeof(float) * 4); }
    *frames = f; *boxes = b; *n = k->n_obs;
    return FN_OK;
}

fn_status fn_tracker_boxes_at(const fn_tracker *t, int64_t index, fn_track_box **boxes, int *n) {
    *boxes = NULL; *n = 0;
    if (!t->finished) return fn_fail(FN_ERR_ARG, "call fn_tracker_finish first");
    fn_track_box *out = NULL;
    int m = 0;
    for (int i = 0; i < t->n_final; i++) {
        const track *k = &t->tracks[t->final[i]];
        if (index < k->obs[0].frame || index > k->obs[k->n_obs - 1].frame) continue;
        int lo = 0, hi = k->n_obs - 1; /* last detection at or before index */
        while (lo < hi) { int mid = (lo + hi + 1) / 2; if (k->obs[mid].frame <= index) lo = mid; else hi = mid - 1; }
        const observation *a = &k->obs[lo];
        float box[4];
        int detected = a->frame == index;
        if (detected) memcpy(box, a->box, sizeof box);
        else {
            const observation *b = &k->obs[lo + 1];
            if (b->time - a->time > t->opt.max_gap) continue; /* off screen between two pieces */
            float w = (float)(index - a->frame) / (float)(b->frame - a->frame);
            for (int c = 0; c < 4; c++) box[c] = a->box[c] + w * (b->box[c] - a->box[c]);
        }
        fn_track_box *g = realloc(out, sizeof *out * (size_t)(m + 1));
        if (!g) { free(out); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
        out = g;
        fill_box(&out[m++], k, box, detected);
    }
    *boxes = out; *n = m;
    return FN_OK;
}

fn_status fn_tracker_best_crop(const fn_tracker *t, int i, fn_image *out) {
    *out = (fn_image){ 0, 0, NULL };
    const track *k = NULL;
    FN_TRY(final_track(t, i, &k));
    if (!k->crop.rgb) return fn_fail(FN_ERR_MISSING, "track %d has no face crop", k->id);
    FN_TRY(fn_image_alloc(k->crop.w, k->crop.h, out));
    memcpy(out->rgb, k->crop.rgb, (size_t)k->crop.w * k->crop.h * 3);
    return FN_OK;
}
