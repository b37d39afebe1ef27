/* tf_graphdef.c — TensorFlow frozen graphs (.pb, e.g. facenet's 20180402-114759.pb): the
 * GraphDef protobuf is decoded straight from the wire format (no protobuf library) and
 * every Const node's TensorProto becomes a tensor named after the node. Then the facenet
 * TF names are mapped to facenet-pytorch's InceptionResnetV1 state_dict names:
 *   conv   HWIO -> OIHW                      (permute 3,2,0,1)
 *   Bottleneck/weights [1792,d] -> last_linear.weight [d,1792]
 *   BatchNorm beta/moving_mean/moving_variance -> bn.bias/running_mean/running_var,
 *   and bn.weight = 1 (facenet's slim batch norm has no gamma: scale=False). */
#include "weights.h"

/* GraphDef / NodeDef / AttrValue / TensorProto field numbers (tensorflow/core/framework) */
enum { GRAPH_NODE = 1, NODE_NAME = 1, NODE_OP = 2, NODE_ATTR = 5, MAP_KEY = 1, MAP_VALUE = 2, ATTR_TENSOR = 8 };
enum { TP_DTYPE = 1, TP_SHAPE = 2, TP_CONTENT = 4, TP_FLOAT = 5, TP_DOUBLE = 6, TP_INT = 7, TP_INT64 = 10, TP_HALF = 13 };
enum { SHAPE_DIM = 2, DIM_SIZE = 1 };
enum { DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_INT64 = 9, DT_HALF = 19 };

typedef struct { const uint8_t *p, *end; } pb;

static int pb_varint(pb *b, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (b->p >= b->end) return fn_fail(FN_ERR_FORMAT, "protobuf: truncated varint"), 0;
        uint8_t c = *b->p++;
        if (shift == 63 && (c & 0x7e)) break; /* more than 64 bits */
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 1;
    }
    fn_fail(FN_ERR_FORMAT, "protobuf: bad varint (over 10 bytes)");
    return 0;
}

/* Reads the next field: tag and, for length-delimited ones, the payload as a sub-reader. */
static int pb_field(pb *b, unsigned *field, unsigned *wt, uint64_t *v, pb *sub) {
    uint64_t tag;
    if (!pb_varint(b, &tag)) return 0;
    *field = (unsigned)(tag >> 3); *wt = (unsigned)(tag & 7);
    if (*field == 0) { fn_fail(FN_ERR_FORMAT, "protobuf: field number 0"); return 0; }
    switch (*wt) {
    case 0: return pb_varint(b, v);
    case 1: case 5: {
        size_t n = *wt == 1 ? 8 : 4;
        if ((size_t)(b->end - b->p) < n) { fn_fail(FN_ERR_FORMAT, "protobuf: truncated fixed field"); return 0; }
        *v = 0;
        for (size_t k = n; k-- > 0;) *v = (*v << 8) | b->p[k];
        b->p += n;
        return 1;
    }
    case 2:
        if (!pb_varint(b, v)) return 0;
        if (*v > (uint64_t)(b->end - b->p)) { fn_fail(FN_ERR_FORMAT, "protobuf: length %llu overruns the message (truncated?)", (unsigned long long)*v); return 0; }
        sub->p = b->p; sub->end = b->p + *v;
        b->p += *v;
        return 1;
    default:
        fn_fail(FN_ERR_FORMAT, "protobuf: unsupported wire type %u", *wt);
        return 0;
    }
}

/* Growable value list for the repeated *_val fields (packed or not). */
typedef struct { uint64_t *v; size_t n, cap; } vals;
static int vals_push(vals *a, uint64_t x) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        uint64_t *p = realloc(a->v, nc * sizeof *p);
        if (!p) { fn_fail(FN_ERR_NOMEM, "out of memory"); return 0; }
        a->v = p; a->cap = nc;
    }
    a->v[a->n++] = x;
    return 1;
}

