/* torch_pt.c — PyTorch .pt state_dicts, both layouts:
 *  legacy (torch < 1.6, _use_new_zipfile_serialization=False): five pickles in a row —
 *    magic number, protocol version, sys_info, the object, the list of storage keys —
 *    then for each key: u64 element count + the raw little-endian storage bytes;
 *  zip (torch >= 1.6): <prefix>/data.pkl + one stored entry <prefix>/data/<key> per storage.
 * Tensors are views (offset, size, stride) into storages that may be shared; each one is
 * copied out contiguously here, so every output tensor owns its data. */
#include "weights.h"
#include "pickle.h"
#include "zip.h"

#define TORCH_MAX_NEST 8

typedef struct { const char *key; size_t key_len; const uint8_t *data; size_t nbytes; } storage_bytes;

typedef struct {
    pk_value **storages; int n, cap; /* one node per distinct key */
} torch_ctx;

/* persistent_load: ('storage', storage_type, key, location, numel[, view_metadata]) */
static pk_value *torch_persistent(pk_vm *vm, pk_value *pid, void *vctx) {
    torch_ctx *c = vctx;
    if (pid->kind != PK_TUPLE || pid->n < 5 || !pk_str_eq(pid->items[0], "storage")) {
        fn_fail(FN_ERR_FORMAT, "torch: unexpected persistent id (not a storage)"); vm->err = FN_ERR_FORMAT; return NULL;
    }
    pk_value *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
    if (type->kind != PK_GLOBAL || type->i != PKG_STORAGE_TYPE || key->kind != PK_STR || numel->kind != PK_INT || numel->i < 0) {
        fn_fail(FN_ERR_FORMAT, "torch: bad storage record"); vm->err = FN_ERR_FORMAT; return NULL;
    }
    if (pid->n > 5 && pid->items[5]->kind != PK_NONE) {
        fn_fail(FN_ERR_UNSUPPORTED, "torch: storage views (files from torch < 0.4) are not supported"); vm->err = FN_ERR_UNSUPPORTED; return NULL;
    }
    for (int i = 0; i < c->n; i++) {
        pk_value *s = c->storages[i];
        if (s->len == key->len && !memcmp(s->str, key->str, key->len)) {
            if (s->dtype != type->dtype || s->numel != numel->i) {
                fn_fail(FN_ERR_FORMAT, "torch: storage '%.*s' declared twice differently", (int)(key->len > 64 ? 64 : key->len), (const char *)key->str);
                vm->err = FN_ERR_FORMAT; return NULL;
            }
            return s;
        }
    }
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 64;
        pk_value **a = realloc(c->storages, (size_t)nc * sizeof *a);
        if (!a) { fn_fail(FN_ERR_NOMEM, "out of memory"); vm->err = FN_ERR_NOMEM; return NULL; }
        c->storages = a; c->cap = nc;
    }
    pk_value *s = pk_new(vm, PK_STORAGE);
    if (!s) { vm->err = FN_ERR_NOMEM; return NULL; }
    s->dtype = type->dtype; s->str = key->str; s->len = key->len; s->numel = numel->i;
    c->storages[c->n++] = s;
    return s;
}

