/* tfjs.c — TensorFlow.js weight manifests + binary shards -> named F32 tensors.
 * The manifest comes from strangers (npm): every count, shape and offset is checked
 * before use, so a truncated shard or an absurd shape is a clear error, never a crash. */
#include "tfjs.h"
#include "json.h"

typedef enum { Q_NONE = 0, Q_UINT8, Q_UINT16, Q_FLOAT16 } quant_kind;

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: man * 2^-24 */
            float f = man * (1.0f / 16777216.0f);
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) bits = sign | 0x7F800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* The array of groups: a bare manifest is one; model.json holds it as "weightsManifest". */
static const fn_json *manifest_groups(const fn_json *root) {
    if (root->type == FN_JSON_ARRAY) return root;
    if (root->type == FN_JSON_OBJECT) {
        const fn_json *g = fn_json_get(root, "weightsManifest");
        if (g && g->type == FN_JSON_ARRAY) return g;
    }
    return NULL;
}

static fn_status parse_manifest(const char *text, size_t len, fn_json **root, const fn_json **groups) {
    if (len > FN_TFJS_MAX_MANIFEST)
        return fn_fail(FN_ERR_LIMIT, "TF.js manifest: %zu bytes (max %u)", len, FN_TFJS_MAX_MANIFEST);
    FN_TRY(fn_json_parse(text, len, root));
    *groups = manifest_groups(*root);
    if (!*groups) {
        fn_json_free(*root);
        *root = NULL;
        return fn_fail(FN_ERR_FORMAT, "TF.js manifest: expected an array of {paths, weights} groups "
                                      "(or an object with \"weightsManifest\")");
    }
    return FN_OK;
}

/* Prefixes the recorded error with the file name (copied first: fn_fail writes the buffer). */
static fn_status with_path(fn_status s, const char *path) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", fn_last_error());
    return fn_fail(s, "%s: %s", path, msg);
}

static fn_status json_number(const fn_json *obj, const char *key, const char *wname, double *out) {
    const fn_json *v = fn_json_get(obj, key);
    if (!v || v->type != FN_JSON_NUMBER || !isfinite(v->number))
        return fn_fail(FN_ERR_FORMAT, "TF.js weight '%s': quantization.%s is missing or not a finite number", wname, key);
    *out = v->number;
    return FN_OK;
}