/* A repeated scalar field: packed (wire type 2) or one value per tag. */
static int read_repeated(unsigned wt, uint64_t v, pb *sub, int fixed_size, vals *out) {
    if (wt != 2) return vals_push(out, v);
    while (sub->p < sub->end) {
        uint64_t x = 0;
        if (fixed_size) {
            if ((size_t)(sub->end - sub->p) < (size_t)fixed_size) { fn_fail(FN_ERR_FORMAT, "protobuf: packed values truncated"); return 0; }
            for (int k = fixed_size; k-- > 0;) x = (x << 8) | sub->p[k];
            sub->p += fixed_size;
        } else if (!pb_varint(sub, &x)) return 0;
        if (!vals_push(out, x)) return 0;
    }
    return 1;
}

static fn_status add_tensor_proto(fn_tensor_set *out, const char *name, pb t) {
    uint64_t dtype = 0;
    int ndim = 0;
    int64_t shape[FN_MAX_DIMS];
    const uint8_t *content = NULL;
    size_t content_len = 0;
    vals values = { 0 };
    int value_kind = 0, fixed = 0;
    fn_status st = FN_OK;
    while (t.p < t.end) {
        unsigned f, wt;
        uint64_t v;
        pb sub;
        if (!pb_field(&t, &f, &wt, &v, &sub)) { st = FN_ERR_FORMAT; goto done; }
        if (f == TP_DTYPE && wt == 0) dtype = v;
        else if (f == TP_SHAPE && wt == 2) {
            ndim = 0;
            while (sub.p < sub.end) {
                unsigned f2, wt2;
                uint64_t v2;
                pb dim;
                if (!pb_field(&sub, &f2, &wt2, &v2, &dim)) { st = FN_ERR_FORMAT; goto done; }
                if (f2 != SHAPE_DIM || wt2 != 2) continue;
                if (ndim >= FN_MAX_DIMS) { st = fn_fail(FN_ERR_SHAPE, "graphdef: '%s' has too many dimensions", name); goto done; }
                int64_t size = 0;
                while (dim.p < dim.end) {
                    unsigned f3, wt3;
                    uint64_t v3;
                    pb x;
                    if (!pb_field(&dim, &f3, &wt3, &v3, &x)) { st = FN_ERR_FORMAT; goto done; }
                    if (f3 == DIM_SIZE && wt3 == 0) size = (int64_t)v3;
                }
                if (size < 0) { st = fn_fail(FN_ERR_SHAPE, "graphdef: '%s' has an unknown dimension", name); goto done; }
                shape[ndim++] = size;
            }
        } else if (f == TP_CONTENT && wt == 2) { content = sub.p; content_len = (size_t)v; }
        else if ((f == TP_FLOAT || f == TP_DOUBLE || f == TP_INT || f == TP_INT64 || f == TP_HALF)) {
            value_kind = (int)f;
            fixed = f == TP_FLOAT ? 4 : f == TP_DOUBLE ? 8 : 0;
            if (fixed && wt != 2 && wt != (fixed == 4 ? 5u : 1u)) continue;
            if (!fixed && wt != 2 && wt != 0) continue;
            if (!read_repeated(wt, v, &sub, fixed, &values)) { st = FN_ERR_FORMAT; goto done; }
        }
    }
    fn_dtype dt;
    switch (dtype) {
    case DT_FLOAT: dt = FN_F32; break;
    case DT_DOUBLE: dt = FN_F64; break;
    case DT_INT32: dt = FN_I32; break;
    case DT_INT64: dt = FN_I64; break;
    case DT_HALF: dt = FN_F16; break;
    default: goto done; /* strings, bools, ...: not weights */
    }
    size_t es = fn_dtype_size(dt), numel = 1, nbytes;
    for (int d = 0; d < ndim; d++)
        if (!fn_mul_size(numel, (size_t)shape[d], &numel) || numel > FN_TENSOR_MAX_BYTES) { st = fn_fail(FN_ERR_LIMIT, "graphdef: '%s' has an absurd shape", name); goto done; }
    nbytes = numel * es;
    uint8_t *data;
    if (content) {
        if (content_len != nbytes) { st = fn_fail(FN_ERR_FORMAT, "graphdef: '%s' holds %zu bytes, shape needs %zu", name, content_len, nbytes); goto done; }
        if (!(data = fn_malloc(nbytes ? nbytes : 1))) { st = FN_ERR_NOMEM; goto done; }
        if (nbytes) memcpy(data, content, nbytes);
    } else {
        /* *_val: fewer values than elements repeat the last one (TF's splat), none is zeros */
        if (values.n > numel) { st = fn_fail(FN_ERR_FORMAT, "graphdef: '%s' has %zu values for %zu elements", name, values.n, numel); goto done; }
        if (values.n && value_kind != (dt == FN_F32 ? TP_FLOAT : dt == FN_F64 ? TP_DOUBLE : dt == FN_I32 ? TP_INT : dt == FN_I64 ? TP_INT64 : TP_HALF)) {
            st = fn_fail(FN_ERR_FORMAT, "graphdef: '%s' values do not match its dtype", name); goto done;
        }
        if (!(data = fn_calloc(nbytes ? nbytes : 1, 1))) { st = FN_ERR_NOMEM; goto done; }
        for (size_t k = 0; values.n && k < numel; k++) {
            uint64_t x = values.v[k < values.n ? k : values.n - 1];
            if (dt == FN_F32) { uint32_t u = (uint32_t)x; memcpy(data + 4 * k, &u, 4); }
            else if (dt == FN_F64 || dt == FN_I64) memcpy(data + 8 * k, &x, 8);
            else if (dt == FN_I32) { uint32_t u = (uint32_t)x; memcpy(data + 4 * k, &u, 4); }
            else { uint16_t u = (uint16_t)x; memcpy(data + 2 * k, &u, 2); }
        }
    }
    if (fn_tensor_set_find(out, name)) { free(data); st = fn_fail(FN_ERR_FORMAT, "graphdef: duplicate node '%s'", name); goto done; }
    st = fn_tensor_set_add(out, name, dt, ndim, shape, data, 1);
done:
    free(values.v);
    return st;
}

