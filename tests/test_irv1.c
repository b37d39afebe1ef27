/* test_irv1.c — Inception-ResNet-v1 inference against an independent PyTorch build of the
 * network (tools/gen_irv1_fixtures.py). Both sides fill every parameter from the same
 * seeded splitmix64 stream; this test writes them to a temporary .safetensors with
 * facenet-pytorch's names (tests/fixtures/irv1/params.txt, taken from PyTorch's
 * state_dict) and loads it through fn_model_open, so the loader, the OIHW->HWIO conversion
 * and the batch-norm folding are under test too.
 * Tolerances: embeddings max-abs 1e-4; intermediates rel-err (max|diff| / max|ref|) 1e-4. */
#include "test_util.h"
#include "nets/inception_resnet_v1.h"
#include "tensors.h"

#define FIX FN_SOURCE_DIR "/tests/fixtures/irv1/"
#define N_IMG 5
static const char *IMAGES[N_IMG] = {"angelina_jolie", "bradley_cooper", "kate_siegel", "paul_rudd", "shea_whigham"};

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 offset basis */
    for (; *s; s++) { h ^= (uint8_t)*s; h *= 1099511628211ull; }
    return h;
}

/* value = c + s * (2u - 1); the same rule as param_rule() in tools/gen_irv1_fixtures.py */
static void param_rule(const char *name, int ndim, const int64_t *shape, double *c, double *s) {
    size_t n = strlen(name);
#define ENDS(suf) (n >= strlen(suf) && !strcmp(name + n - strlen(suf), suf))
    *c = 0; *s = 0;
    if (ENDS("running_var")) { *c = 1.0; *s = 0.5; }
    else if (ENDS("running_mean")) *s = 0.2;
    else if (ENDS("bn.weight")) { *c = 1.0; *s = 0.25; }
    else if (ENDS("bn.bias")) *s = 0.2;
    else if (ENDS("conv2d.bias")) *s = 0.1;
    else if (ENDS("weight") && ndim >= 2) {
        double fan_in = 1;
        for (int i = 1; i < ndim; i++) fan_in *= (double)shape[i];
        *s = sqrt(6.0 / fan_in);
    }
#undef ENDS
}

/* Builds the seeded weights named in params.txt with bottleneck dim `dim`. */
static int build_weights(int dim, fn_tensor_set *ts) {
    fn_tensor_set_init(ts);
    FILE *f = fopen(FIX "params.txt", "r");
    if (!f) { fprintf(stderr, "cannot open %sparams.txt\n", FIX); return 0; }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[256], dtype[8], shp[128];
        if (sscanf(line, "%255s %7s %127s", name, dtype, shp) != 3) continue;
        int64_t shape[FN_MAX_DIMS]; int ndim = 0;
        if (strcmp(shp, "-")) {
            for (char *tok = strtok(shp, ","); tok && ndim < FN_MAX_DIMS; tok = strtok(NULL, ","))
                shape[ndim++] = !strcmp(tok, "D") ? dim : atoll(tok);
        }
        int64_t numel = 1;
        for (int i = 0; i < ndim; i++) numel *= shape[i];
        if (!strcmp(dtype, "I64")) {
            int64_t *v = calloc((size_t)numel, sizeof *v);
            if (fn_tensor_set_add(ts, name, FN_I64, ndim, shape, v, 1)) { fclose(f); return 0; }
            continue;
        }
        double c, s;
        param_rule(name, ndim, shape, &c, &s);
        float *v = malloc(sizeof(float) * (size_t)numel);
        fn_rng rng = {fnv1a64(name)};
        for (int64_t i = 0; i < numel; i++) {
            double u = (double)(fn_rng_next(&rng) >> 40) / 16777216.0;
            v[i] = (float)(c + s * (2.0 * u - 1.0));
        }
        if (fn_tensor_set_add(ts, name, FN_F32, ndim, shape, v, 1)) { fclose(f); return 0; }
    }
    fclose(f);
    return ts->n;
}

