/* pickle.c — the restricted unpickler (see pickle.h). A small stack machine over the
 * protocol 2-5 binary opcodes; REDUCE/BUILD are interpreted only for whitelisted globals,
 * which build inert data nodes (storages, tensor views, numpy arrays) instead of objects. */
#include "pickle.h"

/* The status of the last failure inside the machine (fn_fail only keeps the text). */
static _Thread_local fn_status pk_status;
#define pk_fail(st, ...) (pk_status = (st), fn_fail(st, __VA_ARGS__))

#define PK_MAX_STACK (1 << 22)
#define PK_MAX_MEMO (1 << 22)

typedef struct {
    pk_vm *vm;
    const uint8_t *p, *end, *start;
    pk_value **stack; size_t sp, scap;
    size_t *marks; size_t nmarks, mcap;
    pk_value **memo; size_t memo_cap;
    size_t memo_next;
} pk_run;

const char *pk_kind_name(pk_kind k) {
    static const char *names[] = { "None", "bool", "int", "int", "float", "str", "tuple", "list",
                                   "dict", "global", "storage", "tensor", "ndarray", "dtype" };
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

void pk_vm_init(pk_vm *vm, pk_persistent_fn persistent, void *ctx) {
    memset(vm, 0, sizeof *vm);
    vm->persistent = persistent; vm->ctx = ctx;
}

void pk_vm_free(pk_vm *vm) {
    for (size_t i = 0; i < vm->n_all; i++) { free(vm->all[i]->items); free(vm->all[i]); }
    for (size_t i = 0; i < vm->n_blobs; i++) free(vm->blobs[i]);
    free(vm->all); free(vm->blobs);
    memset(vm, 0, sizeof *vm);
}

pk_value *pk_new(pk_vm *vm, pk_kind kind) {
    if (vm->n_all == vm->cap_all) {
        size_t nc = vm->cap_all ? vm->cap_all * 2 : 256;
        pk_value **a = realloc(vm->all, nc * sizeof *a);
        if (!a) { pk_fail(FN_ERR_NOMEM, "pickle: out of memory"); return NULL; }
        vm->all = a; vm->cap_all = nc;
    }
    pk_value *v = calloc(1, sizeof *v);
    if (!v) { pk_fail(FN_ERR_NOMEM, "pickle: out of memory"); return NULL; }
    v->kind = kind;
    vm->all[vm->n_all++] = v;
    return v;
}

int pk_str_eq(const pk_value *v, const char *s) {
    size_t n = strlen(s);
    return v && v->kind == PK_STR && v->len == n && !memcmp(v->str, s, n);
}

static int pk_append(pk_value *c, pk_value *item) {
    if (c->n == c->cap) {
        if (c->cap > (1 << 26)) { pk_fail(FN_ERR_LIMIT, "pickle: container too large"); return 0; }
        int nc = c->cap ? c->cap * 2 : 8;
        pk_value **a = realloc(c->items, (size_t)nc * sizeof *a);
        if (!a) { pk_fail(FN_ERR_NOMEM, "pickle: out of memory"); return 0; }
        c->items = a; c->cap = nc;
    }
    c->items[c->n++] = item;
    return 1;
}

/* ---- stack helpers ---- */
#define FAIL(st, ...) do { pk_fail(st, "pickle: " __VA_ARGS__); return 0; } while (0)

static int push(pk_run *r, pk_value *v) {
    if (!v) return 0;
    if (r->sp == r->scap) {
        if (r->scap >= PK_MAX_STACK) FAIL(FN_ERR_LIMIT, "stack too deep");
        size_t nc = r->scap ? r->scap * 2 : 64;
        pk_value **s = realloc(r->stack, nc * sizeof *s);
        if (!s) FAIL(FN_ERR_NOMEM, "out of memory");
        r->stack = s; r->scap = nc;
    }
    r->stack[r->sp++] = v;
    return 1;
}

static size_t mark_base(pk_run *r) { return r->nmarks ? r->marks[r->nmarks - 1] : 0; }

static pk_value *pop(pk_run *r) {
    if (r->sp == 0 || r->sp <= mark_base(r)) { pk_fail(FN_ERR_FORMAT, "pickle: stack underflow"); return NULL; }
    return r->stack[--r->sp];
}

static pk_value *top(pk_run *r) {
    if (r->sp == 0 || r->sp <= mark_base(r)) { pk_fail(FN_ERR_FORMAT, "pickle: stack underflow"); return NULL; }
    return r->stack[r->sp - 1];
}

/* Pops everything above the last MARK into *items, *n (pointers into the stack). */
static int pop_mark(pk_run *r, pk_value ***items, size_t *n) {
    if (!r->nmarks) FAIL(FN_ERR_FORMAT, "MARK missing");
    size_t m = r->marks[--r->nmarks];
    *items = r->stack + m; *n = r->sp - m;
    r->sp = m;
    return 1;
}

static int need(pk_run *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) FAIL(FN_ERR_FORMAT, "truncated at byte %zu", (size_t)(r->p - r->start));
    return 1;
}

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static pk_value *new_str(pk_run *r, size_t len) {
    if (!need(r, len)) return NULL;
    pk_value *v = pk_new(r->vm, PK_STR);
    if (!v) return NULL;
    v->str = r->p; v->len = len;
    r->p += len;
    return v;
}

