/* matrix.c — the in-memory embedding matrix of a collection and exact search over it:
 * squared distances |q|^2 + |r|^2 - 2 q.r for a block of rows at a time, the dot products
 * from one SGEMM (OpenBLAS), then top-k selection with a bounded heap. */
#define _GNU_SOURCE
#include "matrix.h"
#include <cblas.h>

/* ---------------------------------------------------------------- id map */
static size_t idmap_slot(int64_t key, size_t cap) {
    return (size_t)fn_splitmix64((uint64_t)key) & (cap - 1);
}

int fn_idmap_get(const fn_idmap *h, int64_t key) {
    if (!h->cap) return -1;
    for (size_t i = idmap_slot(key, h->cap);; i = (i + 1) & (h->cap - 1)) {
        if (h->keys[i] == key) return h->vals[i];
        if (h->keys[i] == 0) return -1;
    }
}

static fn_status idmap_put(fn_idmap *h, int64_t key, int32_t val);

static fn_status idmap_grow(fn_idmap *h) {
    fn_idmap g = { 0 };
    g.cap = h->cap ? h->cap * 2 : 1024;
    while (g.cap < 2 * (h->used + 1)) g.cap *= 2; /* deleted entries are dropped on rehash */
    g.keys = calloc(g.cap, sizeof *g.keys);
    g.vals = malloc(g.cap * sizeof *g.vals);
    if (!g.keys || !g.vals) { free(g.keys); free(g.vals); return fn_fail(FN_ERR_NOMEM, "gallery: out of memory"); }
    for (size_t i = 0; i < h->cap; i++)
        if (h->keys[i] > 0) idmap_put(&g, h->keys[i], h->vals[i]);
    free(h->keys); free(h->vals);
    *h = g;
    return FN_OK;
}

static fn_status idmap_put(fn_idmap *h, int64_t key, int32_t val) {
    if (4 * (h->used + 1) > 3 * h->cap) FN_TRY(idmap_grow(h));
    size_t tomb = (size_t)-1;
    for (size_t i = idmap_slot(key, h->cap);; i = (i + 1) & (h->cap - 1)) {
        if (h->keys[i] == key) { h->vals[i] = val; return FN_OK; }
        if (h->keys[i] == -1 && tomb == (size_t)-1) tomb = i;
        if (h->keys[i] == 0) {
            if (tomb != (size_t)-1) i = tomb; else h->used++;
            h->keys[i] = key; h->vals[i] = val;
            return FN_OK;
        }
    }
}

static void idmap_del(fn_idmap *h, int64_t key) {
    if (!h->cap) return;
    for (size_t i = idmap_slot(key, h->cap);; i = (i + 1) & (h->cap - 1)) {
        if (h->keys[i] == key) { h->keys[i] = -1; return; }
        if (h->keys[i] == 0) return;
    }
}

static void idmap_free(fn_idmap *h) { free(h->keys); free(h->vals); memset(h, 0, sizeof *h); }

/* ---------------------------------------------------------------- matrix */
void fn_matrix_init(fn_matrix *m, int dim) { memset(m, 0, sizeof *m); m->dim = dim; }

void fn_matrix_clear(fn_matrix *m) {
    for (int i = 0; i < m->n_slots; i++) free(m->subjects[i].name);
    int dim = m->dim;
    fn_free(m->emb); free(m->sqnorm); free(m->face_id); free(m->subject);
    idmap_free(&m->rows); idmap_free(&m->slots);
    free(m->subjects); free(m->free_slots);
    fn_matrix_init(m, dim);
}

void fn_matrix_free(fn_matrix *m) { fn_matrix_clear(m); }

int fn_matrix_row(const fn_matrix *m, int64_t face_id) { return fn_idmap_get(&m->rows, face_id); }