/* Decodes one weight entry starting at weights[*offset]; advances *offset. */
static fn_status decode_weight(const fn_json *w, const uint8_t *weights, size_t weights_len,
                               size_t *offset, fn_tensor_set *out) {
    if (w->type != FN_JSON_OBJECT) return fn_fail(FN_ERR_FORMAT, "TF.js manifest: a weight entry is not an object");
    const fn_json *jname = fn_json_get(w, "name"), *jshape = fn_json_get(w, "shape"),
                  *jdtype = fn_json_get(w, "dtype"), *jq = fn_json_get(w, "quantization");
    if (!jname || jname->type != FN_JSON_STRING)
        return fn_fail(FN_ERR_FORMAT, "TF.js manifest: a weight entry has no \"name\" string");
    const char *name = jname->string;
    if (!jshape || jshape->type != FN_JSON_ARRAY)
        return fn_fail(FN_ERR_FORMAT, "TF.js weight '%s': \"shape\" is missing or not an array", name);
    if (jshape->n > FN_MAX_DIMS)
        return fn_fail(FN_ERR_SHAPE, "TF.js weight '%s': %d dimensions (max %d)", name, jshape->n, FN_MAX_DIMS);
    int64_t shape[FN_MAX_DIMS];
    size_t numel = 1;
    for (int i = 0; i < jshape->n; i++) {
        double d = jshape->items[i].number;
        if (jshape->items[i].type != FN_JSON_NUMBER || !(d >= 0) || d != floor(d) || d > (double)FN_TENSOR_MAX_BYTES)
            return fn_fail(FN_ERR_SHAPE, "TF.js weight '%s': shape[%d] is not a non-negative integer", name, i);
        shape[i] = (int64_t)d;
        if (!fn_mul_size(numel, (size_t)shape[i], &numel) || numel > FN_TENSOR_MAX_BYTES / 4)
            return fn_fail(FN_ERR_LIMIT, "TF.js weight '%s': absurd shape (more than %zu elements)", name,
                           (size_t)(FN_TENSOR_MAX_BYTES / 4));
    }
    const char *dtype = jdtype && jdtype->type == FN_JSON_STRING ? jdtype->string : "float32";
    int is_int = 0;
    if (!strcmp(dtype, "int32")) is_int = 1;
    else if (strcmp(dtype, "float32"))
        return fn_fail(FN_ERR_UNSUPPORTED, "TF.js weight '%s': dtype '%s' is not supported (float32, int32)", name, dtype);

    quant_kind q = Q_NONE;
    double scale = 1, minv = 0;
    if (jq && jq->type != FN_JSON_NULL) {
        const fn_json *qd = jq->type == FN_JSON_OBJECT ? fn_json_get(jq, "dtype") : NULL;
        if (!qd || qd->type != FN_JSON_STRING)
            return fn_fail(FN_ERR_FORMAT, "TF.js weight '%s': quantization without a \"dtype\"", name);
        if (!strcmp(qd->string, "uint8")) q = Q_UINT8;
        else if (!strcmp(qd->string, "uint16")) q = Q_UINT16;
        else if (!strcmp(qd->string, "float16")) q = Q_FLOAT16;
        else return fn_fail(FN_ERR_UNSUPPORTED, "TF.js weight '%s': quantization dtype '%s' is not supported "
                                                "(uint8, uint16, float16)", name, qd->string);
        if (q == Q_UINT8 || q == Q_UINT16) {
            FN_TRY(json_number(jq, "scale", name, &scale));
            FN_TRY(json_number(jq, "min", name, &minv));
        }
        if (is_int && q == Q_FLOAT16)
            return fn_fail(FN_ERR_UNSUPPORTED, "TF.js weight '%s': float16 quantisation of int32", name);
    }
    size_t elem = q == Q_UINT8 ? 1 : (q == Q_UINT16 || q == Q_FLOAT16) ? 2 : 4, nbytes;
    if (!fn_mul_size(numel, elem, &nbytes) || *offset > weights_len || nbytes > weights_len - *offset)
        return fn_fail(FN_ERR_FORMAT, "TF.js weight '%s': needs %zu bytes at offset %zu but the shards hold "
                                      "only %zu bytes (truncated shard?)", name, numel * elem, *offset, weights_len);
    const uint8_t *src = weights + *offset;
    *offset += nbytes;

    void *data = fn_malloc(numel ? numel * 4 : 4);
    if (!data) return FN_ERR_NOMEM;
    if (is_int) {
        int32_t *d = data;
        for (size_t k = 0; k < numel; k++) {
            if (q == Q_UINT8) d[k] = (int32_t)lround(src[k] * scale + minv);
            else if (q == Q_UINT16) { uint16_t v; memcpy(&v, src + 2 * k, 2); d[k] = (int32_t)lround(v * scale + minv); }
            else memcpy(&d[k], src + 4 * k, 4);
        }
    } else {
        float *d = data;
        /* TF.js dequantises as q * scale + min in doubles, stored to float32: same here. */
        for (size_t k = 0; k < numel; k++) {
            if (q == Q_UINT8) d[k] = (float)(src[k] * scale + minv);
            else if (q == Q_UINT16) { uint16_t v; memcpy(&v, src + 2 * k, 2); d[k] = (float)(v * scale + minv); }
            else if (q == Q_FLOAT16) { uint16_t v; memcpy(&v, src + 2 * k, 2); d[k] = half_to_float(v); }
            else memcpy(&d[k], src + 4 * k, 4);
        }
    }
    if (fn_tensor_set_find(out, name)) {
        free(data);
        return fn_fail(FN_ERR_FORMAT, "TF.js manifest: weight '%s' appears twice", name);
    }
    return fn_tensor_set_add(out, name, is_int ? FN_I32 : FN_F32, jshape->n, shape, data, 1);
}

static fn_status decode_group(const fn_json *g, int gi, const uint8_t *weights, size_t weights_len,
                              size_t *offset, fn_tensor_set *out) {
    const fn_json *ws = g->type == FN_JSON_OBJECT ? fn_json_get(g, "weights") : NULL;
    if (!ws || ws->type != FN_JSON_ARRAY)
        return fn_fail(FN_ERR_FORMAT, "TF.js manifest: group %d has no \"weights\" array", gi);
    for (int i = 0; i < ws->n; i++) FN_TRY(decode_weight(&ws->items[i], weights, weights_len, offset, out));
    return FN_OK;
}

fn_status fn_tfjs_parse(const char *manifest, size_t manifest_len, const uint8_t *weights,
                        size_t weights_len, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    if (!manifest || (!weights && weights_len)) return fn_fail(FN_ERR_ARG, "fn_tfjs_parse: NULL input");
    fn_json *root;
    const fn_json *groups;
    FN_TRY(parse_manifest(manifest, manifest_len, &root, &groups));
    size_t offset = 0;
    fn_status s = FN_OK;
    for (int gi = 0; gi < groups->n && s == FN_OK; gi++)
        s = decode_group(&groups->items[gi], gi, weights, weights_len, &offset, out);
    fn_json_free(root);
    if (s) { fn_tensor_set_free(out); return s; }
    out->format = "tfjs";
    return FN_OK;
}

