/* mtcnn_weights.c — one canonical MTCNN tensor set, whatever was published:
 * facenet-pytorch's pnet/rnet/onet.pt (the canonical names and layouts, prefixed "pnet.",
 * "rnet.", "onet.") or facenet's det1-3.npy (Caffe weights in TF layout).
 *
 * The transpose trap: the Caffe nets were trained on transposed images, and facenet
 * transposes x/y around every net call. facenet-pytorch instead bakes that transpose into
 * the weights, and we do the same, so loading either source gives identical tensors:
 *   conv   npy (kh,kw,in,out), read as (w,h,in,out)  ->  OIHW: W[o][i][h][w] = npy[w][h][i][o]
 *   dense  npy (in,out)                               ->  W[o][i] = npy[i][o]
 * (checked element by element against the real files in tests/test_weights_mtcnn.c). */
#include "weights.h"
#include <errno.h>
#include <sys/stat.h>

typedef struct { const char *name; int ndim; int64_t shape[4]; } mtcnn_param;

#define CONV(n, o, i, k) { n ".weight", 4, { o, i, k, k } }, { n ".bias", 1, { o } }
#define DENSE(n, o, i) { n ".weight", 2, { o, i } }, { n ".bias", 1, { o } }
#define PRELU(n, c) { n ".weight", 1, { c } }
static const mtcnn_param mtcnn_params[] = {
    CONV("pnet.conv1", 10, 3, 3), PRELU("pnet.prelu1", 10),
    CONV("pnet.conv2", 16, 10, 3), PRELU("pnet.prelu2", 16),
    CONV("pnet.conv3", 32, 16, 3), PRELU("pnet.prelu3", 32),
    CONV("pnet.conv4_1", 2, 32, 1), CONV("pnet.conv4_2", 4, 32, 1),
    CONV("rnet.conv1", 28, 3, 3), PRELU("rnet.prelu1", 28),
    CONV("rnet.conv2", 48, 28, 3), PRELU("rnet.prelu2", 48),
    CONV("rnet.conv3", 64, 48, 2), PRELU("rnet.prelu3", 64),
    DENSE("rnet.dense4", 128, 576), PRELU("rnet.prelu4", 128),
    DENSE("rnet.dense5_1", 2, 128), DENSE("rnet.dense5_2", 4, 128),
    CONV("onet.conv1", 32, 3, 3), PRELU("onet.prelu1", 32),
    CONV("onet.conv2", 64, 32, 3), PRELU("onet.prelu2", 64),
    CONV("onet.conv3", 64, 64, 3), PRELU("onet.prelu3", 64),
    CONV("onet.conv4", 128, 64, 2), PRELU("onet.prelu4", 128),
    DENSE("onet.dense5", 256, 1152), PRELU("onet.prelu5", 256),
    DENSE("onet.dense6_1", 2, 256), DENSE("onet.dense6_2", 4, 256), DENSE("onet.dense6_3", 10, 256),
};
#define N_MTCNN_PARAMS ((int)(sizeof mtcnn_params / sizeof *mtcnn_params))
static const char *net_prefix[3] = { "pnet", "rnet", "onet" };

fn_status fn_mtcnn_check(const fn_tensor_set *s) {
    for (int k = 0; k < N_MTCNN_PARAMS; k++) {
        const float *d;
        FN_TRY(fn_tensor_set_get_f32(s, mtcnn_params[k].name, mtcnn_params[k].ndim, mtcnn_params[k].shape, &d));
    }
    return FN_OK;
}