static fn_model *open_model(int dim, const char *path) {
    fn_tensor_set ts;
    int n = build_weights(dim, &ts);
    CHECK_MSG(n == 714, "params.txt lists %d tensors, facenet-pytorch has 714", n);
    fn_status s = fn_safetensors_save(path, &ts, NULL);
    fn_tensor_set_free(&ts);
    CHECK_MSG(s == FN_OK, "save %s: %s", path, fn_last_error());
    fn_model *m = NULL;
    s = fn_model_open(path, &m);
    CHECK_MSG(s == FN_OK, "fn_model_open(%d-d): %s", dim, fn_last_error());
    if (m) {
        CHECK(fn_model_dim(m) == dim);
        CHECK(fn_model_input_size(m) == 160);
        CHECK(!strcmp(fn_model_arch(m), "inception_resnet_v1"));
    }
    return m;
}

static float *load_npy(const char *name, int64_t rows, int64_t cols) {
    char path[512];
    snprintf(path, sizeof path, FIX "%s", name);
    float *d; int64_t r, c;
    if (fn_npy_load_f32(path, &d, &r, &c)) { CHECK_MSG(0, "%s: %s", name, fn_last_error()); return NULL; }
    if ((rows >= 0 && r != rows) || (cols >= 0 && c != cols)) {
        CHECK_MSG(0, "%s: shape %lldx%lld", name, (long long)r, (long long)c);
        fn_free(d); return NULL;
    }
    return d;
}

/* tap (n values) sampled as Python's x.flat[::97] vs the fixture */
static void check_tap(const char *what, const char *file, const float *full, size_t n) {
    size_t k = (n + 96) / 97;
    float *ref = load_npy(file, 1, (int64_t)k);
    if (!ref) return;
    float *sample = malloc(sizeof(float) * k);
    for (size_t i = 0; i < k; i++) sample[i] = full[i * 97];
    CHECK_REL(what, sample, ref, (long)k, 1e-4);
    free(sample);
    fn_free(ref);
}

static void check_embed(fn_model *m, const fn_image *crops, fn_standardize std, const char *file, int dim,
                        int one_by_one) {
    float *ref = load_npy(file, N_IMG, dim);
    if (!ref) return;
    float *emb = malloc(sizeof(float) * N_IMG * dim);
    fn_model_set_standardize(m, std);
    fn_status s = fn_model_embed(m, crops, N_IMG, emb);
    CHECK_MSG(s == FN_OK, "embed: %s", fn_last_error());
    char what[96];
    snprintf(what, sizeof what, "embeddings %s (batch 5)", file);
    CHECK_CLOSE(what, emb, ref, (long)N_IMG * dim, 1e-4);
    /* one image at a time: same numbers up to GEMM blocking (a batch-independence check) */
    memset(emb, 0, sizeof(float) * N_IMG * dim);
    for (int i = 0; one_by_one && i < N_IMG; i++) fn_model_embed(m, &crops[i], 1, emb + (size_t)i * dim);
    if (one_by_one) {
        snprintf(what, sizeof what, "embeddings %s (batch 1)", file);
        CHECK_CLOSE(what, emb, ref, (long)N_IMG * dim, 1e-4);
    }
    free(emb);
    fn_free(ref);
}

/* A copy of the seeded weights with one tensor altered, saved, and opened: must fail. */
static void check_bad_model(const char *what, const char *path, const char *victim, int mode, fn_status want) {
    fn_tensor_set ts;
    build_weights(512, &ts);
    for (int i = 0; i < ts.n; i++) {
        fn_tensor *t = &ts.t[i];
        if (strcmp(t->name, victim)) continue;
        if (mode == 0) { free(t->name); t->name = strdup("renamed.tensor"); }      /* missing */
        else if (mode == 1) { t->shape[0] -= 1; t->nbytes = (size_t)fn_tensor_numel(t) * 4; } /* shape */
        else if (mode == 2) { t->dtype = FN_I32; }                                  /* dtype */
    }
    fn_safetensors_save(path, &ts, NULL);
    fn_tensor_set_free(&ts);
    fn_model *m = NULL;
    fn_status s = fn_model_open(path, &m);
    printf("  %-40s -> %s: %s\n", what, fn_status_str(s), fn_last_error());
    CHECK_MSG(s == want && m == NULL, "%s: got status %d", what, s);
    CHECK_MSG(strstr(fn_last_error(), mode == 0 ? victim : victim) != NULL, "%s: message lacks the tensor name", what);
    fn_model_close(m);
}

