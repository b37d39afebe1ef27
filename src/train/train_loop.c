/* train_loop.c — the epoch / step loop of train_tripletloss.py and train_softmax.py:
 * a loader thread prepares the next sample of images while the network trains on the
 * current one; checkpoints every epoch hold everything a resume needs (weights, moving
 * averages, optimizer slots, BN statistics, centres, counters). */
#include "train.h"
#include "eval/plot.h"
#include "nets/inception_resnet_v1.h"
#include "dist/dist.h"
#include <pthread.h>
#include <stdarg.h>
#include <errno.h>
#include <sys/stat.h>

void fn_train_options_default(fn_train_options *o, fn_train_mode mode) {
    memset(o, 0, sizeof *o);
    o->mode = mode;
    fn_trainnet_config_default(&o->net);
    o->net.dim = 128; /* --embedding_size of both scripts */
    o->people_per_batch = 45;
    o->images_per_person = 40;
    o->alpha = 0.2f;
    o->center_loss_factor = 0.0f;
    o->center_loss_alfa = 0.95f;
    o->batch_size = 90;
    o->epoch_size = 1000;
    o->max_epochs = mode == FN_TRAIN_TRIPLET ? 500 : 200;
    o->optimizer = FN_OPT_ADAGRAD;
    o->learning_rate = 0.1f;
    o->learning_rate_decay_epochs = 100;
    o->learning_rate_decay_factor = 1.0f;
    o->moving_average_decay = 0.9999f;
    o->standardize = FN_STD_FIXED;
    o->lfw_nrof_folds = 10;
    o->seed = 666;
}

/* ---------------------------------------------------------------- image loading */
typedef struct {
    const fn_dataset *ds;
    int *offset;          /* first global image index of each class */
    fn_image *cache;      /* decoded + resized images (loader thread only) */
    int size;
    fn_augment aug;       /* all zero for evaluation */
    fn_image_fit fit;
    fn_standardize std;
} image_source;

static fn_status load_image(image_source *src, int cls, int img, fn_rng *rng, float *out) {
    int g = src->offset[cls] + img;
    fn_image *im = &src->cache[g];
    if (!im->rgb) {
        fn_image raw;
        FN_TRY(fn_image_load(src->ds->classes[cls].paths[img], 1, &raw));
        /* cache at the load size so each use only crops, flips and standardises */
        int lw, lh;
        fn_train_load_geometry(raw.w, raw.h, src->size, src->fit, &src->aug, &lw, &lh);
        if (raw.w != lw || raw.h != lh) {
            fn_status s = fn_image_resize(&raw, lw, lh, im);
            fn_image_free(&raw);
            FN_TRY(s);
        } else *im = raw;
    }
    return fn_train_prepare_image(im, src->size, src->fit, &src->aug, src->std, rng, out);
}

/* One sample of images: triplet mode = sample_people; softmax mode = next batch. */
typedef struct {
    int64_t index;
    int n, n_classes;
    fn_sample_ref *refs;
    int *num_per_class, *labels;
    float *x;
    fn_status status;
    char error[256];
} sample_buf;

typedef struct {
    image_source *src;
    const fn_train_options *o;
    sample_buf *buf;
    int rank, ranks;      /* softmax: this rank loads its share of each batch only */
    /* softmax: the training images as (class, image) with labels */
    fn_sample_ref *train_refs; int n_train;
    pthread_t thread; int running;
} loader;

static uint64_t stream_seed(uint64_t seed, uint64_t stream, uint64_t index) {
    return fn_splitmix64(fn_splitmix64(seed ^ (stream * 0x9E3779B97F4A7C15ull)) + index);
}

static uint64_t gcd_u64(uint64_t x, uint64_t y) {
    while (y) { uint64_t r = x % y; x = y; y = r; }
    return x;
}

static void *loader_main(void *arg) {
    loader *L = arg;
    sample_buf *b = L->buf;
    const fn_train_options *o = L->o;
    fn_rng rng = {stream_seed(o->seed, 1, (uint64_t)b->index)};
    b->status = FN_OK;
    if (o->mode == FN_TRAIN_TRIPLET) {
        b->n = fn_sample_people(L->src->ds, o->people_per_batch, o->images_per_person, &rng, b->refs,
                                b->num_per_class, &b->n_classes);
    } else {
        /* epochs walk through reshuffled permutations of the training images */
        int64_t first = b->index * o->batch_size;
        b->n = o->batch_size;
        for (int i = 0; i < b->n; i++) {
            int64_t k = first + i, pass = k / L->n_train, pos = k % L->n_train;
            /* position pos of permutation `pass`: a keyed affine bijection, so any batch
             * of any epoch is computed from its index alone (what resume needs) */
            uint64_t key = stream_seed(o->seed, 2, (uint64_t)pass);
            uint64_t n = (uint64_t)L->n_train, a = n > 1 ? 1 + (key >> 1) % (n - 1) : 0;
            while (n > 1 && gcd_u64(a, n) != 1) a = a % (n - 1) + 1;
            uint64_t idx = (a * (uint64_t)pos + (key >> 32)) % n; /* pos -> a*pos + c is a bijection mod n */
            b->refs[i] = L->train_refs[idx];
        }
    }
    size_t per = (size_t)o->net.image_size * o->net.image_size * 3;
    long lo = 0, hi = b->n;
    if (o->mode == FN_TRAIN_SOFTMAX) fn_dist_share(b->n, L->rank, L->ranks, &lo, &hi);
    for (int i = 0; i < b->n; i++) b->labels[i] = b->refs[i].cls;
    for (long i = lo; i < hi && !b->status; i++) {
        /* each image's augmentation from its own stream: any rank can prepare any image */
        fn_rng ri = {stream_seed(o->seed, 8, (uint64_t)b->index * 0x100000001b3ull + (uint64_t)i)};
        b->status = load_image(L->src, b->refs[i].cls, b->refs[i].img, &ri, b->x + per * i);
        if (b->status) snprintf(b->error, sizeof b->error, "%s", fn_last_error());
    }
    return NULL;
}

static fn_status loader_start(loader *L, sample_buf *b, int64_t index) {
    L->buf = b;
    b->index = index;
    if (pthread_create(&L->thread, NULL, loader_main, L)) return fn_fail(FN_ERR_NOMEM, "cannot start the loader thread");
    L->running = 1;
    return FN_OK;
}

static fn_status loader_wait(loader *L) {
    if (!L->running) return FN_OK;
    pthread_join(L->thread, NULL);
    L->running = 0;
    if (L->buf->status) return fn_fail(L->buf->status, "%s", L->buf->error);
    return FN_OK;
}

static fn_status sample_alloc(sample_buf *b, int n, int n_classes, int size) {
    memset(b, 0, sizeof *b);
    b->refs = calloc(n, sizeof(fn_sample_ref));
    b->num_per_class = calloc(n_classes + 1, sizeof(int));
    b->labels = calloc(n, sizeof(int));
    b->x = fn_malloc(sizeof(float) * (size_t)n * size * size * 3);
    if (!b->refs || !b->num_per_class || !b->labels || !b->x) return fn_fail(FN_ERR_NOMEM, "out of memory for a sample of %d images", n);
    return FN_OK;
}

static void sample_free(sample_buf *b) {
    free(b->refs); free(b->num_per_class); free(b->labels); fn_free(b->x);
}

/* ---------------------------------------------------------------- state */
typedef struct {
    const fn_train_options *o;
    const fn_train_callbacks *cb;
    fn_trainnet *net;
    fn_optimizer opt, head_opt;
    float *ema;
    /* softmax head: logits weight (dim, K) then bias (K); centres (K, dim) */
    int K;
    float *head, *head_g, *centers;
    size_t n_head;
    int epoch;               /* next epoch to run (1-based like facenet's) */
    int64_t global_step, sample_index;
    double t0;
    FILE *log;
    /* MPI: this rank of `ranks`; the global batch's prelogits and their gradients (softmax:
     * every rank runs the logits layer and the losses on the whole batch); counts per rank */
    int rank, ranks;
    float *pre_all, *dpre_all;
    long *counts;
    int64_t steps_run;
} trainer;

