/* model.c — fn_model: open a .safetensors, recognise the architecture by its tensor
 * names, and dispatch embed/crop to it. */
#include "model.h"
#include "facenet.h"
#include "json.h"

const char *fn_tensor_set_meta(const fn_tensor_set *ts, const char *key, char *buf, size_t n) {
    if (!ts->metadata_json || n == 0) return NULL;
    fn_json *doc;
    if (fn_json_parse(ts->metadata_json, strlen(ts->metadata_json), &doc)) { fn_clear_error(); return NULL; }
    const fn_json *v = fn_json_get(doc, key);
    const char *r = NULL;
    if (v && v->type == FN_JSON_STRING) { snprintf(buf, n, "%s", v->string); r = buf; }
    fn_json_free(doc);
    return r;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t k = 0; k < n; k++) { h ^= p[k]; h *= 1099511628211ull; }
    return h;
}

void fn_tensor_set_digest(const fn_tensor_set *ts, char out[65]) {
    uint64_t h = 1469598103934665603ull;
    /* The id names the embeddings, not just the weights: bump this tag whenever the code
     * that turns a crop into an embedding changes, so caches and classifiers made
     * by older code are refused. */
    h = fnv1a(h, FN_EMBEDDING_CODE_VERSION, strlen(FN_EMBEDDING_CODE_VERSION));
    for (int i = 0; i < ts->n; i++) {
        h = fnv1a(h, ts->t[i].name, strlen(ts->t[i].name));
        h = fnv1a(h, ts->t[i].data, ts->t[i].nbytes);
    }
    /* the same weights at another input size or standardisation embed differently; only
     * present keys count, so models without them keep their ids */
    static const char *const keys[] = {"image_size", "standardize", "image_fit"};
    for (int k = 0; k < 3; k++) {
        char v[64];
        if (!fn_tensor_set_meta(ts, keys[k], v, sizeof v)) continue;
        h = fnv1a(h, keys[k], strlen(keys[k]) + 1);
        h = fnv1a(h, v, strlen(v) + 1);
    }
    snprintf(out, 65, "%016llx", (unsigned long long)h);
}

fn_status fn_model_open(const char *path, fn_model **out) {
    *out = NULL;
    fn_tensor_set ts;
    FN_TRY(fn_safetensors_load(path, &ts));
    fn_model *m = calloc(1, sizeof *m);
    if (!m) { fn_tensor_set_free(&ts); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    fn_status s;
    if (fn_tensor_set_find(&ts, "conv2d_1a.conv.weight")) {
        s = fn_irv1_model_create(&ts, m);
    } else if (fn_tensor_set_find(&ts, "conv32_down/q_filters")) { /* int8 (facenet quantize) */
        s = fn_dlib_resnet_int8_model_create(&ts, m);
    } else if (fn_tensor_set_find(&ts, "conv32_down/conv/filters") && fn_tensor_set_find(&ts, "fc")) {
        s = fn_dlib_resnet_model_create(&ts, m);
    } else {
        s = fn_fail(FN_ERR_FORMAT, "%s: not a known embedding model (no Inception-ResNet-v1 or dlib ResNet tensors)", path);
    }
    if (s == FN_OK) fn_tensor_set_digest(&ts, m->id);
    char fit[16];
    if (s == FN_OK && fn_tensor_set_meta(&ts, "image_fit", fit, sizeof fit) && !strcmp(fit, "stretch")) m->stretch_aligned = 1;
    fn_tensor_set_free(&ts);
    if (s) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fn_last_error());
        free(m);
        if (!strstr(msg, path)) return fn_fail(s, "%s: %s", path, msg);
        return fn_fail(s, "%s", msg);
    }
    *out = m;
    return FN_OK;
}

void fn_model_close(fn_model *m) {
    if (!m) return;
    if (m->destroy) m->destroy(m);
    free(m);
}

int fn_model_dim(const fn_model *m) { return m->dim; }
int fn_model_input_size(const fn_model *m) { return m->input_size; }
const char *fn_model_arch(const fn_model *m) { return m->arch; }
const char *fn_model_id(const fn_model *m) { return m->id; }
void fn_model_set_standardize(fn_model *m, fn_standardize s) { m->standardize = s; }

fn_status fn_model_embed(fn_model *m, const fn_image *crops, int n, float *out) {
    if (n < 0 || (n > 0 && (!crops || !out))) return fn_fail(FN_ERR_ARG, "embed: bad arguments");
    for (int i = 0; i < n; i++)
        if (crops[i].w != m->input_size || crops[i].h != m->input_size || !crops[i].rgb)
            return fn_fail(FN_ERR_SHAPE, "embed: crop %d is %dx%d, the model needs %dx%d", i,
                           crops[i].w, crops[i].h, m->input_size, m->input_size);
    if (n == 0) return FN_OK;
    return m->embed(m, crops, n, out);
}

fn_status fn_model_crop(const fn_model *m, const fn_image *img, const fn_face *face, fn_image *out) {
    if (m->crop == FN_CROP_CHIP5)
        return fn_align_chip(img, face->landmarks, m->input_size, m->chip_padding, out);
    return fn_crop_margin(img, face->box, m->crop_margin, m->input_size, out);
}
