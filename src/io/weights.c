/* weights.c — one entry point for every weight format: detect by content (never by the
 * file extension), dispatch to the parser, map names to the canonical ones for the
 * architecture, and hand back floats as F32. */
#include "weights.h"
#include <errno.h>
#include <sys/stat.h>

/* TF.js lives in tfjs.c (the dlib area). Referenced strongly: a weak reference would not
 * pull tfjs.o out of the static library, and convert would silently lack TF.js. */
#include "tfjs.h"

const char *fn_weights_format_name(fn_weights_format f) {
    switch (f) {
    case FN_WFMT_SAFETENSORS: return "safetensors";
    case FN_WFMT_TORCH_ZIP: return "torch-zip";
    case FN_WFMT_TORCH_LEGACY: return "torch-legacy";
    case FN_WFMT_TF_GRAPHDEF: return "tf-graphdef";
    case FN_WFMT_NPY: return "npy";
    case FN_WFMT_TFJS: return "tfjs";
    case FN_WFMT_UNKNOWN: break;
    }
    return "unknown";
}

static int varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t b = p[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

fn_weights_format fn_weights_detect(const uint8_t *data, size_t size) {
    if (size >= 10) {
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | data[i];
        if (hlen >= 2 && hlen <= size - 8 && data[8] == '{') return FN_WFMT_SAFETENSORS;
    }
    if (size >= 4 && !memcmp(data, "PK\x03\x04", 4)) return FN_WFMT_TORCH_ZIP;
    if (size >= 6 && !memcmp(data, "\x93NUMPY", 6)) return FN_WFMT_NPY;
    if (size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5) return FN_WFMT_TORCH_LEGACY;
    size_t i = 0;
    while (i < size && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t')) i++;
    if (i < size && (data[i] == '[' || data[i] == '{')) return FN_WFMT_TFJS;
    /* GraphDef: field 1 (node), length-delimited, holding a NodeDef that opens with its
     * name (field 1) or op (field 2); or an empty graph with only versions (field 4). */
    if (size >= 2 && data[0] == 0x0a) {
        size_t pos = 1;
        uint64_t len;
        if (varint(data, size, &pos, &len) && len <= size - pos && len >= 2 && (data[pos] == 0x0a || data[pos] == 0x12))
            return FN_WFMT_TF_GRAPHDEF;
    }
    if (size >= 2 && data[0] == 0x22) return FN_WFMT_TF_GRAPHDEF;
    return FN_WFMT_UNKNOWN;
}

const char *fn_weights_guess_arch(const fn_tensor_set *s) {
    if (fn_tensor_set_find(s, "conv2d_1a.conv.weight")) return "inception_resnet_v1";
    if (fn_tensor_set_find(s, "pnet.conv1.weight") || fn_tensor_set_find(s, "rnet.conv1.weight") || fn_tensor_set_find(s, "onet.conv1.weight")) return "mtcnn";
    if (fn_tensor_set_find(s, "conv32_down/conv/filters")) return "dlib_resnet";
    if (fn_tensor_set_find(s, "dense0/conv0/filters") && fn_tensor_set_find(s, "fc/weights")) return "landmark68";
    return "unknown";
}

fn_status fn_tensor_set_take(fn_tensor_set *dst, fn_tensor_set *src, int i, const char *name) {
    fn_tensor *t = &src->t[i];
    void *data = t->data;
    if (!t->owned) {
        data = fn_malloc(t->nbytes ? t->nbytes : 1);
        if (!data) return FN_ERR_NOMEM;
        if (t->nbytes) memcpy(data, t->data, t->nbytes);
    }
    t->owned = 0; /* dst owns it now (or the copy) */
    return fn_tensor_set_add(dst, name, t->dtype, t->ndim, t->shape, data, 1);
}

fn_status fn_tensor_set_own(fn_tensor_set *s) {
    for (int i = 0; i < s->n; i++) {
        fn_tensor *t = &s->t[i];
        if (t->owned) continue;
        void *d = fn_malloc(t->nbytes ? t->nbytes : 1);
        if (!d) return FN_ERR_NOMEM;
        if (t->nbytes) memcpy(d, t->data, t->nbytes);
        t->data = d; t->owned = 1;
    }
    return FN_OK;
}

/* Which MTCNN net a single file holds, from its first conv's output channels. */
static int mtcnn_net_of(const fn_tensor_set *s, const char *conv1_name) {
    const fn_tensor *t = fn_tensor_set_find(s, conv1_name);
    if (!t || t->ndim < 1) return -1;
    int64_t c = t->ndim == 4 && !strchr(conv1_name, '.') ? t->shape[3] : t->shape[0]; /* npy: HWIO */
    return c == 10 ? 0 : c == 28 ? 1 : c == 32 ? 2 : -1;
}

static int has_prefix(const fn_tensor_set *s, const char *prefix) {
    size_t n = strlen(prefix);
    for (int i = 0; i < s->n; i++) if (!strncmp(s->t[i].name, prefix, n)) return 1;
    return 0;
}

static const char *net_prefix[3] = { "pnet", "rnet", "onet" };
static fn_status weights_load(const char *path, fn_tensor_set *out, const char *arch, int to_f32);

/* Applies the arch's name mapping to a freshly parsed set (in is consumed). */
static fn_status map_names(fn_weights_format fmt, fn_tensor_set *in, fn_tensor_set *out, const char *arch) {
    int want_mtcnn = !strcmp(arch, "mtcnn"), want_irv1 = !strcmp(arch, "inception_resnet_v1"), is_auto = !strcmp(arch, "auto");
    const char *format = in->format;
    if (fmt == FN_WFMT_NPY && (want_mtcnn || (is_auto && fn_tensor_set_find(in, "conv1/weights") && mtcnn_net_of(in, "conv1/weights") >= 0))) {
        int net = mtcnn_net_of(in, "conv1/weights");
        if (net < 0) return fn_fail(FN_ERR_FORMAT, "not an MTCNN det*.npy (no conv1/weights with 10, 28 or 32 outputs)");
        fn_tensor_set_init(out);
        out->format = format;
        fn_status s = fn_mtcnn_from_npy(net, in, out);
        fn_tensor_set_free(in);
        if (s) fn_tensor_set_free(out);
        return s;
    }
    if ((fmt == FN_WFMT_TORCH_LEGACY || fmt == FN_WFMT_TORCH_ZIP) && want_mtcnn && !has_prefix(in, "pnet.") && !has_prefix(in, "rnet.") && !has_prefix(in, "onet.")) {
        int net = mtcnn_net_of(in, "conv1.weight");
        if (net < 0) return fn_fail(FN_ERR_FORMAT, "not an MTCNN .pt (no conv1.weight with 10, 28 or 32 outputs)");
        fn_tensor_set_init(out);
        out->format = format;
        fn_status s = FN_OK;
        for (int i = 0; i < in->n && !s; i++) {
            char name[512];
            snprintf(name, sizeof name, "%s.%s", net_prefix[net], in->t[i].name);
            s = fn_tensor_set_take(out, in, i, name);
        }
        fn_tensor_set_free(in);
        if (s) fn_tensor_set_free(out);
        return s;
    }
    if (fmt == FN_WFMT_TF_GRAPHDEF && (want_irv1 || (is_auto && has_prefix(in, "InceptionResnetV1/")))) {
        fn_status s = fn_map_tf_inception_resnet_v1(in, out);
        fn_tensor_set_free(in);
        if (!s) out->format = format;
        return s;
    }
    *out = *in; /* names as stored */
    fn_tensor_set_init(in);
    return FN_OK;
}

fn_status fn_weights_load(const char *path, fn_tensor_set *out, const char *arch) {
    return weights_load(path, out, arch, 1);
}

fn_status fn_weights_load_raw(const char *path, fn_tensor_set *out) {
    return weights_load(path, out, "none", 0);
}

static fn_status weights_load(const char *path, fn_tensor_set *out, const char *arch, int to_f32) {
    fn_tensor_set_init(out);
    if (!arch) arch = "auto";
    if (strcmp(arch, "auto") && strcmp(arch, "mtcnn") && strcmp(arch, "inception_resnet_v1") && strcmp(arch, "dlib_resnet") && strcmp(arch, "landmark68") && strcmp(arch, "none"))
        return fn_fail(FN_ERR_ARG, "unknown architecture '%s' (auto, inception_resnet_v1, mtcnn, dlib_resnet, landmark68, none)", arch);
    struct stat st;
    if (stat(path, &st) != 0) return fn_fail(FN_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if (strcmp(arch, "inception_resnet_v1") && strcmp(arch, "dlib_resnet") && strcmp(arch, "landmark68")) return fn_mtcnn_weights_load(path, out);
        return fn_fail(FN_ERR_ARG, "%s: is a folder (only MTCNN weights come as a folder)", path);
    }
    uint8_t *data;
    size_t size;
    FN_TRY(fn_read_file(path, &data, &size));
    fn_weights_format fmt = fn_weights_detect(data, size);
    fn_tensor_set raw;
    fn_tensor_set_init(&raw);
    fn_status s;
    switch (fmt) {
    case FN_WFMT_SAFETENSORS:
        free(data); data = NULL;
        s = fn_safetensors_load(path, &raw); /* mmap, no copy */
        break;
    case FN_WFMT_TORCH_ZIP:
    case FN_WFMT_TORCH_LEGACY: s = fn_torch_load_mem(data, size, &raw); break;
    case FN_WFMT_NPY: s = fn_npy_pickle_load_mem(data, size, &raw); break;
    case FN_WFMT_TF_GRAPHDEF: s = fn_graphdef_load_mem(data, size, &raw); break;
    case FN_WFMT_TFJS:
        free(data); data = NULL;
        s = fn_tfjs_load(path, &raw);
        break;
    default:
        s = fn_fail(FN_ERR_FORMAT, "unrecognised weight format (not safetensors, PyTorch .pt, TF .pb, .npy or a TF.js manifest)");
    }
    free(data);
    if (!s) s = map_names(fmt, &raw, out, arch);
    fn_tensor_set_free(&raw);
    if (!s && to_f32) s = fn_tensor_set_to_f32(out);
    if (s) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fn_last_error());
        fn_tensor_set_free(out);
        return fn_fail(s, "%s: %s", path, msg);
    }
    return FN_OK;
}
