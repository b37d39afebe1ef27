/* ann_file.c — an index file beside the database: "FNANN" magic, version, kind, dim and
 * the change seq it reflects, then FAISS's serialisation; written atomically (a crash
 * leaves the old file or the new one, and a stale one is brought up to date from the
 * change log). */
#include "ann.h"

#define ANN_MAGIC "FNANN\0\1\0" /* 8 bytes: name, NUL, version 1, NUL */

typedef struct { char magic[8]; int32_t kind, dim; int64_t seq; } ann_header;

fn_status fn_ann_save(const fn_ann *a, const char *path, int64_t seq) {
    ann_header h;
    memcpy(h.magic, ANN_MAGIC, 8);
    h.kind = (int32_t)fn_ann_kind(a);
    h.dim = 0; /* the FAISS part records its own; load checks it */
    h.seq = seq;
    fn_atomic_file af;
    FN_TRY(fn_atomic_open(path, &af));
    fn_status s = fwrite(&h, sizeof h, 1, af.f) == 1 ? fn_ann_write_faiss(a, af.f)
                                                      : fn_fail(FN_ERR_IO, "%s: write error", path);
    if (s != FN_OK) { fn_atomic_abort(&af); return s; }
    return fn_atomic_commit(&af);
}

fn_status fn_ann_load(const char *path, fn_index_kind kind, int dim, fn_ann **out, int64_t *seq) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fn_fail(FN_ERR_MISSING, "%s: no index file", path);
    ann_header h;
    fn_status s = FN_OK;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, ANN_MAGIC, 8))
        s = fn_fail(FN_ERR_FORMAT, "%s: not a gallery index file", path);
    else if (h.kind != (int32_t)kind)
        s = fn_fail(FN_ERR_MISMATCH, "%s: an index of another kind", path);
    if (s == FN_OK) s = fn_ann_read_faiss(f, kind, dim, out);
    fclose(f);
    if (s == FN_OK) *seq = h.seq;
    return s;
}
