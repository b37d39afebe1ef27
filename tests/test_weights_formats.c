/* test_weights_formats.c — every importer against fixtures written by the real tools
 * (tools/gen_weights_fixtures.py: torch.save legacy + zip, np.save, python3-protobuf), each
 * compared value by value (bit-exact: the importers only move bytes or widen floats) with
 * the expected tensors the script wrote as safetensors; and every result survives a
 * safetensors round trip. Also content-based format detection and the arch mappings. */
#include "weights.h"
#include "test_util.h"

#define FIX FN_SOURCE_DIR "/tests/fixtures/weights/"

/* Compares got (after fn_weights_load's F32 widening) with expected (original dtypes). */
static void compare_sets(const char *what, const fn_tensor_set *got, const fn_tensor_set *want) {
    int matched = 0, exact = 1;
    double worst = 0;
    CHECK_MSG(got->n == want->n, "%s: %d tensors, expected %d", what, got->n, want->n);
    for (int i = 0; i < want->n; i++) {
        const fn_tensor *w = &want->t[i], *g = fn_tensor_set_find(got, w->name);
        CHECK_MSG(g != NULL, "%s: tensor '%s' missing", what, w->name);
        if (!g) continue;
        int same_shape = g->ndim == w->ndim;
        for (int d = 0; same_shape && d < w->ndim; d++) same_shape = g->shape[d] == w->shape[d];
        CHECK_MSG(same_shape, "%s: '%s' shape differs", what, w->name);
        if (!same_shape) continue;
        int64_t n = fn_tensor_numel(w);
        if (w->dtype == FN_I64 || w->dtype == FN_I32) {
            CHECK_MSG(g->dtype == w->dtype && !memcmp(g->data, w->data, w->nbytes), "%s: '%s' integers differ", what, w->name);
        } else {
            /* expected widened to float the same way: F64 rounds to nearest, F16 exactly */
            fn_tensor_set one;
            fn_tensor_set_init(&one);
            void *copy = malloc(w->nbytes ? w->nbytes : 1);
            if (w->nbytes) memcpy(copy, w->data, w->nbytes);
            fn_tensor_set_add(&one, "x", w->dtype, w->ndim, w->shape, copy, 1);
            fn_tensor_set_to_f32(&one);
            CHECK_MSG(g->dtype == FN_F32, "%s: '%s' is %s, want F32", what, w->name, fn_dtype_name(g->dtype));
            if (g->dtype == FN_F32) {
                double m = tu_max_abs(g->data, one.t[0].data, (long)n);
                if (m > worst) worst = m;
                if (n && memcmp(g->data, one.t[0].data, (size_t)n * 4)) exact = 0;
            }
            fn_tensor_set_free(&one);
        }
        matched++;
    }
    printf("  %-34s %d/%d tensors, max-abs %g, bit-exact %s (tol 0)\n", what, matched, want->n, worst, exact ? "yes" : "NO");
    CHECK_MSG(exact && worst == 0, "%s: values differ", what);
}

static void roundtrip(const char *what, const fn_tensor_set *s) {
    const char *tmp = FN_BUILD_DIR "/test_weights_formats.safetensors";
    fn_status st = fn_safetensors_save(tmp, s, "{\"source\":\"test\"}");
    CHECK_MSG(st == FN_OK, "%s: save: %s", what, fn_last_error());
    fn_tensor_set back;
    st = fn_weights_load(tmp, &back, "auto");
    CHECK_MSG(st == FN_OK, "%s: reload: %s", what, fn_last_error());
    if (st) return;
    int same = back.n == s->n && !strcmp(back.format, "safetensors");
    for (int i = 0; same && i < s->n; i++) {
        const fn_tensor *b = fn_tensor_set_find(&back, s->t[i].name);
        same = b && b->dtype == s->t[i].dtype && b->ndim == s->t[i].ndim && b->nbytes == s->t[i].nbytes &&
               (!b->nbytes || !memcmp(b->data, s->t[i].data, b->nbytes));
    }
    CHECK_MSG(back.metadata_json && strstr(back.metadata_json, "\"source\":\"test\""), "%s: metadata lost", what);
    printf("  %-34s safetensors round trip bit-identical: %s\n", what, same ? "yes" : "NO");
    CHECK(same);
    fn_tensor_set_free(&back);
    remove(tmp);
}

