/* npy_pickle.c — NumPy .npy files whose payload is a pickled object array, which is how
 * facenet ships MTCNN (det1-3.npy: np.save of {layer: {"weights", "biases", "alpha"}}).
 * The pickle goes through the restricted unpickler (numpy._reconstruct/dtype only).
 * A plain numeric .npy is accepted too (one tensor named "array"). */
#include "weights.h"
#include "pickle.h"

#define NPY_MAX_NEST 8

typedef struct { char descr[16]; int fortran; int ndim; int64_t shape[FN_MAX_DIMS]; } npy_header;

/* The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */
static fn_status parse_header(const char *h, size_t n, npy_header *out) {
    char buf[4096];
    if (n >= sizeof buf) return fn_fail(FN_ERR_FORMAT, "npy: header too long");
    memcpy(buf, h, n); buf[n] = 0;
    memset(out, 0, sizeof *out);
    const char *d = strstr(buf, "'descr':"), *f = strstr(buf, "'fortran_order':"), *s = strstr(buf, "'shape':");
    if (!d || !f || !s) return fn_fail(FN_ERR_FORMAT, "npy: header lacks descr/fortran_order/shape");
    d += 8; while (*d == ' ') d++;
    if (*d != '\'') return fn_fail(FN_ERR_UNSUPPORTED, "npy: structured dtypes are not supported");
    const char *e = strchr(d + 1, '\'');
    if (!e || e - d - 1 >= (long)sizeof out->descr) return fn_fail(FN_ERR_FORMAT, "npy: bad descr");
    memcpy(out->descr, d + 1, (size_t)(e - d - 1));
    f += 16; while (*f == ' ') f++;
    out->fortran = !strncmp(f, "True", 4);
    s += 8; while (*s == ' ') s++;
    if (*s++ != '(') return fn_fail(FN_ERR_FORMAT, "npy: bad shape");
    for (;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || out->ndim >= FN_MAX_DIMS) return fn_fail(FN_ERR_FORMAT, "npy: bad shape");
        out->shape[out->ndim++] = v;
        s = end;
        if (*s == 'L') s++;
    }
    return FN_OK;
}