static fn_status reserve_rows(fn_matrix *m, int need) {
    if (need <= m->cap) return FN_OK;
    int cap = m->cap ? m->cap : 1024;
    while (cap < need) cap = cap < (1 << 29) ? cap * 2 : need;
    size_t bytes;
    if (!fn_mul_size((size_t)cap, sizeof(float) * m->dim, &bytes)) return fn_fail(FN_ERR_LIMIT, "gallery: too many faces");
    float *emb = fn_malloc(bytes);
    float *sq = realloc(m->sqnorm, sizeof *sq * cap);
    if (sq) m->sqnorm = sq;
    int64_t *fid = realloc(m->face_id, sizeof *fid * cap);
    if (fid) m->face_id = fid;
    int32_t *sub = realloc(m->subject, sizeof *sub * cap);
    if (sub) m->subject = sub;
    if (!emb || !sq || !fid || !sub) { fn_free(emb); return fn_fail(FN_ERR_NOMEM, "gallery: out of memory for %d faces", cap); }
    if (m->n) memcpy(emb, m->emb, sizeof(float) * (size_t)m->n * m->dim);
    fn_free(m->emb);
    m->emb = emb;
    m->cap = cap;
    return FN_OK;
}

/* The slot of a subject, created (or renamed) as needed. */
static fn_status subject_slot(fn_matrix *m, int64_t subject_id, const char *name, int32_t *slot) {
    int s = fn_idmap_get(&m->slots, subject_id);
    if (s >= 0) {
        if (name && strcmp(m->subjects[s].name, name)) {
            char *nn = strdup(name);
            if (!nn) return fn_fail(FN_ERR_NOMEM, "out of memory");
            free(m->subjects[s].name);
            m->subjects[s].name = nn;
        }
        *slot = s;
        return FN_OK;
    }
    char *nn = strdup(name ? name : "");
    if (!nn) return fn_fail(FN_ERR_NOMEM, "out of memory");
    if (m->n_free) s = m->free_slots[--m->n_free];
    else {
        if (m->n_slots == m->slot_cap) {
            int cap = m->slot_cap ? m->slot_cap * 2 : 256;
            fn_matrix_subject *v = realloc(m->subjects, sizeof *v * cap);
            int32_t *f = v ? realloc(m->free_slots, sizeof *f * cap) : NULL;
            if (v) m->subjects = v;
            if (f) m->free_slots = f;
            if (!v || !f) { free(nn); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
            m->slot_cap = cap;
        }
        s = m->n_slots++;
    }
    fn_status r = idmap_put(&m->slots, subject_id, s);
    if (r != FN_OK) { free(nn); m->free_slots[m->n_free++] = s; return r; }
    m->subjects[s] = (fn_matrix_subject){ subject_id, nn, 0 };
    *slot = s;
    return FN_OK;
}

/* A subject whose last face went is forgotten (its slot reused). */
static void subject_unref(fn_matrix *m, int32_t s) {
    if (--m->subjects[s].n_faces > 0) return;
    idmap_del(&m->slots, m->subjects[s].id);
    free(m->subjects[s].name);
    m->subjects[s] = (fn_matrix_subject){ 0, NULL, 0 };
    m->free_slots[m->n_free++] = s;
}

fn_status fn_matrix_add(fn_matrix *m, int64_t face_id, int64_t subject_id, const char *subject, const float *emb) {
    if (fn_matrix_row(m, face_id) >= 0) fn_matrix_remove(m, face_id);
    FN_TRY(reserve_rows(m, m->n + 1));
    int32_t slot = -1;
    FN_TRY(subject_slot(m, subject_id, subject, &slot));
    int row = m->n;
    FN_TRY(idmap_put(&m->rows, face_id, row));
    float *dst = m->emb + (size_t)row * m->dim, sq = 0;
    memcpy(dst, emb, sizeof(float) * m->dim);
    for (int j = 0; j < m->dim; j++) sq += dst[j] * dst[j];
    m->sqnorm[row] = sq;
    m->face_id[row] = face_id;
    m->subject[row] = slot;
    m->subjects[slot].n_faces++;
    m->n++;
    return FN_OK;
}

void fn_matrix_remove(fn_matrix *m, int64_t face_id) {
    int row = fn_matrix_row(m, face_id);
    if (row < 0) return;
    idmap_del(&m->rows, face_id);
    subject_unref(m, m->subject[row]);
    int last = --m->n;
    if (row != last) {
        memcpy(m->emb + (size_t)row * m->dim, m->emb + (size_t)last * m->dim, sizeof(float) * m->dim);
        m->sqnorm[row] = m->sqnorm[last];
        m->face_id[row] = m->face_id[last];
        m->subject[row] = m->subject[last];
        idmap_put(&m->rows, m->face_id[row], row); /* the key exists: no allocation */
    }
}

fn_status fn_matrix_move(fn_matrix *m, int64_t face_id, int64_t subject_id, const char *subject) {
    int row = fn_matrix_row(m, face_id);
    if (row < 0) return FN_OK;
    int32_t slot = -1;
    FN_TRY(subject_slot(m, subject_id, subject, &slot));
    if (slot == m->subject[row]) return FN_OK;
    m->subjects[slot].n_faces++;
    subject_unref(m, m->subject[row]);
    m->subject[row] = slot;
    return FN_OK;
}

fn_status fn_matrix_rename(fn_matrix *m, int64_t subject_id, const char *subject) {
    if (fn_idmap_get(&m->slots, subject_id) < 0) return FN_OK; /* no faces: nothing in memory */
    int32_t slot = -1;
    return subject_slot(m, subject_id, subject, &slot);
}

/* ---------------------------------------------------------------- top-k */
static int worse(const fn_match_row *a, const fn_match_row *b) { /* a ranks after b */
    return a->d2 > b->d2 || (a->d2 == b->d2 && a->row > b->row);
}

void fn_topk_push(fn_topk *t, float d2, int32_t row) {
    fn_match_row x = { d2, row };
    if (t->n == t->k) {
        if (!worse(&t->v[0], &x)) return;
        int i = 0; /* replace the root (the worst) and sift down */
        for (;;) {
            int c = 2 * i + 1;
            if (c >= t->n) break;
            if (c + 1 < t->n && worse(&t->v[c + 1], &t->v[c])) c++;
            if (!worse(&t->v[c], &x)) break;
            t->v[i] = t->v[c]; i = c;
        }
        t->v[i] = x;
        return;
    }
    int i = t->n++;
    while (i > 0 && worse(&x, &t->v[(i - 1) / 2])) { t->v[i] = t->v[(i - 1) / 2]; i = (i - 1) / 2; }
    t->v[i] = x;
}

static int cmp_match(const void *a, const void *b) {
    return worse(a, b) ? 1 : worse(b, a) ? -1 : 0;
}
void fn_topk_sort(fn_topk *t) { qsort(t->v, (size_t)t->n, sizeof *t->v, cmp_match); }

/* ---------------------------------------------------------------- exact search */
static void refine(const fn_matrix *m, const float *q, fn_match_row *v, int n);
/* Squared distances of queries q (nq x dim) to rows [r0, r0 + nr) into d2 (nq x nr). */
static void block_d2(const fn_matrix *m, const float *q, const float *qn, int nq, int r0, int nr, float *d2) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nr, m->dim, -2.0f, q, m->dim,
                m->emb + (size_t)r0 * m->dim, m->dim, 0.0f, d2, nr);
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < nr; j++) {
            float v = d2[(size_t)i * nr + j] + qn[i] + m->sqnorm[r0 + j];
            d2[(size_t)i * nr + j] = v > 0 ? v : 0;
        }
}