static fn_status parse_node(fn_tensor_set *out, pb node) {
    pb name = { 0 }, op = { 0 }, tensor = { 0 };
    int has_tensor = 0;
    while (node.p < node.end) {
        unsigned f, wt;
        uint64_t v;
        pb sub;
        if (!pb_field(&node, &f, &wt, &v, &sub)) return FN_ERR_FORMAT;
        if (wt != 2) continue;
        if (f == NODE_NAME) name = sub;
        else if (f == NODE_OP) op = sub;
        else if (f == NODE_ATTR) {
            pb key = { 0 }, value = { 0 };
            while (sub.p < sub.end) {
                unsigned f2, wt2;
                uint64_t v2;
                pb s2;
                if (!pb_field(&sub, &f2, &wt2, &v2, &s2)) return FN_ERR_FORMAT;
                if (wt2 == 2 && f2 == MAP_KEY) key = s2;
                else if (wt2 == 2 && f2 == MAP_VALUE) value = s2;
            }
            if (key.end - key.p == 5 && !memcmp(key.p, "value", 5)) {
                while (value.p < value.end) {
                    unsigned f3, wt3;
                    uint64_t v3;
                    pb s3;
                    if (!pb_field(&value, &f3, &wt3, &v3, &s3)) return FN_ERR_FORMAT;
                    if (f3 == ATTR_TENSOR && wt3 == 2) { tensor = s3; has_tensor = 1; }
                }
            }
        }
    }
    if (!(op.end - op.p == 5 && !memcmp(op.p, "Const", 5)) || !has_tensor) return FN_OK;
    size_t nl = (size_t)(name.end - name.p);
    if (nl == 0 || nl > 400 || memchr(name.p, 0, nl)) return fn_fail(FN_ERR_FORMAT, "graphdef: Const node with a bad name");
    char buf[512];
    memcpy(buf, name.p, nl); buf[nl] = 0;
    return add_tensor_proto(out, buf, tensor);
}