static pk_value *new_int(pk_run *r, int64_t x) {
    pk_value *v = pk_new(r->vm, PK_INT);
    if (v) v->i = x;
    return v;
}

static int memo_put(pk_run *r, size_t idx, pk_value *v) {
    if (!v) return 0;
    if (idx >= PK_MAX_MEMO) FAIL(FN_ERR_LIMIT, "memo index %zu too large", idx);
    if (idx >= r->memo_cap) {
        size_t nc = r->memo_cap ? r->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        pk_value **m = realloc(r->memo, nc * sizeof *m);
        if (!m) FAIL(FN_ERR_NOMEM, "out of memory");
        memset(m + r->memo_cap, 0, (nc - r->memo_cap) * sizeof *m);
        r->memo = m; r->memo_cap = nc;
    }
    r->memo[idx] = v;
    return 1;
}

static pk_value *memo_get(pk_run *r, size_t idx) {
    if (idx >= r->memo_cap || !r->memo[idx]) { pk_fail(FN_ERR_FORMAT, "pickle: memo key %zu not found", idx); return NULL; }
    return r->memo[idx];
}

/* ---- globals ---- */
static const struct { const char *module, *name; pk_global g; fn_dtype dtype; } allowed_globals[] = {
    { "collections", "OrderedDict", PKG_ORDERED_DICT, 0 },
    { "torch._utils", "_rebuild_tensor_v2", PKG_REBUILD_TENSOR_V2, 0 },
    { "torch._utils", "_rebuild_tensor", PKG_REBUILD_TENSOR, 0 },
    { "torch._utils", "_rebuild_parameter", PKG_REBUILD_PARAMETER, 0 },
    { "torch", "FloatStorage", PKG_STORAGE_TYPE, FN_F32 },
    { "torch", "DoubleStorage", PKG_STORAGE_TYPE, FN_F64 },
    { "torch", "HalfStorage", PKG_STORAGE_TYPE, FN_F16 },
    { "torch", "BFloat16Storage", PKG_STORAGE_TYPE, FN_BF16 },
    { "torch", "LongStorage", PKG_STORAGE_TYPE, FN_I64 },
    { "torch", "IntStorage", PKG_STORAGE_TYPE, FN_I32 },
    { "torch", "ShortStorage", PKG_STORAGE_TYPE, FN_I16 },
    { "torch", "CharStorage", PKG_STORAGE_TYPE, FN_I8 },
    { "torch", "ByteStorage", PKG_STORAGE_TYPE, FN_U8 },
    { "torch", "BoolStorage", PKG_STORAGE_TYPE, FN_BOOL },
    { "numpy.core.multiarray", "_reconstruct", PKG_NP_RECONSTRUCT, 0 },
    { "numpy._core.multiarray", "_reconstruct", PKG_NP_RECONSTRUCT, 0 },
    { "numpy", "ndarray", PKG_NP_NDARRAY, 0 },
    { "numpy", "dtype", PKG_NP_DTYPE, 0 },
    { "_codecs", "encode", PKG_CODECS_ENCODE, 0 },
};

