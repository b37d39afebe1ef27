/* test_classify.c — the linear SVM against sklearn's SVC(kernel='linear', probability=True)
 * (tests/fixtures/classify, made by tools/gen_cluster_fixtures.py): labels exactly,
 * probabilities within 0.02; the classifier file (round trip, corruption, model mismatch);
 * unknown rejection; the dataset folder walker. */
#include "test_util.h"
#include "core.h"
#include "json.h"
#include "tensors.h"
#include "classify/svm.h"
#include <sys/stat.h>
#include <unistd.h>

#define FIX FN_SOURCE_DIR "/tests/fixtures/classify/"
#define PROB_TOL 0.02

static float *xtr, *xte;
static int64_t ntr, nte, dim;
static int *ytr;
static fn_json *doc;

static int load_fixture(void) {
    int64_t d2;
    uint8_t *text; size_t size;
    if (fn_npy_load_f32(FIX "svm_train.npy", &xtr, &ntr, &dim) || fn_npy_load_f32(FIX "svm_test.npy", &xte, &nte, &d2) ||
        fn_read_file(FIX "svm.json", &text, &size)) {
        CHECK_MSG(0, "fixture: %s", fn_last_error());
        return 0;
    }
    CHECK(fn_json_parse((const char *)text, size, &doc) == FN_OK);
    free(text);
    CHECK(d2 == dim);
    const fn_json *y = fn_json_get(doc, "train_labels");
    CHECK(y && y->n == ntr);
    ytr = malloc(sizeof(int) * ntr);
    for (int i = 0; i < ntr; i++) ytr[i] = (int)fn_json_at(y, i)->number;
    return !tu_failures;
}

static int json_int(const char *key, int i) { return (int)fn_json_at(fn_json_get(doc, key), i)->number; }

static void test_svm_vs_sklearn(double C, const char *suffix) {
    char k_predict[32], k_argmax[32], k_proba[32], k_nsv[32];
    snprintf(k_predict, sizeof k_predict, "predict%s", suffix);
    snprintf(k_argmax, sizeof k_argmax, "argmax_proba%s", suffix);
    snprintf(k_proba, sizeof k_proba, "proba%s", suffix);
    snprintf(k_nsv, sizeof k_nsv, "n_support%s", suffix);
    struct svm_model *m;
    CHECK(fn_svm_train(xtr, ytr, (int)ntr, (int)dim, C, 666, &m) == FN_OK);
    if (tu_failures) return;
    const int K = 5;
    int vote_wrong = 0, argmax_wrong = 0;
    double maxdiff = 0;
    for (int i = 0; i < nte; i++) {
        int vote;
        double p[5];
        CHECK(fn_svm_predict(m, xte + i * dim, (int)dim, K, &vote, p) == FN_OK);
        int best = 0;
        for (int k = 1; k < K; k++) if (p[k] > p[best]) best = k;
        vote_wrong += vote != json_int(k_predict, i);
        argmax_wrong += best != json_int(k_argmax, i);
        const fn_json *row = fn_json_at(fn_json_get(doc, k_proba), i);
        for (int k = 0; k < K; k++) {
            double d = fabs(p[k] - fn_json_at(row, k)->number);
            if (d > maxdiff) maxdiff = d;
        }
    }
    printf("  svm (C=%g) vs sklearn on %lld held-out points: predict differs %d, argmax(proba) differs %d, "
           "max |proba diff| %.4f (tol %.2f)\n", C, (long long)nte, vote_wrong, argmax_wrong, maxdiff, PROB_TOL);
    CHECK(vote_wrong == 0);
    CHECK(argmax_wrong == 0);
    CHECK(maxdiff <= PROB_TOL);
    int nsv = 0;
    for (int k = 0; k < K; k++) {
        int want = json_int(k_nsv, k), got = -1;
        for (int j = 0; j < m->nr_class; j++) if (m->label[j] == k) got = m->nSV[j];
        nsv += got == want;
    }
    printf("  support vectors per class equal sklearn's for %d/%d classes\n", nsv, K);
    CHECK(nsv == K);
    fn_svm_free(m);
}

static const char *names[5] = { "Ada Lovelace", "Bob", "Claire", "Dmitri", "\xc3\x89mile" };

