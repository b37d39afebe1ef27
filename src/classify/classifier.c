/* classifier.c — facenet's classifier.py (SVC(kernel='linear', probability=True) on
 * embeddings, class names alongside) plus what predict needs for faces of strangers: the
 * enrolled embeddings, so a face far from all of them is reported as unknown, and the id of
 * the embedding model, so embeddings of another model are refused.
 *
 * File format (little-endian), version 1:
 *   "FNCLS\0\0\0"  u32 version  u32 dim  u32 n_classes  u32 n_enrolled
 *   u32 len + model id bytes;  per class: u32 len + name bytes (UTF-8)
 *   f32 enrolled[n_enrolled × dim]   i32 enrolled_class[n_enrolled]
 *   SVM (svm.c: fn_svm_write)   u64 FNV-1a of every byte before it */
#include "classify/svm.h"

#define CLS_MAGIC "FNCLS\0\0\0"
#define CLS_VERSION 1u
#define CLS_MAX_DIM 65536
#define CLS_MAX_CLASSES 1000000
#define CLS_MAX_NAME 4096

struct fn_classifier {
    int dim, n_classes, n_enrolled;
    char *model_id;
    char **names;
    float *enrolled;     /* n_enrolled × dim */
    int *enrolled_class; /* n_enrolled */
    struct svm_model *svm;
};

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

void fn_classifier_free(fn_classifier *c) {
    if (!c) return;
    free(c->model_id);
    if (c->names) for (int i = 0; i < c->n_classes; i++) free(c->names[i]);
    free(c->names); free(c->enrolled); free(c->enrolled_class);
    fn_svm_free(c->svm);
    free(c);
}

int fn_classifier_n_classes(const fn_classifier *c) { return c->n_classes; }
int fn_classifier_dim(const fn_classifier *c) { return c->dim; }
const char *fn_classifier_class_name(const fn_classifier *c, int k) {
    return k >= 0 && k < c->n_classes ? c->names[k] : "unknown";
}
const char *fn_classifier_model_id(const fn_classifier *c) { return c->model_id; }

static fn_classifier *alloc_classifier(int dim, int n_classes, int n_enrolled) {
    fn_classifier *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->dim = dim; c->n_classes = n_classes; c->n_enrolled = n_enrolled;
    c->names = calloc((size_t)n_classes, sizeof *c->names);
    c->enrolled = malloc(sizeof(float) * (size_t)n_enrolled * dim);
    c->enrolled_class = malloc(sizeof(int) * (size_t)n_enrolled);
    if (!c->names || !c->enrolled || !c->enrolled_class) { fn_classifier_free(c); return NULL; }
    return c;
}

fn_status fn_classifier_train(const float *emb, const int *labels, int n, int dim,
                              const char *const *class_names, int n_classes,
                              const char *model_id, double C, uint64_t seed, fn_classifier **out) {
    *out = NULL;
    if (!(C > 0) || !(C < 1e12)) return fn_fail(FN_ERR_ARG, "classifier: the SVM's C must be > 0 (got %g)", C);
    if (!emb || !labels || !class_names || dim < 1 || dim > CLS_MAX_DIM || n_classes > CLS_MAX_CLASSES)
        return fn_fail(FN_ERR_ARG, "classifier: bad arguments (dim %d, classes %d)", dim, n_classes);
    if (n_classes < 2)
        return fn_fail(FN_ERR_ARG, "classifier: need at least 2 classes to train an SVM (got %d)", n_classes);
    int *count = calloc((size_t)n_classes, sizeof *count);
    if (!count) return fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= n_classes) { free(count); return fn_fail(FN_ERR_ARG, "classifier: label %d of example %d is not in [0, %d)", labels[i], i, n_classes); }
        count[labels[i]]++;
    }
    for (int k = 0; k < n_classes; k++)
        if (count[k] == 0) {
            fn_status s = fn_fail(FN_ERR_ARG, "classifier: class '%s' has no example", class_names[k]);
            free(count); return s;
        }
    free(count);
    fn_classifier *c = alloc_classifier(dim, n_classes, n);
    if (!c) return fn_fail(FN_ERR_NOMEM, "out of memory");
    c->model_id = strdup(model_id ? model_id : "");
    int ok = c->model_id != NULL;
    for (int k = 0; ok && k < n_classes; k++) ok = (c->names[k] = strdup(class_names[k])) != NULL;
    if (!ok) { fn_classifier_free(c); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    memcpy(c->enrolled, emb, sizeof(float) * (size_t)n * dim);
    memcpy(c->enrolled_class, labels, sizeof(int) * (size_t)n);
    fn_status s = fn_svm_train(emb, labels, n, dim, C, seed, &c->svm);
    if (s != FN_OK) { fn_classifier_free(c); return s; }
    *out = c;
    return FN_OK;
}