static pk_value *make_global(pk_run *r, const uint8_t *mod, size_t mlen, const uint8_t *name, size_t nlen) {
    for (size_t k = 0; k < sizeof allowed_globals / sizeof *allowed_globals; k++) {
        if (strlen(allowed_globals[k].module) == mlen && !memcmp(allowed_globals[k].module, mod, mlen) &&
            strlen(allowed_globals[k].name) == nlen && !memcmp(allowed_globals[k].name, name, nlen)) {
            pk_value *v = pk_new(r->vm, PK_GLOBAL);
            if (v) { v->i = allowed_globals[k].g; v->dtype = allowed_globals[k].dtype; }
            return v;
        }
    }
    pk_fail(FN_ERR_UNSUPPORTED, "pickle: refusing global '%.*s.%.*s' (only state_dict tensors and numpy arrays are allowed)",
            (int)(mlen > 80 ? 80 : mlen), (const char *)mod, (int)(nlen > 80 ? 80 : nlen), (const char *)name);
    return NULL;
}

static int as_int(const pk_value *v, int64_t *out) {
    if (!v || (v->kind != PK_INT && v->kind != PK_BOOL)) return 0;
    *out = v->i;
    return 1;
}

/* A tuple of non-negative ints into shape[]; returns ndim or -1. */
static int int_tuple(const pk_value *t, int64_t *dst) {
    if (!t || (t->kind != PK_TUPLE && t->kind != PK_LIST) || t->n > FN_MAX_DIMS) return -1;
    for (int k = 0; k < t->n; k++) if (!as_int(t->items[k], &dst[k]) || dst[k] < 0) return -1;
    return t->n;
}

/* numpy dtype code ('f4', '<f4', 'O8', ...) */
static int np_dtype_code(pk_value *d, const uint8_t *s, size_t n) {
    if (n && (s[0] == '<' || s[0] == '|' || s[0] == '=')) { s++; n--; }
    else if (n && s[0] == '>') { d->big_endian = 1; s++; n--; }
    if (n == 2 && s[0] == 'O') { d->object = 1; return 1; }
    static const struct { const char *code; fn_dtype t; } codes[] = {
        { "f4", FN_F32 }, { "f8", FN_F64 }, { "f2", FN_F16 }, { "i8", FN_I64 }, { "i4", FN_I32 },
        { "i2", FN_I16 }, { "i1", FN_I8 }, { "u1", FN_U8 }, { "b1", FN_BOOL },
    };
    for (size_t k = 0; k < sizeof codes / sizeof *codes; k++)
        if (n == 2 && !memcmp(s, codes[k].code, 2)) { d->dtype = codes[k].t; return 1; }
    return 0;
}

