/* export.c — a collection to and from facenet's export_embeddings layout:
 * DIR/embeddings.npy (n x dim float32), labels.npy (n int64: the subject's index among the
 * sorted subject names) and label_strings.npy (the subject name of each row, as facenet
 * writes it; a file with one name per label is read too). */
#define _GNU_SOURCE
#include "store.h"
#include "tensors.h"
#include <errno.h>
#include <sys/stat.h>

typedef struct {
    int dim, n, cap;
    float *emb;
    char **name;
} export_rows;

static fn_status collect(void *ctx, const fn_store_change *c) {
    export_rows *x = ctx;
    if (!c->embedding || !c->subject) return FN_OK;
    if (x->n == x->cap) {
        int cap = x->cap ? x->cap * 2 : 1024;
        float *e = realloc(x->emb, sizeof(float) * (size_t)cap * x->dim);
        if (e) x->emb = e;
        char **nm = realloc(x->name, sizeof *nm * cap);
        if (nm) x->name = nm;
        if (!e || !nm) return fn_fail(FN_ERR_NOMEM, "out of memory");
        x->cap = cap;
    }
    if (!(x->name[x->n] = strdup(c->subject))) return fn_fail(FN_ERR_NOMEM, "out of memory");
    memcpy(x->emb + (size_t)x->n * x->dim, c->embedding, sizeof(float) * x->dim);
    x->n++;
    return FN_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *join(const char *dir, const char *file) {
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

fn_status fn_gallery_export_npy(fn_gallery *g, const char *dir) {
    if (!g || !dir) return fn_fail(FN_ERR_ARG, "gallery: NULL argument");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return fn_fail(FN_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    export_rows x = { 0 };
    fn_status r = fn_gallery_load_rows(g, collect, &x, &x.dim);
    char **sorted = NULL, *pe = join(dir, "embeddings.npy"), *pl = join(dir, "labels.npy"), *ps = join(dir, "label_strings.npy");
    int64_t *labels = NULL;
    if (r == FN_OK && (!pe || !pl || !ps)) r = fn_fail(FN_ERR_NOMEM, "out of memory");
    if (r == FN_OK) {
        sorted = malloc(sizeof *sorted * (x.n ? x.n : 1));
        labels = malloc(sizeof *labels * (x.n ? x.n : 1));
        if (!sorted || !labels) r = fn_fail(FN_ERR_NOMEM, "out of memory");
    }
    if (r == FN_OK) {
        memcpy(sorted, x.name, sizeof *sorted * x.n);
        qsort(sorted, (size_t)x.n, sizeof *sorted, cmp_str);
        int u = 0; /* distinct names, sorted: label = index */
        for (int i = 0; i < x.n; i++) if (u == 0 || strcmp(sorted[u - 1], sorted[i])) sorted[u++] = sorted[i];
        for (int i = 0; i < x.n; i++) {
            char **hit = bsearch(&x.name[i], sorted, (size_t)u, sizeof *sorted, cmp_str);
            labels[i] = hit - sorted;
        }
        r = fn_npy_save_f32(pe, x.emb, x.n, x.dim);
        if (r == FN_OK) r = fn_npy_save_i64(pl, labels, x.n);
        if (r == FN_OK) r = fn_npy_save_unicode(ps, (const char *const *)x.name, x.n);
    }
    for (int i = 0; i < x.n; i++) free(x.name[i]);
    free(x.name); free(x.emb); free(sorted); free(labels); free(pe); free(pl); free(ps);
    return r;
}

fn_status fn_gallery_import_npy(fn_gallery *g, const char *dir, int *n_imported) {
    if (!g || !dir) return fn_fail(FN_ERR_ARG, "gallery: NULL argument");
    if (n_imported) *n_imported = 0;
    char *pe = join(dir, "embeddings.npy"), *pl = join(dir, "labels.npy"), *ps = join(dir, "label_strings.npy");
    float *emb = NULL;
    int64_t *labels = NULL, rows = 0, cols = 0, nl = 0, ns = 0;
    char **names = NULL;
    fn_gallery_face *faces = NULL;
    fn_gallery_stats st;
    fn_status r = pe && pl && ps ? FN_OK : fn_fail(FN_ERR_NOMEM, "out of memory");
    if (r == FN_OK) r = fn_gallery_info(g, &st);
    if (r == FN_OK) r = fn_npy_load_f32(pe, &emb, &rows, &cols);
    if (r == FN_OK) r = fn_npy_load_i64(pl, &labels, &nl);
    if (r == FN_OK) r = fn_npy_load_unicode(ps, &names, &ns);
    if (r == FN_OK && cols != st.dim)
        r = fn_fail(FN_ERR_MISMATCH, "%s: %lld-d embeddings, the gallery holds %d-d", pe, (long long)cols, st.dim);
    if (r == FN_OK && nl != rows) r = fn_fail(FN_ERR_SHAPE, "%s: %lld labels for %lld embeddings", pl, (long long)nl, (long long)rows);
    if (r == FN_OK && rows > INT32_MAX / 2) r = fn_fail(FN_ERR_LIMIT, "%s: %lld rows", pe, (long long)rows);
    /* facenet writes one name per row; a file with one name per label is accepted too */
    int per_row = r == FN_OK && ns == rows;
    for (int64_t i = 0; r == FN_OK && i < rows; i++)
        if (!per_row && (labels[i] < 0 || labels[i] >= ns))
            r = fn_fail(FN_ERR_FORMAT, "%s: label %lld of row %lld has no name in %s", pl, (long long)labels[i], (long long)i, ps);
    if (r == FN_OK && !(faces = calloc(rows ? (size_t)rows : 1, sizeof *faces))) r = fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; r == FN_OK && i < rows; i++) {
        faces[i].subject = per_row ? names[i] : names[labels[i]];
        faces[i].embedding = emb + i * cols;
        faces[i].source = pe;
    }
    if (r == FN_OK) r = fn_gallery_enroll_many(g, faces, (int)rows, NULL, NULL);
    if (r == FN_OK && n_imported) *n_imported = (int)rows;
    fn_free(emb); fn_free(labels); fn_npy_strings_free(names, ns); free(faces);
    free(pe); free(pl); free(ps);
    return r;
}
