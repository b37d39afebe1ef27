/* test_dlib_resnet.c — the dlib ResNet against face-api itself (the peer): the raw 128-d
 * descriptors of 4 committed 150×150 chips must match face-api's computeFaceDescriptor
 * (tools/faceapi_reference/descriptors.js, TF.js wasm backend) to max-abs 1e-4; and the
 * model as fn_model: the embedding is the L2-normalised sum of face-api's descriptors of the
 * chip and of its mirror image (1e-4), batching, arch/dim/crop facts. */
#include "test_util.h"
#include "core.h"
#include "json.h"
#include "nets/dlib_resnet.h"

#define MODEL FN_SOURCE_DIR "/models/dlib_resnet.safetensors"
#define FIX FN_SOURCE_DIR "/tests/fixtures/dlib/"
#define N_CHIPS 4

int main(void) {
    fn_model *m;
    if (fn_model_open(MODEL, &m) != FN_OK) {
        fprintf(stderr, "FAIL: cannot open %s (%s): run scripts/get-models.sh "
                        "(or scripts/get-faceapi-model.sh)\n", MODEL, fn_last_error());
        return 1;
    }
    CHECK(!strcmp(fn_model_arch(m), "dlib_resnet"));
    CHECK(fn_model_dim(m) == 128);
    CHECK(fn_model_input_size(m) == 150);
    CHECK(m->crop == FN_CROP_CHIP5 && fabsf(m->chip_padding - 0.25f) < 1e-6f);

    uint8_t *text; size_t len;
    fn_json *root = NULL;
    CHECK(fn_read_file(FIX "descriptors.json", &text, &len) == FN_OK);
    CHECK(fn_json_parse((const char *)text, len, &root) == FN_OK);
    free(text);
    const fn_json *descs = root ? fn_json_get(root, "descriptors") : NULL;
    const fn_json *mdescs = root ? fn_json_get(root, "mirrored") : NULL;
    CHECK(descs && descs->type == FN_JSON_OBJECT && mdescs && mdescs->type == FN_JSON_OBJECT);

    fn_image chips[N_CHIPS];
    float ref[N_CHIPS][128], mref[N_CHIPS][128], raw[N_CHIPS][128], emb[N_CHIPS][128], one[128];
    for (int i = 0; i < N_CHIPS; i++) {
        char name[64], path[512];
        snprintf(name, sizeof name, "chip_%d.png", i);
        snprintf(path, sizeof path, FIX "%s", name);
        if (fn_image_load(path, 0, &chips[i]) != FN_OK) { fprintf(stderr, "FAIL load %s: %s\n", path, fn_last_error()); return 1; }
        const fn_json *d = descs ? fn_json_get(descs, name) : NULL;
        CHECK_MSG(d && d->type == FN_JSON_ARRAY && d->n == 128, "%s: no 128-d reference descriptor", name);
        for (int k = 0; k < 128; k++) ref[i][k] = d && d->n == 128 ? (float)d->items[k].number : 0;
        const fn_json *md = mdescs ? fn_json_get(mdescs, name) : NULL;
        CHECK_MSG(md && md->type == FN_JSON_ARRAY && md->n == 128, "%s: no mirrored reference descriptor", name);
        for (int k = 0; k < 128; k++) mref[i][k] = md && md->n == 128 ? (float)md->items[k].number : 0;
    }
    fn_json_free(root);

    /* batch of 4 (one chunk), raw output vs face-api */
    double t0 = fn_now();
    CHECK(fn_dlib_resnet_forward(m, chips, N_CHIPS, &raw[0][0]) == FN_OK);
    double dt = fn_now() - t0;
    printf("  forward of %d chips: %.1f ms (%.1f ms/chip)\n", N_CHIPS, dt * 1e3, dt * 1e3 / N_CHIPS);
    for (int i = 0; i < N_CHIPS; i++) {
        char what[64];
        snprintf(what, sizeof what, "chip_%d raw descriptor vs face-api", i);
        CHECK_CLOSE(what, raw[i], ref[i], 128, 1e-4);
    }
    /* batch 1 gives the same numbers as the batch */
    CHECK(fn_dlib_resnet_forward(m, &chips[2], 1, one) == FN_OK);
    CHECK_CLOSE("chip_2 alone vs in a batch", one, raw[2], 128, 1e-6);

    /* embed = L2-normalised sum of the descriptors of the chip and of its mirror image */
    CHECK(fn_model_embed(m, chips, N_CHIPS, &emb[0][0]) == FN_OK);
    for (int i = 0; i < N_CHIPS; i++) {
        double n2 = 0, r2 = 0;
        float refn[128];
        for (int k = 0; k < 128; k++) {
            refn[k] = ref[i][k] + mref[i][k];
            n2 += (double)emb[i][k] * emb[i][k];
            r2 += (double)refn[k] * refn[k];
        }
        for (int k = 0; k < 128; k++) refn[k] = (float)(refn[k] / sqrt(r2));
        CHECK_MSG(fabs(n2 - 1) < 1e-5, "embedding %d has squared norm %g", i, n2);
        CHECK_CLOSE("embedding vs face-api (chip + mirror)", emb[i], refn, 128, 1e-4);
    }
    /* the mirror of a chip embeds the same (the sum is symmetric) */
    {
        fn_image mir;
        CHECK(fn_image_alloc(150, 150, &mir) == FN_OK);
        for (int y = 0; y < 150; y++)
            for (int x = 0; x < 150; x++) memcpy(mir.rgb + (y * 150 + x) * 3, chips[3].rgb + (y * 150 + 149 - x) * 3, 3);
        CHECK(fn_model_embed(m, &mir, 1, one) == FN_OK);
        CHECK_CLOSE("embedding of the mirrored chip", one, emb[3], 128, 1e-6);
        fn_image_free(&mir);
    }
    /* chips 0 and 1 are Anthony Hopkins; 2 and 3 are other people */
    float same = fn_distance_sq(emb[0], emb[1], 128);
    printf("  squared distance: same person %.3f, different %.3f %.3f %.3f %.3f\n", same,
           fn_distance_sq(emb[0], emb[2], 128), fn_distance_sq(emb[0], emb[3], 128),
           fn_distance_sq(emb[1], emb[2], 128), fn_distance_sq(emb[2], emb[3], 128));
    CHECK(same < fn_distance_sq(emb[0], emb[2], 128) && same < fn_distance_sq(emb[0], emb[3], 128));
    CHECK(same < fn_distance_sq(emb[1], emb[2], 128) && same < fn_distance_sq(emb[2], emb[3], 128));

    /* wrong crop size is a clear error */
    fn_image bad;
    CHECK(fn_image_alloc(160, 160, &bad) == FN_OK);
    CHECK(fn_model_embed(m, &bad, 1, one) == FN_ERR_SHAPE);
    fn_image_free(&bad);

    for (int i = 0; i < N_CHIPS; i++) fn_image_free(&chips[i]);
    fn_model_close(m);
    return tu_finish("test_dlib_resnet");
}