static pk_value *reduce(pk_run *r, pk_value *fn, pk_value *args) {
    if (fn->kind != PK_GLOBAL) { pk_fail(FN_ERR_UNSUPPORTED, "pickle: REDUCE on a %s", pk_kind_name(fn->kind)); return NULL; }
    if (args->kind != PK_TUPLE) { pk_fail(FN_ERR_FORMAT, "pickle: REDUCE arguments are not a tuple"); return NULL; }
    pk_value **a = args->items;
    int n = args->n;
    switch ((pk_global)fn->i) {
    case PKG_ORDERED_DICT: {
        pk_value *d = pk_new(r->vm, PK_DICT);
        if (n != 0) { pk_fail(FN_ERR_UNSUPPORTED, "pickle: OrderedDict with arguments"); return NULL; }
        return d;
    }
    case PKG_REBUILD_TENSOR_V2:
    case PKG_REBUILD_TENSOR: {
        /* (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]]) */
        if (n < 4 || a[0]->kind != PK_STORAGE) { pk_fail(FN_ERR_FORMAT, "pickle: bad _rebuild_tensor arguments"); return NULL; }
        pk_value *t = pk_new(r->vm, PK_TENSOR);
        if (!t) return NULL;
        t->storage = a[0];
        int nd = int_tuple(a[2], t->shape), ns = int_tuple(a[3], t->stride);
        if (!as_int(a[1], &t->offset) || t->offset < 0 || nd < 0 || ns != nd) {
            pk_fail(FN_ERR_FORMAT, "pickle: bad tensor offset/size/stride"); return NULL;
        }
        t->ndim = nd; t->dtype = a[0]->dtype;
        return t;
    }
    case PKG_REBUILD_PARAMETER:
        if (n < 1 || a[0]->kind != PK_TENSOR) { pk_fail(FN_ERR_FORMAT, "pickle: bad _rebuild_parameter arguments"); return NULL; }
        return a[0];
    case PKG_NP_RECONSTRUCT: {
        /* args (ndarray, (0,), b'b'): an empty array that BUILD fills */
        if (n < 1 || a[0]->kind != PK_GLOBAL || a[0]->i != PKG_NP_NDARRAY) { pk_fail(FN_ERR_UNSUPPORTED, "pickle: _reconstruct of a non-ndarray"); return NULL; }
        return pk_new(r->vm, PK_NDARRAY);
    }
    case PKG_NP_DTYPE: {
        if (n < 1 || a[0]->kind != PK_STR) { pk_fail(FN_ERR_FORMAT, "pickle: bad numpy.dtype arguments"); return NULL; }
        pk_value *d = pk_new(r->vm, PK_DTYPE);
        if (!d) return NULL;
        if (!np_dtype_code(d, a[0]->str, a[0]->len)) {
            pk_fail(FN_ERR_UNSUPPORTED, "pickle: numpy dtype '%.*s' not supported", (int)(a[0]->len > 16 ? 16 : a[0]->len), (const char *)a[0]->str);
            return NULL;
        }
        return d;
    }
    case PKG_CODECS_ENCODE: {
        /* Python 3 pickles bytes at protocol 2 as _codecs.encode(u'...', 'latin1'): decode
         * the UTF-8 text back to the code points 0..255 it spells. */
        if (n != 2 || a[0]->kind != PK_STR || !pk_str_eq(a[1], "latin1")) { pk_fail(FN_ERR_UNSUPPORTED, "pickle: unsupported _codecs.encode call"); return NULL; }
        pk_vm *vm = r->vm;
        if (vm->n_blobs == vm->cap_blobs) {
            size_t nc = vm->cap_blobs ? vm->cap_blobs * 2 : 16;
            uint8_t **b = realloc(vm->blobs, nc * sizeof *b);
            if (!b) { pk_fail(FN_ERR_NOMEM, "out of memory"); return NULL; }
            vm->blobs = b; vm->cap_blobs = nc;
        }
        uint8_t *out = malloc(a[0]->len + 1);
        if (!out) { pk_fail(FN_ERR_NOMEM, "out of memory"); return NULL; }
        vm->blobs[vm->n_blobs++] = out;
        size_t o = 0;
        const uint8_t *s = a[0]->str;
        for (size_t k = 0; k < a[0]->len; k++) {
            if (s[k] < 0x80) out[o++] = s[k];
            else if ((s[k] & 0xE0) == 0xC0 && k + 1 < a[0]->len && (s[k] & 0x1F) <= 3 && (s[k + 1] & 0xC0) == 0x80) {
                out[o++] = (uint8_t)(((s[k] & 0x1F) << 6) | (s[k + 1] & 0x3F)); k++;
            } else { pk_fail(FN_ERR_FORMAT, "pickle: latin1 text holds a code point above 255"); return NULL; }
        }
        pk_value *v = pk_new(vm, PK_STR);
        if (v) { v->str = out; v->len = o; }
        return v;
    }
    case PKG_STORAGE_TYPE:
    case PKG_NP_NDARRAY:
        break;
    }
    pk_fail(FN_ERR_UNSUPPORTED, "pickle: calling this global is not allowed");
    return NULL;
}

