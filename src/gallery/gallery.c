/* gallery.c — fn_gallery_*: one collection of a store (store.h) with its embeddings in
 * memory (matrix.h), kept current by following the store's change log.
 *
 * Locks: store_mu serialises every call into the store (one connection per handle);
 * lock (a rwlock) guards the in-memory matrix: searches hold it shared, applying changes
 * holds it exclusive. Order: store_mu before lock, never the other way. */
#define _GNU_SOURCE
#include "store.h"
#include "matrix.h"
#include "ann.h"
#include <pthread.h>

/* Candidates an approximate index proposes per query, re-ranked exactly. */
#define ANN_CANDIDATES 256

struct fn_gallery {
    const fn_store_ops *ops;
    fn_store *store;
    fn_store_collection coll;
    char collection[FN_GALLERY_NAME_MAX + 1];
    int read_only;
    fn_index_kind index;
    int index_threshold;
    pthread_mutex_t store_mu;
    pthread_rwlock_t lock;
    fn_matrix m;
    int64_t seq;        /* last change applied to m */
    int need_reload;    /* a RESET was seen while applying changes */
    fn_ann *ann;        /* approximate index over m (NULL: exact search); kept at seq too */
    int64_t ann_unsaved;/* changes applied to ann since its file was written */
    char *ann_path;     /* where ann is persisted (NULL: not a file backend) */
};

/* An index update failed: it is only a cache, so fall back to exact search. */
static void drop_ann(fn_gallery *g) {
    fn_ann_free(g->ann);
    g->ann = NULL;
}

void fn_gallery_options_default(fn_gallery_options *o) {
    memset(o, 0, sizeof *o);
    o->index = FN_INDEX_AUTO;
    o->index_threshold = 50000;
}

/* ---------------------------------------------------------------- following the log */
static fn_status apply_change(void *ctx, const fn_store_change *c) {
    fn_gallery *g = ctx;
    switch (c->op) {
    case FN_CHANGE_FACE_ADDED:
        if (!c->embedding || !c->subject) return FN_OK; /* gone since: a later row removes it */
        if (g->ann && fn_matrix_row(&g->m, c->face_id) < 0) {
            if (fn_ann_add(g->ann, c->embedding, &c->face_id, 1) != FN_OK) drop_ann(g);
            g->ann_unsaved++;
        }
        return fn_matrix_add(&g->m, c->face_id, c->subject_id, c->subject, c->embedding);
    case FN_CHANGE_FACE_REMOVED:
        if (g->ann) {
            if (fn_ann_remove(g->ann, &c->face_id, 1) != FN_OK) drop_ann(g);
            g->ann_unsaved++;
        }
        fn_matrix_remove(&g->m, c->face_id);
        return FN_OK;
    case FN_CHANGE_FACE_MOVED:
        return c->subject ? fn_matrix_move(&g->m, c->face_id, c->subject_id, c->subject) : FN_OK;
    case FN_CHANGE_SUBJECT_RENAMED:
        return c->subject ? fn_matrix_rename(&g->m, c->subject_id, c->subject) : FN_OK;
    case FN_CHANGE_RESET: g->need_reload = 1; return FN_OK;
    }
    return FN_OK; /* ops of a newer version: a full reload happens on the next RESET */
}

/* Loads the whole collection afresh. Caller holds store_mu and the write lock. */
static fn_status reload(fn_gallery *g) {
    drop_ann(g);
    fn_matrix_clear(&g->m);
    g->need_reload = 0;
    fn_status r = g->ops->load(g->store, apply_change, g, &g->seq);
    if (r != FN_OK) { fn_matrix_clear(&g->m); g->seq = 0; }
    return r;
}

/* Applies what others (and this handle) wrote since g->seq. Caller holds store_mu. */
static fn_status refresh_locked(fn_gallery *g) {
    int64_t last;
    FN_TRY(g->ops->last_seq(g->store, &last));
    if (last == g->seq) return FN_OK;
    pthread_rwlock_wrlock(&g->lock);
    fn_status r = g->ops->changes(g->store, g->seq, apply_change, g, &last);
    if (r == FN_OK) g->seq = last;
    /* A failure half-way leaves m between two states: start over from a full load. */
    if (r != FN_OK || g->need_reload) {
        fn_status r2 = reload(g);
        if (r == FN_OK) r = r2;
    }
    pthread_rwlock_unlock(&g->lock);
    return r;
}

