/* test_weights_irv1.c — a .pt with the full facenet-pytorch InceptionResnetV1 key set (714
 * entries, 23.5 M parameters) written by torch.save (zip) where every tensor is a strided
 * view of one of five small shared storages (tests/fixtures/weights/irv1_shared.pt, see
 * tools/gen_weights_fixtures.py for THE PATTERN). Checks:
 *  1. every converted tensor equals the documented pattern, value for value (exact);
 *  2. fn_model_open + fn_model_embed on the converted safetensors gives exactly the same
 *     embeddings as on a safetensors this test writes itself from the pattern. */
#include "weights.h"
#include "nets/model.h"
#include "test_util.h"

/* model.c refers to the backbone constructor weakly, and a weak reference does not pull its
 * object out of the static library: this strong one does (as cli/cmd_embed.c does). */
fn_status (*const test_irv1_constructor)(const fn_tensor_set *, struct fn_model *) = fn_irv1_model_create;

#define FIX FN_SOURCE_DIR "/tests/fixtures/weights/"
#define MAX_PARAMS 800

typedef struct { char name[96]; int ndim; int64_t shape[4]; int is_i64; } param;

static int read_params(param *p) {
    FILE *f = fopen(FN_SOURCE_DIR "/tests/fixtures/irv1/params.txt", "r");
    if (!f) return 0;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < MAX_PARAMS) {
        if (line[0] == '#') continue;
        char name[96], dtype[8], shape[64];
        if (sscanf(line, "%95s %7s %63s", name, dtype, shape) != 3) continue;
        param *q = &p[n++];
        snprintf(q->name, sizeof q->name, "%s", name);
        q->is_i64 = !strcmp(dtype, "I64");
        q->ndim = 0;
        if (strcmp(shape, "-"))
            for (char *tok = strtok(shape, ","); tok && q->ndim < 4; tok = strtok(NULL, ","))
                q->shape[q->ndim++] = !strcmp(tok, "D") ? 512 : atoll(tok);
    }
    fclose(f);
    return n;
}

/* the storages of the pattern */
static float pat_w(int64_t k) { return (float)(((k * 40503 + 12345) % 65536 - 32768) / 2097152.0); }
static float pat_g(int64_t k) { return (float)(1 + ((k * 37) % 64 - 32) / 256.0); }
static float pat_b(int64_t k) { return (float)(((k * 53) % 64 - 32) / 512.0); }
static float pat_v(int64_t k) { return (float)(1 + ((k * 29) % 64) / 128.0); }

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Fills dst (numel values) with tensor i's pattern values. */
static void pattern(const param *p, int i, float *dst) {
    static const int64_t strides4[4] = { 3, 1, 2, 1 }, strides2[2] = { 3, 1 }, strides1[1] = { 1 };
    const int64_t *st = p->ndim == 4 ? strides4 : p->ndim == 2 ? strides2 : strides1;
    float (*fn)(int64_t);
    int64_t N;
    if (ends_with(p->name, "running_var")) { fn = pat_v; N = 2048; }
    else if (p->ndim >= 2) { fn = pat_w; N = 8192; }
    else if (strstr(p->name, ".bn.weight") || !strcmp(p->name, "last_bn.weight")) { fn = pat_g; N = 2048; }
    else { fn = pat_b; N = 2048; }
    int64_t span = 1;
    for (int d = 0; d < p->ndim; d++) span += (p->shape[d] - 1) * st[d];
    int64_t offset = ((int64_t)i * 97) % (N - span + 1);
    int64_t idx[4] = { 0 }, numel = 1;
    for (int d = 0; d < p->ndim; d++) numel *= p->shape[d];
    for (int64_t k = 0; k < numel; k++) {
        int64_t off = offset;
        for (int d = 0; d < p->ndim; d++) off += idx[d] * st[d];
        dst[k] = fn(off);
        for (int d = p->ndim - 1; d >= 0; d--) { if (++idx[d] < p->shape[d]) break; idx[d] = 0; }
    }
}