static int build(pk_run *r, pk_value *obj, pk_value *state) {
    if (obj->kind == PK_DICT) return 1; /* OrderedDict's _metadata: irrelevant to the tensors */
    if (obj->kind == PK_DTYPE) {
        /* (version, byteorder, subarray, names, fields, elsize, alignment, flags) */
        if (state->kind == PK_TUPLE && state->n >= 2 && state->items[1]->kind == PK_STR && state->items[1]->len == 1)
            obj->big_endian = state->items[1]->str[0] == '>';
        return 1;
    }
    if (obj->kind == PK_NDARRAY) {
        /* (version, shape, dtype, is_fortran, data) or without version */
        if (state->kind != PK_TUPLE || (state->n != 5 && state->n != 4)) FAIL(FN_ERR_FORMAT, "bad ndarray state");
        pk_value **s = state->items + (state->n == 5);
        int nd = int_tuple(s[0], obj->shape);
        if (nd < 0 || s[1]->kind != PK_DTYPE) FAIL(FN_ERR_FORMAT, "bad ndarray shape/dtype");
        obj->ndim = nd;
        obj->dtype = s[1]->dtype; obj->object = s[1]->object; obj->big_endian = s[1]->big_endian;
        int64_t f = 0;
        obj->fortran = as_int(s[2], &f) && f;
        if (obj->object) {
            if (s[3]->kind != PK_LIST) FAIL(FN_ERR_FORMAT, "object ndarray without a list of items");
            obj->obj = s[3];
        } else {
            if (s[3]->kind != PK_STR) FAIL(FN_ERR_FORMAT, "ndarray data is not a byte string");
            obj->str = s[3]->str; obj->len = s[3]->len;
        }
        obj->has_data = 1;
        return 1;
    }
    FAIL(FN_ERR_UNSUPPORTED, "BUILD on a %s is not allowed", pk_kind_name(obj->kind));
}

static int find_nl(pk_run *r, const uint8_t **line, size_t *len) {
    const uint8_t *e = memchr(r->p, '\n', (size_t)(r->end - r->p));
    if (!e) FAIL(FN_ERR_FORMAT, "truncated GLOBAL");
    *line = r->p; *len = (size_t)(e - r->p);
    r->p = e + 1;
    return 1;
}