/* Rows per block so that a block of distances stays near 16 MB. */
static int block_rows(int nq) {
    int b = (4 << 20) / (nq > 0 ? nq : 1);
    return b < 256 ? 256 : b > 65536 ? 65536 : b;
}

static float *query_norms(const float *q, int nq, int dim) {
    float *qn = malloc(sizeof *qn * (nq > 0 ? nq : 1));
    if (!qn) return NULL;
    for (int i = 0; i < nq; i++) {
        float s = 0;
        for (int j = 0; j < dim; j++) s += q[(size_t)i * dim + j] * q[(size_t)i * dim + j];
        qn[i] = s;
    }
    return qn;
}

fn_status fn_matrix_search(const fn_matrix *m, const float *q, int nq, int k, fn_match_row *out, int *n_found) {
    for (int i = 0; i < nq; i++) n_found[i] = 0;
    if (m->n == 0 || nq <= 0 || k <= 0) return FN_OK;
    const int br = block_rows(nq);
    float *qn = query_norms(q, nq, m->dim), *d2 = fn_malloc(sizeof(float) * (size_t)nq * br);
    if (!qn || !d2) { free(qn); fn_free(d2); return fn_fail(FN_ERR_NOMEM, "gallery: out of memory"); }
    for (int r0 = 0; r0 < m->n; r0 += br) {
        int nr = m->n - r0 < br ? m->n - r0 : br;
        block_d2(m, q, qn, nq, r0, nr, d2);
        for (int i = 0; i < nq; i++) {
            fn_topk t = { out + (size_t)i * k, n_found[i], k };
            const float *d = d2 + (size_t)i * nr;
            for (int j = 0; j < nr; j++)
                if (t.n < k || d[j] <= t.v[0].d2) fn_topk_push(&t, d[j], r0 + j);
            n_found[i] = t.n;
        }
    }
    for (int i = 0; i < nq; i++) refine(m, q + (size_t)i * m->dim, out + (size_t)i * k, n_found[i]);
    free(qn); fn_free(d2);
    return FN_OK;
}