/* Copies a strided view out of its storage into a new contiguous tensor. */
static fn_status materialise(fn_tensor_set *out, const char *name, const pk_value *t,
                             const storage_bytes *sb) {
    size_t es = fn_dtype_size(t->dtype);
    uint64_t sn = (uint64_t)t->storage->numel;
    if (sb->nbytes / es < sn) return fn_fail(FN_ERR_FORMAT, "torch: storage of '%s' holds %zu bytes, needs %llu elements", name, sb->nbytes, (unsigned long long)sn);
    size_t numel = 1;
    uint64_t last = (uint64_t)t->offset; /* highest element index the view touches */
    for (int d = 0; d < t->ndim; d++) {
        if (!fn_mul_size(numel, (size_t)t->shape[d], &numel) || numel > FN_TENSOR_MAX_BYTES)
            return fn_fail(FN_ERR_LIMIT, "torch: tensor '%s' has an absurd shape", name);
    }
    if (numel > 0) {
        for (int d = 0; d < t->ndim; d++) {
            uint64_t span;
            if (t->stride[d] < 0 || __builtin_mul_overflow((uint64_t)(t->shape[d] - 1), (uint64_t)t->stride[d], &span) ||
                __builtin_add_overflow(last, span, &last))
                return fn_fail(FN_ERR_FORMAT, "torch: tensor '%s' has bad strides", name);
        }
        if (last >= sn) return fn_fail(FN_ERR_FORMAT, "torch: tensor '%s' reaches past its storage (%llu >= %llu elements)", name, (unsigned long long)last, (unsigned long long)sn);
    }
    size_t nbytes = numel * es;
    uint8_t *dst = fn_malloc(nbytes ? nbytes : 1);
    if (!dst) return FN_ERR_NOMEM;
    int64_t idx[FN_MAX_DIMS] = { 0 };
    const uint8_t *src = sb->data;
    for (size_t k = 0; k < numel; k++) {
        uint64_t off = (uint64_t)t->offset;
        for (int d = 0; d < t->ndim; d++) off += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        memcpy(dst + k * es, src + off * es, es);
        for (int d = t->ndim - 1; d >= 0; d--) { /* odometer */
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return fn_tensor_set_add(out, name, t->dtype, t->ndim, t->shape, dst, 1);
}

static const storage_bytes *find_bytes(const storage_bytes *sb, int n, const pk_value *s) {
    for (int i = 0; i < n; i++)
        if (sb[i].key_len == s->len && !memcmp(sb[i].key, s->str, s->len)) return &sb[i];
    return NULL;
}

/* Walks a (possibly nested) dict of tensors; non-tensor leaves (epoch counters, ...) are skipped. */
static fn_status flatten(fn_tensor_set *out, const pk_value *v, const char *prefix, int depth,
                         const storage_bytes *sb, int nsb) {
    if (depth > TORCH_MAX_NEST) return fn_fail(FN_ERR_LIMIT, "torch: dicts nested too deeply");
    for (int i = 0; i + 1 < v->n; i += 2) {
        const pk_value *k = v->items[i], *val = v->items[i + 1];
        char name[512];
        int len;
        if (k->kind == PK_STR) {
            if (memchr(k->str, 0, k->len) || k->len > 400) return fn_fail(FN_ERR_FORMAT, "torch: bad key (NUL byte or too long)");
            len = snprintf(name, sizeof name, "%s%s%.*s", prefix, *prefix ? "." : "", (int)k->len, (const char *)k->str);
        } else if (k->kind == PK_INT) len = snprintf(name, sizeof name, "%s%s%lld", prefix, *prefix ? "." : "", (long long)k->i);
        else continue;
        if (len < 0 || (size_t)len >= sizeof name) return fn_fail(FN_ERR_FORMAT, "torch: tensor name too long");
        if (val->kind == PK_TENSOR) {
            if (fn_tensor_set_find(out, name)) return fn_fail(FN_ERR_FORMAT, "torch: duplicate tensor '%s'", name);
            const storage_bytes *b = find_bytes(sb, nsb, val->storage);
            if (!b) return fn_fail(FN_ERR_FORMAT, "torch: tensor '%s' has no storage data", name);
            FN_TRY(materialise(out, name, val, b));
        } else if (val->kind == PK_DICT) {
            FN_TRY(flatten(out, val, name, depth + 1, sb, nsb));
        }
    }
    return FN_OK;
}

static fn_status finish(fn_tensor_set *out, const pk_value *root, const storage_bytes *sb, int nsb) {
    if (root->kind != PK_DICT)
        return fn_fail(FN_ERR_UNSUPPORTED, "torch: the file holds a %s, not a state_dict (save model.state_dict())", pk_kind_name(root->kind));
    return flatten(out, root, "", 0, sb, nsb);
}

static const uint8_t legacy_magic[10] = { 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19 };

static fn_status load_legacy(const uint8_t *data, size_t size, fn_tensor_set *out) {
    pk_vm vm;
    torch_ctx ctx = { 0 };
    pk_vm_init(&vm, torch_persistent, &ctx);
    storage_bytes *sb = NULL;
    pk_value *v[5];
    size_t off = 0, used;
    fn_status st = FN_OK;
    for (int k = 0; k < 5 && !st; k++) {
        st = pk_load(&vm, data + off, size - off, &v[k], &used);
        if (!st) off += used;
        if (!st && k == 0 && (v[0]->kind != PK_BIGINT || v[0]->len != 10 || memcmp(v[0]->str, legacy_magic, 10)))
            st = fn_fail(FN_ERR_FORMAT, "torch: bad legacy magic number (not a torch.save file)");
    }
    if (st) goto done;
    if (v[1]->kind != PK_INT || v[1]->i != 1001) { st = fn_fail(FN_ERR_UNSUPPORTED, "torch: legacy protocol version %lld (expected 1001)", (long long)v[1]->i); goto done; }
    if (v[2]->kind == PK_DICT)
        for (int i = 0; i + 1 < v[2]->n; i += 2)
            if (pk_str_eq(v[2]->items[i], "little_endian") && v[2]->items[i + 1]->kind == PK_BOOL && !v[2]->items[i + 1]->i) {
                st = fn_fail(FN_ERR_UNSUPPORTED, "torch: big-endian file"); goto done;
            }
    if (v[4]->kind != PK_LIST) { st = fn_fail(FN_ERR_FORMAT, "torch: storage key list missing"); goto done; }
    sb = calloc(v[4]->n ? v[4]->n : 1, sizeof *sb);
    if (!sb) { st = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < v[4]->n; i++) {
        pk_value *key = v[4]->items[i], *s = NULL;
        if (key->kind != PK_STR) { st = fn_fail(FN_ERR_FORMAT, "torch: storage key is not a string"); goto done; }
        for (int j = 0; j < ctx.n && !s; j++)
            if (ctx.storages[j]->len == key->len && !memcmp(ctx.storages[j]->str, key->str, key->len)) s = ctx.storages[j];
        if (!s) { st = fn_fail(FN_ERR_FORMAT, "torch: storage key list names an unknown storage"); goto done; }
        if (size - off < 8) { st = fn_fail(FN_ERR_FORMAT, "torch: truncated before storage %d of %d", i + 1, v[4]->n); goto done; }
        uint64_t numel = 0;
        for (int b = 7; b >= 0; b--) numel = (numel << 8) | data[off + b];
        off += 8;
        size_t es = fn_dtype_size(s->dtype), nbytes;
        if (numel != (uint64_t)s->numel || !fn_mul_size((size_t)numel, es, &nbytes) || nbytes > size - off) {
            st = fn_fail(FN_ERR_FORMAT, "torch: storage %d of %d truncated or inconsistent (%llu elements)", i + 1, v[4]->n, (unsigned long long)numel);
            goto done;
        }
        sb[i].key = (const char *)key->str; sb[i].key_len = key->len; sb[i].data = data + off; sb[i].nbytes = nbytes;
        off += nbytes;
    }
    st = finish(out, v[3], sb, v[4]->n);
done:
    free(sb); free(ctx.storages);
    pk_vm_free(&vm);
    return st;
}

static int name_is(const fn_zip_entry *e, const char *prefix, size_t plen, const char *suffix) {
    size_t sl = strlen(suffix);
    return e->name_len == plen + sl && !memcmp(e->name, prefix, plen) && !memcmp(e->name + plen, suffix, sl);
}

static fn_status load_zip(const uint8_t *data, size_t size, fn_tensor_set *out) {
    fn_zip_entry *e;
    int n;
    FN_TRY(fn_zip_list(data, size, &e, &n));
    fn_status st = FN_OK;
    pk_vm vm;
    torch_ctx ctx = { 0 };
    pk_vm_init(&vm, torch_persistent, &ctx);
    storage_bytes *sb = NULL;
    const fn_zip_entry *pkl = NULL;
    size_t plen = 0; /* "<prefix>/" */
    for (int i = 0; i < n && !pkl; i++) {
        const char *s = "data.pkl";
        if (e[i].name_len >= 8 && !memcmp(e[i].name + e[i].name_len - 8, s, 8) &&
            (e[i].name_len == 8 || e[i].name[e[i].name_len - 9] == '/')) {
            pkl = &e[i]; plen = e[i].name_len - 8;
        }
    }
    if (!pkl) { st = fn_fail(FN_ERR_FORMAT, "torch: zip archive has no data.pkl (not a PyTorch file?)"); goto done; }
    for (int i = 0; i < n; i++)
        if (name_is(&e[i], pkl->name, plen, "byteorder") && !(e[i].size >= 6 && !memcmp(e[i].data, "little", 6))) {
            st = fn_fail(FN_ERR_UNSUPPORTED, "torch: big-endian file"); goto done;
        }
    pk_value *root;
    size_t used;
    if ((st = pk_load(&vm, pkl->data, pkl->size, &root, &used))) goto done;
    sb = calloc(ctx.n ? ctx.n : 1, sizeof *sb);
    if (!sb) { st = fn_fail(FN_ERR_NOMEM, "out of memory"); goto done; }
    for (int j = 0; j < ctx.n; j++) {
        pk_value *s = ctx.storages[j];
        const fn_zip_entry *d = NULL;
        for (int i = 0; i < n && !d; i++)
            if (e[i].name_len == plen + 5 + s->len && !memcmp(e[i].name, pkl->name, plen) &&
                !memcmp(e[i].name + plen, "data/", 5) && !memcmp(e[i].name + plen + 5, s->str, s->len)) d = &e[i];
        if (!d) { st = fn_fail(FN_ERR_FORMAT, "torch: storage '%.*s' missing from the archive", (int)(s->len > 64 ? 64 : s->len), (const char *)s->str); goto done; }
        sb[j].key = (const char *)s->str; sb[j].key_len = s->len; sb[j].data = d->data; sb[j].nbytes = d->size;
    }
    st = finish(out, root, sb, ctx.n);
done:
    free(sb); free(ctx.storages); free(e);
    pk_vm_free(&vm);
    return st;
}

fn_status fn_torch_load_mem(const uint8_t *data, size_t size, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    fn_status st;
    if (size >= 4 && !memcmp(data, "PK\x03\x04", 4)) { out->format = "torch-zip"; st = load_zip(data, size, out); }
    else if (size >= 2 && data[0] == 0x80) { out->format = "torch-legacy"; st = load_legacy(data, size, out); }
    else return fn_fail(FN_ERR_FORMAT, "torch: neither a zip archive nor a pickle stream");
    if (st) {
        const char *fmt = out->format;
        fn_tensor_set_free(out);
        out->format = fmt;
    }
    return st;
}

fn_status fn_torch_load(const char *path, fn_tensor_set *out) {
    uint8_t *data;
    size_t size;
    fn_tensor_set_init(out);
    FN_TRY(fn_read_file(path, &data, &size));
    fn_status st = fn_torch_load_mem(data, size, out);
    free(data);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fn_last_error());
        return fn_fail(st, "%s: %s", path, msg);
    }
    return FN_OK;
}