static void message(trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void message(trainer *t, const char *fmt, ...) {
    if (!t->cb || !t->cb->on_message) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->cb->on_message(t->cb->ud, buf);
}

static void path_in(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

/* Under MPI: a failure on any rank fails every rank here (none is left waiting in a
 * collective); the failing rank keeps its own message. */
static fn_status agree(trainer *t, fn_status s) {
    if (t->ranks == 1) return s;
    int v = (int)s;
    fn_status e = fn_dist_max_int(&v);
    if (e) return s ? s : e;
    if (v && !s) return fn_fail((fn_status)v, "another rank failed (its message says why)");
    return s;
}

static fn_status add_copy(fn_tensor_set *ts, const char *name, fn_dtype dt, const void *data, int64_t n) {
    size_t bytes = (size_t)n * fn_dtype_size(dt);
    void *d = malloc(bytes ? bytes : 1);
    if (!d) return fn_fail(FN_ERR_NOMEM, "checkpoint: out of memory");
    memcpy(d, data, bytes);
    return fn_tensor_set_add(ts, name, dt, 1, &n, d, 1);
}

static fn_status save_checkpoint(trainer *t) {
    const fn_trainnet *net = t->net;
    fn_tensor_set ts;
    fn_tensor_set_init(&ts);
    int64_t state[6] = {t->epoch, t->global_step, t->sample_index, t->opt.t, t->head_opt.t, t->K};
    fn_status s = add_copy(&ts, "w", FN_F32, net->w, (int64_t)net->n_weights);
    if (!s) s = add_copy(&ts, "ema", FN_F32, t->ema, (int64_t)net->n_weights);
    if (!s) s = add_copy(&ts, "bn_stats", FN_F32, net->stat, (int64_t)net->n_stat_floats);
    if (!s) s = add_copy(&ts, "opt.s1", FN_F32, t->opt.s1, (int64_t)net->n_weights);
    if (!s) s = add_copy(&ts, "opt.s2", FN_F32, t->opt.s2, (int64_t)net->n_weights);
    if (!s) s = add_copy(&ts, "state", FN_I64, state, 6);
    if (!s && t->K) {
        s = add_copy(&ts, "head", FN_F32, t->head, (int64_t)t->n_head);
        if (!s) s = add_copy(&ts, "head_opt.s1", FN_F32, t->head_opt.s1, (int64_t)t->n_head);
        if (!s) s = add_copy(&ts, "head_opt.s2", FN_F32, t->head_opt.s2, (int64_t)t->n_head);
        if (!s) s = add_copy(&ts, "centers", FN_F32, t->centers, (int64_t)t->K * net->cfg.dim);
    }
    char meta[512], path[4096];
    snprintf(meta, sizeof meta, "{\"format\":\"facenet-c checkpoint\",\"version\":\"1\",\"mode\":\"%s\",\"optimizer\":\"%s\","
             "\"depth\":\"%d,%d,%d\",\"width\":\"%g\",\"image_size\":\"%d\",\"dim\":\"%d\"}",
             t->o->mode == FN_TRAIN_TRIPLET ? "triplet" : "softmax", fn_optimizer_name(t->opt.kind),
             net->cfg.depth[0], net->cfg.depth[1], net->cfg.depth[2], net->cfg.width, net->cfg.image_size, net->cfg.dim);
    path_in(path, sizeof path, t->o->models_dir, "checkpoint.safetensors");
    if (!s) s = fn_safetensors_save(path, &ts, meta);
    fn_tensor_set_free(&ts);
    return s;
}

static fn_status get_exact(const fn_tensor_set *ts, const char *name, fn_dtype dt, int64_t n, void *dst) {
    const fn_tensor *x = fn_tensor_set_find(ts, name);
    if (!x || x->dtype != dt || x->ndim != 1 || x->shape[0] != n)
        return fn_fail(FN_ERR_MISMATCH, "checkpoint: tensor %s missing or of another shape (expected %lld values): "
                       "was it written with other network flags?", name, (long long)n);
    memcpy(dst, x->data, (size_t)n * fn_dtype_size(dt));
    return FN_OK;
}

static fn_status load_checkpoint(trainer *t) {
    char path[4096];
    path_in(path, sizeof path, t->o->models_dir, "checkpoint.safetensors");
    fn_tensor_set ts;
    FN_TRY(fn_safetensors_load(path, &ts));
    fn_trainnet *net = t->net;
    int64_t state[6];
    fn_status s = get_exact(&ts, "state", FN_I64, 6, state);
    if (!s && state[5] != t->K) s = fn_fail(FN_ERR_MISMATCH, "checkpoint: %lld classes, the data has %d", (long long)state[5], t->K);
    if (!s) s = get_exact(&ts, "w", FN_F32, (int64_t)net->n_weights, net->w);
    if (!s) s = get_exact(&ts, "ema", FN_F32, (int64_t)net->n_weights, t->ema);
    if (!s) s = get_exact(&ts, "bn_stats", FN_F32, (int64_t)net->n_stat_floats, net->stat);
    if (!s) s = get_exact(&ts, "opt.s1", FN_F32, (int64_t)net->n_weights, t->opt.s1);
    if (!s) s = get_exact(&ts, "opt.s2", FN_F32, (int64_t)net->n_weights, t->opt.s2);
    if (!s && t->K) {
        s = get_exact(&ts, "head", FN_F32, (int64_t)t->n_head, t->head);
        if (!s) s = get_exact(&ts, "head_opt.s1", FN_F32, (int64_t)t->n_head, t->head_opt.s1);
        if (!s) s = get_exact(&ts, "head_opt.s2", FN_F32, (int64_t)t->n_head, t->head_opt.s2);
        if (!s) s = get_exact(&ts, "centers", FN_F32, (int64_t)t->K * net->cfg.dim, t->centers);
    }
    if (!s && ts.metadata_json && !strstr(ts.metadata_json, fn_optimizer_name(t->opt.kind)))
        s = fn_fail(FN_ERR_MISMATCH, "checkpoint: written with another optimizer (%s)", ts.metadata_json);
    fn_tensor_set_free(&ts);
    FN_TRY(s);
    t->epoch = (int)state[0];
    t->global_step = state[1];
    t->sample_index = state[2];
    t->opt.t = state[3];
    t->head_opt.t = state[4];
    return FN_OK;
}

static fn_status export_model(trainer *t) {
    fn_tensor_set ts;
    fn_tensor_set_init(&ts);
    char *meta = NULL, path[4096];
    fn_status s = fn_trainnet_export(t->net, t->ema, &ts, &meta);
    if (!s) {
        /* add the input preparation the model was trained with */
        char full[640];
        size_t L = strlen(meta);
        snprintf(full, sizeof full, "%.*s,\"standardize\":\"%s\",\"image_fit\":\"%s\",\"trained_by\":\"facenet-c train %s\"}",
                 (int)(L - 1), meta, t->o->standardize == FN_STD_PREWHITEN ? "prewhiten" : "fixed",
                 t->o->image_fit == FN_FIT_STRETCH ? "stretch" : "crop",
                 t->o->mode == FN_TRAIN_TRIPLET ? "triplet" : "softmax");
        path_in(path, sizeof path, t->o->models_dir, "model.safetensors");
        s = fn_safetensors_save(path, &ts, full);
    }
    free(meta);
    fn_tensor_set_free(&ts);
    return s;
}

/* ---------------------------------------------------------------- evaluation */
/* Standardised image i of an evaluation set into x (S x S x 3). */
typedef fn_status (*image_fill)(void *ctx, int i, float *x);

/* Inference-mode forward (moving BN statistics, no dropout) of n images in batches, with
 * the weights w (the averaged copy or the raw ones); copies out the embeddings and, when
 * prelogits is not NULL, the bottleneck outputs before L2 normalisation. */
static fn_status forward_images(trainer *t, const float *w, int n, image_fill fill, void *ctx, float *emb, float *prelogits) {
    const int S = t->net->cfg.image_size, dim = t->net->cfg.dim, B = t->o->batch_size;
    float *x = fn_malloc(sizeof(float) * (size_t)B * S * S * 3);
    if (!x) return fn_fail(FN_ERR_NOMEM, "out of memory");
    float *keep = t->net->w;
    t->net->w = (float *)w;
    fn_status s = FN_OK;
    /* under MPI each rank embeds its share (inference mode: no collective inside), then
     * the rows are all-gathered */
    long lo, hi;
    fn_dist_share(n, t->rank, t->ranks, &lo, &hi);
    for (long k = lo; k < hi && !s; k += B) {
        int nb = hi - k < B ? (int)(hi - k) : B;
        for (int i = 0; i < nb && !s; i++) s = fill(ctx, (int)k + i, x + (size_t)i * S * S * 3);
        if (!s) s = fn_trainnet_forward(t->net, x, nb, 0, NULL);
        if (!s && emb) memcpy(emb + (size_t)k * dim, t->net->bufs[t->net->embedding].x, sizeof(float) * nb * dim);
        if (!s && prelogits) memcpy(prelogits + (size_t)k * dim, t->net->bufs[t->net->prelogits].x, sizeof(float) * nb * dim);
    }
    t->net->w = keep;
    fn_free(x);
    s = agree(t, s);
    for (int r = 0; r < t->ranks && !s; r++) {
        long a, b;
        fn_dist_share(n, r, t->ranks, &a, &b);
        t->counts[r] = (b - a) * dim;
    }
    if (!s && emb) s = fn_dist_allgather_f32(emb, t->counts);
    if (!s && prelogits) s = fn_dist_allgather_f32(prelogits, t->counts);
    return s;
}

/* images of a dataset source by (class, image) reference, centre-cropped, no augmentation */
typedef struct { image_source *src; const fn_sample_ref *refs; } ref_images;
static fn_status fill_ref(void *ctx, int i, float *x) {
    ref_images *r = ctx;
    return load_image(r->src, r->refs[i].cls, r->refs[i].img, NULL, x);
}

/* the same, mirrored left to right */
static fn_status fill_ref_mirrored(void *ctx, int i, float *x) {
    ref_images *r = ctx;
    FN_TRY(fill_ref(ctx, i, x));
    const int S = r->src->size;
    for (int y = 0; y < S; y++)
        for (int a = 0, b = S - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                float *p = x + ((size_t)y * S + a) * 3 + c, *q = x + ((size_t)y * S + b) * 3 + c, v = *p;
                *p = *q; *q = v;
            }
    return FN_OK;
}

/* Held-out people (--val-dir): 10-fold verification over their pairs. */
static fn_status evaluate_held_out(trainer *t, image_source *val, fn_train_epoch_info *ei) {
    const fn_dataset *ds = val->ds;
    int n = val->offset[ds->n_classes];
    fn_sample_ref *refs = malloc(sizeof(fn_sample_ref) * (n ? n : 1));
    int *labels = malloc(sizeof(int) * (n ? n : 1));
    float *emb = malloc(sizeof(float) * (size_t)(n ? n : 1) * t->net->cfg.dim);
    fn_status s = refs && labels && emb ? FN_OK : fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int c = 0, k = 0; !s && c < ds->n_classes; c++)
        for (int i = 0; i < ds->classes[c].n_paths; i++, k++) { refs[k] = (fn_sample_ref){c, i}; labels[k] = c; }
    ref_images r = {val, refs};
    if (!s) s = forward_images(t, t->ema, n, fill_ref, &r, emb, NULL);
    if (!s && t->o->val_use_flipped_images) {
        const int dim = t->net->cfg.dim;
        float *mirror = malloc(sizeof(float) * (size_t)(n ? n : 1) * dim);
        s = mirror ? forward_images(t, t->ema, n, fill_ref_mirrored, &r, mirror, NULL) : fn_fail(FN_ERR_NOMEM, "out of memory");
        if (!s) {
            for (size_t i = 0; i < (size_t)n * dim; i++) emb[i] += mirror[i];
            fn_l2norm_forward(emb, emb, n, dim, 1e-10f); /* as the network's own embedding */
        }
        free(mirror);
    }
    if (!s) ei->val_accuracy = fn_train_pair_accuracy(emb, t->net->cfg.dim, labels, n, &ei->val_threshold);
    free(refs); free(labels); free(emb);
    return s;
}

/* LFW pairs: the distinct images, loaded as `validate --is-aligned` loads them. */
typedef struct {
    fn_lfw_pairs pairs;
    char **images; int n_images;
    int *row_of;
    int size;
    fn_standardize std;
} lfw_set;

static fn_status fill_lfw(void *ctx, int i, float *x) {
    lfw_set *l = ctx;
    fn_image crop;
    FN_TRY(fn_load_aligned_crop(l->images[i], l->size, &crop, NULL));
    /* the standardisation fn_model_embed applies to the exported model */
    fn_irv1_standardize(&crop, l->std, x);
    fn_image_free(&crop);
    return FN_OK;
}

static fn_status lfw_open(lfw_set *l, const fn_train_options *o) {
    memset(l, 0, sizeof *l);
    if (!o->lfw_dir || !o->lfw_pairs) return fn_fail(FN_ERR_ARG, "train: the LFW check needs both the LFW folder and its pairs file");
    if (o->lfw_nrof_folds < 2) return fn_fail(FN_ERR_ARG, "train: LFW folds %d (at least 2)", o->lfw_nrof_folds);
    FN_TRY(fn_lfw_read_pairs(o->lfw_pairs, o->lfw_dir, 0, &l->pairs));
    if (l->pairs.n_pairs < o->lfw_nrof_folds)
        return fn_fail(FN_ERR_ARG, "%s: %d usable pairs in %s (%d skipped): fewer than the %d folds", o->lfw_pairs,
                       l->pairs.n_pairs, o->lfw_dir, l->pairs.n_skipped, o->lfw_nrof_folds);
    l->size = o->net.image_size;
    l->std = o->standardize;
    return fn_lfw_distinct_images(&l->pairs, &l->images, &l->n_images, &l->row_of);
}

static void lfw_close(lfw_set *l) {
    free(l->images); free(l->row_of);
    fn_lfw_pairs_free(&l->pairs);
}

static fn_status evaluate_lfw(trainer *t, lfw_set *l, fn_train_epoch_info *ei) {
    const int dim = t->net->cfg.dim;
    float *emb = malloc(sizeof(float) * (size_t)(l->n_images ? l->n_images : 1) * dim);
    if (!emb) return fn_fail(FN_ERR_NOMEM, "out of memory for %d LFW embeddings", l->n_images);
    l->size = t->net->cfg.image_size; /* a pretrained model brings its own */
    fn_status s = forward_images(t, t->ema, l->n_images, fill_lfw, l, emb, NULL);
    fn_eval_params params;
    fn_eval_params_default(&params);
    params.n_folds = t->o->lfw_nrof_folds;
    fn_eval_result r = {0};
    if (!s) s = fn_lfw_evaluate(&l->pairs, l->row_of, emb, dim, &params, &r);
    if (!s) {
        ei->lfw_accuracy = (float)r.accuracy; ei->lfw_accuracy_std = (float)r.accuracy_std;
        ei->lfw_val = (float)r.val; ei->lfw_val_std = (float)r.val_std; ei->lfw_far = (float)r.far;
        ei->lfw_auc = (float)r.auc;
    }
    fn_eval_result_free(&r);
    free(emb);
    return s;
}

/* Softmax validation split, as facenet's validate(): the raw weights (the logits layer was
 * trained against them, not against their average), inference-mode BN; the loss is the
 * training loss (cross-entropy + center loss + L2 regularisation) without any update. */
static fn_status evaluate_split(trainer *t, image_source *src, const fn_sample_ref *refs, int n, fn_train_epoch_info *ei) {
    const int dim = t->net->cfg.dim, K = t->K;
    const fn_train_options *o = t->o;
    float *pre = malloc(sizeof(float) * (size_t)n * dim), *logits = malloc(sizeof(float) * (size_t)n * K);
    int *labels = malloc(sizeof(int) * n);
    fn_status s = pre && logits && labels ? FN_OK : fn_fail(FN_ERR_NOMEM, "out of memory");
    ref_images r = {src, refs};
    if (!s) s = forward_images(t, t->net->w, n, fill_ref, &r, NULL, pre);
    if (!s) {
        for (int i = 0; i < n; i++) labels[i] = refs[i].cls;
        fn_dense_forward(logits, pre, t->head, t->head + (size_t)dim * K, n, dim, K);
        int correct = 0;
        float xent = fn_softmax_xent(NULL, logits, labels, n, K, 1.0f, &correct);
        float loss = xent;
        if (o->center_loss_factor > 0)
            loss += o->center_loss_factor * fn_center_loss(NULL, t->centers, pre, labels, n, dim, o->center_loss_alfa, 0, 0);
        double reg = 0;
        for (size_t i = 0; i < (size_t)dim * K; i++) reg += (double)t->head[i] * t->head[i];
        loss += (float)(fn_trainnet_weight_decay(t->net, o->weight_decay, 0) + 0.5 * o->weight_decay * reg);
        ei->validation_loss = loss;
        ei->validation_xent = xent;
        ei->validation_accuracy = (float)correct / n;
    }
    free(pre); free(logits); free(labels);
    return s;
}

typedef struct {
    image_source *held_out;              /* --val-dir, or NULL */
    lfw_set *lfw;                        /* --lfw-dir, or NULL */
    image_source *split; const fn_sample_ref *split_refs; int n_split; /* softmax split */
} evaluations;

static int evaluates_something(const evaluations *ev) { return ev->held_out || ev->lfw || ev->n_split; }

/* Everything configured, into ei (-1 for what is not). */
static fn_status evaluate(trainer *t, const evaluations *ev, fn_train_epoch_info *ei) {
    ei->val_accuracy = -1; ei->val_threshold = 0;
    ei->lfw_accuracy = ei->lfw_accuracy_std = ei->lfw_val = ei->lfw_val_std = ei->lfw_far = ei->lfw_auc = -1;
    ei->validation_loss = ei->validation_xent = ei->validation_accuracy = -1;
    if (ev->held_out) FN_TRY(evaluate_held_out(t, ev->held_out, ei));
    if (ev->lfw) FN_TRY(evaluate_lfw(t, ev->lfw, ei));
    if (ev->n_split) FN_TRY(evaluate_split(t, ev->split, ev->split_refs, ev->n_split, ei));
    return FN_OK;
}

/* ---------------------------------------------------------------- logs and plot */
#define EPOCHS_CSV_HEADER "epoch,global_step,mean_loss,val_accuracy,val_threshold,seconds," \
    "lfw_accuracy,lfw_accuracy_std,lfw_val,lfw_val_std,lfw_far,lfw_auc,validation_loss,validation_xent,validation_accuracy"
enum { EPOCH_COLS = 15 };

/* NaN as "nan" (printf writes a sign-bit NaN as "-nan") */
static double csv(double v) { return isnan(v) ? NAN : v; }

static void write_epoch_row(FILE *f, const fn_train_epoch_info *e) {
    fprintf(f, "%d,%lld,%.6f,%.6f,%.4f,%.2f,%.6f,%.6f,%.6f,%.6f,%.6g,%.6f,%.6f,%.6f,%.6f\n", e->epoch,
            (long long)e->global_step, csv(e->mean_loss), csv(e->val_accuracy), csv(e->val_threshold), e->seconds,
            csv(e->lfw_accuracy), csv(e->lfw_accuracy_std), csv(e->lfw_val), csv(e->lfw_val_std), csv(e->lfw_far),
            csv(e->lfw_auc), csv(e->validation_loss), csv(e->validation_xent), csv(e->validation_accuracy));
    fflush(f);
}

static fn_status plot_curves(const char *dir) {
    char path[4096];
    path_in(path, sizeof path, dir, "train_log.csv");
    FILE *f = fopen(path, "r");
    if (!f) return FN_OK;
    int cap = 1024, n = 0;
    double *xs = malloc(sizeof(double) * cap), *ys = malloc(sizeof(double) * cap);
    char line[512];
    while (xs && ys && fgets(line, sizeof line, f)) {
        double e, st, gs, loss;
        if (sscanf(line, "%lf,%lf,%lf,%lf", &e, &st, &gs, &loss) != 4) continue;
        if (n == cap) {
            cap *= 2;
            double *a = realloc(xs, sizeof(double) * cap), *b = realloc(ys, sizeof(double) * cap);
            if (a) xs = a;
            if (b) ys = b;
            if (!a || !b) break;
        }
        xs[n] = gs; ys[n] = loss; n++;
    }
    fclose(f);
    /* a running mean makes the trend readable through per-step noise */
    double *sm = malloc(sizeof(double) * (n ? n : 1));
    int win = n / 20 > 1 ? n / 20 : 1;
    double acc = 0;
    for (int i = 0; sm && i < n; i++) {
        acc += ys[i];
        if (i >= win) acc -= ys[i - win];
        sm[i] = acc / (i + 1 < win ? i + 1 : win);
    }
    /* epochs.csv: columns as EPOCHS_CSV_HEADER; rows of an older, shorter layout keep
     * their leading columns (a resumed run appends to the file it finds) */
    path_in(path, sizeof path, dir, "epochs.csv");
    f = fopen(path, "r");
    enum { MAX_EPOCH_ROWS = 4096 };
    double *rows = malloc(sizeof(double) * MAX_EPOCH_ROWS * EPOCH_COLS);
    int ne = 0;
    while (f && rows && ne < MAX_EPOCH_ROWS && fgets(line, sizeof line, f)) {
        double *r = rows + (size_t)ne * EPOCH_COLS;
        char *p = line, *end;
        int k = 0;
        for (; k < EPOCH_COLS; k++) {
            r[k] = strtod(p, &end);
            if (end == p) break;
            p = *end == ',' ? end + 1 : end;
        }
        if (k < 4) continue; /* the header */
        for (; k < EPOCH_COLS; k++) r[k] = -1;
        ne++;
    }
    if (f) fclose(f);
    fn_status s = FN_OK;
    fn_plot *p1 = fn_plot_new(800, 360, "Training loss", "step", "loss", 0);
    fn_plot *p2 = fn_plot_new(800, 300, "Evaluation after each epoch", "step", "accuracy", 0);
    fn_image a = {0}, b = {0}, out = {0};
    double *ex = malloc(sizeof(double) * (ne + 1)), *ey = malloc(sizeof(double) * (ne + 1));
    if (!p1 || !p2 || !xs || !ys || !sm || !rows || !ex || !ey) s = fn_fail(FN_ERR_NOMEM, "plot: out of memory");
    if (!s && n) s = fn_plot_add_series(p1, xs, ys, n, 0xaec7e8, "loss per step");
    if (!s && n) s = fn_plot_add_series(p1, xs, sm, n, 0x1f77b4, "running mean");
    /* one series per evaluated column, where it has values (column, colour, label, panel) */
    static const struct { int col; uint32_t color; const char *label; int panel; } curves[] = {
        {12, 0xff7f0e, "validation loss (held-out images)", 1},
        {3, 0xd62728, "held-out people: verification accuracy", 2},
        {6, 0x1f77b4, "LFW accuracy", 2},
        {8, 0x2ca02c, "LFW VAL @ FAR=1e-3", 2},
        {14, 0xff7f0e, "validation accuracy (held-out images)", 2},
    };
    for (size_t c = 0; !s && c < sizeof curves / sizeof curves[0]; c++) {
        int m = 0;
        for (int i = 0; i < ne; i++) {
            double v = rows[(size_t)i * EPOCH_COLS + curves[c].col];
            if (v >= 0 && isfinite(v)) { ex[m] = rows[(size_t)i * EPOCH_COLS + 1]; ey[m] = v; m++; }
        }
        if (m) s = fn_plot_add_series(curves[c].panel == 1 ? p1 : p2, ex, ey, m, curves[c].color, curves[c].label);
    }
    if (!s) fn_plot_set_legend(p2, FN_LEGEND_BOTTOM_RIGHT);
    if (!s && n) fn_plot_set_xrange(p2, 0, xs[n - 1] > 0 ? xs[n - 1] : 1);
    if (!s) s = fn_plot_render(p1, &a);
    if (!s) s = fn_plot_render(p2, &b);
    if (!s) s = fn_image_alloc(800, a.h + b.h, &out);
    if (!s) {
        memcpy(out.rgb, a.rgb, (size_t)a.w * a.h * 3);
        memcpy(out.rgb + (size_t)a.w * a.h * 3, b.rgb, (size_t)b.w * b.h * 3);
        path_in(path, sizeof path, dir, "training.png");
        s = fn_image_save_png(path, &out);
    }
    fn_image_free(&a); fn_image_free(&b); fn_image_free(&out);
    fn_plot_free(p1); fn_plot_free(p2);
    free(xs); free(ys); free(sm); free(rows); free(ex); free(ey);
    return s;
}

/* ---------------------------------------------------------------- one optimisation step */
static float learning_rate(trainer *t, int *stop) {
    const fn_train_options *o = t->o;
    float base = o->learning_rate;
    *stop = 0;
    if (o->learning_rate <= 0 && o->learning_rate_schedule) {
        /* facenet counts epochs from 0 (global_step // epoch_size) */
        if (fn_lr_from_file(o->learning_rate_schedule, t->epoch - 1, &base)) { *stop = 2; return 0; }
        if (base < 0) { *stop = 1; return 0; }
    }
    return fn_lr_exponential(base, t->global_step, (int64_t)o->learning_rate_decay_epochs * o->epoch_size,
                             o->learning_rate_decay_factor);
}

/* After the gradients of this rank's rows are in net->g (and head_g): decay (rank 0's
 * share: the sum over ranks adds it once), the all-reduce, update, average. */
static fn_status apply_update(trainer *t, float lr) {
    const fn_train_options *o = t->o;
    if (t->rank == 0) fn_trainnet_weight_decay(t->net, o->weight_decay, 1);
    FN_TRY(t->net->dist_status);
    FN_TRY(fn_dist_sum_f32(t->net->g, t->net->n_weights));
    fn_optimizer_step(&t->opt, t->net->w, t->net->g, lr);
    if (t->K) fn_optimizer_step(&t->head_opt, t->head, t->head_g, lr);
    t->global_step++;
    t->steps_run++;
    fn_ema_update(t->ema, t->net->w, t->net->n_weights, o->moving_average_decay, t->global_step);
    return FN_OK;
}

/* the dropout masks of a step's rows: from (seed, step, row in the global batch), never
 * the rank, so N ranks draw what one process draws */
static fn_dropout_rows dropout_rows(const trainer *t, long first_row) {
    return (fn_dropout_rows){stream_seed(t->o->seed, 3, (uint64_t)t->global_step), first_row};
}

/* One step on nt triplets (rows a, p, n of each at trip); under MPI this rank takes its
 * share of the triplets and scales their loss by share / nt, so the all-reduced gradient
 * is that of the mean over all nt. *loss: the loss of all nt triplets. */
static fn_status triplet_step(trainer *t, const float *x, const int *trip, int nt, float lr, float *loss_out) {
    const int S = t->net->cfg.image_size, dim = t->net->cfg.dim;
    const size_t per = (size_t)S * S * 3;
    long lo, hi;
    fn_dist_share(nt, t->rank, t->ranks, &lo, &hi);
    const int m = (int)(hi - lo);
    float *xb = fn_malloc(sizeof(float) * per * 3 * (m ? m : 1));
    if (!xb) return fn_fail(FN_ERR_NOMEM, "out of memory for %d triplets", m);
    for (int i = 0; i < 3 * m; i++) memcpy(xb + per * i, x + per * trip[3 * lo + i], sizeof(float) * per);
    fn_dropout_rows drop = dropout_rows(t, 3 * lo);
    memset(t->net->g, 0, sizeof(float) * t->net->n_weights);
    fn_status s = fn_trainnet_forward(t->net, xb, 3 * m, 1, &drop);
    fn_free(xb);
    FN_TRY(s);
    fn_trainnet_zero_act_grads(t->net);
    fn_tbuf *e = &t->net->bufs[t->net->embedding];
    const float share = (float)m / nt;
    double loss = fn_triplet_loss(e->dx, e->x, m, dim, t->o->alpha, share) * share;
    fn_trainnet_backward(t->net);
    FN_TRY(fn_dist_sum_f64(&loss, 1));
    loss += fn_trainnet_weight_decay(t->net, t->o->weight_decay, 0);
    *loss_out = (float)loss;
    return apply_update(t, lr);
}

/* One softmax step on the global batch of n images. Each rank runs the network on its
 * rows; the prelogits are all-gathered and every rank computes the logits layer, the
 * cross-entropy and the center loss on the whole batch (the same numbers everywhere, so
 * the head and the centres need no all-reduce), then back-propagates its own rows. */
static fn_status softmax_step(trainer *t, const float *x, const int *labels, int n, float lr, float *loss_out, float *batch_acc) {
    const int dim = t->net->cfg.dim, K = t->K;
    const fn_train_options *o = t->o;
    const int S = t->net->cfg.image_size;
    long lo, hi;
    fn_dist_share(n, t->rank, t->ranks, &lo, &hi);
    const int m = (int)(hi - lo);
    fn_dropout_rows drop = dropout_rows(t, lo);
    memset(t->net->g, 0, sizeof(float) * t->net->n_weights);
    memset(t->head_g, 0, sizeof(float) * t->n_head);
    FN_TRY(fn_trainnet_forward(t->net, x + (size_t)lo * S * S * 3, m, 1, &drop));
    fn_trainnet_zero_act_grads(t->net);
    fn_tbuf *pre = &t->net->bufs[t->net->prelogits];
    memcpy(t->pre_all + (size_t)lo * dim, pre->x, sizeof(float) * (size_t)m * dim);
    for (int r = 0; r < t->ranks; r++) {
        long a, b;
        fn_dist_share(n, r, t->ranks, &a, &b);
        t->counts[r] = (b - a) * dim;
    }
    FN_TRY(fn_dist_allgather_f32(t->pre_all, t->counts));
    float *logits = malloc(sizeof(float) * (size_t)n * K), *dlogits = calloc((size_t)n * K, sizeof(float));
    if (!logits || !dlogits) { free(logits); free(dlogits); return fn_fail(FN_ERR_NOMEM, "out of memory for the logits"); }
    float *W = t->head, *bias = t->head + (size_t)dim * K;
    memset(t->dpre_all, 0, sizeof(float) * (size_t)n * dim);
    fn_dense_forward(logits, t->pre_all, W, bias, n, dim, K);
    int correct = 0;
    float loss = fn_softmax_xent(dlogits, logits, labels, n, K, 1.0f, &correct);
    fn_dense_backward(t->dpre_all, t->head_g, t->head_g + (size_t)dim * K, dlogits, t->pre_all, W, n, dim, K);
    if (o->center_loss_factor > 0)
        loss += o->center_loss_factor * fn_center_loss(t->dpre_all, t->centers, t->pre_all, labels, n, dim,
                                                       o->center_loss_alfa, o->center_loss_factor, 1);
    memcpy(pre->dx, t->dpre_all + (size_t)lo * dim, sizeof(float) * (size_t)m * dim);
    fn_trainnet_backward(t->net);
    loss += (float)fn_trainnet_weight_decay(t->net, o->weight_decay, 0);
    /* the logits layer is regularised too (slim fully_connected with the same regulariser) */
    double reg = 0;
    for (size_t i = 0; i < (size_t)dim * K; i++) { reg += (double)W[i] * W[i]; t->head_g[i] += o->weight_decay * W[i]; }
    loss += (float)(0.5 * o->weight_decay * reg);
    free(logits); free(dlogits);
    *batch_acc = (float)correct / n;
    *loss_out = loss;
    return apply_update(t, lr);
}

/* Rank 0's state (weights, averages, optimizer slots, BN statistics, head, counters) to
 * every rank: they start the same whatever each read or drew. */
static fn_status broadcast_state(trainer *t) {
    if (t->ranks == 1) return FN_OK;
    fn_trainnet *net = t->net;
    const size_t nw = sizeof(float) * net->n_weights;
    int64_t st[5] = {t->epoch, t->global_step, t->sample_index, t->opt.t, t->head_opt.t};
    FN_TRY(fn_dist_bcast(st, sizeof st));
    t->epoch = (int)st[0]; t->global_step = st[1]; t->sample_index = st[2]; t->opt.t = st[3]; t->head_opt.t = st[4];
    FN_TRY(fn_dist_bcast(net->w, nw));
    FN_TRY(fn_dist_bcast(t->ema, nw));
    FN_TRY(fn_dist_bcast(net->stat, sizeof(float) * net->n_stat_floats));
    if (t->opt.s1) FN_TRY(fn_dist_bcast(t->opt.s1, nw));
    if (t->opt.s2) FN_TRY(fn_dist_bcast(t->opt.s2, nw));
    if (t->K) {
        const size_t nh = sizeof(float) * t->n_head;
        FN_TRY(fn_dist_bcast(t->head, nh));
        if (t->head_opt.s1) FN_TRY(fn_dist_bcast(t->head_opt.s1, nh));
        if (t->head_opt.s2) FN_TRY(fn_dist_bcast(t->head_opt.s2, nh));
        FN_TRY(fn_dist_bcast(t->centers, sizeof(float) * (size_t)t->K * net->cfg.dim));
    }
    return FN_OK;
}

/* Per-rank batch norm leaves each rank its own moving statistics: evaluate and save their
 * mean (with sync_bn they are equal already). */
static fn_status average_bn_stats(trainer *t) {
    if (t->ranks == 1 || t->o->sync_bn) return FN_OK;
    fn_trainnet *net = t->net;
    FN_TRY(fn_dist_sum_f32(net->stat, net->n_stat_floats));
    for (size_t i = 0; i < net->n_stat_floats; i++) net->stat[i] /= (float)t->ranks;
    return FN_OK;
}

/* ---------------------------------------------------------------- fn_train */
static fn_status check_options(const fn_train_options *o) {
    if (!o->data_dir || !o->models_dir) return fn_fail(FN_ERR_ARG, "train: data and models folders are required");
    if (o->batch_size < 3 || o->batch_size > 100000) return fn_fail(FN_ERR_ARG, "train: batch size %d", o->batch_size);
    if (o->mode == FN_TRAIN_TRIPLET && o->batch_size % 3)
        return fn_fail(FN_ERR_ARG, "train: the batch size (%d) must be a multiple of 3 (anchor, positive, negative)", o->batch_size);
    const int P = fn_dist_size();
    if (P > 1 && (o->mode == FN_TRAIN_TRIPLET ? o->batch_size / 3 : o->batch_size) < P)
        return fn_fail(FN_ERR_ARG, "train: the global batch (%d %s) is smaller than the %d MPI ranks: every rank needs a share",
                       o->mode == FN_TRAIN_TRIPLET ? o->batch_size / 3 : o->batch_size,
                       o->mode == FN_TRAIN_TRIPLET ? "triplets" : "images", P);
    if (o->people_per_batch < 2 || o->images_per_person < 2 || (long)o->people_per_batch * o->images_per_person > 1000000)
        return fn_fail(FN_ERR_ARG, "train: people_per_batch %d x images_per_person %d", o->people_per_batch, o->images_per_person);
    if (o->epoch_size < 1 || o->max_epochs < 0) return fn_fail(FN_ERR_ARG, "train: epoch size %d, max epochs %d", o->epoch_size, o->max_epochs);
    if (o->learning_rate <= 0 && !o->learning_rate_schedule) return fn_fail(FN_ERR_ARG, "train: learning rate %g needs a schedule file", o->learning_rate);
    if (!(o->moving_average_decay >= 0 && o->moving_average_decay < 1)) return fn_fail(FN_ERR_ARG, "train: moving average decay %g", o->moving_average_decay);
    if (!(o->validation_set_split_ratio >= 0 && o->validation_set_split_ratio < 1)) return fn_fail(FN_ERR_ARG, "train: validation split ratio %g", o->validation_set_split_ratio);
    if (o->validation_set_split_ratio > 0 && o->mode != FN_TRAIN_SOFTMAX)
        return fn_fail(FN_ERR_ARG, "train: the validation split (ratio %g) is for softmax training (train_softmax.py)", o->validation_set_split_ratio);
    return FN_OK;
}

static fn_status make_source(image_source *src, const fn_dataset *ds, const fn_train_options *o, int augment) {
    memset(src, 0, sizeof *src);
    src->ds = ds;
    src->size = o->net.image_size;
    if (augment) src->aug = o->augment;
    src->fit = o->image_fit;
    src->std = o->standardize;
    src->offset = malloc(sizeof(int) * (ds->n_classes + 1));
    if (!src->offset) return fn_fail(FN_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int c = 0; c < ds->n_classes; c++) { src->offset[c] = n; n += ds->classes[c].n_paths; }
    src->offset[ds->n_classes] = n;
    src->cache = calloc(n ? n : 1, sizeof(fn_image));
    if (!src->cache) return fn_fail(FN_ERR_NOMEM, "out of memory");
    return FN_OK;
}

/* The softmax training images and the held-out validation images as (class, image).
 * facenet split_dataset(mode SPLIT_IMAGES): each class's images shuffled, the first
 * floor(n * (1 - ratio)) train (at most n - 1: one is always held out) and the rest
 * validate; a class whose training part has fewer than min_nrof_images_per_class images
 * is left out. Without a split every image of a large enough class trains. */
static fn_status split_images(const fn_dataset *ds, const fn_train_options *o, fn_sample_ref **train, int *n_train,
                              fn_sample_ref **val, int *n_val) {
    int total = 0;
    for (int c = 0; c < ds->n_classes; c++) total += ds->classes[c].n_paths;
    *train = malloc(sizeof(fn_sample_ref) * (total ? total : 1));
    *val = malloc(sizeof(fn_sample_ref) * (total ? total : 1));
    int *idx = malloc(sizeof(int) * (total ? total : 1));
    *n_train = *n_val = 0;
    if (!*train || !*val || !idx) { free(idx); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    const double ratio = o->validation_set_split_ratio;
    fn_rng rng = {stream_seed(o->seed, 4, 0)};
    for (int c = 0; c < ds->n_classes; c++) {
        const int n = ds->classes[c].n_paths;
        for (int i = 0; i < n; i++) idx[i] = i;
        for (int i = n - 1; i > 0; i--) { int j = (int)(fn_rng_next(&rng) % (uint64_t)(i + 1)); int x = idx[i]; idx[i] = idx[j]; idx[j] = x; }
        int keep = n;
        if (ratio > 0) {
            /* the ratio arrives as a float (0.2f = 0.2000000030): nudge so 10 x 0.8 gives
             * 8 as Python's double arithmetic does, not 7 */
            keep = (int)floor(n * (1.0 - ratio) + 1e-6);
            if (keep == n) keep = n - 1;
        }
        if (keep < 1 || keep < o->min_nrof_images_per_class) continue;
        for (int i = 0; i < n; i++) {
            if (i < keep) (*train)[(*n_train)++] = (fn_sample_ref){c, idx[i]};
            else (*val)[(*n_val)++] = (fn_sample_ref){c, idx[i]};
        }
    }
    free(idx);
    return FN_OK;
}

/* fn_dataset_load keeps an empty folder list: training needs at least one class */
static fn_status load_classes(const char *dir, fn_dataset *ds) {
    FN_TRY(fn_dataset_load(dir, ds));
    if (ds->n_classes == 0) return fn_fail(FN_ERR_ARG, "%s: no class folders (expected DIR/person/image.jpg)", dir);
    return FN_OK;
}

static void free_source(image_source *src) {
    if (!src->ds) return; /* never made */
    if (src->cache) for (int i = 0; i < src->offset[src->ds->n_classes]; i++) fn_image_free(&src->cache[i]);
    free(src->cache); free(src->offset);
}

fn_status fn_train(const fn_train_options *o, const fn_train_callbacks *cb) {
    FN_TRY(check_options(o));
    trainer T, *t = &T;
    memset(t, 0, sizeof T);
    t->rank = fn_dist_rank(); t->ranks = fn_dist_size();
    const int main_rank = t->rank == 0; /* writes the files, reports progress */
    if (!main_rank) cb = NULL;
    if (main_rank && mkdir(o->models_dir, 0777) && errno != EEXIST) return agree(t, fn_fail(FN_ERR_IO, "%s: cannot create folder", o->models_dir));
    t->o = o; t->cb = cb; t->epoch = 1; t->t0 = fn_now();
    t->counts = malloc(sizeof(long) * t->ranks);
    if (!t->counts) return fn_fail(FN_ERR_NOMEM, "out of memory");
    fn_dataset ds = {0}, vds = {0};
    image_source src = {0}, vsrc = {0}, split_src = {0};
    lfw_set lfw = {0};
    sample_buf bufs[2] = {{0}};
    loader L = {0};
    fn_tensor_set pre;
    fn_tensor_set_init(&pre);
    fn_trainnet_config cfg = o->net;
    fn_status s = load_classes(o->data_dir, &ds);
    /* softmax: drop small classes, split images into train / validation */
    fn_sample_ref *train_refs = NULL, *split_refs = NULL;
    int n_train = 0, n_split = 0;
    if (!s && o->mode == FN_TRAIN_SOFTMAX) {
        s = split_images(&ds, o, &train_refs, &n_train, &split_refs, &n_split);
        t->K = ds.n_classes;
        if (!s && n_train == 0) s = fn_fail(FN_ERR_ARG, "%s: no class has at least %d images", o->data_dir, o->min_nrof_images_per_class);
        if (!s && n_split) message(t, "validation set: %d held-out images (%d for training)", n_split, n_train);
    }
    if (!s && o->val_dir) s = load_classes(o->val_dir, &vds);
    if (!s && (o->lfw_dir || o->lfw_pairs)) {
        s = lfw_open(&lfw, o);
        if (!s) message(t, "LFW: %d pairs (%d skipped), %d images, %d folds after each epoch", lfw.pairs.n_pairs,
                        lfw.pairs.n_skipped, lfw.n_images, o->lfw_nrof_folds);
    }
    if (!s && o->pretrained_model) {
        s = fn_safetensors_load(o->pretrained_model, &pre);
        if (!s) s = fn_tensor_set_to_f32(&pre);
        if (!s) s = fn_trainnet_config_from_model(&pre, &cfg);
    }
    if (!s) s = fn_trainnet_create(&cfg, &t->net);
    if (!s) t->net->sync_bn = o->sync_bn;
    if (!s) {
        fn_trainnet_init(t->net, o->seed);
        if (o->pretrained_model) {
            s = fn_trainnet_import(t->net, &pre);
            if (!s) message(t, "fine-tuning from %s (depth %d,%d,%d, width %g, dim %d)", o->pretrained_model,
                            cfg.depth[0], cfg.depth[1], cfg.depth[2], cfg.width, cfg.dim);
        }
    }
    fn_tensor_set_free(&pre);
    if (!s) s = fn_optimizer_init(&t->opt, o->optimizer, t->net->n_weights);
    if (!s) {
        t->ema = malloc(sizeof(float) * t->net->n_weights);
        if (!t->ema) s = fn_fail(FN_ERR_NOMEM, "out of memory");
        else memcpy(t->ema, t->net->w, sizeof(float) * t->net->n_weights);
    }
    if (!s && t->K) {
        const int dim = cfg.dim;
        t->n_head = (size_t)dim * t->K + t->K;
        t->head = calloc(t->n_head, sizeof(float));
        t->head_g = calloc(t->n_head, sizeof(float));
        t->centers = calloc((size_t)t->K * dim, sizeof(float));
        if (!t->head || !t->head_g || !t->centers) s = fn_fail(FN_ERR_NOMEM, "out of memory");
        else {
            float limit = sqrtf(6.0f / (dim + t->K));
            fn_rng r = {stream_seed(o->seed, 5, 0)};
            for (size_t i = 0; i < (size_t)dim * t->K; i++) t->head[i] = (2 * fn_rng_uniform(&r) - 1) * limit;
            s = fn_optimizer_init(&t->head_opt, o->optimizer, t->n_head);
        }
    }
    /* rank 0 reads the checkpoint and hands its state to the others (any rank count) */
    if (!s && o->resume && main_rank) {
        s = load_checkpoint(t);
        if (!s) message(t, "resumed at epoch %d, step %lld", t->epoch, (long long)t->global_step);
    }
    s = agree(t, s);
    if (!s) s = broadcast_state(t);
    if (!s && t->ranks > 1)
        message(t, "MPI: %d ranks, global batch %d (%s batch norm)", t->ranks, o->batch_size,
                o->sync_bn ? "synchronised" : "per-rank");
    /* logs: a fresh run truncates them, a resumed one appends */
    char path[4096];
    if (!s && main_rank) {
        path_in(path, sizeof path, o->models_dir, "train_log.csv");
        t->log = fopen(path, o->resume ? "a" : "w");
        if (!t->log) s = fn_fail(FN_ERR_IO, "%s: cannot write", path);
        else if (!o->resume) fprintf(t->log, "epoch,step,global_step,loss,%s,lr,seconds\n",
                                     o->mode == FN_TRAIN_TRIPLET ? "triplets,pairs" : "accuracy,batch");
    }
    FILE *elog = NULL;
    if (!s && main_rank) {
        path_in(path, sizeof path, o->models_dir, "epochs.csv");
        elog = fopen(path, o->resume ? "a" : "w");
        if (!elog) s = fn_fail(FN_ERR_IO, "%s: cannot write", path);
        else if (!o->resume) fprintf(elog, EPOCHS_CSV_HEADER "\n");
    }
    if (!s) s = make_source(&src, &ds, o, 1);
    if (!s && o->val_dir) s = make_source(&vsrc, &vds, o, 0);
    /* the validation split reads the training folders without augmentation, through a
     * source of its own (the loader thread uses src meanwhile) */
    if (!s && n_split) s = make_source(&split_src, &ds, o, 0);
    evaluations ev = {o->val_dir ? &vsrc : NULL, lfw.n_images ? &lfw : NULL, &split_src, split_refs, n_split};
    const int S = cfg.image_size, dim = cfg.dim;
    int sample_n = o->mode == FN_TRAIN_TRIPLET ? o->people_per_batch * o->images_per_person : o->batch_size;
    for (int i = 0; i < 2 && !s; i++) s = sample_alloc(&bufs[i], sample_n, sample_n, S);
    if (!s && o->mode == FN_TRAIN_SOFTMAX) {
        t->pre_all = malloc(sizeof(float) * (size_t)sample_n * dim);
        t->dpre_all = malloc(sizeof(float) * (size_t)sample_n * dim);
        if (!t->pre_all || !t->dpre_all) s = fn_fail(FN_ERR_NOMEM, "out of memory");
    }
    int *trip = NULL;
    float *emb = NULL;
    if (!s && o->mode == FN_TRAIN_TRIPLET) {
        int cap = 0;
        int per = o->images_per_person;
        cap = o->people_per_batch * per * (per - 1) / 2 + 1;
        trip = malloc(sizeof(int) * 3 * cap);
        emb = malloc(sizeof(float) * (size_t)sample_n * dim);
        if (!trip || !emb) s = fn_fail(FN_ERR_NOMEM, "out of memory for triplets");
    }
    L.src = &src; L.o = o; L.train_refs = train_refs; L.n_train = n_train;
    L.rank = t->rank; L.ranks = t->ranks;
    s = agree(t, s);
    /* random-init (or pretrained) evaluation, as epoch 0 */
    if (!s && !o->resume && evaluates_something(&ev)) {
        fn_train_epoch_info ei = {.epoch = 0, .global_step = 0, .mean_loss = NAN};
        s = evaluate(t, &ev, &ei);
        if (!s) {
            ei.seconds = fn_now() - t->t0;
            if (elog) write_epoch_row(elog, &ei);
            if (cb && cb->on_epoch) cb->on_epoch(cb->ud, &ei);
        }
    }
    int cur = 0;
    if (!s) s = loader_start(&L, &bufs[cur], t->sample_index);
    int stopped = 0;
    while (!s && t->epoch <= o->max_epochs && !stopped) {
        int stop;
        float lr = learning_rate(t, &stop);
        if (stop == 2) { s = FN_ERR_FORMAT; break; }
        if (stop) { message(t, "learning rate schedule says stop at epoch %d", t->epoch); break; }
        int batch_number = 0;
        double loss_sum = 0;
        int loss_n = 0;
        fn_progress prog;
        fn_progress_begin(&prog, "epoch", o->epoch_size);
        if (!main_rank) prog.tty = 0; /* one bar for the job */
        while (!s && batch_number < o->epoch_size) {
            s = loader_wait(&L);
            if (s) break;
            sample_buf *b = &bufs[cur];
            t->sample_index = b->index + 1;
            cur ^= 1;
            s = loader_start(&L, &bufs[cur], t->sample_index); /* the next sample loads meanwhile */
            if (s) break;
            lr = learning_rate(t, &stop);
            if (o->mode == FN_TRAIN_TRIPLET) {
                /* embed the whole sample (training-mode BN, as facenet's phase_train=True) in
                 * global batches, each rank its share of each; every rank then holds all
                 * embeddings (all-gathered) and selects the same triplets */
                for (int k = 0, nb; k < b->n && !s; k += nb) {
                    nb = b->n - k < o->batch_size ? b->n - k : o->batch_size;
                    /* under MPI a last batch too small to share joins the one before */
                    if (t->ranks > 1 && b->n - (k + nb) > 0 && b->n - (k + nb) < t->ranks) nb = b->n - k;
                    long lo, hi;
                    fn_dist_share(nb, t->rank, t->ranks, &lo, &hi);
                    /* masks by row of the sample: whatever the batches, the same draws */
                    fn_dropout_rows drop = {stream_seed(o->seed, 6, (uint64_t)b->index), k + lo};
                    s = fn_trainnet_forward(t->net, b->x + (size_t)(k + lo) * S * S * 3, (int)(hi - lo), 1, &drop);
                    if (!s) memcpy(emb + (size_t)(k + lo) * dim, t->net->bufs[t->net->embedding].x, sizeof(float) * (hi - lo) * dim);
                    for (int r = 0; r < t->ranks && !s; r++) {
                        long a, c;
                        fn_dist_share(nb, r, t->ranks, &a, &c);
                        t->counts[r] = (c - a) * dim;
                    }
                    if (!s) s = fn_dist_allgather_f32(emb + (size_t)k * dim, t->counts);
                }
                if (s) break;
                fn_rng sel = {stream_seed(o->seed, 7, (uint64_t)b->index)};
                int pairs;
                int nt = fn_select_triplets(emb, dim, b->num_per_class, b->n_classes, o->alpha, &sel, trip, &pairs);
                int per_batch = o->batch_size / 3;
                int nrof_batches = (nt + per_batch - 1) / per_batch;
                for (int k = 0; k < nrof_batches; k++) {
                    int m = nt - k * per_batch < per_batch ? nt - k * per_batch : per_batch;
                    if (m < t->ranks) break; /* under MPI: a last batch with fewer triplets than ranks is left out */
                    float loss = 0;
                    s = triplet_step(t, b->x, trip + 3 * k * per_batch, m, lr, &loss);
                    if (s) break;
                    batch_number++;
                    loss_sum += loss; loss_n++;
                    double secs = fn_now() - t->t0;
                    if (t->log) fprintf(t->log, "%d,%d,%lld,%.6f,%d,%d,%.6g,%.3f\n", t->epoch, batch_number, (long long)t->global_step, loss, nt, pairs, lr, secs);
                    fn_train_step_info si = {t->epoch, batch_number, t->global_step, loss, lr, nt, pairs, -1, secs};
                    if (cb && cb->on_step) cb->on_step(cb->ud, &si);
                    fn_progress_step(&prog, 1);
                    if (o->max_steps && t->global_step >= o->max_steps) { stopped = 1; break; }
                }
                if (nt == 0) {
                    /* no triplet inside the margin: the sample still counts toward the epoch
                     * so an easy dataset cannot loop forever */
                    batch_number++;
                    if (t->log) fprintf(t->log, "%d,%d,%lld,%.6f,0,%d,%.6g,%.3f\n", t->epoch, batch_number, (long long)t->global_step, 0.0, pairs, lr, fn_now() - t->t0);
                }
            } else {
                float acc = 0, loss = 0;
                s = softmax_step(t, b->x, b->labels, b->n, lr, &loss, &acc);
                if (s) break;
                batch_number++;
                loss_sum += loss; loss_n++;
                double secs = fn_now() - t->t0;
                if (t->log) fprintf(t->log, "%d,%d,%lld,%.6f,%.4f,%d,%.6g,%.3f\n", t->epoch, batch_number, (long long)t->global_step, loss, acc, b->n, lr, secs);
                fn_train_step_info si = {t->epoch, batch_number, t->global_step, loss, lr, 0, 0, acc, secs};
                if (cb && cb->on_step) cb->on_step(cb->ud, &si);
                fn_progress_step(&prog, 1);
                if (o->max_steps && t->global_step >= o->max_steps) stopped = 1;
            }
            if (stopped) break;
        }
        fn_progress_end(&prog);
        if (s) break;
        if (t->log) fflush(t->log);
        fn_train_epoch_info ei = {.epoch = t->epoch, .global_step = t->global_step,
                                  .mean_loss = loss_n ? (float)(loss_sum / loss_n) : 0};
        s = average_bn_stats(t);
        if (!s) s = evaluate(t, &ev, &ei);
        if (s) break;
        ei.seconds = fn_now() - t->t0;
        if (elog) write_epoch_row(elog, &ei);
        if (cb && cb->on_epoch) cb->on_epoch(cb->ud, &ei);
        t->epoch++;
        /* the prefetched sample is not consumed: the checkpoint points at it */
        if (main_rank) {
            s = save_checkpoint(t);
            if (!s) s = export_model(t);
            if (!s) s = plot_curves(o->models_dir);
        }
        s = agree(t, s);
    }
    if (L.running) { pthread_join(L.thread, NULL); L.running = 0; }
    if (!s && t->epoch == 1 && !o->resume && main_rank) s = export_model(t); /* max_epochs 0: export the initial model */
    if (!s && t->ranks > 1 && t->steps_run) {
        fn_dist_counters dc;
        fn_dist_get_counters(&dc);
        message(t, "MPI: %lld steps, %.2f MB all-reduced per step by each rank, %.1f s of %.1f s in MPI collectives (rank 0)",
                (long long)t->steps_run, dc.bytes_reduced / 1e6 / (double)t->steps_run, dc.seconds, fn_now() - t->t0);
    }
    if (t->log) fclose(t->log);
    if (elog) fclose(elog);
    free(trip); free(emb); free(train_refs); free(split_refs);
    for (int i = 0; i < 2; i++) sample_free(&bufs[i]);
    free_source(&src);
    free_source(&vsrc);
    free_source(&split_src);
    lfw_close(&lfw);
    fn_dataset_free(&ds);
    fn_dataset_free(&vds);
    fn_optimizer_free(&t->opt);
    fn_optimizer_free(&t->head_opt);
    free(t->ema); free(t->head); free(t->head_g); free(t->centers);
    free(t->pre_all); free(t->dpre_all); free(t->counts);
    fn_trainnet_free(t->net);
    return s;
}