fn_status fn_matrix_search_subjects(const fn_matrix *m, const float *q, int nq, int k, fn_match_row *out,
                                    int *n_found) {
    for (int i = 0; i < nq; i++) n_found[i] = 0;
    if (m->n == 0 || nq <= 0 || k <= 0) return FN_OK;
    const int br = block_rows(1);
    float *qn = query_norms(q, nq, m->dim), *d2 = fn_malloc(sizeof(float) * (size_t)br);
    fn_match_row *best = malloc(sizeof *best * (size_t)m->n_slots);
    fn_status r = FN_OK;
    if (!qn || !d2 || !best) { r = fn_fail(FN_ERR_NOMEM, "gallery: out of memory"); goto done; }
    for (int i = 0; i < nq; i++) { /* one query at a time: a best row per subject */
        for (int s = 0; s < m->n_slots; s++) best[s] = (fn_match_row){ INFINITY, -1 };
        for (int r0 = 0; r0 < m->n; r0 += br) {
            int nr = m->n - r0 < br ? m->n - r0 : br;
            block_d2(m, q + (size_t)i * m->dim, qn + i, 1, r0, nr, d2);
            for (int j = 0; j < nr; j++) {
                fn_match_row *b = &best[m->subject[r0 + j]];
                if (d2[j] < b->d2) *b = (fn_match_row){ d2[j], r0 + j };
            }
        }
        fn_topk t = { out + (size_t)i * k, 0, k };
        for (int s = 0; s < m->n_slots; s++)
            if (best[s].row >= 0) fn_topk_push(&t, best[s].d2, best[s].row);
        refine(m, q + (size_t)i * m->dim, t.v, t.n);
        n_found[i] = t.n;
    }
done:
    free(qn); fn_free(d2); free(best);
    return r;
}

/* Directly as sum (q - r)^2: |q|^2 + |r|^2 - 2 q.r loses ~1e-7 to cancellation, which
 * is an error of ~3e-4 in the distance of a near-duplicate. */
void fn_matrix_distances(const fn_matrix *m, const float *q, const int32_t *rows, int n, float *d2) {
    for (int i = 0; i < n; i++) {
        const float *r = m->emb + (size_t)rows[i] * m->dim;
        float s = 0;
        for (int j = 0; j < m->dim; j++) { float d = q[j] - r[j]; s += d * d; }
        d2[i] = s;
    }
}

/* The found rows' distances recomputed directly, then sorted again. */
static void refine(const fn_matrix *m, const float *q, fn_match_row *v, int n) {
    for (int j = 0; j < n; j++) fn_matrix_distances(m, q, &v[j].row, 1, &v[j].d2);
    fn_topk t = { v, n, n };
    fn_topk_sort(&t);
}
