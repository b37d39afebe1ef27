/* migrate.c — fn_gallery_migrate: copy a gallery between stores (SQLite file <-> PostgreSQL,
 * or within one backend), every collection, through the same store interface the gallery
 * uses, then read both back and compare counts and a checksum of every face's contents.
 *
 * The copy enrols faces in batches that share one enrolment time (the source's own batches:
 * a face's `created` survives), at most BATCH per transaction; subjects without faces are
 * added too. Face ids are the destination's own (ids are per database). The checksum of a
 * collection is SHA-256 over the sorted SHA-256s of its faces, each over subject, source,
 * photo hash, box, landmarks, score, time, embedding and stored photo: independent of ids
 * and of order, equal exactly when both sides hold the same faces. */
#define _GNU_SOURCE
#include "store.h"

#define PAGE 1000   /* faces listed per read */
#define BATCH 1000  /* faces per destination transaction at most */

/* Appends n bytes to a growing buffer. */
typedef struct { uint8_t *p; size_t n, cap; } buf;
static fn_status put(buf *b, const void *v, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return fn_fail(FN_ERR_NOMEM, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
    return FN_OK;
}
/* A string with its length first, so "ab"+"c" and "a"+"bc" differ. */
static fn_status put_str(buf *b, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    FN_TRY(put(b, &n, 4));
    return put(b, s, n);
}

static fn_status face_digest(const fn_gallery_face_info *fi, const float *emb, int dim, const uint8_t *img,
                             size_t img_size, buf *b, char out[65]) {
    b->n = 0;
    FN_TRY(put_str(b, fi->subject));
    FN_TRY(put_str(b, fi->source));
    FN_TRY(put_str(b, fi->source_sha256));
    FN_TRY(put(b, fi->box, sizeof fi->box));
    FN_TRY(put(b, fi->landmarks, sizeof fi->landmarks));
    FN_TRY(put(b, &fi->score, sizeof fi->score));
    FN_TRY(put(b, &fi->created, sizeof fi->created));
    FN_TRY(put(b, emb, sizeof(float) * (size_t)dim));
    uint64_t isz = img ? img_size : UINT64_MAX; /* no photo differs from an empty one */
    FN_TRY(put(b, &isz, 8));
    if (img && img_size) FN_TRY(put(b, img, img_size));
    fn_sha256_hex(b->p, b->n, out);
    return FN_OK;
}

static int cmp_digest(const void *a, const void *b) { return memcmp(a, b, 65); }


/* What one side holds: counts and the digest of every face (in id order). */
typedef struct {
    int n_subjects, n_faces, n_images;
    char (*digests)[65];
    uint8_t *images;          /* per face: 1 when it has a photo */
    char checksum[65];
} summary;

static void summary_free(summary *s) { free(s->digests); free(s->images); }

/* Faces marked with an empty digest (duplicates the copy skipped) are left out; the rest,
 * sorted, hashed together. */
static void summarise(summary *s) {
    int n = 0, images = 0;
    for (int i = 0; i < s->n_faces; i++)
        if (s->digests[i][0]) { memmove(s->digests[n], s->digests[i], 65); images += s->images[i]; n++; }
    s->n_faces = n;
    s->n_images = images;
    qsort(s->digests, (size_t)n, 65, cmp_digest);
    fn_sha256_hex(s->digests, 65 * (size_t)n, s->checksum);
}

/* Reads every face with its embedding and photo, in id order; fn (may be NULL) sees each
 * (index = its slot in sum->digests). */
typedef fn_status (*face_fn)(void *ctx, int index, const fn_gallery_face_info *fi, const float *emb,
                             const uint8_t *img, size_t img_size);

static fn_status walk(const fn_store_ops *ops, fn_store *s, int dim, face_fn fn, void *ctx, fn_progress *prog,
                      summary *sum) {
    memset(sum, 0, sizeof *sum);
    int n_faces;
    FN_TRY(ops->count(s, &sum->n_subjects, &n_faces));
    sum->digests = malloc(65 * (size_t)(n_faces > 0 ? n_faces : 1));
    sum->images = malloc((size_t)(n_faces > 0 ? n_faces : 1));
    float *emb = malloc(sizeof(float) * (size_t)dim);
    buf b = { 0 };
    fn_status r = sum->digests && sum->images && emb ? FN_OK : fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int off = 0; r == FN_OK;) {
        fn_gallery_face_info *fl = NULL;
        int n = 0, total = 0;
        if ((r = ops->list_faces(s, NULL, off, PAGE, &fl, &n, &total)) != FN_OK) break;
        for (int i = 0; i < n && r == FN_OK; i++) {
            uint8_t *img = NULL;
            size_t img_size = 0;
            fn_gallery_face_info fi;
            r = ops->get_face(s, fl[i].id, &fi, emb, &img, &img_size);
            if (r == FN_OK && sum->n_faces >= n_faces)
                r = fn_fail(FN_ERR_IO, "gallery migrate: faces were added during the copy (stop writers and run it again)");
            const int k = sum->n_faces;
            if (r == FN_OK) r = face_digest(&fi, emb, dim, img, img_size, &b, sum->digests[k]);
            if (r == FN_OK) { sum->images[k] = fi.has_image != 0; sum->n_faces++; }
            if (r == FN_OK && fn) r = fn(ctx, k, &fi, emb, img, img_size);
            free(img);
            if (prog) fn_progress_step(prog, 1);
        }
        free(fl);
        if (n < PAGE) break;
        off += n;
    }
    if (r == FN_OK && sum->n_faces != n_faces)
        r = fn_fail(FN_ERR_IO, "gallery migrate: %d faces counted but %d listed (written during the copy? stop "
                    "writers and run it again)", n_faces, sum->n_faces);
    free(emb);
    free(b.p);
    return r;
}

