/* test_tfjs.c — TF.js weight manifests (src/io/tfjs.c):
 * 1. a fixture written by NumPy (tools/gen_dlib_fixtures.py tfjs: two groups, a tensor split
 *    across shards, uint8/uint16 affine, float16 incl. a subnormal, float32, int32, empty)
 *    loads to exactly NumPy's values (bit-exact: same float64 q*scale+min then float32);
 * 2. the in-memory entry point agrees; model.json's "weightsManifest" form is accepted;
 * 3. broken input gives clear errors: truncated shards, absurd/negative/fractional shapes,
 *    unknown dtypes, missing fields, paths leaving the folder, missing shard files, bad JSON;
 * 4. the real face-api manifest (models/dlib_resnet.safetensors source) is checked by
 *    test_dlib_resnet through the converted model. */
#include "test_util.h"
#include "core.h"
#include "json.h"
#include "tfjs.h"
#include <unistd.h>

#define FIX FN_SOURCE_DIR "/tests/fixtures/tfjs/"

static void check_against_expected(const fn_tensor_set *ts, const char *label) {
    uint8_t *text; size_t len;
    fn_json *exp = NULL;
    CHECK(fn_read_file(FIX "expected.json", &text, &len) == FN_OK);
    CHECK(fn_json_parse((const char *)text, len, &exp) == FN_OK);
    free(text);
    CHECK(ts->n == (exp ? exp->n : -1));
    for (int i = 0; exp && i < exp->n; i++) {
        const fn_json *e = &exp->items[i];
        const fn_tensor *t = fn_tensor_set_find(ts, e->key);
        CHECK_MSG(t != NULL, "%s: tensor %s missing", label, e->key);
        if (!t) continue;
        CHECK_MSG(fn_tensor_numel(t) == e->n, "%s: %s has %lld values, expected %d", label, e->key,
                  (long long)fn_tensor_numel(t), e->n);
        if (fn_tensor_numel(t) != e->n) continue;
        int bad = 0;
        for (int k = 0; k < e->n; k++) {
            double v = t->dtype == FN_I32 ? ((const int32_t *)t->data)[k] : ((const float *)t->data)[k];
            if (t->dtype == FN_F32 ? (float)v != (float)e->items[k].number : v != e->items[k].number) bad++;
        }
        printf("  %-8s %-12s %s, %lld values, %d differ from NumPy (exact)\n", label, e->key,
               fn_dtype_name(t->dtype), (long long)fn_tensor_numel(t), bad);
        CHECK(bad == 0);
        CHECK(t->dtype == (!strcmp(e->key, "other/i32") ? FN_I32 : FN_F32));
    }
    const fn_tensor *u8 = fn_tensor_set_find(ts, "layer/u8");
    CHECK(u8 && u8->ndim == 2 && u8->shape[0] == 2 && u8->shape[1] == 3);
    const fn_tensor *em = fn_tensor_set_find(ts, "other/empty");
    CHECK(em && em->ndim == 2 && em->shape[0] == 0 && em->shape[1] == 5);
    fn_json_free(exp);
}

/* expect parse failure with status want and an error message containing needle */
static void expect_fail(const char *manifest, const uint8_t *w, size_t wl, fn_status want, const char *needle) {
    fn_tensor_set ts;
    fn_status s = fn_tfjs_parse(manifest, strlen(manifest), w, wl, &ts);
    int ok = s == want && strstr(fn_last_error(), needle) != NULL;
    printf("  bad input -> %-20s \"%s\"\n", fn_status_str(s), fn_last_error());
    CHECK_MSG(ok, "manifest %.60s...: got %s (%s), expected %s containing '%s'", manifest,
              fn_status_str(s), fn_last_error(), fn_status_str(want), needle);
    CHECK(ts.n == 0 && ts.t == NULL);
}

static fn_status write_text(const char *path, const char *text) {
    return fn_write_file_atomic(path, text, strlen(text));
}