/* ---------------------------------------------------------------- the approximate index */
static fn_index_kind wanted_index(const fn_gallery *g) {
    if (g->index == FN_INDEX_HNSW || g->index == FN_INDEX_IVF) return g->index;
#ifdef FN_HAVE_FAISS
    if (g->index == FN_INDEX_AUTO && g->m.n >= g->index_threshold) return FN_INDEX_IVF;
#endif
    return FN_INDEX_EXACT;
}

/* Replaying the log into a loaded index only (the matrix is current already). */
typedef struct { fn_gallery *g; fn_ann *ann; int reset; } replay_ctx;
static fn_status replay_change(void *ctx, const fn_store_change *c) {
    replay_ctx *x = ctx;
    if (c->op == FN_CHANGE_RESET) x->reset = 1;
    else if (c->op == FN_CHANGE_FACE_ADDED && c->embedding && fn_matrix_row(&x->g->m, c->face_id) >= 0)
        return fn_ann_add(x->ann, c->embedding, &c->face_id, 1);
    else if (c->op == FN_CHANGE_FACE_REMOVED)
        return fn_ann_remove(x->ann, &c->face_id, 1);
    return FN_OK;
}

/* The index file brought up to g->seq, or NULL (missing, damaged, of a reset collection). */
static fn_ann *load_ann(fn_gallery *g, fn_index_kind kind) {
    fn_ann *ann = NULL;
    int64_t seq = 0, last = 0;
    if (!g->ann_path || fn_ann_load(g->ann_path, kind, g->coll.dim, &ann, &seq) != FN_OK) return NULL;
    replay_ctx x = { g, ann, 0 };
    if (seq > g->seq || g->ops->changes(g->store, seq, replay_change, &x, &last) != FN_OK || x.reset || last != g->seq) {
        fn_ann_free(ann); /* the log moved on while reading it, or the file is from another life */
        return NULL;
    }
    g->ann_unsaved = g->seq - seq;
    return ann;
}

/* Puts the index the gallery should use in place (loading, building or dropping it).
 * Caller holds store_mu. An index that cannot be had leaves exact search, which is
 * always correct; only an explicit --index reports the failure. */
static fn_status ensure_index(fn_gallery *g) {
    fn_index_kind want = wanted_index(g);
    fn_ann *cur = g->ann;
    /* HNSW cannot remove: rebuild when a fifth of what it holds is stale */
    int stale = cur && fn_ann_size(cur) > (int64_t)g->m.n + g->m.n / 4 + 1000;
    if (cur && fn_ann_kind(cur) == want && !stale) return FN_OK;
    if (!cur && want == FN_INDEX_EXACT) return FN_OK;
    pthread_rwlock_wrlock(&g->lock);
    drop_ann(g);
    fn_status r = FN_OK;
    if (want != FN_INDEX_EXACT && g->m.n > 0) {
        g->ann = stale ? NULL : load_ann(g, want);
        if (!g->ann) {
            r = fn_ann_build(want, g->coll.dim, g->m.emb, g->m.face_id, g->m.n, &g->ann);
            if (r == FN_OK) g->ann_unsaved = 1;
        }
        if (r == FN_OK && g->ann_path && g->ann_unsaved && fn_ann_save(g->ann, g->ann_path, g->seq) == FN_OK)
            g->ann_unsaved = 0;
    }
    pthread_rwlock_unlock(&g->lock);
    if (r != FN_OK && g->index == FN_INDEX_AUTO) { fn_clear_error(); r = FN_OK; }
    return r;
}

fn_status fn_gallery_refresh(fn_gallery *g) {
    if (!g) return fn_fail(FN_ERR_ARG, "gallery: NULL handle");
    pthread_mutex_lock(&g->store_mu);
    fn_status r = refresh_locked(g);
    pthread_mutex_unlock(&g->store_mu);
    return r;
}