/* "conv4-1" -> "conv4_1", "PReLU1" -> "prelu1"; 2-D weights make a conv a dense layer. */
static void canonical_layer(char *dst, size_t cap, const char *layer, size_t len, int dense) {
    size_t o = 0;
    if (dense && len >= 4 && !strncmp(layer, "conv", 4)) { o = (size_t)snprintf(dst, cap, "dense"); layer += 4; len -= 4; }
    for (size_t k = 0; k < len && o + 1 < cap; k++) {
        char c = layer[k];
        dst[o++] = c == '-' ? '_' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    dst[o] = 0;
}

fn_status fn_mtcnn_from_npy(int net, const fn_tensor_set *npy, fn_tensor_set *out) {
    if (net < 0 || net > 2) return fn_fail(FN_ERR_ARG, "mtcnn: net index %d", net);
    for (int i = 0; i < npy->n; i++) {
        const fn_tensor *t = &npy->t[i];
        const char *slash = strchr(t->name, '/');
        if (!slash || strchr(slash + 1, '/')) return fn_fail(FN_ERR_FORMAT, "mtcnn npy: unexpected entry '%s' (want layer/param)", t->name);
        const char *param = slash + 1;
        const char *suffix = !strcmp(param, "weights") || !strcmp(param, "alpha") ? "weight" : !strcmp(param, "biases") ? "bias" : NULL;
        if (!suffix) return fn_fail(FN_ERR_FORMAT, "mtcnn npy: unknown parameter '%s'", t->name);
        if (t->dtype != FN_F32 && t->dtype != FN_F64) return fn_fail(FN_ERR_UNSUPPORTED, "mtcnn npy: '%s' is %s", t->name, fn_dtype_name(t->dtype));
        /* a layer is dense when its weights are 2-D (decides the bias name too) */
        char layer[64], name[96], wname[600];
        snprintf(wname, sizeof wname, "%.*s/weights", (int)(slash - t->name), t->name);
        const fn_tensor *w = fn_tensor_set_find(npy, wname);
        canonical_layer(layer, sizeof layer, t->name, (size_t)(slash - t->name), w && w->ndim == 2);
        snprintf(name, sizeof name, "%s.%s.%s", net_prefix[net], layer, suffix);
        int64_t n = fn_tensor_numel(t);
        float *dst = fn_malloc((size_t)n * sizeof(float));
        if (!dst) return FN_ERR_NOMEM;
        const uint8_t *raw = t->data;
#define SRC(k) (t->dtype == FN_F32 ? ((const float *)raw)[k] : (float)((const double *)raw)[k])
        int64_t shape[4];
        if (!strcmp(param, "weights") && t->ndim == 4) {
            int64_t A = t->shape[0], B = t->shape[1], I = t->shape[2], O = t->shape[3];
            /* npy[a][b][i][o] with a = w, b = h  ->  W[o][i][h=b][w=a] */
            shape[0] = O; shape[1] = I; shape[2] = B; shape[3] = A;
            for (int64_t a = 0; a < A; a++)
                for (int64_t b = 0; b < B; b++)
                    for (int64_t c = 0; c < I; c++)
                        for (int64_t o = 0; o < O; o++)
                            dst[((o * I + c) * B + b) * A + a] = SRC(((a * B + b) * I + c) * O + o);
        } else if (!strcmp(param, "weights") && t->ndim == 2) {
            int64_t I = t->shape[0], O = t->shape[1];
            shape[0] = O; shape[1] = I;
            for (int64_t c = 0; c < I; c++)
                for (int64_t o = 0; o < O; o++) dst[o * I + c] = SRC(c * O + o);
        } else if (t->ndim == 1) {
            shape[0] = t->shape[0];
            for (int64_t k = 0; k < n; k++) dst[k] = SRC(k);
        } else {
            free(dst);
            return fn_fail(FN_ERR_SHAPE, "mtcnn npy: '%s' has %d dimensions", t->name, t->ndim);
        }
#undef SRC
        if (fn_tensor_set_find(out, name)) { free(dst); return fn_fail(FN_ERR_FORMAT, "mtcnn npy: duplicate '%s'", name); }
        FN_TRY(fn_tensor_set_add(out, name, FN_F32, t->ndim, shape, dst, 1));
    }
    return FN_OK;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

fn_status fn_mtcnn_weights_load(const char *path, fn_tensor_set *out) {
    fn_tensor_set_init(out);
    struct stat st;
    if (stat(path, &st) != 0) return fn_fail(FN_ERR_IO, "%s: %s", path, strerror(errno));
    fn_status s = FN_OK;
    if (S_ISDIR(st.st_mode)) {
        static const char *pt[3] = { "pnet.pt", "rnet.pt", "onet.pt" }, *npy[3] = { "det1.npy", "det2.npy", "det3.npy" };
        char file[4096];
        snprintf(file, sizeof file, "%s/mtcnn.safetensors", path);
        if (file_exists(file)) return fn_mtcnn_weights_load(file, out);
        snprintf(file, sizeof file, "%s/%s", path, pt[0]);
        int use_pt = file_exists(file);
        snprintf(file, sizeof file, "%s/%s", path, npy[0]);
        if (!use_pt && !file_exists(file))
            return fn_fail(FN_ERR_MISSING, "%s: no MTCNN weights here (want pnet.pt, rnet.pt, onet.pt or det1.npy, det2.npy, det3.npy)", path);
        out->format = use_pt ? "torch-legacy" : "npy";
        for (int net = 0; net < 3 && !s; net++) {
            fn_tensor_set one;
            snprintf(file, sizeof file, "%s/%s", path, use_pt ? pt[net] : npy[net]);
            if (use_pt) s = fn_torch_load(file, &one);
            else {
                uint8_t *data;
                size_t size;
                fn_tensor_set_init(&one);
                s = fn_read_file(file, &data, &size);
                if (!s) {
                    s = fn_npy_pickle_load_mem(data, size, &one);
                    free(data);
                    if (s) { char msg[512]; snprintf(msg, sizeof msg, "%s", fn_last_error()); s = fn_fail(s, "%s: %s", file, msg); }
                }
            }
            if (!s && !use_pt) s = fn_mtcnn_from_npy(net, &one, out);
            if (!s && use_pt) {
                s = fn_tensor_set_to_f32(&one);
                for (int i = 0; i < one.n && !s; i++) {
                    char name[256];
                    snprintf(name, sizeof name, "%s.%s", net_prefix[net], one.t[i].name);
                    s = fn_tensor_set_take(out, &one, i, name);
                }
            }
            fn_tensor_set_free(&one);
        }
    } else {
        s = fn_weights_load(path, out, "mtcnn");
    }
    if (!s) s = fn_tensor_set_to_f32(out);
    if (!s) {
        s = fn_mtcnn_check(out);
        if (s) { char msg[512]; snprintf(msg, sizeof msg, "%s", fn_last_error()); s = fn_fail(s, "%s: not a complete MTCNN set: %s", path, msg); }
    }
    if (!s) {
        /* exactly the canonical tensors, in canonical order, whatever the source's order */
        fn_tensor_set sorted;
        fn_tensor_set_init(&sorted);
        sorted.format = out->format;
        for (int k = 0; k < N_MTCNN_PARAMS && !s; k++)
            for (int i = 0; i < out->n; i++)
                if (!strcmp(out->t[i].name, mtcnn_params[k].name)) { s = fn_tensor_set_take(&sorted, out, i, mtcnn_params[k].name); break; }
        fn_tensor_set_free(out);
        *out = sorted;
    }
    if (s) fn_tensor_set_free(out);
    return s;
}