int main(void) {
    /* 1. the fixture from files */
    fn_tensor_set ts;
    CHECK(fn_tfjs_load(FIX "weights_manifest.json", &ts) == FN_OK);
    CHECK(ts.format && !strcmp(ts.format, "tfjs"));
    check_against_expected(&ts, "file");
    fn_tensor_set_free(&ts);

    /* 2. in memory: the shards concatenated in manifest order */
    uint8_t *man, *s1, *s2, *s3; size_t lm, l1, l2, l3;
    CHECK(fn_read_file(FIX "weights_manifest.json", &man, &lm) == FN_OK);
    CHECK(fn_read_file(FIX "group1-shard1of2.bin", &s1, &l1) == FN_OK);
    CHECK(fn_read_file(FIX "group1-shard2of2.bin", &s2, &l2) == FN_OK);
    CHECK(fn_read_file(FIX "group2-shard1of1.bin", &s3, &l3) == FN_OK);
    size_t total = l1 + l2 + l3;
    uint8_t *all = malloc(total);
    memcpy(all, s1, l1); memcpy(all + l1, s2, l2); memcpy(all + l1 + l2, s3, l3);
    CHECK(fn_tfjs_parse((const char *)man, lm, all, total, &ts) == FN_OK);
    check_against_expected(&ts, "memory");
    fn_tensor_set_free(&ts);
    CHECK(fn_tfjs_sniff(man, lm) == 1);
    CHECK(fn_tfjs_sniff((const uint8_t *)"\x89PNG....", 8) == 0);

    /* model.json form */
    size_t ml = lm + 64;
    char *model_json = malloc(ml);
    snprintf(model_json, ml, "{\"format\":\"layers-model\",\"weightsManifest\":%s}", (const char *)man);
    CHECK(fn_tfjs_parse(model_json, strlen(model_json), all, total, &ts) == FN_OK);
    CHECK(ts.n == 6);
    fn_tensor_set_free(&ts);
    free(model_json);

    /* 3. truncated: every shorter prefix of the weights fails cleanly */
    int truncated_ok = 1;
    for (size_t cut = 0; cut < total; cut++) {
        fn_status s = fn_tfjs_parse((const char *)man, lm, all, cut, &ts);
        if (s != FN_ERR_FORMAT || !strstr(fn_last_error(), "truncated")) truncated_ok = 0;
        if (s == FN_OK) fn_tensor_set_free(&ts);
    }
    printf("  every truncation of the %zu weight bytes -> bad file format (truncated)\n", total);
    CHECK(truncated_ok);
    free(man); free(s1); free(s2); free(s3);

    const uint8_t w[16] = { 0 };
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[1000000,1000000,1000000],\"dtype\":\"float32\"}]}]",
                w, 16, FN_ERR_LIMIT, "absurd shape");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[-1],\"dtype\":\"float32\"}]}]", w, 16, FN_ERR_SHAPE, "shape[0]");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[1.5],\"dtype\":\"float32\"}]}]", w, 16, FN_ERR_SHAPE, "shape[0]");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[1,1,1,1,1,1,1,1,1],\"dtype\":\"float32\"}]}]", w, 16, FN_ERR_SHAPE, "dimensions");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[2],\"dtype\":\"complex64\"}]}]", w, 16, FN_ERR_UNSUPPORTED, "complex64");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[2],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"int4\"}}]}]",
                w, 16, FN_ERR_UNSUPPORTED, "int4");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[2],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint8\",\"min\":0}}]}]",
                w, 16, FN_ERR_FORMAT, "scale");
    expect_fail("[{\"paths\":[],\"weights\":[{\"shape\":[2],\"dtype\":\"float32\"}]}]", w, 16, FN_ERR_FORMAT, "name");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"dtype\":\"float32\"}]}]", w, 16, FN_ERR_FORMAT, "shape");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[1]},{\"name\":\"x\",\"shape\":[1]}]}]", w, 16, FN_ERR_FORMAT, "twice");
    expect_fail("[{\"paths\":[]}]", w, 16, FN_ERR_FORMAT, "weights");
    expect_fail("{\"modelTopology\":{}}", w, 16, FN_ERR_FORMAT, "weightsManifest");
    expect_fail("[{\"paths\":[], \"weights\":[", w, 16, FN_ERR_FORMAT, "JSON");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[5],\"dtype\":\"float32\"}]}]", w, 16, FN_ERR_FORMAT, "truncated");
    expect_fail("[{\"paths\":[],\"weights\":[{\"name\":\"x\",\"shape\":[5],\"dtype\":\"float32\"}]}]", NULL, 0, FN_ERR_FORMAT, "truncated");

    /* files: missing shards, paths leaving the folder, missing manifest */
    char dir[] = "/tmp/test_tfjs_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/m.json", dir);
    CHECK(write_text(path, "[{\"paths\":[\"nope.bin\"],\"weights\":[]}]") == FN_OK);
    CHECK(fn_tfjs_load(path, &ts) == FN_ERR_IO);
    printf("  missing shard -> \"%s\"\n", fn_last_error());
    CHECK(write_text(path, "[{\"paths\":[\"../etc/passwd\"],\"weights\":[]}]") == FN_OK);
    CHECK(fn_tfjs_load(path, &ts) == FN_ERR_FORMAT && strstr(fn_last_error(), "relative path"));
    CHECK(write_text(path, "[{\"paths\":[\"/etc/passwd\"],\"weights\":[]}]") == FN_OK);
    CHECK(fn_tfjs_load(path, &ts) == FN_ERR_FORMAT && strstr(fn_last_error(), path)); /* names the manifest */
    remove(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/absent.json", dir);
    CHECK(fn_tfjs_load(path, &ts) == FN_ERR_IO);
    free(all);
    return tu_finish("test_tfjs");
}