fn_status fn_graphdef_load_mem(const uint8_t *data, size_t size, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    out->format = "tf-graphdef";
    pb g = { data, data + size };
    fn_status st = FN_OK;
    while (!st && g.p < g.end) {
        unsigned f, wt;
        uint64_t v;
        pb sub;
        if (!pb_field(&g, &f, &wt, &v, &sub)) st = FN_ERR_FORMAT;
        else if (f == GRAPH_NODE && wt == 2) st = parse_node(out, sub);
    }
    if (!st && out->n == 0) st = fn_fail(FN_ERR_FORMAT, "graphdef: no Const tensors (not a frozen graph?)");
    if (st) { fn_tensor_set_free(out); out->format = "tf-graphdef"; }
    return st;
}

/* ---- TF facenet names -> facenet-pytorch InceptionResnetV1 names ---- */

typedef struct { const char *tf, *pt; } scope_map;

static const scope_map stem[] = {
    { "Conv2d_1a_3x3", "conv2d_1a" }, { "Conv2d_2a_3x3", "conv2d_2a" }, { "Conv2d_2b_3x3", "conv2d_2b" },
    { "Conv2d_3b_1x1", "conv2d_3b" }, { "Conv2d_4a_3x3", "conv2d_4a" }, { "Conv2d_4b_3x3", "conv2d_4b" }, { NULL, NULL } };
static const scope_map block35[] = {
    { "Branch_0/Conv2d_1x1", "branch0" }, { "Branch_1/Conv2d_0a_1x1", "branch1.0" }, { "Branch_1/Conv2d_0b_3x3", "branch1.1" },
    { "Branch_2/Conv2d_0a_1x1", "branch2.0" }, { "Branch_2/Conv2d_0b_3x3", "branch2.1" }, { "Branch_2/Conv2d_0c_3x3", "branch2.2" },
    { "Conv2d_1x1", "conv2d" }, { NULL, NULL } };
static const scope_map block17[] = {
    { "Branch_0/Conv2d_1x1", "branch0" }, { "Branch_1/Conv2d_0a_1x1", "branch1.0" }, { "Branch_1/Conv2d_0b_1x7", "branch1.1" },
    { "Branch_1/Conv2d_0c_7x1", "branch1.2" }, { "Conv2d_1x1", "conv2d" }, { NULL, NULL } };
static const scope_map block8[] = {
    { "Branch_0/Conv2d_1x1", "branch0" }, { "Branch_1/Conv2d_0a_1x1", "branch1.0" }, { "Branch_1/Conv2d_0b_1x3", "branch1.1" },
    { "Branch_1/Conv2d_0c_3x1", "branch1.2" }, { "Conv2d_1x1", "conv2d" }, { NULL, NULL } };
static const scope_map mixed6a[] = {
    { "Branch_0/Conv2d_1a_3x3", "branch0" }, { "Branch_1/Conv2d_0a_1x1", "branch1.0" }, { "Branch_1/Conv2d_0b_3x3", "branch1.1" },
    { "Branch_1/Conv2d_1a_3x3", "branch1.2" }, { NULL, NULL } };
static const scope_map mixed7a[] = {
    { "Branch_0/Conv2d_0a_1x1", "branch0.0" }, { "Branch_0/Conv2d_1a_3x3", "branch0.1" },
    { "Branch_1/Conv2d_0a_1x1", "branch1.0" }, { "Branch_1/Conv2d_1a_3x3", "branch1.1" },
    { "Branch_2/Conv2d_0a_1x1", "branch2.0" }, { "Branch_2/Conv2d_0b_3x3", "branch2.1" }, { "Branch_2/Conv2d_1a_3x3", "branch2.2" },
    { NULL, NULL } };

