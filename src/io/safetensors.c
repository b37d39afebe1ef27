/* safetensors.c — the native weight format: u64 header length, JSON header
 * {"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]}, "__metadata__":{..}},
 * then raw little-endian tensor bytes. Read through mmap; written atomically. */
#define _GNU_SOURCE
#include "tensors.h"
#include "json.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAFETENSORS_MAX_HEADER (100u << 20)

static const char *dtype_names[] = { "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL" };
static const size_t dtype_sizes[] = { 4, 8, 2, 2, 8, 4, 2, 1, 1, 1 };

size_t fn_dtype_size(fn_dtype d) { return (unsigned)d < 10 ? dtype_sizes[d] : 0; }
const char *fn_dtype_name(fn_dtype d) { return (unsigned)d < 10 ? dtype_names[d] : "?"; }
int fn_dtype_from_name(const char *s) {
    for (int i = 0; i < 10; i++) if (!strcmp(s, dtype_names[i])) return i;
    return -1;
}

int64_t fn_tensor_numel(const fn_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

void fn_tensor_set_init(fn_tensor_set *s) { memset(s, 0, sizeof *s); }

void fn_tensor_set_free(fn_tensor_set *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->t[i].name);
        if (s->t[i].owned) free(s->t[i].data);
    }
    free(s->t);
    if (s->map) munmap(s->map, s->map_size);
    free(s->metadata_json);
    memset(s, 0, sizeof *s);
}

fn_status fn_tensor_set_add(fn_tensor_set *s, const char *name, fn_dtype dtype, int ndim,
                            const int64_t *shape, void *data, int owned) {
    if (ndim < 0 || ndim > FN_MAX_DIMS) {
        if (owned) free(data);
        return fn_fail(FN_ERR_SHAPE, "tensor %s: %d dimensions (max %d)", name, ndim, FN_MAX_DIMS);
    }
    size_t n = fn_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !fn_mul_size(n, (size_t)shape[i], &n) || n > FN_TENSOR_MAX_BYTES) {
            if (owned) free(data);
            return fn_fail(FN_ERR_LIMIT, "tensor %s: absurd shape", name);
        }
    }
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 64;
        fn_tensor *t = realloc(s->t, sizeof(fn_tensor) * nc);
        if (!t) { if (owned) free(data); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
        s->t = t; s->cap = nc;
    }
    fn_tensor *t = &s->t[s->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) { if (owned) free(data); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    t->dtype = dtype; t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data; t->nbytes = n; t->owned = owned;
    s->n++;
    return FN_OK;
}

const fn_tensor *fn_tensor_set_find(const fn_tensor_set *s, const char *name) {
    for (int i = 0; i < s->n; i++) if (!strcmp(s->t[i].name, name)) return &s->t[i];
    return NULL;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++) o += snprintf(buf + o, cap - o, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

fn_status fn_tensor_set_get_f32(const fn_tensor_set *s, const char *name, int ndim,
                                const int64_t *shape, const float **data) {
    const fn_tensor *t = fn_tensor_set_find(s, name);
    if (!t) return fn_fail(FN_ERR_MISSING, "missing tensor '%s'", name);
    if (t->dtype != FN_F32) return fn_fail(FN_ERR_UNSUPPORTED, "tensor '%s' has dtype %s, expected F32", name, fn_dtype_name(t->dtype));
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char a[128], b[128];
        shape_str(a, sizeof a, t->ndim, t->shape);
        shape_str(b, sizeof b, ndim, shape);
        return fn_fail(FN_ERR_SHAPE, "tensor '%s' has shape %s, expected %s", name, a, b);
    }
    *data = (const float *)t->data;
    return FN_OK;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal */
            float f = man * (1.0f / 16777216.0f);
            memcpy(&bits, &f, 4); bits |= sign;
        }
    } else if (exp == 31) bits = sign | 0x7F800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f; memcpy(&f, &bits, 4);
    return f;
}