static void check_file(const char *file, const char *expected, const char *arch, const char *format) {
    fn_tensor_set got, want;
    fn_status s = fn_weights_load(file, &got, arch);
    CHECK_MSG(s == FN_OK, "load %s: %s", file, fn_last_error());
    if (s) return;
    CHECK_MSG(!strcmp(got.format, format), "%s: format %s, expected %s", file, got.format, format);
    s = fn_safetensors_load(expected, &want);
    CHECK_MSG(s == FN_OK, "load %s: %s", expected, fn_last_error());
    if (!s) {
        compare_sets(strrchr(file, '/') + 1, &got, &want);
        fn_tensor_set_free(&want);
    }
    roundtrip(strrchr(file, '/') + 1, &got);
    fn_tensor_set_free(&got);
}

static void detect(const char *file, fn_weights_format want) {
    uint8_t *data;
    size_t size;
    if (fn_read_file(file, &data, &size)) { CHECK_MSG(0, "read %s", file); return; }
    fn_weights_format f = fn_weights_detect(data, size);
    CHECK_MSG(f == want, "%s detected as %s, expected %s", file, fn_weights_format_name(f), fn_weights_format_name(want));
    free(data);
}

int main(void) {
    check_file(FIX "torch_legacy.pt", FIX "torch_expected.safetensors", "auto", "torch-legacy");
    check_file(FIX "torch_zip.pt", FIX "torch_expected.safetensors", "auto", "torch-zip");
    check_file(FIX "npy_dict.npy", FIX "npy_expected.safetensors", "none", "npy");
    check_file(FIX "npy_dict_p2.npy", FIX "npy_expected.safetensors", "none", "npy");
    check_file(FIX "graphdef.pb", FIX "graphdef_expected.safetensors", "auto", "tf-graphdef");
    check_file(FIX "graphdef_irv1.pb", FIX "graphdef_irv1_expected.safetensors", "inception_resnet_v1", "tf-graphdef");
    check_file(FIX "graphdef_irv1.pb", FIX "graphdef_irv1_expected.safetensors", "auto", "tf-graphdef");

    /* the int64 tensor keeps its dtype; the float16 one was widened exactly */
    fn_tensor_set s;
    if (fn_weights_load(FIX "torch_zip.pt", &s, "auto") == FN_OK) {
        const fn_tensor *t = fn_tensor_set_find(&s, "i64");
        CHECK(t && t->dtype == FN_I64 && ((int64_t *)t->data)[3] == (int64_t)1 << 40);
        t = fn_tensor_set_find(&s, "shared_b");
        CHECK(t && t->ndim == 2 && ((float *)t->data)[0] == 2.0f); /* base[10] = 10*0.5 - 3 */
        t = fn_tensor_set_find(&s, "strided");
        CHECK(t && t->shape[0] == 5 && ((float *)t->data)[4] == 10.0f); /* 8 * 1.25 */
        fn_tensor_set_free(&s);
    }

    detect(FIX "torch_legacy.pt", FN_WFMT_TORCH_LEGACY);
    detect(FIX "torch_zip.pt", FN_WFMT_TORCH_ZIP);
    detect(FIX "npy_dict.npy", FN_WFMT_NPY);
    detect(FIX "graphdef.pb", FN_WFMT_TF_GRAPHDEF);
    detect(FIX "graphdef_irv1.pb", FN_WFMT_TF_GRAPHDEF);
    detect(FIX "torch_expected.safetensors", FN_WFMT_SAFETENSORS);
    detect(FN_SHARED_DIR "/models/mtcnn/det1.npy", FN_WFMT_NPY);
    detect(FN_SHARED_DIR "/models/mtcnn/pnet.pt", FN_WFMT_TORCH_LEGACY);

    /* a single MTCNN .pt with arch mtcnn gets its net prefix */
    if (fn_weights_load(FN_SHARED_DIR "/models/mtcnn/rnet.pt", &s, "mtcnn") == FN_OK) {
        CHECK(s.n == 16 && fn_tensor_set_find(&s, "rnet.dense5_2.bias"));
        fn_tensor_set_free(&s);
    } else CHECK_MSG(0, "rnet.pt: %s", fn_last_error());
    /* a folder through the generic entry point */
    if (fn_weights_load(FN_SHARED_DIR "/models/mtcnn", &s, "auto") == FN_OK) {
        CHECK(s.n == 50);
        fn_tensor_set_free(&s);
    } else CHECK_MSG(0, "mtcnn folder: %s", fn_last_error());
    /* torch writes zip64 end records too; hide the classic ones (0xFFFF.. = "see zip64")
     * and the archive must still read the same through the zip64 records */
    {
        size_t n;
        uint8_t *d;
        if (fn_read_file(FIX "torch_zip.pt", &d, &n) == FN_OK) {
            CHECK(n > 22 && !memcmp(d + n - 22, "PK\x05\x06", 4));
            memset(d + n - 22 + 8, 0xff, 4);  /* entries on disk / total */
            memset(d + n - 22 + 12, 0xff, 8); /* central directory size / offset */
            fn_tensor_set z, want;
            fn_status st = fn_torch_load_mem(d, n, &z);
            CHECK_MSG(st == FN_OK, "zip64 records: %s", fn_last_error());
            if (!st && fn_weights_load(FIX "torch_zip.pt", &want, "none") == FN_OK) {
                fn_tensor_set_to_f32(&z);
                int same = z.n == want.n;
                for (int i = 0; same && i < z.n; i++)
                    same = !strcmp(z.t[i].name, want.t[i].name) && z.t[i].nbytes == want.t[i].nbytes &&
                           (!z.t[i].nbytes || !memcmp(z.t[i].data, want.t[i].data, z.t[i].nbytes));
                printf("  torch_zip.pt read through its zip64 end records: %d tensors, identical %s\n", z.n, same ? "yes" : "NO");
                CHECK(same);
                fn_tensor_set_free(&want);
            }
            if (!st) fn_tensor_set_free(&z);
            free(d);
        }
    }

    /* a safetensors from another writer whose header leaves the body misaligned (odd length) */
    {
        const char *h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[12,20]}}";
        size_t hl = strlen(h);
        uint8_t *buf = malloc(8 + hl + 20);
        for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
        memcpy(buf + 8, h, hl);
        float v[3] = { 1.5f, -2.0f, 3.25f };
        int64_t k = -7;
        memcpy(buf + 8 + hl, v, 12);
        memcpy(buf + 8 + hl + 12, &k, 8);
        fn_tensor_set u;
        fn_status st = fn_safetensors_parse(buf, 8 + hl + 20, &u);
        CHECK_MSG(st == FN_OK, "misaligned safetensors: %s", fn_last_error());
        if (!st) {
            const fn_tensor *a = fn_tensor_set_find(&u, "a"), *b = fn_tensor_set_find(&u, "b");
            int aligned = a && b && (uintptr_t)a->data % 4 == 0 && (uintptr_t)b->data % 8 == 0;
            printf("  misaligned body (header %zu bytes): tensors aligned %s\n", hl, aligned ? "yes" : "NO");
            CHECK(aligned && !memcmp(a->data, v, 12) && *(int64_t *)b->data == -7 && b->ndim == 0);
            fn_tensor_set_free(&u);
        }
        free(buf);
    }
    fn_status st = fn_weights_load(FIX "torch_zip.pt", &s, "resnet9000");
    CHECK(st == FN_ERR_ARG);
    return tu_finish("test_weights_formats");
}