fn_status fn_classifier_save(const fn_classifier *c, const char *path) {
    fn_buf b = { 0 };
    fn_buf_put(&b, CLS_MAGIC, 8);
    fn_buf_u32(&b, CLS_VERSION);
    fn_buf_u32(&b, (uint32_t)c->dim);
    fn_buf_u32(&b, (uint32_t)c->n_classes);
    fn_buf_u32(&b, (uint32_t)c->n_enrolled);
    fn_buf_u32(&b, (uint32_t)strlen(c->model_id));
    fn_buf_put(&b, c->model_id, strlen(c->model_id));
    for (int k = 0; k < c->n_classes; k++) {
        fn_buf_u32(&b, (uint32_t)strlen(c->names[k]));
        fn_buf_put(&b, c->names[k], strlen(c->names[k]));
    }
    fn_buf_put(&b, c->enrolled, sizeof(float) * (size_t)c->n_enrolled * c->dim);
    for (int i = 0; i < c->n_enrolled; i++) { int32_t v = c->enrolled_class[i]; fn_buf_put(&b, &v, 4); }
    fn_svm_write(&b, c->svm, c->dim);
    if (!b.failed) { uint64_t h = fnv1a(b.data, b.size); fn_buf_put(&b, &h, 8); }
    if (b.failed) { free(b.data); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    fn_status s = fn_write_file_atomic(path, b.data, b.size);
    free(b.data);
    return s;
}

static fn_status read_string(fn_cursor *cur, char **out, const char *what, const char *path) {
    uint32_t len;
    if (!fn_cursor_u32(cur, &len) || len > CLS_MAX_NAME || len > cur->left)
        return fn_fail(FN_ERR_FORMAT, "%s: truncated or oversized %s", path, what);
    *out = malloc(len + 1u);
    if (!*out) return fn_fail(FN_ERR_NOMEM, "out of memory");
    fn_cursor_get(cur, *out, len);
    (*out)[len] = 0;
    if (memchr(*out, 0, len)) return fn_fail(FN_ERR_FORMAT, "%s: %s contains a NUL byte", path, what);
    return FN_OK;
}

fn_status fn_classifier_load(const char *path, fn_classifier **out) {
    *out = NULL;
    uint8_t *data; size_t size;
    FN_TRY(fn_read_file(path, &data, &size));
    fn_status s = FN_OK;
    fn_classifier *c = NULL;
    if (size < 8 + 20 + 8 || memcmp(data, CLS_MAGIC, 8) != 0) {
        s = fn_fail(FN_ERR_FORMAT, "%s: not a facenet classifier file (no FNCLS header)", path);
        goto done;
    }
    uint64_t stored;
    memcpy(&stored, data + size - 8, 8);
    fn_cursor cur = { data + 8, size - 16 };
    uint32_t version, dim, n_classes, n_enrolled;
    fn_cursor_u32(&cur, &version);
    fn_cursor_u32(&cur, &dim);
    fn_cursor_u32(&cur, &n_classes);
    fn_cursor_u32(&cur, &n_enrolled);
    if (version != CLS_VERSION) { s = fn_fail(FN_ERR_UNSUPPORTED, "%s: classifier format version %u (this build reads %u)", path, version, CLS_VERSION); goto done; }
    if (fnv1a(data, size - 8) != stored) { s = fn_fail(FN_ERR_FORMAT, "%s: checksum mismatch (file corrupt or truncated)", path); goto done; }
    if (dim < 1 || dim > CLS_MAX_DIM || n_classes < 2 || n_classes > CLS_MAX_CLASSES || n_enrolled < 1 ||
        (size_t)n_enrolled * (dim * 4u + 4u) > cur.left) {
        s = fn_fail(FN_ERR_FORMAT, "%s: implausible header (dim %u, classes %u, examples %u)", path, dim, n_classes, n_enrolled);
        goto done;
    }
    c = alloc_classifier((int)dim, (int)n_classes, (int)n_enrolled);
    if (!c) { s = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
    if ((s = read_string(&cur, &c->model_id, "model id", path)) != FN_OK) goto done;
    for (uint32_t k = 0; k < n_classes; k++)
        if ((s = read_string(&cur, &c->names[k], "class name", path)) != FN_OK) goto done;
    if (!fn_cursor_get(&cur, c->enrolled, sizeof(float) * (size_t)n_enrolled * dim)) { s = fn_fail(FN_ERR_FORMAT, "%s: truncated embeddings", path); goto done; }
    for (uint32_t i = 0; i < n_enrolled; i++) {
        int32_t v;
        if (!fn_cursor_get(&cur, &v, 4) || v < 0 || v >= (int32_t)n_classes) { s = fn_fail(FN_ERR_FORMAT, "%s: bad or truncated class of example %u", path, i); goto done; }
        c->enrolled_class[i] = v;
    }
    if ((s = fn_svm_read(&cur, (int)dim, (int)n_classes, &c->svm)) != FN_OK) goto done;
    if (cur.left != 0) { s = fn_fail(FN_ERR_FORMAT, "%s: %zu unexpected bytes after the SVM", path, cur.left); goto done; }
done:
    free(data);
    if (s != FN_OK) { fn_classifier_free(c); return s; }
    *out = c;
    return FN_OK;
}

fn_status fn_classifier_check_model_id(const fn_classifier *c, const char *model_id, int dim) {
    if (dim != c->dim || !model_id || strcmp(model_id, c->model_id) != 0)
        return fn_fail(FN_ERR_MISMATCH, "the classifier was trained with model %s (%d-d), not with %s (%d-d); "
                       "retrain it with this model or pass --model with the original one",
                       c->model_id, c->dim, model_id ? model_id : "?", dim);
    return FN_OK;
}

fn_status fn_classifier_check_model(const fn_classifier *c, const fn_model *model) {
    return fn_classifier_check_model_id(c, fn_model_id(model), fn_model_dim(model));
}

fn_status fn_classifier_predict(const fn_classifier *c, const float *emb, int n,
                                float unknown_threshold, fn_prediction *out, float *probs) {
    if (n < 0 || (n > 0 && (!emb || !out))) return fn_fail(FN_ERR_ARG, "classifier: bad arguments");
    double *p = malloc(sizeof *p * (size_t)c->n_classes);
    if (!p) return fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const float *x = emb + (size_t)i * c->dim;
        int vote;
        fn_status s = fn_svm_predict(c->svm, x, c->dim, c->n_classes, &vote, p);
        if (s != FN_OK) { free(p); return s; }
        int best = 0; /* np.argmax: the first maximum */
        for (int k = 1; k < c->n_classes; k++) if (p[k] > p[best]) best = k;
        float nearest = INFINITY; int nearest_class = -1;
        for (int e = 0; e < c->n_enrolled; e++) {
            float d = sqrtf(fn_distance_sq(x, c->enrolled + (size_t)e * c->dim, c->dim));
            if (d < nearest) { nearest = d; nearest_class = c->enrolled_class[e]; }
        }
        if (vote < 0 || vote >= c->n_classes) vote = best;
        out[i].svm_label = vote;
        out[i].proba_label = best;
        out[i].prob = (float)p[vote];
        out[i].nearest = nearest;
        out[i].nearest_class = nearest_class;
        out[i].label = unknown_threshold > 0 && !(nearest <= unknown_threshold) ? -1 : vote;
        if (probs) for (int k = 0; k < c->n_classes; k++) probs[(size_t)i * c->n_classes + k] = (float)p[k];
    }
    free(p);
    return FN_OK;
}
