/* fuzz_int8_model.c — libFuzzer target for the int8 model loader
 * (fn_dlib_resnet_int8_model_create, nets/dlib_resnet_int8.c). The container is
 * fuzz_safetensors' job; here the input edits a valid int8 dlib ResNet tensor set built once
 * in memory (deterministic weights and scales): each 8-byte record picks a tensor and either
 * patches 4 bytes of its data, changes its dtype or a dimension, or drops it. Whatever the
 * edits, the loader must accept or refuse cleanly (no crash, no read out of bounds). */
#include "tensors.h"
#include "nets/model.h"

static const char *const blocks[14] = { "conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2",
                                        "conv64_3", "conv128_down", "conv128_1", "conv128_2", "conv256_down",
                                        "conv256_1", "conv256_2", "conv256_down_out" };
static const int couts[14] = { 32, 32, 32, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256, 256 };

static void add(fn_tensor_set *ts, const char *prefix, const char *what, fn_dtype dt, int ndim, const int64_t *shape) {
    char name[128];
    snprintf(name, sizeof name, prefix ? "%s/%s" : "%s%s", prefix ? prefix : "", what);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    size_t bytes = (size_t)n * fn_dtype_size(dt);
    uint8_t *p = malloc(bytes);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)(i * 37 + 11) & 0x7f; /* no -128 weights */
    if (dt == FN_F32)
        for (int64_t i = 0; i < n; i++) ((float *)p)[i] = 0.01f + 0.001f * (float)(i % 7);
    fn_tensor_set_add(ts, name, dt, ndim, shape, p, 1);
}

static void add_conv(fn_tensor_set *ts, const char *prefix, int k, int cin, int cout) {
    add(ts, prefix, "q_filters", FN_I8, 4, (int64_t[]){ k, k, cin, cout });
    add(ts, prefix, "q_wscale", FN_F32, 1, (int64_t[]){ cout });
    add(ts, prefix, "q_bias", FN_I32, 1, (int64_t[]){ cout });
    add(ts, prefix, "q_in_scale", FN_F32, 1, (int64_t[]){ 1 });
}

static void build(fn_tensor_set *ts) {
    fn_tensor_set_init(ts);
    add_conv(ts, "conv32_down", 7, 3, 32);
    for (int b = 0; b < 14; b++) {
        char p[64];
        const int cin = b == 0 ? 32 : couts[b - 1];
        snprintf(p, sizeof p, "%s/conv1", blocks[b]);
        add_conv(ts, p, 3, cin, couts[b]);
        snprintf(p, sizeof p, "%s/conv2", blocks[b]);
        add_conv(ts, p, 3, couts[b], couts[b]);
    }
    add(ts, NULL, "fc", FN_F32, 2, (int64_t[]){ 256, 128 });
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fn_tensor_set base;
    static int built = 0;
    if (!built) { build(&base); built = 1; }
    fn_tensor_set ts;
    fn_tensor_set_init(&ts);
    uint8_t *dropped = calloc(base.n, 1);
    for (size_t r = 0; r + 8 <= size && r < 8 * 64; r += 8) /* at most 64 edits */
        if (data[r + 1] % 16 == 15) dropped[data[r] % base.n] = 1;
    for (int i = 0; i < base.n; i++) {
        if (dropped[i]) continue;
        void *copy = malloc(base.t[i].nbytes);
        memcpy(copy, base.t[i].data, base.t[i].nbytes);
        fn_tensor_set_add(&ts, base.t[i].name, base.t[i].dtype, base.t[i].ndim, base.t[i].shape, copy, 1);
    }
    for (size_t r = 0; r + 8 <= size && r < 8 * 64 && ts.n > 0; r += 8) {
        fn_tensor *t = &ts.t[data[r] % ts.n];
        const uint8_t kind = data[r + 1] % 16;
        const uint32_t off = (uint32_t)data[r + 2] | (uint32_t)data[r + 3] << 8 | (uint32_t)data[r + 4] << 16;
        if (kind < 12 && t->nbytes >= 4) memcpy((uint8_t *)t->data + (off % (t->nbytes - 3)), data + r + 4, 4);
        else if (kind == 12) t->dtype = (fn_dtype)(data[r + 5] % 10);
        else if (kind == 13 || kind == 14) t->shape[data[r + 5] % t->ndim] = (int64_t)data[r + 6] - 1;
    }
    fn_model m = { 0 };
    if (fn_dlib_resnet_int8_model_create(&ts, &m) == FN_OK) m.destroy(&m);
    fn_tensor_set_free(&ts);
    free(dropped);
    return 0;
}
