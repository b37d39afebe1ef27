/* test_dlib_int8.c — the int8 dlib ResNet (issue 18): fn_model_quantize calibrated on faces
 * of some photos, then on other faces (the committed chips, facenet-pytorch's photos):
 *  - int8 embeddings within cosine 0.995 of float32 (measured: min 0.9986 over 200 LFW faces);
 *  - the same same-person / different-person ordering as float32;
 *  - bit-identical embeddings on every kernel path (AVX-512 VNNI, AVX2, portable C);
 *  - the file: recognised by fn_model_open, < 0.27 of the float file's size, and corrupt
 *    variants (bad scales, -128 weights, missing / misshapen / mistyped tensors,
 *    truncation) refused with FN_ERR_FORMAT, never a crash. */
#include "test_util.h"
#include "core.h"
#include "tensors.h"
#include "nets/model.h"
#include "ops/ops_int8.h"
#include <sys/stat.h>
#include <unistd.h>

#define MODEL FN_SOURCE_DIR "/models/dlib_resnet.safetensors"
#define FACES FN_SHARED_DIR "/data/faces/"

static int add_faces(fn_detector *det, const fn_model *m, const char *path, fn_image *crops, int n, int max) {
    fn_image img;
    if (fn_image_load(path, 1, &img)) { fprintf(stderr, "FAIL: %s\n", fn_last_error()); exit(1); }
    fn_face *faces = NULL;
    int nf = 0;
    CHECK(fn_detect(det, &img, NULL, &faces, &nf) == FN_OK);
    for (int k = 0; k < nf && n < max; k++) CHECK(fn_model_crop(m, &img, &faces[k], &crops[n++]) == FN_OK);
    free(faces);
    fn_image_free(&img);
    return n;
}

static double cosine(const float *a, const float *b) {
    double d = 0;
    for (int k = 0; k < 128; k++) d += (double)a[k] * b[k];
    return d;
}

/* Writes ts with tensor `victim` changed by edit (NULL: dropped) and expects fn_model_open
 * to refuse it cleanly. */
typedef void (*edit_fn)(fn_tensor *t);
static void expect_refused(const fn_tensor_set *ts, const char *victim, edit_fn edit, const char *what) {
    fn_tensor_set out;
    fn_tensor_set_init(&out);
    for (int i = 0; i < ts->n; i++) {
        const fn_tensor *t = &ts->t[i];
        const int hit = !strcmp(t->name, victim);
        if (hit && !edit) continue;
        void *copy = malloc(t->nbytes ? t->nbytes : 1);
        memcpy(copy, t->data, t->nbytes);
        CHECK(fn_tensor_set_add(&out, t->name, t->dtype, t->ndim, t->shape, copy, 1) == FN_OK);
        if (hit) edit(&out.t[out.n - 1]);
    }
    const char *path = FN_BUILD_DIR "/test_dlib_int8_bad.safetensors";
    CHECK(fn_safetensors_save(path, &out, NULL) == FN_OK);
    fn_model *m = NULL;
    fn_status s = fn_model_open(path, &m);
    printf("  corrupt (%s): %s\n", what, s == FN_ERR_FORMAT ? fn_last_error() : "NOT REFUSED");
    CHECK_MSG(s == FN_ERR_FORMAT && !m, "%s: status %d", what, s);
    fn_model_close(m);
    fn_tensor_set_free(&out);
    unlink(path);
}
static void nan_scale(fn_tensor *t) { ((float *)t->data)[0] = NAN; }
static void neg_scale(fn_tensor *t) { ((float *)t->data)[3] = -1.0f; }
static void zero_scale(fn_tensor *t) { ((float *)t->data)[0] = 0.0f; }
static void weight_m128(fn_tensor *t) { ((int8_t *)t->data)[5] = -128; }
static void wrong_shape(fn_tensor *t) { t->shape[2] = 1; t->shape[3] = t->nbytes / t->shape[0] / t->shape[1]; }
static void wrong_dtype(fn_tensor *t) { t->dtype = FN_U8; }
static void fc_inf(fn_tensor *t) { ((float *)t->data)[7] = INFINITY; }