int main(void) {
    static param params[MAX_PARAMS];
    int np = read_params(params);
    CHECK_MSG(np == 714, "params.txt: %d entries, expected 714", np);
    if (np != 714) return tu_finish("test_weights_irv1");

    fn_tensor_set conv;
    fn_status s = fn_weights_load(FIX "irv1_shared.pt", &conv, "inception_resnet_v1");
    CHECK_MSG(s == FN_OK, "load irv1_shared.pt: %s", fn_last_error());
    if (s) return tu_finish("test_weights_irv1");
    CHECK(conv.n == 714);

    /* 1. values against the pattern; and build the test's own tensor set from it */
    fn_tensor_set own;
    fn_tensor_set_init(&own);
    int64_t total = 0, mismatched = 0, missing = 0;
    for (int i = 0; i < np; i++) {
        const param *p = &params[i];
        int64_t numel = 1;
        for (int d = 0; d < p->ndim; d++) numel *= p->shape[d];
        const fn_tensor *t = fn_tensor_set_find(&conv, p->name);
        if (!t || t->ndim != p->ndim) { missing++; continue; }
        if (p->is_i64) {
            int64_t *v = malloc(8);
            *v = 7;
            if (t->dtype != FN_I64 || *(int64_t *)t->data != 7) mismatched++;
            fn_tensor_set_add(&own, p->name, FN_I64, 0, p->shape, v, 1);
            continue;
        }
        float *want = malloc((size_t)numel * sizeof(float));
        pattern(p, i, want);
        if (t->dtype != FN_F32 || memcmp(t->data, want, (size_t)numel * 4)) mismatched++;
        total += numel;
        fn_tensor_set_add(&own, p->name, FN_F32, p->ndim, p->shape, want, 1);
    }
    printf("  irv1_shared.pt -> %d tensors, %lld float values vs the documented pattern: %lld tensors differ, %lld missing (tol 0)\n",
           conv.n, (long long)total, (long long)mismatched, (long long)missing);
    CHECK(mismatched == 0 && missing == 0 && total > 23000000);

    const char *a = FN_BUILD_DIR "/test_weights_irv1_converted.safetensors", *b = FN_BUILD_DIR "/test_weights_irv1_own.safetensors";
    CHECK(fn_safetensors_save(a, &conv, NULL) == FN_OK);
    CHECK(fn_safetensors_save(b, &own, NULL) == FN_OK);
    fn_tensor_set_free(&conv);
    fn_tensor_set_free(&own);

    /* 2. same embeddings from both files */
    fn_model *ma = NULL, *mb = NULL;
    s = fn_model_open(a, &ma);
    CHECK_MSG(s == FN_OK, "open converted: %s", fn_last_error());
    fn_status s2 = fn_model_open(b, &mb);
    CHECK_MSG(s2 == FN_OK, "open own: %s", fn_last_error());
    if (!s && !s2) {
        int size = fn_model_input_size(ma), dim = fn_model_dim(ma);
        CHECK(dim == 512 && size == 160);
        fn_image crops[2];
        for (int k = 0; k < 2; k++) {
            fn_image_alloc(size, size, &crops[k]);
            fn_rng rng = { (uint64_t)k + 1 };
            for (int j = 0; j < size * size * 3; j++) crops[k].rgb[j] = (uint8_t)(fn_rng_next(&rng) >> 56);
        }
        float ea[2 * 512], eb[2 * 512];
        CHECK(fn_model_embed(ma, crops, 2, ea) == FN_OK);
        CHECK(fn_model_embed(mb, crops, 2, eb) == FN_OK);
        int finite = 1;
        double norm = 0;
        for (int j = 0; j < 2 * dim; j++) { finite &= isfinite(ea[j]) != 0; if (j < dim) norm += (double)ea[j] * ea[j]; }
        printf("  embeddings: finite %s, |e| %.6f, converted vs own max-abs %g (tol 0: same weights, same code)\n",
               finite ? "yes" : "NO", sqrt(norm), tu_max_abs(ea, eb, 2 * dim));
        CHECK(finite && fabs(norm - 1) < 1e-4);
        CHECK(!memcmp(ea, eb, sizeof ea));
        CHECK(!strcmp(fn_model_id(ma), fn_model_id(mb))); /* same names, order and bytes */
        for (int k = 0; k < 2; k++) fn_image_free(&crops[k]);
    }
    fn_model_close(ma);
    fn_model_close(mb);
    remove(a);
    remove(b);
    return tu_finish("test_weights_irv1");
}
