/* test_weights_mtcnn.c — the real published MTCNN weights: facenet-pytorch's legacy-pickle
 * pnet/rnet/onet.pt and facenet's det1-3.npy must load into the same canonical tensors
 * (the transpose trap baked in), value for value; a safetensors round trip is lossless. */
#include "weights.h"
#include "test_util.h"
#include <sys/stat.h>
#include <unistd.h>

static const float *f32(const fn_tensor_set *s, const char *name, int64_t *n) {
    const fn_tensor *t = fn_tensor_set_find(s, name);
    if (!t || t->dtype != FN_F32) return NULL;
    *n = fn_tensor_numel(t);
    return t->data;
}

/* first 3 and last 2 values of the flattened tensors, printed by torch from the .pt files */
static void spot(const fn_tensor_set *s, const char *name, const float first[3], const float last[2], int64_t numel) {
    int64_t n = 0;
    const float *d = f32(s, name, &n);
    CHECK_MSG(d && n == numel, "%s: missing or numel %lld != %lld", name, (long long)n, (long long)numel);
    if (!d || n != numel) return;
    float got[5] = { d[0], d[1], d[2], d[n - 2], d[n - 1] }, want[5] = { first[0], first[1], first[2], last[0], last[1] };
    char what[96];
    snprintf(what, sizeof what, "%s vs torch values", name);
    CHECK_CLOSE(what, got, want, 5, 1e-9);
}

int main(void) {
    const char *dir = FN_SHARED_DIR "/models/mtcnn";
    fn_tensor_set pt;
    fn_status s = fn_mtcnn_weights_load(dir, &pt);
    CHECK_MSG(s == FN_OK, "load %s: %s", dir, fn_last_error());
    if (s) return tu_finish("test_weights_mtcnn");
    printf("  .pt folder: %d tensors (format %s)\n", pt.n, pt.format);
    CHECK(pt.n == 50);
    CHECK(fn_mtcnn_check(&pt) == FN_OK);

    spot(&pt, "pnet.conv1.weight", (float[]){ -0.0816471577f, 0.835915446f, 1.24649656f }, (float[]){ 0.345038414f, 0.508719981f }, 270);
    spot(&pt, "rnet.dense4.weight", (float[]){ 0.0166508947f, 0.0158067886f, 0.0119412458f }, (float[]){ 0.00653144252f, -0.0430696867f }, 73728);
    spot(&pt, "onet.dense6_3.weight", (float[]){ 0.0204054918f, -0.0626337677f, 0.0386241078f }, (float[]){ 0.00224500918f, -0.022812549f }, 2560);
    spot(&pt, "onet.conv4.weight", (float[]){ 0.0366053991f, 0.0521293469f, 0.0279933307f }, (float[]){ -0.003091719f, -0.0279604048f }, 32768);
    spot(&pt, "pnet.prelu3.weight", (float[]){ 0.0527821705f, -0.051092267f, 0.0921574309f }, (float[]){ -0.131910115f, 0.224502981f }, 32);

    /* det1-3.npy, each canonicalised on its own, must equal the .pt tensors exactly */
    static const char *npy[3] = { "det1.npy", "det2.npy", "det3.npy" };
    static const int expect_n[3] = { 13, 16, 21 };
    int total = 0;
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, npy[k]);
        fn_tensor_set np;
        s = fn_weights_load(path, &np, "mtcnn");
        CHECK_MSG(s == FN_OK, "load %s: %s", path, fn_last_error());
        if (s) continue;
        CHECK_MSG(np.n == expect_n[k], "%s: %d tensors, expected %d", npy[k], np.n, expect_n[k]);
        total += np.n;
        for (int i = 0; i < np.n; i++) {
            const fn_tensor *a = &np.t[i], *b = fn_tensor_set_find(&pt, a->name);
            CHECK_MSG(b != NULL, "%s: '%s' not in the .pt set", npy[k], a->name);
            if (!b) continue;
            int same_shape = a->ndim == b->ndim;
            for (int d = 0; same_shape && d < a->ndim; d++) same_shape = a->shape[d] == b->shape[d];
            CHECK_MSG(same_shape, "%s: shape differs", a->name);
            if (!same_shape) continue;
            double m = tu_max_abs(a->data, b->data, (long)fn_tensor_numel(a));
            if (m > worst) worst = m;
            CHECK_MSG(m == 0, "%s: npy vs pt max-abs %g", a->name, m);
        }
        fn_tensor_set_free(&np);
    }
    printf("  det*.npy vs *.pt: %d tensors, max-abs difference %g (tol 0: same float32 values)\n", total, worst);
    CHECK(total == 50);

    /* a folder holding only det1-3.npy (symlinks to the shared files) loads the same set */
    const char *npy_dir = FN_BUILD_DIR "/test_weights_mtcnn_npy";
    mkdir(npy_dir, 0755);
    for (int k = 0; k < 3; k++) {
        char src[1024], dst[1024];
        snprintf(src, sizeof src, "%s/%s", dir, npy[k]);
        snprintf(dst, sizeof dst, "%s/%s", npy_dir, npy[k]);
        unlink(dst);
        CHECK(symlink(src, dst) == 0);
    }
    fn_tensor_set nf;
    s = fn_mtcnn_weights_load(npy_dir, &nf);
    CHECK_MSG(s == FN_OK, "load %s: %s", npy_dir, fn_last_error());
    if (!s) {
        int same = nf.n == pt.n;
        for (int i = 0; same && i < pt.n; i++) {
            const fn_tensor *b = fn_tensor_set_find(&nf, pt.t[i].name);
            same = b && b->nbytes == pt.t[i].nbytes && !memcmp(b->data, pt.t[i].data, b->nbytes);
        }
        printf("  npy-only folder: %d tensors (format %s), identical to the .pt folder %s\n", nf.n, nf.format, same ? "yes" : "NO");
        CHECK(same);
        fn_tensor_set_free(&nf);
    }

    /* round trip through the native format */
    const char *out = FN_BUILD_DIR "/test_weights_mtcnn.safetensors";
    CHECK(fn_safetensors_save(out, &pt, NULL) == FN_OK);
    fn_tensor_set st;
    s = fn_mtcnn_weights_load(out, &st);
    CHECK_MSG(s == FN_OK, "load %s: %s", out, fn_last_error());
    if (!s) {
        int same = st.n == pt.n;
        for (int i = 0; same && i < pt.n; i++) {
            const fn_tensor *b = fn_tensor_set_find(&st, pt.t[i].name);
            same = b && b->nbytes == pt.t[i].nbytes && !memcmp(b->data, pt.t[i].data, b->nbytes);
        }
        printf("  safetensors round trip: %d tensors, bit-identical %s\n", st.n, same ? "yes" : "NO");
        CHECK(same);
        fn_tensor_set_free(&st);
    }
    remove(out);

    /* a folder with no weights, and a single-net file where a full set is needed */
    s = fn_mtcnn_weights_load(FN_SOURCE_DIR "/include", &st);
    printf("  empty folder -> %s: %s\n", fn_status_str(s), fn_last_error());
    CHECK(s == FN_ERR_MISSING);
    s = fn_mtcnn_weights_load(FN_SHARED_DIR "/models/mtcnn/pnet.pt", &st);
    printf("  pnet.pt alone -> %s: %s\n", fn_status_str(s), fn_last_error());
    CHECK(s == FN_ERR_MISSING);
    fn_tensor_set_free(&pt);
    return tu_finish("test_weights_mtcnn");
}