/* The destination side of a copy: faces gathered into a batch while they share a time. */
typedef struct {
    const fn_store_ops *ops;
    fn_store *s;
    int dim;
    fn_gallery_face faces[BATCH];
    float *emb;                /* BATCH x dim */
    uint8_t *img[BATCH];
    char subject[BATCH][FN_GALLERY_NAME_MAX + 1], source[BATCH][FN_GALLERY_NAME_MAX + 1], sha[BATCH][65];
    int index[BATCH];          /* each face's slot in from->digests */
    summary *from;
    int n;
    double created;
    int n_dup;
} copier;

static fn_status flush(copier *c) {
    if (!c->n) return FN_OK;
    int64_t ids[BATCH];
    uint8_t dup[BATCH];
    fn_status r = c->ops->enroll(c->s, c->faces, c->n, c->created, ids, dup);
    for (int i = 0; i < c->n; i++) {
        /* The source repeats a photo of this subject (merging subjects can leave that): the
         * destination keeps it once, and the check leaves the repeat out. */
        if (r == FN_OK && dup[i]) { c->n_dup++; c->from->digests[c->index[i]][0] = 0; }
        free(c->img[i]);
        c->img[i] = NULL;
    }
    c->n = 0;
    return r;
}

static fn_status copy_face(void *ctx, int index, const fn_gallery_face_info *fi, const float *emb,
                           const uint8_t *img, size_t img_size) {
    copier *c = ctx;
    if (c->n == BATCH || (c->n && fi->created != c->created)) FN_TRY(flush(c));
    int i = c->n;
    c->index[i] = index;
    snprintf(c->subject[i], sizeof c->subject[i], "%s", fi->subject);
    snprintf(c->source[i], sizeof c->source[i], "%s", fi->source);
    snprintf(c->sha[i], sizeof c->sha[i], "%s", fi->source_sha256);
    memcpy(c->emb + (size_t)i * c->dim, emb, sizeof(float) * (size_t)c->dim);
    c->img[i] = NULL;
    if (img) {
        if (!(c->img[i] = malloc(img_size ? img_size : 1))) return fn_fail(FN_ERR_NOMEM, "out of memory");
        memcpy(c->img[i], img, img_size);
    }
    fn_gallery_face *f = &c->faces[i];
    memset(f, 0, sizeof *f);
    f->subject = c->subject[i];
    f->embedding = c->emb + (size_t)i * c->dim;
    f->source = c->source[i][0] ? c->source[i] : NULL;
    f->source_sha256 = c->sha[i][0] ? c->sha[i] : NULL;
    memcpy(f->box, fi->box, sizeof f->box);
    memcpy(f->landmarks, fi->landmarks, sizeof f->landmarks);
    f->score = fi->score;
    f->image = c->img[i];
    f->image_size = img ? img_size : 0;
    c->created = fi->created;
    c->n++;
    return FN_OK;
}

