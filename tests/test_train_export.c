/* test_train_export.c — a REDUCED network exported by training (depth 1,1,1, width 0.5,
 * 96x96 input, 64-d) opens with fn_model_open and embeds like the training network.
 * 1. fn_train (triplet loss, 3 steps on 5 ORL people) writes MODELS/model.safetensors;
 * 2. fn_model_open reads its architecture: dim 64, input 96, standardisation as trained;
 * 3. fn_model_embed of real ORL crops (uint8, the inference network) equals the training
 *    network's inference-mode forward of the same exported weights (max-abs 1e-4), for
 *    fixed and prewhiten standardisation;
 * 4. the model id covers what the tensors do not say: the same tensors with another
 *    image_size or standardize in the metadata get another id, and a file without those
 *    keys keeps the id it had before they existed. */
#include "test_util.h"
#include "train/train.h"
#include "nets/inception_resnet_v1.h"
#include <sys/stat.h>
#include <unistd.h>

static char root[512];

static void make_data(char *data_dir, size_t n) {
    snprintf(root, sizeof root, "%.400s/train_test_export", FN_BUILD_DIR);
    mkdir(root, 0777);
    snprintf(data_dir, n, "%.450s/data", root);
    tu_link_orl(data_dir, 1, 5);
}

/* Trains 3 steps and returns the exported model's path in out. */
static int train_reduced(const char *data_dir, const char *name, fn_standardize std, char *out, size_t n) {
    fn_train_options o;
    fn_train_options_default(&o, FN_TRAIN_TRIPLET);
    char models[600];
    snprintf(models, sizeof models, "%.500s/%s", root, name);
    o.data_dir = data_dir;
    o.models_dir = models;
    o.net.depth[0] = o.net.depth[1] = o.net.depth[2] = 1;
    o.net.width = 0.5f;
    o.net.image_size = 96;
    o.net.dim = 64;
    o.net.bn_decay = 0.5f; /* BN statistics move far from init in 3 steps: a real check */
    o.people_per_batch = 3;
    o.images_per_person = 3;
    o.batch_size = 9;
    o.epoch_size = 3;
    o.max_epochs = 1;
    o.max_steps = 3;
    o.learning_rate = 0.05f;
    o.standardize = std;
    fn_status s = fn_train(&o, NULL);
    if (s) { fprintf(stderr, "fn_train: %s: %s\n", fn_status_str(s), fn_last_error()); return 0; }
    snprintf(out, n, "%s/model.safetensors", models);
    return 1;
}

static void check_embeddings(const char *path, fn_standardize std) {
    fn_model *m = NULL;
    fn_status s = fn_model_open(path, &m);
    CHECK_MSG(s == FN_OK, "fn_model_open(%s): %s", path, fn_last_error());
    if (s) return;
    printf("  opened: arch %s, dim %d, input %d, id %s\n", fn_model_arch(m), fn_model_dim(m), fn_model_input_size(m), fn_model_id(m));
    CHECK(!strcmp(fn_model_arch(m), "inception_resnet_v1"));
    CHECK(fn_model_dim(m) == 64);
    CHECK(fn_model_input_size(m) == 96);
    CHECK(m->standardize == std);

    /* the training network on the same file */
    fn_tensor_set ts;
    fn_trainnet_config cfg;
    fn_trainnet_config_default(&cfg);
    fn_trainnet *net = NULL;
    CHECK(fn_safetensors_load(path, &ts) == FN_OK);
    CHECK(fn_trainnet_config_from_model(&ts, &cfg) == FN_OK);
    CHECK(cfg.depth[0] == 1 && cfg.depth[1] == 1 && cfg.depth[2] == 1 && cfg.width == 0.5f && cfg.image_size == 96);
    CHECK(fn_trainnet_create(&cfg, &net) == FN_OK);
    if (net) CHECK(fn_trainnet_import(net, &ts) == FN_OK);
    fn_tensor_set_free(&ts);

    enum { N = 4, S = 96 };
    fn_image crops[N];
    float *x = malloc(sizeof(float) * N * S * S * 3), ref[N * 64], got[N * 64];
    for (int i = 0; i < N; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/data/orl/s%d/%d.pgm", FN_SHARED_DIR, i + 1, i + 2);
        fn_image img;
        CHECK(fn_image_load(p, 1, &img) == FN_OK);
        CHECK(fn_image_resize(&img, S, S, &crops[i]) == FN_OK);
        fn_image_free(&img);
        fn_irv1_standardize(&crops[i], std, x + (size_t)i * S * S * 3);
    }
    if (net && fn_trainnet_forward(net, x, N, 0, NULL) == FN_OK) {
        memcpy(ref, net->bufs[net->embedding].x, sizeof ref);
        CHECK(fn_model_embed(m, crops, N, got) == FN_OK);
        CHECK_CLOSE("fn_model_embed vs training forward", got, ref, N * 64, 1e-4);
        /* not trivially equal: the images differ from one another */
        CHECK(tu_max_abs(ref, ref + 64, 64) > 1e-3);
    } else CHECK(!"training forward failed");
    for (int i = 0; i < N; i++) fn_image_free(&crops[i]);
    free(x);
    fn_trainnet_free(net);
    fn_model_close(m);
}