/* Helper modes for tests/cli_embed.sh (no Python needed there):
 *   test_irv1 --write-model PATH DIM   the seeded test weights as a .safetensors
 *   test_irv1 --compare-npy A B TOL    max-abs |A - B| <= TOL (same shape), else exit 1 */
static int helper_mode(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--write-model")) {
        fn_tensor_set ts;
        if (build_weights(atoi(argv[3]), &ts) != 714) return 1;
        fn_status s = fn_safetensors_save(argv[2], &ts, NULL);
        fn_tensor_set_free(&ts);
        if (s) fprintf(stderr, "%s\n", fn_last_error());
        return s ? 1 : 0;
    }
    if (argc == 5 && !strcmp(argv[1], "--compare-npy")) {
        float *a, *b; int64_t ra, ca, rb, cb;
        if (fn_npy_load_f32(argv[2], &a, &ra, &ca)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        if (fn_npy_load_f32(argv[3], &b, &rb, &cb)) { fprintf(stderr, "%s\n", fn_last_error()); return 1; }
        int ok = ra == rb && ca == cb;
        double e = ok ? tu_max_abs(a, b, (long)(ra * ca)) : INFINITY;
        printf("%s vs %s: %lldx%lld vs %lldx%lld, max-abs %.3g (tol %s)\n", argv[2], argv[3],
               (long long)ra, (long long)ca, (long long)rb, (long long)cb, e, argv[4]);
        fn_free(a); fn_free(b);
        return ok && e <= atof(argv[4]) ? 0 : 1;
    }
    fprintf(stderr, "usage: test_irv1 [--write-model PATH DIM | --compare-npy A B TOL]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc > 1) return helper_mode(argc, argv);
    char path512[512], path128[512], bad[512];
    snprintf(path512, sizeof path512, "%s/test_irv1_512.safetensors", FN_BUILD_DIR);
    snprintf(path128, sizeof path128, "%s/test_irv1_128.safetensors", FN_BUILD_DIR);
    snprintf(bad, sizeof bad, "%s/test_irv1_bad.safetensors", FN_BUILD_DIR);

    fn_image crops[N_IMG];
    for (int i = 0; i < N_IMG; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/data/faces/facenet-pytorch/aligned/%s.png", FN_SHARED_DIR, IMAGES[i]);
        fn_status s = fn_image_load(p, 0, &crops[i]);
        if (s) { fprintf(stderr, "%s: %s\n", p, fn_last_error()); return 1; }
        CHECK(crops[i].w == 160 && crops[i].h == 160);
    }

    printf("512-d model, intermediates (fixed standardisation):\n");
    fn_model *m = open_model(512, path512);
    if (!m) return tu_finish("test_irv1");
    {
        const size_t per = 160 * 160 * 3;
        float *x = malloc(sizeof(float) * per * N_IMG);
        for (int i = 0; i < N_IMG; i++) fn_irv1_standardize(&crops[i], FN_STD_FIXED, x + i * per);
        fn_irv1_sizes z = fn_irv1_tap_sizes(160);
        CHECK(z.stem == 17 && z.mixed_6a == 8 && z.mixed_7a == 3);
        size_t n_stem = (size_t)N_IMG * 17 * 17 * 256, n6 = (size_t)N_IMG * 8 * 8 * 896;
        size_t n7 = (size_t)N_IMG * 3 * 3 * 1792, np_ = (size_t)N_IMG * 1792;
        fn_irv1_taps taps = {malloc(4 * n_stem), malloc(4 * n6), malloc(4 * n7), malloc(4 * np_)};
        float emb[N_IMG * 512];
        fn_status s = fn_irv1_forward(m, x, N_IMG, 160, emb, &taps);
        CHECK_MSG(s == FN_OK, "forward: %s", fn_last_error());
        check_tap("stem (after conv2d_4b)", "tap_stem.npy", taps.stem, n_stem);
        check_tap("mixed_6a", "tap_mixed_6a.npy", taps.mixed_6a, n6);
        check_tap("mixed_7a", "tap_mixed_7a.npy", taps.mixed_7a, n7);
        check_tap("pooled (before bottleneck)", "tap_pooled.npy", taps.pooled, np_);
        float *ref = load_npy("emb_512_fixed.npy", N_IMG, 512);
        if (ref) { CHECK_CLOSE("embeddings (float input)", emb, ref, N_IMG * 512, 1e-4); fn_free(ref); }
        for (int i = 0; i < N_IMG; i++) {
            double nrm = 0;
            for (int d = 0; d < 512; d++) nrm += (double)emb[i * 512 + d] * emb[i * 512 + d];
            CHECK_MSG(fabs(nrm - 1) < 1e-5, "embedding %d has squared norm %g", i, nrm);
        }

        /* another image size: the centre 96x96 of the same standardised crops */
        float *x96 = malloc(sizeof(float) * 96 * 96 * 3 * N_IMG);
        for (int i = 0; i < N_IMG; i++)
            for (int y = 0; y < 96; y++)
                memcpy(x96 + ((size_t)i * 96 + y) * 96 * 3, x + i * per + ((size_t)(y + 32) * 160 + 32) * 3, sizeof(float) * 96 * 3);
        s = fn_irv1_forward(m, x96, N_IMG, 96, emb, NULL);
        CHECK_MSG(s == FN_OK, "forward at 96 px: %s", fn_last_error());
        ref = load_npy("emb_512_fixed_s96.npy", N_IMG, 512);
        if (ref) { CHECK_CLOSE("embeddings at 96x96", emb, ref, N_IMG * 512, 1e-4); fn_free(ref); }
        /* 33 images (> 32 per pass: two passes through the arena) at 80 px equal the same
         * images embedded one at a time */
        {
            enum { NB = 33, S = 80 };
            float *xb = malloc(sizeof(float) * NB * S * S * 3), *eb = malloc(sizeof(float) * NB * 512), one[512];
            for (int i = 0; i < NB; i++)
                for (int y = 0; y < S; y++)
                    memcpy(xb + ((size_t)i * S + y) * S * 3, x + (i % N_IMG) * per + ((size_t)(y + i % 7) * 160 + 40) * 3, sizeof(float) * S * 3);
            s = fn_irv1_forward(m, xb, NB, S, eb, NULL);
            CHECK_MSG(s == FN_OK, "forward of 33 at 80 px: %s", fn_last_error());
            fn_irv1_forward(m, xb + (size_t)32 * S * S * 3, 1, S, one, NULL);
            CHECK_CLOSE("33 images in one call vs image 32 alone", eb + 32 * 512, one, 512, 1e-5);
            fn_irv1_forward(m, xb + (size_t)5 * S * S * 3, 1, S, one, NULL);
            CHECK_CLOSE("33 images in one call vs image 5 alone", eb + 5 * 512, one, 512, 1e-5);
            free(xb); free(eb);
        }
        s = fn_irv1_forward(m, x96, 1, 64, emb, NULL);
        printf("  64 px input -> %s: %s\n", fn_status_str(s), fn_last_error());
        CHECK(s == FN_ERR_SHAPE);
        free(x96); free(x);
        free(taps.stem); free(taps.mixed_6a); free(taps.mixed_7a); free(taps.pooled);
    }
    printf("512-d model through fn_model_embed (uint8 crops):\n");
    check_embed(m, crops, FN_STD_FIXED, "emb_512_fixed.npy", 512, 1);
    check_embed(m, crops, FN_STD_PREWHITEN, "emb_512_prewhiten.npy", 512, 0);
    fn_model_close(m);

    printf("128-d model:\n");
    m = open_model(128, path128);
    if (m) {
        check_embed(m, crops, FN_STD_FIXED, "emb_128_fixed.npy", 128, 0);
        check_embed(m, crops, FN_STD_PREWHITEN, "emb_128_prewhiten.npy", 128, 0);
        fn_model_close(m);
    }

    printf("malformed models:\n");
    check_bad_model("missing repeat_2.3.branch1.1.bn.running_var", bad, "repeat_2.3.branch1.1.bn.running_var", 0, FN_ERR_MISSING);
    check_bad_model("wrong shape mixed_7a.branch2.1.conv.weight", bad, "mixed_7a.branch2.1.conv.weight", 1, FN_ERR_SHAPE);
    check_bad_model("wrong dtype block8.conv2d.bias", bad, "block8.conv2d.bias", 2, FN_ERR_UNSUPPORTED);
    remove(bad); remove(path512); remove(path128);

    for (int i = 0; i < N_IMG; i++) fn_image_free(&crops[i]);
    return tu_finish("test_irv1");
}