static fn_status migrate_collection(const fn_store_ops *src_ops, const char *src, const fn_store_ops *dst_ops,
                                    const char *dst, const char *name, fn_gallery_migration *rep) {
    fn_store_open_args a = { .collection = name, .read_only = 1 };
    fn_store *s = NULL, *d = NULL;
    fn_store_collection sc, dc;
    FN_TRY(src_ops->open(src, &a, &s, &sc));
    fn_store_open_args b = { .collection = name, .model_id = sc.model_id, .dim = sc.dim, .calib = sc.calib, .create = 1 };
    copier *c = NULL;
    fn_gallery_subject *subs = NULL;
    int n_subs = 0, ds = 0, df = 0;
    fn_status r = dst_ops->open(dst, &b, &d, &dc);
    if (r == FN_OK) r = dst_ops->count(d, &ds, &df);
    if (r == FN_OK && (ds || df))
        r = fn_fail(FN_ERR_ARG, "gallery migrate: collection '%s' of the destination already holds %d subjects, %d "
                    "faces (migrate into an empty one)", name, ds, df);
    if (r == FN_OK && !(c = calloc(1, sizeof *c))) r = fn_fail(FN_ERR_NOMEM, "out of memory");
    if (r == FN_OK && !(c->emb = malloc(sizeof(float) * (size_t)BATCH * sc.dim))) r = fn_fail(FN_ERR_NOMEM, "out of memory");
    /* Subjects first (with no face yet, some stay that way), then faces. */
    if (r == FN_OK) r = src_ops->list_subjects(s, &subs, &n_subs);
    for (int i = 0; i < n_subs && r == FN_OK; i++) r = dst_ops->add_subject(d, subs[i].name, fn_store_now(), NULL);
    summary from = { 0 }, to = { 0 };
    if (r == FN_OK) {
        c->from = &from;
        c->ops = dst_ops;
        c->s = d;
        c->dim = sc.dim;
        int n_src = 0, tmp;
        src_ops->count(s, &tmp, &n_src);
        fn_progress prog;
        char label[300];
        snprintf(label, sizeof label, "copying '%s'", name);
        fn_progress_begin(&prog, label, n_src);
        r = walk(src_ops, s, sc.dim, copy_face, c, &prog, &from);
        if (r == FN_OK) r = flush(c);
        fn_progress_end(&prog);
    }
    if (r == FN_OK) r = walk(dst_ops, d, sc.dim, NULL, NULL, NULL, &to);
    if (r == FN_OK) { summarise(&from); summarise(&to); }
    if (r == FN_OK && (from.n_subjects != to.n_subjects || from.n_faces != to.n_faces || from.n_images != to.n_images ||
                       strcmp(from.checksum, to.checksum)))
        r = fn_fail(FN_ERR_IO, "gallery migrate: collection '%s' differs after the copy: source %d subjects, %d faces, "
                    "%d photos, checksum %.16s; destination %d, %d, %d, %.16s", name, from.n_subjects, from.n_faces,
                    from.n_images, from.checksum, to.n_subjects, to.n_faces, to.n_images, to.checksum);
    if (r == FN_OK && rep) {
        rep->n_collections++;
        rep->n_subjects += to.n_subjects;
        rep->n_faces += to.n_faces;
        rep->n_images += to.n_images;
        rep->n_duplicates += c->n_dup;
        if (rep->n_collections <= FN_MIGRATE_REPORTED) {
            fn_gallery_migrated *m = &rep->collections[rep->n_collections - 1];
            snprintf(m->name, sizeof m->name, "%s", name);
            m->n_subjects = to.n_subjects;
            m->n_faces = to.n_faces;
            snprintf(m->checksum, sizeof m->checksum, "%s", to.checksum);
        }
    }
    summary_free(&from);
    summary_free(&to);
    if (c) { for (int i = 0; i < c->n; i++) free(c->img[i]); free(c->emb); free(c); }
    free(subs);
    if (d) dst_ops->close(d);
    src_ops->close(s);
    return r;
}

fn_status fn_gallery_migrate(const char *src, const char *dst, fn_gallery_migration *rep) {
    if (rep) memset(rep, 0, sizeof *rep);
    if (!src || !dst) return fn_fail(FN_ERR_ARG, "gallery migrate: NULL source or destination");
    if (!strcmp(src, dst)) return fn_fail(FN_ERR_ARG, "gallery migrate: source and destination are the same");
    const fn_store_ops *so, *dso;
    FN_TRY(fn_store_for_uri(src, &so));
    FN_TRY(fn_store_for_uri(dst, &dso));
    char (*names)[FN_GALLERY_NAME_MAX + 1] = NULL;
    int n = 0;
    if (!so->list_collections || !dso->list_collections)
        return fn_fail(FN_ERR_UNSUPPORTED, "gallery migrate: the %s backend is not built in", !so->list_collections ? so->name : dso->name);
    FN_TRY(so->list_collections(src, &names, &n));
    fn_status r = n ? FN_OK : fn_fail(FN_ERR_MISSING, "gallery migrate: the source holds no collection");
    for (int i = 0; i < n && r == FN_OK; i++) r = migrate_collection(so, src, dso, dst, names[i], rep);
    free(names);
    return r;
}