/* ---------------------------------------------------------------- open / close */
fn_status fn_gallery_open(const char *uri, const fn_gallery_options *opt, fn_gallery **out) {
    if (!out) return fn_fail(FN_ERR_ARG, "gallery: NULL output");
    *out = NULL;
    fn_gallery_options def;
    if (!opt) { fn_gallery_options_default(&def); opt = &def; }
    const char *collection = opt->collection && *opt->collection ? opt->collection : "default";
    FN_TRY(fn_store_check_name("collection", collection));
    if (opt->dim < 0 || opt->dim > 65536) return fn_fail(FN_ERR_ARG, "gallery: bad dimension %d", opt->dim);
    if (opt->index < FN_INDEX_AUTO || opt->index > FN_INDEX_IVF) return fn_fail(FN_ERR_ARG, "gallery: bad index kind %d", (int)opt->index);
#ifndef FN_HAVE_FAISS
    if (opt->index == FN_INDEX_HNSW || opt->index == FN_INDEX_IVF)
        return fn_fail(FN_ERR_UNSUPPORTED, "gallery: built without FAISS, no hnsw / ivf index (install libfaiss-dev and rebuild)");
#endif
    const fn_store_ops *ops;
    FN_TRY(fn_store_for_uri(uri, &ops));
    fn_gallery *g = calloc(1, sizeof *g);
    if (!g) return fn_fail(FN_ERR_NOMEM, "out of memory");
    g->ops = ops;
    snprintf(g->collection, sizeof g->collection, "%s", collection);
    g->read_only = opt->read_only;
    g->index = opt->index;
    g->index_threshold = opt->index_threshold > 0 ? opt->index_threshold : 50000;
    pthread_mutex_init(&g->store_mu, NULL);
    pthread_rwlock_init(&g->lock, NULL);
    fn_store_open_args a = {
        .collection = collection, .model_id = opt->model_id, .dim = opt->dim, .calib = opt->calib,
        .create = opt->create, .read_only = opt->read_only,
    };
    if (!(a.calib.threshold > 0 && a.calib.slope > 0)) fn_model_similarity_calib(NULL, &a.calib);
    fn_status r = ops->open(uri, &a, &g->store, &g->coll);
    if (r == FN_OK) {
        if (!(g->coll.calib.threshold > 0 && g->coll.calib.slope > 0)) fn_model_similarity_calib(NULL, &g->coll.calib);
        fn_matrix_init(&g->m, g->coll.dim);
        r = reload(g);
    }
    /* the index lives beside a database file: DB.<collection id>.ivf / .hnsw */
    if (r == FN_OK && ops == &fn_store_sqlite_ops) {
        const fn_index_kind k = wanted_index(g) == FN_INDEX_EXACT ? opt->index : wanted_index(g);
        if (asprintf(&g->ann_path, "%s.%lld.%s", uri, (long long)g->coll.id, k == FN_INDEX_HNSW ? "hnsw" : "ivf") < 0) {
            g->ann_path = NULL;
            r = fn_fail(FN_ERR_NOMEM, "out of memory");
        }
    }
    if (r == FN_OK) {
        pthread_mutex_lock(&g->store_mu);
        r = ensure_index(g);
        pthread_mutex_unlock(&g->store_mu);
    }
    if (r != FN_OK) { fn_gallery_close(g); return r; }
    *out = g;
    return FN_OK;
}

void fn_gallery_close(fn_gallery *g) {
    if (!g) return;
    if (g->ann && g->ann_unsaved && g->ann_path) fn_ann_save(g->ann, g->ann_path, g->seq); /* a cache: failure is harmless */
    fn_ann_free(g->ann);
    free(g->ann_path);
    if (g->store) g->ops->close(g->store);
    fn_matrix_free(&g->m);
    pthread_mutex_destroy(&g->store_mu);
    pthread_rwlock_destroy(&g->lock);
    free(g);
}

/* ---------------------------------------------------------------- writes */
static fn_status check_writable(const fn_gallery *g) {
    if (!g) return fn_fail(FN_ERR_ARG, "gallery: NULL handle");
    return g->read_only ? fn_fail(FN_ERR_ARG, "gallery: opened read-only") : FN_OK;
}