/* Matches "scope/" at the start of s; returns the rest or NULL. */
static const char *eat(const char *s, const char *scope) {
    size_t n = strlen(scope);
    return !strncmp(s, scope, n) && s[n] == '/' ? s + n + 1 : NULL;
}

/* Leaf of a conv scope: "weights", "biases", "BatchNorm/beta", ... -> pytorch suffix. */
static const char *leaf_suffix(const char *leaf, int is_up_conv) {
    if (!strcmp(leaf, "weights")) return is_up_conv ? "weight" : "conv.weight";
    if (!strcmp(leaf, "biases")) return is_up_conv ? "bias" : NULL;
    if (is_up_conv) return NULL;
    if (!strcmp(leaf, "BatchNorm/beta")) return "bn.bias";
    if (!strcmp(leaf, "BatchNorm/gamma")) return "bn.weight";
    if (!strcmp(leaf, "BatchNorm/moving_mean")) return "bn.running_mean";
    if (!strcmp(leaf, "BatchNorm/moving_variance")) return "bn.running_var";
    return NULL;
}

/* TF name -> pytorch name in dst; 0 when the tensor has no pytorch counterpart. */
static int map_name(const char *tf, char *dst, size_t cap, int *kind /* 0 copy, 1 conv, 2 dense */) {
    const char *r;
    *kind = 0;
    if ((r = eat(tf, "Logits"))) {
        if (!strcmp(r, "weights")) { *kind = 2; snprintf(dst, cap, "logits.weight"); return 1; }
        if (!strcmp(r, "biases")) { snprintf(dst, cap, "logits.bias"); return 1; }
        return 0;
    }
    if (!(r = eat(tf, "InceptionResnetV1"))) return 0;
    const char *b;
    if ((b = eat(r, "Bottleneck"))) {
        if (!strcmp(b, "weights")) { *kind = 2; snprintf(dst, cap, "last_linear.weight"); return 1; }
        const char *s = leaf_suffix(b, 0);
        if (!s || !strncmp(s, "conv", 4)) return 0;
        snprintf(dst, cap, "last_%s", s); /* bn.bias -> last_bn.bias */
        return 1;
    }
    for (int k = 0; stem[k].tf; k++)
        if ((b = eat(r, stem[k].tf))) {
            const char *s = leaf_suffix(b, 0);
            if (!s) return 0;
            *kind = !strcmp(s, "conv.weight");
            snprintf(dst, cap, "%s.%s", stem[k].pt, s);
            return 1;
        }
    static const struct { const char *repeat, *block, *pt; const scope_map *map; } blocks[] = {
        { "Repeat", "block35_", "repeat_1", block35 }, { "Repeat_1", "block17_", "repeat_2", block17 },
        { "Repeat_2", "block8_", "repeat_3", block8 },
    };
    char prefix[64];
    const scope_map *map = NULL;
    for (int k = 0; k < 3 && !map; k++) {
        const char *x = eat(r, blocks[k].repeat);
        size_t bl = strlen(blocks[k].block);
        if (x && !strncmp(x, blocks[k].block, bl)) {
            char *end;
            long idx = strtol(x + bl, &end, 10);
            if (end == x + bl || *end != '/' || idx < 1 || idx > 99) return 0;
            snprintf(prefix, sizeof prefix, "%s.%ld", blocks[k].pt, idx - 1);
            map = blocks[k].map; b = end + 1;
        }
    }
    if (!map) {
        if ((b = eat(r, "Block8"))) { snprintf(prefix, sizeof prefix, "block8"); map = block8; }
        else if ((b = eat(r, "Mixed_6a"))) { snprintf(prefix, sizeof prefix, "mixed_6a"); map = mixed6a; }
        else if ((b = eat(r, "Mixed_7a"))) { snprintf(prefix, sizeof prefix, "mixed_7a"); map = mixed7a; }
        else return 0;
    }
    for (int k = 0; map[k].tf; k++) {
        const char *leaf = eat(b, map[k].tf);
        if (!leaf) continue;
        int up = !strcmp(map[k].pt, "conv2d");
        const char *s = leaf_suffix(leaf, up);
        if (!s) return 0;
        *kind = !strcmp(s, "conv.weight") || (up && !strcmp(s, "weight"));
        snprintf(dst, cap, "%s.%s.%s", prefix, map[k].pt, s);
        return 1;
    }
    return 0;
}