static int step(pk_run *r, int *stop) {
    if (!need(r, 1)) return 0;
    uint8_t op = *r->p++;
    pk_vm *vm = r->vm;
    pk_value *v, *w, **items;
    size_t n;
    switch (op) {
    case 0x80: /* PROTO */
        if (!need(r, 1)) return 0;
        if (*r->p > 5) FAIL(FN_ERR_UNSUPPORTED, "protocol %d", *r->p);
        r->p++;
        return 1;
    case 0x95: /* FRAME: framing is transparent */
        if (!need(r, 8)) return 0;
        r->p += 8;
        return 1;
    case '.': *stop = 1; return 1;
    case '(':
        if (r->nmarks == r->mcap) {
            size_t nc = r->mcap ? r->mcap * 2 : 16;
            if (nc > PK_MAX_STACK) FAIL(FN_ERR_LIMIT, "too many MARKs");
            size_t *m = realloc(r->marks, nc * sizeof *m);
            if (!m) FAIL(FN_ERR_NOMEM, "out of memory");
            r->marks = m; r->mcap = nc;
        }
        r->marks[r->nmarks++] = r->sp;
        return 1;
    case '0': return pop(r) != NULL;
    case '1': return pop_mark(r, &items, &n);
    case '2': return (v = top(r)) && push(r, v);
    case 'N': return push(r, pk_new(vm, PK_NONE));
    case 0x88: case 0x89:
        if (!(v = pk_new(vm, PK_BOOL))) return 0;
        v->i = op == 0x88;
        return push(r, v);
    case 'J': if (!need(r, 4)) return 0; v = new_int(r, (int32_t)rd_le(r->p, 4)); r->p += 4; return push(r, v);
    case 'K': if (!need(r, 1)) return 0; v = new_int(r, r->p[0]); r->p += 1; return push(r, v);
    case 'M': if (!need(r, 2)) return 0; v = new_int(r, (int64_t)rd_le(r->p, 2)); r->p += 2; return push(r, v);
    case 0x8a: { /* LONG1 */
        if (!need(r, 1)) return 0;
        size_t len = *r->p++;
        if (!need(r, len)) return 0;
        if (len <= 8) {
            uint64_t u = len ? rd_le(r->p, (int)len) : 0;
            if (len && len < 8 && (r->p[len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len); /* sign-extend */
            v = new_int(r, (int64_t)u);
        } else if ((v = pk_new(vm, PK_BIGINT))) { v->str = r->p; v->len = len; }
        r->p += len;
        return push(r, v);
    }
    case 'G': {
        if (!need(r, 8)) return 0;
        uint64_t u = 0;
        for (int k = 0; k < 8; k++) u = (u << 8) | r->p[k]; /* big-endian */
        r->p += 8;
        if (!(v = pk_new(vm, PK_FLOAT))) return 0;
        memcpy(&v->f, &u, 8);
        return push(r, v);
    }
    case 'X': case 'B': case 'T': /* BINUNICODE, BINBYTES, BINSTRING: 4-byte length */
        if (!need(r, 4)) return 0;
        n = (size_t)rd_le(r->p, 4);
        if (op == 'T' && (int32_t)n < 0) FAIL(FN_ERR_FORMAT, "negative BINSTRING length");
        r->p += 4;
        return push(r, new_str(r, n));
    case 0x8c: case 'C': case 'U': /* SHORT_BINUNICODE, SHORT_BINBYTES, SHORT_BINSTRING */
        if (!need(r, 1)) return 0;
        n = *r->p++;
        return push(r, new_str(r, n));
    case 0x8d: case 0x8e: /* BINUNICODE8, BINBYTES8 */
        if (!need(r, 8)) return 0;
        {
            uint64_t len = rd_le(r->p, 8);
            r->p += 8;
            if (len > (uint64_t)(r->end - r->p)) FAIL(FN_ERR_FORMAT, "truncated string");
            return push(r, new_str(r, (size_t)len));
        }
    case ')': return push(r, pk_new(vm, PK_TUPLE));
    case 't':
        if (!pop_mark(r, &items, &n)) return 0;
        if (!(v = pk_new(vm, PK_TUPLE))) return 0;
        for (size_t k = 0; k < n; k++) if (!pk_append(v, items[k])) return 0;
        return push(r, v);
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        int k = op - 0x84;
        pk_value *e[3];
        for (int j = k - 1; j >= 0; j--) if (!(e[j] = pop(r))) return 0;
        if (!(v = pk_new(vm, PK_TUPLE))) return 0;
        for (int j = 0; j < k; j++) if (!pk_append(v, e[j])) return 0;
        return push(r, v);
    }
    case ']': return push(r, pk_new(vm, PK_LIST));
    case '}': return push(r, pk_new(vm, PK_DICT));
    case 'l': case 'd':
        if (!pop_mark(r, &items, &n)) return 0;
        if (op == 'd' && n % 2) FAIL(FN_ERR_FORMAT, "odd number of DICT items");
        if (!(v = pk_new(vm, op == 'l' ? PK_LIST : PK_DICT))) return 0;
        for (size_t k = 0; k < n; k++) if (!pk_append(v, items[k])) return 0;
        return push(r, v);
    case 'a':
        if (!(w = pop(r)) || !(v = top(r))) return 0;
        if (v->kind != PK_LIST) FAIL(FN_ERR_FORMAT, "APPEND to a %s", pk_kind_name(v->kind));
        return pk_append(v, w);
    case 'e':
        if (!pop_mark(r, &items, &n) || !(v = top(r))) return 0;
        if (v->kind != PK_LIST) FAIL(FN_ERR_FORMAT, "APPENDS to a %s", pk_kind_name(v->kind));
        for (size_t k = 0; k < n; k++) if (!pk_append(v, items[k])) return 0;
        return 1;
    case 's': {
        pk_value *val = pop(r), *key = val ? pop(r) : NULL;
        if (!key || !(v = top(r))) return 0;
        if (v->kind != PK_DICT) FAIL(FN_ERR_FORMAT, "SETITEM on a %s", pk_kind_name(v->kind));
        return pk_append(v, key) && pk_append(v, val);
    }
    case 'u':
        if (!pop_mark(r, &items, &n) || !(v = top(r))) return 0;
        if (v->kind != PK_DICT) FAIL(FN_ERR_FORMAT, "SETITEMS on a %s", pk_kind_name(v->kind));
        if (n % 2) FAIL(FN_ERR_FORMAT, "odd number of SETITEMS items");
        for (size_t k = 0; k < n; k++) if (!pk_append(v, items[k])) return 0;
        return 1;
    case 'c': {
        const uint8_t *mod, *name;
        size_t ml, nl;
        if (!find_nl(r, &mod, &ml) || !find_nl(r, &name, &nl)) return 0;
        return push(r, make_global(r, mod, ml, name, nl));
    }
    case 0x93: { /* STACK_GLOBAL */
        pk_value *name = pop(r), *mod = name ? pop(r) : NULL;
        if (!mod) return 0;
        if (mod->kind != PK_STR || name->kind != PK_STR) FAIL(FN_ERR_FORMAT, "STACK_GLOBAL needs two strings");
        return push(r, make_global(r, mod->str, mod->len, name->str, name->len));
    }
    case 'R': {
        pk_value *args = pop(r), *fn = args ? pop(r) : NULL;
        if (!fn) return 0;
        return push(r, reduce(r, fn, args));
    }
    case 'b': {
        pk_value *state = pop(r);
        if (!state || !(v = top(r))) return 0;
        return build(r, v, state);
    }
    case 'Q': {
        pk_value *pid = pop(r);
        if (!pid) return 0;
        if (!vm->persistent) FAIL(FN_ERR_UNSUPPORTED, "persistent id not expected here");
        return push(r, vm->persistent(vm, pid, vm->ctx));
    }
    case 'q': if (!need(r, 1)) return 0; n = r->p[0]; r->p += 1; return memo_put(r, n, top(r));
    case 'r': if (!need(r, 4)) return 0; n = (size_t)rd_le(r->p, 4); r->p += 4; return memo_put(r, n, top(r));
    case 0x94: return memo_put(r, r->memo_next, top(r));
    case 'h': if (!need(r, 1)) return 0; n = r->p[0]; r->p += 1; return push(r, memo_get(r, n));
    case 'j': if (!need(r, 4)) return 0; n = (size_t)rd_le(r->p, 4); r->p += 4; return push(r, memo_get(r, n));
    default:
        FAIL(FN_ERR_UNSUPPORTED, "opcode 0x%02x at byte %zu is not allowed in a weight file", op, (size_t)(r->p - 1 - r->start));
    }
}

fn_status pk_load(pk_vm *vm, const uint8_t *data, size_t size, pk_value **result, size_t *used) {
    pk_run r = { .vm = vm, .p = data, .end = data + size, .start = data };
    int stop = 0, ok = 1;
    pk_status = FN_ERR_FORMAT;
    vm->err = FN_OK;
    while (ok && !stop) {
        uint8_t op = r.p < r.end ? *r.p : 0;
        ok = step(&r, &stop);
        /* MEMOIZE numbers entries in order; explicit PUTs don't advance it. */
        if (ok && op == 0x94) r.memo_next++;
    }
    fn_status st = FN_OK;
    if (!ok) st = vm->err ? vm->err : pk_status;
    else if (r.sp != 1 || r.nmarks) st = pk_fail(FN_ERR_FORMAT, "pickle: malformed stream (stack holds %zu items at STOP)", r.sp);
    else { *result = r.stack[0]; if (used) *used = (size_t)(r.p - data); }
    free(r.stack); free(r.marks); free(r.memo);
    return st;
}