static fn_status check_face(const fn_gallery *g, const fn_gallery_face *f) {
    FN_TRY(fn_store_check_name("subject", f->subject));
    if (!f->embedding) return fn_fail(FN_ERR_ARG, "gallery: face without an embedding");
    double sq = 0;
    for (int j = 0; j < g->coll.dim; j++) sq += (double)f->embedding[j] * f->embedding[j];
    if (!isfinite(sq) || sq < 1e-12) return fn_fail(FN_ERR_ARG, "gallery: embedding is zero or not finite");
    if (f->source_sha256 && *f->source_sha256) {
        size_t n = strlen(f->source_sha256);
        if (n != 64 || strspn(f->source_sha256, "0123456789abcdef") != 64)
            return fn_fail(FN_ERR_ARG, "gallery: source_sha256 must be 64 lowercase hex digits");
    }
    return FN_OK;
}

/* Runs one store write under store_mu, then applies it (and whatever else happened). */
#define STORE_WRITE(g, call) do { \
        pthread_mutex_lock(&(g)->store_mu); \
        fn_status w__ = (call); \
        if (w__ == FN_OK) w__ = refresh_locked(g); \
        pthread_mutex_unlock(&(g)->store_mu); \
        return w__; \
    } while (0)

static fn_status enroll_many(fn_gallery *g, const fn_gallery_face *faces, int n, int64_t *ids, int *n_dup) {
    int64_t *id = ids ? ids : malloc(sizeof *id * (n > 0 ? n : 1));
    uint8_t *dup = calloc(n > 0 ? n : 1, 1);
    fn_status r = FN_OK;
    if (!id || !dup) r = fn_fail(FN_ERR_NOMEM, "out of memory");
    if (r == FN_OK) {
        pthread_mutex_lock(&g->store_mu);
        r = g->ops->enroll(g->store, faces, n, fn_store_now(), id, dup);
        if (r == FN_OK) r = refresh_locked(g);
        pthread_mutex_unlock(&g->store_mu);
    }
    if (r == FN_OK && n_dup) { *n_dup = 0; for (int i = 0; i < n; i++) *n_dup += dup[i]; }
    if (id != ids) free(id);
    free(dup);
    return r;
}

fn_status fn_gallery_enroll_many(fn_gallery *g, const fn_gallery_face *faces, int n, int64_t *ids, int *n_duplicates) {
    FN_TRY(check_writable(g));
    if (n < 0 || (n > 0 && !faces)) return fn_fail(FN_ERR_ARG, "gallery: bad face list");
    for (int i = 0; i < n; i++) {
        fn_status r = check_face(g, &faces[i]);
        if (r != FN_OK) return fn_fail(r, "face %d: %s", i, fn_last_error());
    }
    return enroll_many(g, faces, n, ids, n_duplicates);
}

fn_status fn_gallery_enroll(fn_gallery *g, const fn_gallery_face *face, int64_t *face_id, int *duplicate) {
    FN_TRY(check_writable(g));
    if (!face) return fn_fail(FN_ERR_ARG, "gallery: NULL face");
    FN_TRY(check_face(g, face));
    int64_t id = 0;
    int nd = 0;
    FN_TRY(enroll_many(g, face, 1, &id, &nd));
    if (face_id) *face_id = id;
    if (duplicate) *duplicate = nd;
    return FN_OK;
}

fn_status fn_gallery_add_subject(fn_gallery *g, const char *subject, int *created) {
    FN_TRY(check_writable(g));
    FN_TRY(fn_store_check_name("subject", subject));
    int c = 0;
    pthread_mutex_lock(&g->store_mu);
    fn_status r = g->ops->add_subject(g->store, subject, fn_store_now(), &c);
    pthread_mutex_unlock(&g->store_mu);
    if (r == FN_OK && created) *created = c;
    return r;
}

fn_status fn_gallery_rename_subject(fn_gallery *g, const char *old_name, const char *new_name) {
    FN_TRY(check_writable(g));
    FN_TRY(fn_store_check_name("subject", old_name));
    FN_TRY(fn_store_check_name("subject", new_name));
    STORE_WRITE(g, g->ops->rename_subject(g->store, old_name, new_name));
}

fn_status fn_gallery_remove_subject(fn_gallery *g, const char *subject, int *n_faces) {
    FN_TRY(check_writable(g));
    FN_TRY(fn_store_check_name("subject", subject));
    int n = 0;
    if (!n_faces) n_faces = &n;
    STORE_WRITE(g, g->ops->remove_subject(g->store, subject, n_faces));
}