fn_status fn_tensor_set_to_f32(fn_tensor_set *s) {
    for (int i = 0; i < s->n; i++) {
        fn_tensor *t = &s->t[i];
        if (t->dtype != FN_F64 && t->dtype != FN_F16 && t->dtype != FN_BF16) continue;
        int64_t n = fn_tensor_numel(t);
        float *f = fn_malloc((size_t)n * 4);
        if (!f) return FN_ERR_NOMEM;
        const uint8_t *src = t->data;
        for (int64_t k = 0; k < n; k++) {
            if (t->dtype == FN_F64) { double d; memcpy(&d, src + 8 * k, 8); f[k] = (float)d; }
            else if (t->dtype == FN_F16) { uint16_t h; memcpy(&h, src + 2 * k, 2); f[k] = half_to_float(h); }
            else { uint16_t h; memcpy(&h, src + 2 * k, 2); uint32_t b = (uint32_t)h << 16; memcpy(&f[k], &b, 4); }
        }
        if (t->owned) free(t->data);
        t->data = f; t->owned = 1; t->dtype = FN_F32; t->nbytes = (size_t)n * 4;
    }
    return FN_OK;
}

static fn_status write_json_metadata(char **dst, const fn_json *meta) {
    /* re-serialise the flat string map */
    size_t len = 0;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return fn_fail(FN_ERR_NOMEM, "out of memory");
    fputc('{', f);
    for (int i = 0; i < meta->n; i++) {
        if (i) fputc(',', f);
        fn_json_write_string(f, meta->items[i].key);
        fputc(':', f);
        fn_json_write_string(f, meta->items[i].type == FN_JSON_STRING ? meta->items[i].string : "");
    }
    fputc('}', f);
    fclose(f);
    *dst = buf;
    return FN_OK;
}