/* id of a copy of path whose metadata is meta */
static void id_with_meta(const char *path, const char *meta, char id[65]) {
    fn_tensor_set ts;
    char copy[700];
    snprintf(copy, sizeof copy, "%.500s/meta_copy.safetensors", root);
    CHECK(fn_safetensors_load(path, &ts) == FN_OK);
    CHECK(fn_safetensors_save(copy, &ts, meta) == FN_OK);
    fn_tensor_set_free(&ts);
    fn_model *m = NULL;
    id[0] = 0;
    fn_status s = fn_model_open(copy, &m);
    CHECK_MSG(s == FN_OK, "open with metadata %s: %s", meta ? meta : "(none)", fn_last_error());
    if (m) snprintf(id, 65, "%s", fn_model_id(m));
    fn_model_close(m);
}

int main(void) {
    char data[600], fixed[700], white[700];
    make_data(data, sizeof data);
    printf("1. train a reduced network (depth 1,1,1, width 0.5, 96 px, 64-d) for 3 steps\n");
    CHECK(train_reduced(data, "fixed", FN_STD_FIXED, fixed, sizeof fixed));
    CHECK(train_reduced(data, "prewhiten", FN_STD_PREWHITEN, white, sizeof white));
    printf("2-3. the export through fn_model_open vs the training network\n");
    check_embeddings(fixed, FN_STD_FIXED);
    check_embeddings(white, FN_STD_PREWHITEN);

    printf("4. the model id covers image_size and standardize\n");
    char a[65], b[65], c[65], d[65];
    id_with_meta(fixed, "{\"image_size\":\"96\",\"standardize\":\"fixed\"}", a);
    id_with_meta(fixed, "{\"image_size\":\"112\",\"standardize\":\"fixed\"}", b);
    id_with_meta(fixed, "{\"image_size\":\"96\",\"standardize\":\"prewhiten\"}", c);
    id_with_meta(fixed, "{\"image_size\":\"96\",\"standardize\":\"fixed\",\"trained_by\":\"someone else\"}", d);
    printf("  ids: %s (96, fixed), %s (112), %s (prewhiten), %s (other provenance)\n", a, b, c, d);
    CHECK(strcmp(a, b) && strcmp(a, c) && strcmp(b, c));
    CHECK(!strcmp(a, d));
    /* the pre-existing digest (names + bytes) for a file without those keys */
    fn_tensor_set ts;
    CHECK(fn_safetensors_load(fixed, &ts) == FN_OK);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = FN_EMBEDDING_CODE_VERSION; *p; p++) { h ^= (uint8_t)*p; h *= 1099511628211ull; }
    for (int i = 0; i < ts.n; i++) {
        for (const char *p = ts.t[i].name; *p; p++) { h ^= (uint8_t)*p; h *= 1099511628211ull; }
        const uint8_t *p = ts.t[i].data;
        for (size_t k = 0; k < ts.t[i].nbytes; k++) { h ^= p[k]; h *= 1099511628211ull; }
    }
    fn_tensor_set_free(&ts);
    char want[65], e[65];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)h);
    id_with_meta(fixed, "{\"arch\":\"inception_resnet_v1\"}", e);
    printf("  without image_size/standardize: %s (digest of names + bytes: %s)\n", e, want);
    CHECK(!strcmp(e, want));
    /* an input size the network cannot take is refused with the reason */
    fn_safetensors_load(fixed, &ts);
    char bad[700];
    snprintf(bad, sizeof bad, "%.500s/bad_size.safetensors", root);
    fn_safetensors_save(bad, &ts, "{\"image_size\":\"40\"}");
    fn_tensor_set_free(&ts);
    fn_model *m = NULL;
    fn_status s = fn_model_open(bad, &m);
    printf("  image_size 40 -> %s: %s\n", fn_status_str(s), fn_last_error());
    CHECK(s == FN_ERR_FORMAT && !m && strstr(fn_last_error(), "image_size"));
    return tu_finish("test_train_export");
}