fn_status fn_gallery_remove_face(fn_gallery *g, int64_t face_id) {
    FN_TRY(check_writable(g));
    STORE_WRITE(g, g->ops->remove_face(g->store, face_id));
}

fn_status fn_gallery_remove_all(fn_gallery *g, int *n_faces) {
    FN_TRY(check_writable(g));
    int n = 0;
    if (!n_faces) n_faces = &n;
    STORE_WRITE(g, g->ops->remove_all(g->store, n_faces));
}

/* ---------------------------------------------------------------- reads */
#define STORE_READ(g, call) do { \
        if (!(g)) return fn_fail(FN_ERR_ARG, "gallery: NULL handle"); \
        pthread_mutex_lock(&(g)->store_mu); \
        fn_status r__ = (call); \
        pthread_mutex_unlock(&(g)->store_mu); \
        return r__; \
    } while (0)

fn_status fn_gallery_list_subjects(fn_gallery *g, fn_gallery_subject **subjects, int *n) {
    if (!subjects || !n) return fn_fail(FN_ERR_ARG, "gallery: NULL output");
    STORE_READ(g, g->ops->list_subjects(g->store, subjects, n));
}

fn_status fn_gallery_list_faces(fn_gallery *g, const char *subject, int offset, int limit,
                                fn_gallery_face_info **faces, int *n, int *total) {
    if (!faces || !n) return fn_fail(FN_ERR_ARG, "gallery: NULL output");
    if (subject) FN_TRY(fn_store_check_name("subject", subject));
    STORE_READ(g, g->ops->list_faces(g->store, subject, offset, limit, faces, n, total));
}

fn_status fn_gallery_get_face(fn_gallery *g, int64_t face_id, fn_gallery_face_info *info, float *embedding,
                              uint8_t **image, size_t *image_size) {
    STORE_READ(g, g->ops->get_face(g->store, face_id, info, embedding, image, image_size));
}

fn_status fn_gallery_load_rows(fn_gallery *g, fn_store_change_fn fn, void *ctx, int *dim) {
    *dim = g->coll.dim;
    int64_t seq;
    STORE_READ(g, g->ops->load(g->store, fn, ctx, &seq));
}

fn_status fn_gallery_info(fn_gallery *g, fn_gallery_stats *out) {
    if (!g || !out) return fn_fail(FN_ERR_ARG, "gallery: NULL argument");
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&g->store_mu);
    fn_status r = refresh_locked(g);
    if (r == FN_OK) r = g->ops->count(g->store, &out->n_subjects, &out->n_faces);
    out->change_seq = g->seq; /* written only under store_mu: read it there (TSan) */
    pthread_mutex_unlock(&g->store_mu);
    out->dim = g->coll.dim;
    snprintf(out->model_id, sizeof out->model_id, "%s", g->coll.model_id);
    snprintf(out->collection, sizeof out->collection, "%s", g->collection);
    snprintf(out->backend, sizeof out->backend, "%s", g->ops->name);
    pthread_rwlock_rdlock(&g->lock);
    out->index = g->ann ? fn_ann_kind(g->ann) : FN_INDEX_EXACT;
    pthread_rwlock_unlock(&g->lock);
    out->calib = g->coll.calib;
    return r;
}

/* ---------------------------------------------------------------- search */
static fn_status check_queries(fn_gallery *g, const float *q, int nq, int k, const fn_gallery_match *out,
                               const int *n_found) {
    if (!g) return fn_fail(FN_ERR_ARG, "gallery: NULL handle");
    if (nq < 0 || k <= 0 || (nq > 0 && (!q || !out || !n_found)))
        return fn_fail(FN_ERR_ARG, "gallery: bad search arguments (queries %d, k %d)", nq, k);
    for (size_t i = 0; i < (size_t)nq * g->coll.dim; i++)
        if (!isfinite(q[i])) return fn_fail(FN_ERR_ARG, "gallery: query %zu is not finite", i / g->coll.dim);
    return FN_OK;
}