/* A shard path must stay inside the manifest's folder. */
static int safe_relative_path(const char *p) {
    if (!*p || p[0] == '/') return 0;
    for (const char *c = p; *c; ) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.') return 0;
        if (!e) break;
        c = e + 1;
    }
    return 1;
}

/* Reads a group's shards, concatenated. */
static fn_status read_group_shards(const fn_json *g, int gi, const char *dir, const char *manifest_path,
                                   uint8_t **buf_out, size_t *len_out) {
    *buf_out = NULL; *len_out = 0;
    const fn_json *paths = g->type == FN_JSON_OBJECT ? fn_json_get(g, "paths") : NULL;
    if (!paths || paths->type != FN_JSON_ARRAY)
        return fn_fail(FN_ERR_FORMAT, "%s: group %d has no \"paths\" array", manifest_path, gi);
    uint8_t *buf = NULL;
    size_t len = 0;
    for (int i = 0; i < paths->n; i++) {
        const fn_json *p = &paths->items[i];
        if (p->type != FN_JSON_STRING || !safe_relative_path(p->string)) {
            free(buf);
            return fn_fail(FN_ERR_FORMAT, "%s: group %d path %d is not a relative path inside the manifest's folder",
                           manifest_path, gi, i);
        }
        size_t plen = strlen(dir) + strlen(p->string) + 2;
        char *full = malloc(plen);
        if (!full) { free(buf); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
        snprintf(full, plen, "%s%s", dir, p->string);
        uint8_t *shard;
        size_t sl;
        fn_status s = fn_read_file(full, &shard, &sl);
        free(full);
        if (s) { free(buf); return s; }
        size_t nl;
        if (!fn_add_size(len, sl, &nl) || nl > FN_TFJS_MAX_WEIGHTS) {
            free(shard); free(buf);
            return fn_fail(FN_ERR_LIMIT, "%s: shards above %zu bytes", manifest_path, (size_t)FN_TFJS_MAX_WEIGHTS);
        }
        uint8_t *nb = realloc(buf, nl ? nl : 1);
        if (!nb) { free(shard); free(buf); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
        buf = nb;
        if (sl) memcpy(buf + len, shard, sl);
        len = nl;
        free(shard);
    }
    *buf_out = buf; *len_out = len;
    return FN_OK;
}

fn_status fn_tfjs_load(const char *manifest_path, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    uint8_t *text;
    size_t text_len;
    FN_TRY(fn_read_file(manifest_path, &text, &text_len));
    fn_json *root;
    const fn_json *groups;
    fn_status s = parse_manifest((const char *)text, text_len, &root, &groups);
    free(text);
    if (s) return with_path(s, manifest_path);

    /* folder of the manifest, with a trailing slash ("" for the current folder) */
    const char *slash = strrchr(manifest_path, '/');
    size_t dlen = slash ? (size_t)(slash - manifest_path) + 1 : 0;
    char *dir = malloc(dlen + 1);
    if (!dir) { fn_json_free(root); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    memcpy(dir, manifest_path, dlen);
    dir[dlen] = 0;

    for (int gi = 0; gi < groups->n && s == FN_OK; gi++) {
        uint8_t *buf;
        size_t len, offset = 0;
        s = read_group_shards(&groups->items[gi], gi, dir, manifest_path, &buf, &len);
        if (s) break;
        s = decode_group(&groups->items[gi], gi, buf, len, &offset, out);
        free(buf);
        if (s) s = with_path(s, manifest_path);
    }
    free(dir);
    fn_json_free(root);
    if (s) { fn_tensor_set_free(out); return s; }
    out->format = "tfjs";
    return FN_OK;
}

int fn_tfjs_sniff(const uint8_t *data, size_t size) {
    size_t i = 0;
    while (i < size && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t')) i++;
    if (i >= size || (data[i] != '[' && data[i] != '{')) return 0;
    size_t n = size - i < 4096 ? size - i : 4096;
    const char *keys[] = { "\"weightsManifest\"", "\"paths\"", "\"weights\"" };
    for (int k = 0; k < 3; k++) {
        size_t kl = strlen(keys[k]);
        for (size_t j = i; j + kl <= i + n; j++)
            if (!memcmp(data + j, keys[k], kl)) return 1;
    }
    return 0;
}