static fn_dtype descr_dtype(const char *descr, int *ok, int *big) {
    static const struct { const char *c; fn_dtype t; } codes[] = {
        { "f4", FN_F32 }, { "f8", FN_F64 }, { "f2", FN_F16 }, { "i8", FN_I64 }, { "i4", FN_I32 },
        { "i2", FN_I16 }, { "i1", FN_I8 }, { "u1", FN_U8 }, { "b1", FN_BOOL },
    };
    *ok = 0; *big = descr[0] == '>';
    const char *c = (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=') ? descr + 1 : descr;
    for (size_t k = 0; k < sizeof codes / sizeof *codes; k++)
        if (!strcmp(c, codes[k].c)) { *ok = 1; return codes[k].t; }
    return FN_F32;
}

/* Copies raw array bytes into an owned C-order little-endian tensor. */
static fn_status add_array(fn_tensor_set *out, const char *name, fn_dtype dt, int ndim, const int64_t *shape,
                           int fortran, int big, const uint8_t *raw, size_t raw_len) {
    size_t es = fn_dtype_size(dt), numel = 1;
    for (int d = 0; d < ndim; d++)
        if (!fn_mul_size(numel, (size_t)shape[d], &numel) || numel > FN_TENSOR_MAX_BYTES)
            return fn_fail(FN_ERR_LIMIT, "npy: array '%s' has an absurd shape", name);
    if (raw_len != numel * es) return fn_fail(FN_ERR_FORMAT, "npy: array '%s' holds %zu bytes, shape needs %zu (truncated?)", name, raw_len, numel * es);
    uint8_t *dst = fn_malloc(numel * es);
    if (!dst) return FN_ERR_NOMEM;
    if (!fortran || ndim < 2) memcpy(dst, raw, numel * es);
    else {
        /* column-major source: element (i0..in) sits at i0 + s0*(i1 + s1*(...)) */
        int64_t idx[FN_MAX_DIMS] = { 0 }, stride[FN_MAX_DIMS];
        stride[0] = 1;
        for (int d = 1; d < ndim; d++) stride[d] = stride[d - 1] * shape[d - 1];
        for (size_t k = 0; k < numel; k++) {
            size_t off = 0;
            for (int d = 0; d < ndim; d++) off += (size_t)(idx[d] * stride[d]);
            memcpy(dst + k * es, raw + off * es, es);
            for (int d = ndim - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
        }
    }
    if (big && es > 1)
        for (size_t k = 0; k < numel; k++)
            for (size_t a = 0, b = es - 1; a < b; a++, b--) { uint8_t t = dst[k * es + a]; dst[k * es + a] = dst[k * es + b]; dst[k * es + b] = t; }
    return fn_tensor_set_add(out, name, dt, ndim, shape, dst, 1);
}

static fn_status walk(fn_tensor_set *out, const pk_value *v, const char *prefix, int depth) {
    if (depth > NPY_MAX_NEST) return fn_fail(FN_ERR_LIMIT, "npy: objects nested too deeply");
    if (v->kind == PK_NDARRAY) {
        if (!v->has_data) return fn_fail(FN_ERR_FORMAT, "npy: array '%s' without data", prefix);
        if (v->object) {
            /* a 0-d object array wraps one object (np.save of a dict) */
            if (v->obj && v->obj->n == 1) return walk(out, v->obj->items[0], prefix, depth + 1);
            return FN_OK;
        }
        if (!*prefix) return fn_fail(FN_ERR_FORMAT, "npy: unnamed array");
        if (fn_tensor_set_find(out, prefix)) return fn_fail(FN_ERR_FORMAT, "npy: duplicate array '%s'", prefix);
        return add_array(out, prefix, v->dtype, v->ndim, v->shape, v->fortran, v->big_endian, v->str, v->len);
    }
    if (v->kind != PK_DICT) return FN_OK; /* other leaves carry no weights */
    for (int i = 0; i + 1 < v->n; i += 2) {
        const pk_value *k = v->items[i];
        if (k->kind != PK_STR) continue;
        if (memchr(k->str, 0, k->len)) return fn_fail(FN_ERR_FORMAT, "npy: key holds a NUL byte");
        char name[512];
        int len = k->len > 400 ? -1 : snprintf(name, sizeof name, "%s%s%.*s", prefix, *prefix ? "/" : "", (int)k->len, (const char *)k->str);
        if (len < 0 || (size_t)len >= sizeof name) return fn_fail(FN_ERR_FORMAT, "npy: key too long");
        FN_TRY(walk(out, v->items[i + 1], name, depth + 1));
    }
    return FN_OK;
}

fn_status fn_npy_pickle_load_mem(const uint8_t *data, size_t size, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    out->format = "npy";
    if (size < 10 || memcmp(data, "\x93NUMPY", 6)) return fn_fail(FN_ERR_FORMAT, "npy: bad magic (not a .npy file)");
    size_t hlen, hstart;
    if (data[6] == 1) { hlen = (size_t)data[8] | (size_t)data[9] << 8; hstart = 10; }
    else if (data[6] == 2 || data[6] == 3) {
        if (size < 12) return fn_fail(FN_ERR_FORMAT, "npy: truncated header");
        hlen = (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 | (size_t)data[11] << 24; hstart = 12;
    } else return fn_fail(FN_ERR_UNSUPPORTED, "npy: format version %d", data[6]);
    if (hlen > size - hstart) return fn_fail(FN_ERR_FORMAT, "npy: truncated header");
    npy_header h;
    FN_TRY(parse_header((const char *)data + hstart, hlen, &h));
    const uint8_t *body = data + hstart + hlen;
    size_t body_len = size - hstart - hlen;
    fn_status st;
    if (strcmp(h.descr, "|O") && strcmp(h.descr, "O")) {
        int ok, big;
        fn_dtype dt = descr_dtype(h.descr, &ok, &big);
        if (!ok) return fn_fail(FN_ERR_UNSUPPORTED, "npy: dtype '%s' not supported", h.descr);
        st = add_array(out, "array", dt, h.ndim, h.shape, h.fortran, big, body, body_len);
    } else {
        pk_vm vm;
        pk_vm_init(&vm, NULL, NULL);
        pk_value *root;
        size_t used;
        st = pk_load(&vm, body, body_len, &root, &used);
        if (!st) st = walk(out, root, "", 0);
        if (!st && out->n == 0) st = fn_fail(FN_ERR_FORMAT, "npy: the pickled object holds no arrays");
        pk_vm_free(&vm);
    }
    if (st) { fn_tensor_set_free(out); out->format = "npy"; }
    return st;
}