/* Fills out[i] from rows found by the matrix (caller holds the read lock). */
static void fill_matches(fn_gallery *g, const fn_match_row *rows, int nq, int k, const int *n_found,
                         fn_gallery_match *out) {
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < n_found[i]; j++) {
            const fn_match_row *mr = &rows[(size_t)i * k + j];
            fn_gallery_match *o = &out[(size_t)i * k + j];
            o->face_id = g->m.face_id[mr->row];
            snprintf(o->subject, sizeof o->subject, "%s", g->m.subjects[g->m.subject[mr->row]].name);
            o->distance = sqrtf(mr->d2);
            o->similarity = fn_similarity(&g->coll.calib, o->distance);
        }
}

/* Top-k by the index: ANN_CANDIDATES candidates per query, stale ones dropped, re-ranked
 * exactly; for subjects, each subject by its nearest candidate. Caller holds the read lock. */
static fn_status search_ann(fn_gallery *g, const float *q, int nq, int k, fn_match_row *out, int *n_found,
                            int subjects) {
    const int kc = k * 4 > ANN_CANDIDATES ? k * 4 : ANN_CANDIDATES;
    int64_t *ids = malloc(sizeof *ids * (size_t)nq * kc);
    int32_t *rows = malloc(sizeof *rows * kc);
    float *d2 = malloc(sizeof *d2 * kc);
    fn_match_row *cand = malloc(sizeof *cand * kc);
    fn_status r = ids && rows && d2 && cand ? fn_ann_search(g->ann, q, nq, kc, ids) : fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; r == FN_OK && i < nq; i++) {
        int n = 0;
        for (int j = 0; j < kc; j++) {
            int row = ids[(size_t)i * kc + j] >= 0 ? fn_matrix_row(&g->m, ids[(size_t)i * kc + j]) : -1;
            if (row >= 0) rows[n++] = row;
        }
        fn_matrix_distances(&g->m, q + (size_t)i * g->coll.dim, rows, n, d2);
        fn_topk t = { out + (size_t)i * k, 0, k };
        if (!subjects) {
            for (int j = 0; j < n; j++) fn_topk_push(&t, d2[j], rows[j]);
        } else {
            fn_topk all = { cand, 0, kc };
            for (int j = 0; j < n; j++) fn_topk_push(&all, d2[j], rows[j]);
            fn_topk_sort(&all);
            for (int j = 0; j < all.n && t.n < k; j++) {
                int seen = 0;
                for (int u = 0; u < t.n && !seen; u++) seen = g->m.subject[t.v[u].row] == g->m.subject[all.v[j].row];
                if (!seen) t.v[t.n++] = all.v[j]; /* ascending already: a sorted prefix */
            }
        }
        fn_topk_sort(&t);
        n_found[i] = t.n;
    }
    free(ids); free(rows); free(d2); free(cand);
    return r;
}

static fn_status search(fn_gallery *g, const float *q, int nq, int k, fn_gallery_match *out, int *n_found,
                        int subjects) {
    FN_TRY(check_queries(g, q, nq, k, out, n_found));
    pthread_mutex_lock(&g->store_mu);
    fn_status r = refresh_locked(g);
    if (r == FN_OK) r = ensure_index(g);
    pthread_mutex_unlock(&g->store_mu);
    if (r != FN_OK) return r;
    fn_match_row *rows = malloc(sizeof *rows * (size_t)(nq > 0 ? nq : 1) * k);
    if (!rows) return fn_fail(FN_ERR_NOMEM, "gallery: out of memory");
    pthread_rwlock_rdlock(&g->lock);
    if (g->ann) r = search_ann(g, q, nq, k, rows, n_found, subjects);
    else r = subjects ? fn_matrix_search_subjects(&g->m, q, nq, k, rows, n_found)
                      : fn_matrix_search(&g->m, q, nq, k, rows, n_found);
    if (r == FN_OK) fill_matches(g, rows, nq, k, n_found, out);
    pthread_rwlock_unlock(&g->lock);
    free(rows);
    return r;
}

fn_status fn_gallery_search(fn_gallery *g, const float *queries, int n_queries, int k,
                            fn_gallery_match *out, int *n_found) {
    return search(g, queries, n_queries, k, out, n_found, 0);
}

fn_status fn_gallery_search_subjects(fn_gallery *g, const float *queries, int n_queries, int k,
                                     fn_gallery_match *out, int *n_found) {
    return search(g, queries, n_queries, k, out, n_found, 1);
}