static void test_classifier_file(void) {
    fn_classifier *c, *c2, *c3;
    CHECK(fn_classifier_train(xtr, ytr, (int)ntr, (int)dim, names, 5, "0123abcd", 1.0, 666, &c) == FN_OK);
    CHECK(fn_classifier_train(xtr, ytr, (int)ntr, (int)dim, names, 5, "0123abcd", 1.0, 666, &c3) == FN_OK);
    if (tu_failures) return;
    fn_prediction *p1 = malloc(sizeof *p1 * nte), *p2 = malloc(sizeof *p2 * nte), *p3 = malloc(sizeof *p3 * nte);
    float *pr1 = malloc(sizeof(float) * nte * 5), *pr2 = malloc(sizeof(float) * nte * 5), *pr3 = malloc(sizeof(float) * nte * 5);
    CHECK(fn_classifier_predict(c, xte, (int)nte, 0, p1, pr1) == FN_OK);
    CHECK(fn_classifier_predict(c3, xte, (int)nte, 0, p3, pr3) == FN_OK);
    CHECK_MSG(memcmp(pr1, pr3, sizeof(float) * nte * 5) == 0, "same seed, different probabilities");
    int wrong = 0;
    for (int i = 0; i < nte; i++)
        wrong += p1[i].label != json_int("predict", i) || p1[i].svm_label != p1[i].label ||
                 p1[i].proba_label != json_int("argmax_proba", i);
    CHECK(wrong == 0);

    const char *path = FN_BUILD_DIR "/test_classify.cls";
    CHECK(fn_classifier_save(c, path) == FN_OK);
    CHECK(fn_classifier_load(path, &c2) == FN_OK);
    if (!c2) return;
    CHECK(fn_classifier_n_classes(c2) == 5 && fn_classifier_dim(c2) == dim);
    CHECK(!strcmp(fn_classifier_model_id(c2), "0123abcd"));
    for (int k = 0; k < 5; k++) CHECK(!strcmp(fn_classifier_class_name(c2, k), names[k]));
    CHECK(!strcmp(fn_classifier_class_name(c2, -1), "unknown"));
    CHECK(fn_classifier_predict(c2, xte, (int)nte, 0, p2, pr2) == FN_OK);
    CHECK_MSG(memcmp(pr1, pr2, sizeof(float) * nte * 5) == 0, "probabilities changed through save/load");
    int same = 1;
    for (int i = 0; i < nte; i++) same &= p1[i].label == p2[i].label && p1[i].nearest == p2[i].nearest;
    CHECK(same);
    printf("  file round trip: %d predictions identical\n", (int)nte);

    /* model mismatch */
    CHECK(fn_classifier_check_model_id(c2, "0123abcd", (int)dim) == FN_OK);
    CHECK(fn_classifier_check_model_id(c2, "ffffffff", (int)dim) == FN_ERR_MISMATCH);
    printf("  mismatch message: %s\n", fn_last_error());
    CHECK(strstr(fn_last_error(), "0123abcd") != NULL);
    CHECK(fn_classifier_check_model_id(c2, "0123abcd", 512) == FN_ERR_MISMATCH);

    /* corrupt files: every truncation length class, flipped bytes, wrong magic, missing */
    uint8_t *data; size_t size;
    CHECK(fn_read_file(path, &data, &size) == FN_OK);
    const char *bad = FN_BUILD_DIR "/test_classify_bad.cls";
    int refused = 0, tries = 0;
    size_t cuts[] = { 0, 4, 8, 20, 30, 40, 100, size / 2, size - 9, size - 8, size - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        fn_write_file_atomic(bad, data, cuts[i]);
        fn_classifier *x = NULL;
        fn_status s = fn_classifier_load(bad, &x);
        tries++; refused += s == FN_ERR_FORMAT && x == NULL;
        fn_classifier_free(x);
    }
    for (size_t off = 9; off < size; off += size / 23 + 1) {
        data[off] ^= 0x5a;
        fn_write_file_atomic(bad, data, size);
        data[off] ^= 0x5a;
        fn_classifier *x = NULL;
        fn_status s = fn_classifier_load(bad, &x);
        tries++; refused += s != FN_OK && x == NULL;
        fn_classifier_free(x);
    }
    printf("  corrupt classifier files refused: %d/%d\n", refused, tries);
    CHECK(refused == tries);
    fn_classifier *x = NULL;
    CHECK(fn_classifier_load(FN_BUILD_DIR "/no_such_file.cls", &x) == FN_ERR_IO && !x);
    CHECK(fn_classifier_load(FIX "svm.json", &x) == FN_ERR_FORMAT && !x);
    unlink(bad);
    free(data);

    /* unknown rejection: a point far from every enrolled one */
    float *far = malloc(sizeof(float) * dim);
    for (int j = 0; j < dim; j++) far[j] = (j % 2 ? 1.0f : -1.0f) / sqrtf((float)dim);
    float nearest_known = 0;
    for (int i = 0; i < 20; i++) { /* the first 20 test points are members of the classes */
        CHECK(fn_classifier_predict(c2, xte + i * dim, 1, 0, p2, NULL) == FN_OK);
        if (p2[0].nearest > nearest_known) nearest_known = p2[0].nearest;
    }
    fn_prediction pf;
    CHECK(fn_classifier_predict(c2, far, 1, 0, &pf, NULL) == FN_OK);
    float thr = 0.5f * (nearest_known + pf.nearest);
    printf("  members: nearest enrolled <= %.3f; stranger: %.3f; threshold %.3f\n", (double)nearest_known, (double)pf.nearest, (double)thr);
    CHECK(pf.nearest > nearest_known + 0.1f);
    CHECK(fn_classifier_predict(c2, far, 1, thr, &pf, NULL) == FN_OK);
    CHECK(pf.label == -1 && pf.svm_label >= 0 && pf.svm_label < 5);
    int kept = 0;
    for (int i = 0; i < 20; i++) {
        CHECK(fn_classifier_predict(c2, xte + i * dim, 1, thr, p2, NULL) == FN_OK);
        kept += p2[0].label == json_int("test_truth", i);
    }
    CHECK(kept == 20);
    free(far);

    /* bad training input */
    int one[3] = { 0, 0, 0 }, gap[3] = { 0, 2, 2 };
    fn_classifier *y = NULL;
    CHECK(fn_classifier_train(xtr, one, 3, (int)dim, names, 1, "id", 1.0, 1, &y) == FN_ERR_ARG && !y);
    CHECK(fn_classifier_train(xtr, gap, 3, (int)dim, names, 3, "id", 1.0, 1, &y) == FN_ERR_ARG && !y);
    printf("  empty class refused: %s\n", fn_last_error());
    int outside[3] = { 0, 1, 7 };
    CHECK(fn_classifier_train(xtr, outside, 3, (int)dim, names, 2, "id", 1.0, 1, &y) == FN_ERR_ARG && !y);

    unlink(path);
    free(p1); free(p2); free(p3); free(pr1); free(pr2); free(pr3);
    fn_classifier_free(c); fn_classifier_free(c2); fn_classifier_free(c3);
}