int main(void) {
    fn_model *f = NULL, *q = NULL;
    fn_detector *det = NULL;
    if (fn_model_open(MODEL, &f) || fn_detector_open(FN_SHARED_DIR "/models/mtcnn", &det)) {
        fprintf(stderr, "FAIL: %s (run scripts/get-models.sh)\n", fn_last_error());
        return 1;
    }
    /* calibration: faces of face_recognition's knn example photos */
    static const char *calib[] = { "alex_lacamoire/img1.jpg", "biden/biden.jpg", "biden/biden2.jpg",
                                   "kit_harington/john1.jpeg", "kit_harington/john2.jpeg", "obama/obama.jpg",
                                   "obama/obama2.jpg", "rose_leslie/img1.jpg", "rose_leslie/img2.jpg" };
    fn_image cal[16], ev[24];
    int nc = 0, ne = 0;
    for (size_t i = 0; i < sizeof calib / sizeof *calib; i++) {
        char p[512];
        snprintf(p, sizeof p, FACES "face_recognition/examples/knn_examples/train/%s", calib[i]);
        nc = add_faces(det, f, p, cal, nc, 16);
    }
    /* evaluation: other people — the 4 committed chips and facenet / facenet-pytorch photos */
    for (int i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof p, FN_SOURCE_DIR "/tests/fixtures/dlib/chip_%d.png", i);
        CHECK(fn_image_load(p, 0, &ev[ne++]) == FN_OK);
    }
    const int first_photo = ne; /* Anthony Hopkins 1 and 2 come first */
    static const char *evs[] = { "facenet/Anthony_Hopkins_0001.jpg", "facenet/Anthony_Hopkins_0002.jpg",
                                 "facenet-pytorch/angelina_jolie.jpg", "facenet-pytorch/kate_siegel.jpg",
                                 "facenet-pytorch/paul_rudd.jpg", "facenet-pytorch/shea_whigham.jpg",
                                 "facenet-pytorch/multiface.jpg" };
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++) {
        char p[512];
        snprintf(p, sizeof p, FACES "%s", evs[i]);
        ne = add_faces(det, f, p, ev, ne, 24);
    }
    printf("calibration crops %d, evaluation crops %d\n", nc, ne);
    CHECK(nc >= 8 && ne >= 12);

    const char *path = FN_BUILD_DIR "/test_dlib_int8.safetensors";
    CHECK(fn_model_quantize(f, cal, nc, 99.999, "test_dlib_int8", path) == FN_OK);
    CHECK(fn_model_quantize(f, cal, nc, 20.0, NULL, path) == FN_ERR_ARG);
    CHECK(fn_model_open(path, &q) == FN_OK);
    if (!q) return tu_finish("test_dlib_int8");
    CHECK(fn_model_is_int8(q) && !fn_model_is_int8(f));
    CHECK(!strcmp(fn_model_arch(q), "dlib_resnet") && fn_model_dim(q) == 128 && fn_model_input_size(q) == 150);
    CHECK(strcmp(fn_model_id(q), fn_model_id(f)) != 0);
    CHECK(fn_model_quantize(q, cal, nc, 99.999, NULL, path) == FN_ERR_ARG);
    struct stat sf, sq;
    CHECK(stat(MODEL, &sf) == 0 && stat(path, &sq) == 0);
    printf("  file %lld bytes, float %lld: %.2fx smaller\n", (long long)sq.st_size, (long long)sf.st_size,
           (double)sf.st_size / sq.st_size);
    CHECK(sq.st_size * 100 < sf.st_size * 27);

    /* accuracy against float32 */
    float ef[24][128], eq[24][128];
    CHECK(fn_model_embed(f, ev, ne, &ef[0][0]) == FN_OK);
    CHECK(fn_model_embed(q, ev, ne, &eq[0][0]) == FN_OK);
    double worst = 1;
    for (int i = 0; i < ne; i++) worst = fmin(worst, cosine(ef[i], eq[i]));
    printf("  int8 vs float32 embeddings (%s kernels): min cosine %.5f over %d faces\n", fn_int8_kernels(), worst, ne);
    CHECK(worst >= 0.995);
    /* the two Anthony Hopkins photos stay the closest pair among the photos' first faces */
    const int hop = first_photo;
    for (int i = first_photo; i < ne; i++)
        for (int j = i + 1; j < ne; j++) {
            double df = cosine(ef[i], ef[j]), dq = cosine(eq[i], eq[j]);
            CHECK_MSG(fabs(df - dq) < 0.01, "pair %d,%d: float cosine %.4f, int8 %.4f", i, j, df, dq);
            if (i != hop || j != hop + 1) CHECK(cosine(eq[hop], eq[hop + 1]) > dq);
        }

    /* every kernel path gives the same bits (same batch: the float head's GEMM may sum in
     * another order for another batch size) */
    enum { NP = 3 }; /* the portable path is slow under ASan */
    float ep[NP][128], e6[NP][128];
    CHECK(fn_model_embed(q, ev, NP, &e6[0][0]) == FN_OK);
    for (int isa = 0; isa <= (int)fn_int8_isa_best(); isa++) {
        fn_int8_set_isa(isa);
        CHECK(fn_model_embed(q, ev, NP, &ep[0][0]) == FN_OK);
        const int same = !memcmp(ep, e6, sizeof(float) * 128 * NP);
        printf("  %-12s embeddings of 3 faces %s the default path's\n", fn_int8_isa_name(isa), same ? "equal" : "DIFFER FROM");
        CHECK(same);
    }
    fn_int8_set_isa(FN_ISA_VNNI);

    /* corrupt files */
    fn_tensor_set ts;
    CHECK(fn_safetensors_load(path, &ts) == FN_OK);
    expect_refused(&ts, "conv64_1/conv1/q_in_scale", nan_scale, "NaN activation scale");
    expect_refused(&ts, "conv32_down/q_in_scale", zero_scale, "zero activation scale");
    expect_refused(&ts, "conv128_2/conv2/q_wscale", neg_scale, "negative weight scale");
    expect_refused(&ts, "conv32_1/conv2/q_filters", weight_m128, "weight -128");
    expect_refused(&ts, "conv256_1/conv1/q_filters", wrong_shape, "misshapen filters");
    expect_refused(&ts, "conv64_down/conv1/q_filters", wrong_dtype, "u8 filters");
    expect_refused(&ts, "conv32_3/conv1/q_bias", NULL, "missing bias");
    expect_refused(&ts, "fc", fc_inf, "infinite fc weight");
    fn_tensor_set_free(&ts);
    uint8_t *bytes;
    size_t len;
    CHECK(fn_read_file(path, &bytes, &len) == FN_OK);
    const char *trunc = FN_BUILD_DIR "/test_dlib_int8_trunc.safetensors";
    CHECK(fn_write_file_atomic(trunc, bytes, len / 2) == FN_OK);
    fn_model *t = NULL;
    fn_status st = fn_model_open(trunc, &t);
    printf("  truncated file: %s\n", st ? fn_last_error() : "NOT REFUSED");
    CHECK(st == FN_ERR_FORMAT && !t);
    free(bytes);
    unlink(trunc);
    unlink(path);

    for (int i = 0; i < nc; i++) fn_image_free(&cal[i]);
    for (int i = 0; i < ne; i++) fn_image_free(&ev[i]);
    fn_model_close(q);
    fn_model_close(f);
    fn_detector_close(det);
    return tu_finish("test_dlib_int8");
}
