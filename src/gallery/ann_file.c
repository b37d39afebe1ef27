/* ann_file.c — an index file beside the database: "FNANN" magic, version, kind, the change
 * seq it reflects, the payload's size and sha256, then FAISS's serialisation; written
 * atomically (a crash leaves the old file or the new one, and a stale one is brought up to
 * date from the change log). The hash keeps damaged bytes away from FAISS's parser. */
#include "ann.h"

#define ANN_MAGIC "FNANN\0\2\0" /* 8 bytes: name, NUL, version 2, NUL */

typedef struct { char magic[8]; int32_t kind, reserved; int64_t seq; uint64_t size; char sha256[64]; } ann_header;

fn_status fn_ann_save(const fn_ann *a, const char *path, int64_t seq) {
    void *payload;
    size_t size;
    FN_TRY(fn_ann_serialize(a, &payload, &size));
    ann_header h = {0};
    memcpy(h.magic, ANN_MAGIC, 8);
    h.kind = (int32_t)fn_ann_kind(a);
    h.seq = seq;
    h.size = size;
    char hex[65];
    fn_sha256_hex(payload, size, hex);
    memcpy(h.sha256, hex, 64);
    fn_atomic_file af;
    fn_status s = fn_atomic_open(path, &af);
    if (s == FN_OK) {
        if (fwrite(&h, sizeof h, 1, af.f) != 1 || fwrite(payload, 1, size, af.f) != size) {
            s = fn_fail(FN_ERR_IO, "%s: write error", path);
            fn_atomic_abort(&af);
        } else s = fn_atomic_commit(&af);
    }
    free(payload);
    return s;
}

fn_status fn_ann_load(const char *path, fn_index_kind kind, int dim, fn_ann **out, int64_t *seq) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fn_fail(FN_ERR_MISSING, "%s: no index file", path);
    ann_header h;
    fn_status s = FN_OK;
    void *payload = NULL;
    long end = -1;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, ANN_MAGIC, 8))
        s = fn_fail(FN_ERR_FORMAT, "%s: not a gallery index file (or one of an older version)", path);
    else if (h.kind != (int32_t)kind)
        s = fn_fail(FN_ERR_MISMATCH, "%s: an index of another kind", path);
    else if (fseek(f, 0, SEEK_END) || (end = ftell(f)) < 0 || (uint64_t)end != sizeof h + h.size)
        s = fn_fail(FN_ERR_FORMAT, "%s: %ld bytes, the header says %llu (truncated or damaged)", path, end,
                    (unsigned long long)(sizeof h + h.size));
    else if (!(payload = malloc(h.size ? h.size : 1)))
        s = fn_fail(FN_ERR_NOMEM, "%s: out of memory for %llu bytes", path, (unsigned long long)h.size);
    else if (fseek(f, sizeof h, SEEK_SET) || fread(payload, 1, h.size, f) != h.size)
        s = fn_fail(FN_ERR_IO, "%s: read error", path);
    if (s == FN_OK) {
        char hex[65];
        fn_sha256_hex(payload, h.size, hex);
        if (memcmp(hex, h.sha256, 64)) s = fn_fail(FN_ERR_FORMAT, "%s: checksum mismatch (damaged file)", path);
    }
    if (s == FN_OK) s = fn_ann_deserialize(payload, h.size, kind, dim, out);
    free(payload);
    fclose(f);
    if (s == FN_OK) *seq = h.seq;
    return s;
}