static void touch(const char *p) { FILE *f = fopen(p, "w"); if (f) { fputs("x", f); fclose(f); } }

static void test_dataset(void) {
    const char *root = FN_BUILD_DIR "/test_classify_ds";
    char p[512];
    const char *dirs[] = { "", "/zed", "/Amy_Adams", "/bob", "/empty", "/.hidden" };
    for (int i = 0; i < 6; i++) { snprintf(p, sizeof p, "%s%s", root, dirs[i]); mkdir(p, 0755); }
    const char *files[] = { "/zed/b.jpg", "/zed/a.PNG", "/zed/notes.txt", "/zed/.x.jpg", "/Amy_Adams/2.jpeg",
                            "/Amy_Adams/10.jpeg", "/bob/x.gif", "/.hidden/h.jpg", "/top.jpg" };
    for (int i = 0; i < 9; i++) { snprintf(p, sizeof p, "%s%s", root, files[i]); touch(p); }
    fn_dataset ds;
    CHECK(fn_dataset_load(root, &ds) == FN_OK);
    CHECK(ds.n_classes == 4);
    if (ds.n_classes == 4) {
        /* byte order, as Python's sorted(): uppercase before lowercase, "10" before "2" */
        CHECK(!strcmp(ds.classes[0].name, "Amy_Adams") && !strcmp(ds.classes[1].name, "bob") &&
              !strcmp(ds.classes[2].name, "empty") && !strcmp(ds.classes[3].name, "zed"));
        CHECK(ds.classes[0].n_paths == 2 && strstr(ds.classes[0].paths[0], "Amy_Adams/10.jpeg"));
        CHECK(ds.classes[2].n_paths == 0);
        CHECK(ds.classes[3].n_paths == 2 && strstr(ds.classes[3].paths[0], "zed/a.PNG") && strstr(ds.classes[3].paths[1], "zed/b.jpg"));
        snprintf(p, sizeof p, "%s/bob/x.gif", root);
        CHECK(!strcmp(ds.classes[1].paths[0], p));
    }
    fn_dataset_free(&ds);
    char **imgs; int n;
    CHECK(fn_list_images(root, &imgs, &n) == FN_OK && n == 1);
    fn_paths_free(imgs, n);
    CHECK(fn_dataset_load(FN_BUILD_DIR "/no_such_dir", &ds) == FN_ERR_IO);
    CHECK(fn_is_image_path("a/b.JPG") && !fn_is_image_path("a.jpg/b") && !fn_is_image_path(".jpg"));
}

int main(void) {
    if (load_fixture()) {
        test_svm_vs_sklearn(1.0, "");
        test_svm_vs_sklearn(10.0, "_c10");
        test_classifier_file();
    }
    test_dataset();
    fn_free(xtr); fn_free(xte); free(ytr); fn_json_free(doc);
    return tu_finish("test_classify");
}