fn_status fn_safetensors_parse(const uint8_t *data, size_t size, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    out->format = "safetensors";
    if (size < 8) return fn_fail(FN_ERR_FORMAT, "safetensors: file too short (%zu bytes)", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | data[i];
    if (hlen > SAFETENSORS_MAX_HEADER || hlen > size - 8)
        return fn_fail(FN_ERR_FORMAT, "safetensors: header length %llu exceeds file size %zu", (unsigned long long)hlen, size);
    if (hlen < 2 || data[8] != '{')
        return fn_fail(FN_ERR_FORMAT, "safetensors: header is not a JSON object (not a safetensors file?)");
    fn_json *h;
    FN_TRY(fn_json_parse((const char *)data + 8, (size_t)hlen, &h));
    const uint8_t *body = data + 8 + hlen;
    size_t body_size = size - 8 - hlen;
    fn_status st = FN_OK;
    if (h->type != FN_JSON_OBJECT) { st = fn_fail(FN_ERR_FORMAT, "safetensors: header is not an object"); goto done; }
    for (int i = 0; i < h->n; i++) {
        const fn_json *e = &h->items[i];
        if (!strcmp(e->key, "__metadata__")) {
            if (e->type == FN_JSON_OBJECT && (st = write_json_metadata(&out->metadata_json, e))) goto done;
            continue;
        }
        const fn_json *dt = fn_json_get(e, "dtype"), *sh = fn_json_get(e, "shape"), *off = fn_json_get(e, "data_offsets");
        if (!dt || dt->type != FN_JSON_STRING || !sh || sh->type != FN_JSON_ARRAY || !off || off->type != FN_JSON_ARRAY || off->n != 2) {
            st = fn_fail(FN_ERR_FORMAT, "safetensors: tensor '%s' lacks dtype/shape/data_offsets", e->key); goto done;
        }
        int dtype = fn_dtype_from_name(dt->string);
        if (dtype < 0) { st = fn_fail(FN_ERR_UNSUPPORTED, "safetensors: tensor '%s' has unsupported dtype %s", e->key, dt->string); goto done; }
        if (sh->n > FN_MAX_DIMS) { st = fn_fail(FN_ERR_SHAPE, "safetensors: tensor '%s' has too many dims", e->key); goto done; }
        int64_t shape[FN_MAX_DIMS];
        size_t nbytes = fn_dtype_size(dtype);
        for (int k = 0; k < sh->n; k++) {
            double d = sh->items[k].number;
            if (sh->items[k].type != FN_JSON_NUMBER || d < 0 || d > 9e15 || d != (double)(int64_t)d) {
                st = fn_fail(FN_ERR_SHAPE, "safetensors: tensor '%s' has a bad shape", e->key); goto done;
            }
            shape[k] = (int64_t)d;
            if (!fn_mul_size(nbytes, (size_t)shape[k], &nbytes)) { st = fn_fail(FN_ERR_LIMIT, "safetensors: tensor '%s' size overflows", e->key); goto done; }
        }
        double b = off->items[0].number, en = off->items[1].number;
        if (off->items[0].type != FN_JSON_NUMBER || off->items[1].type != FN_JSON_NUMBER || b < 0 || en < b || en > (double)body_size) {
            st = fn_fail(FN_ERR_FORMAT, "safetensors: tensor '%s' data_offsets out of range (truncated file?)", e->key); goto done;
        }
        if ((size_t)(en - b) != nbytes) {
            st = fn_fail(FN_ERR_FORMAT, "safetensors: tensor '%s' has %zu bytes for shape needing %zu", e->key, (size_t)(en - b), nbytes); goto done;
        }
        if (fn_tensor_set_find(out, e->key)) { st = fn_fail(FN_ERR_FORMAT, "safetensors: duplicate tensor '%s'", e->key); goto done; }
        const uint8_t *src = body + (size_t)b;
        if ((uintptr_t)src % fn_dtype_size(dtype)) {
            /* other writers need not align the body: copy rather than hand out misaligned floats */
            void *copy = fn_malloc(nbytes ? nbytes : 1);
            if (!copy) { st = FN_ERR_NOMEM; goto done; }
            if (nbytes) memcpy(copy, src, nbytes);
            if ((st = fn_tensor_set_add(out, e->key, dtype, sh->n, shape, copy, 1))) goto done;
        } else if ((st = fn_tensor_set_add(out, e->key, dtype, sh->n, shape, (void *)src, 0))) goto done;
    }
done:
    fn_json_free(h);
    if (st) { out->map = NULL; fn_tensor_set_free(out); }
    return st;
}

fn_status fn_safetensors_load(const char *path, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fn_fail(FN_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return fn_fail(FN_ERR_IO, "%s: not a regular file", path); }
    size_t size = (size_t)st.st_size;
    if (size == 0) { close(fd); return fn_fail(FN_ERR_FORMAT, "%s: empty file", path); }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return fn_fail(FN_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    fn_status s = fn_safetensors_parse(map, size, out);
    if (s) {
        munmap(map, size);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fn_last_error());
        return fn_fail(s, "%s: %s", path, msg);
    }
    out->map = map; out->map_size = size;
    return FN_OK;
}

fn_status fn_safetensors_save(const char *path, const fn_tensor_set *s, const char *metadata_json) {
    /* header */
    char *hdr = NULL; size_t hlen = 0;
    FILE *m = open_memstream(&hdr, &hlen);
    if (!m) return fn_fail(FN_ERR_NOMEM, "out of memory");
    fputc('{', m);
    int first = 1;
    if (metadata_json) { fprintf(m, "\"__metadata__\":%s", metadata_json); first = 0; }
    size_t off = 0;
    for (int i = 0; i < s->n; i++) {
        const fn_tensor *t = &s->t[i];
        if (!first) fputc(',', m);
        first = 0;
        fn_json_write_string(m, t->name);
        fprintf(m, ":{\"dtype\":\"%s\",\"shape\":[", fn_dtype_name(t->dtype));
        for (int k = 0; k < t->ndim; k++) fprintf(m, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        fprintf(m, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        off += t->nbytes;
    }
    fputc('}', m);
    fclose(m);
    /* pad the header with spaces to 8-byte alignment so the body is aligned */
    size_t padded = (hlen + 7) & ~(size_t)7;
    fn_atomic_file af;
    fn_status st = fn_atomic_open(path, &af);
    if (st) { free(hdr); return st; }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, af.f) == 8 && fwrite(hdr, 1, hlen, af.f) == hlen;
    for (size_t i = hlen; ok && i < padded; i++) ok = fputc(' ', af.f) != EOF;
    for (int i = 0; ok && i < s->n; i++)
        ok = s->t[i].nbytes == 0 || fwrite(s->t[i].data, 1, s->t[i].nbytes, af.f) == s->t[i].nbytes;
    free(hdr);
    if (!ok) { fn_atomic_abort(&af); return fn_fail(FN_ERR_IO, "%s: write error", path); }
    return fn_atomic_commit(&af);
}