fn_status fn_map_tf_inception_resnet_v1(fn_tensor_set *in, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    out->format = in->format;
    fn_status st = fn_tensor_set_to_f32(in);
    for (int i = 0; i < in->n && !st; i++) {
        const fn_tensor *t = &in->t[i];
        char name[256];
        int kind;
        if (!map_name(t->name, name, sizeof name, &kind)) continue;
        if (t->dtype != FN_F32) { st = fn_fail(FN_ERR_UNSUPPORTED, "'%s' is %s, expected floats", t->name, fn_dtype_name(t->dtype)); break; }
        if (fn_tensor_set_find(out, name)) { st = fn_fail(FN_ERR_FORMAT, "two TF tensors map to '%s'", name); break; }
        if (kind == 0) {
            if (t->ndim != 1) { st = fn_fail(FN_ERR_SHAPE, "'%s' should be 1-D", t->name); break; }
            st = fn_tensor_set_take(out, in, i, name);
            continue;
        }
        if ((kind == 1 && t->ndim != 4) || (kind == 2 && t->ndim != 2)) { st = fn_fail(FN_ERR_SHAPE, "'%s' has %d dimensions", t->name, t->ndim); break; }
        const float *src = t->data;
        float *dst = fn_malloc(t->nbytes ? t->nbytes : 1);
        if (!dst) { st = FN_ERR_NOMEM; break; }
        int64_t shape[4];
        if (kind == 1) {
            int64_t H = t->shape[0], W = t->shape[1], I = t->shape[2], O = t->shape[3];
            shape[0] = O; shape[1] = I; shape[2] = H; shape[3] = W;
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++)
                    for (int64_t c = 0; c < I; c++)
                        for (int64_t o = 0; o < O; o++)
                            dst[((o * I + c) * H + h) * W + w] = src[((h * W + w) * I + c) * O + o];
        } else {
            int64_t I = t->shape[0], O = t->shape[1];
            shape[0] = O; shape[1] = I;
            for (int64_t c = 0; c < I; c++)
                for (int64_t o = 0; o < O; o++) dst[o * I + c] = src[c * O + o];
        }
        st = fn_tensor_set_add(out, name, FN_F32, t->ndim, shape, dst, 1);
    }
    /* facenet's batch norms have no gamma: add bn.weight = 1 beside every bn.bias */
    for (int i = 0, n = out->n; i < n && !st; i++) {
        const char *nm = out->t[i].name;
        size_t l = strlen(nm);
        if (l < 7 || strcmp(nm + l - 7, "bn.bias")) continue;
        char w[256];
        snprintf(w, sizeof w, "%.*s.weight", (int)(l - 5), nm);
        if (fn_tensor_set_find(out, w)) continue;
        int64_t c = out->t[i].shape[0];
        float *ones = fn_malloc((size_t)c * sizeof(float) + 1);
        if (!ones) { st = FN_ERR_NOMEM; break; }
        for (int64_t k = 0; k < c; k++) ones[k] = 1.0f;
        st = fn_tensor_set_add(out, w, FN_F32, 1, &c, ones, 1);
    }
    if (!st && !fn_tensor_set_find(out, "conv2d_1a.conv.weight"))
        st = fn_fail(FN_ERR_MISSING, "no InceptionResnetV1/Conv2d_1a_3x3/weights: not a facenet Inception-ResNet-v1 graph");
    if (st) fn_tensor_set_free(out);
    return st;
}
