/* dlib_resnet_int8.c — the dlib ResNet (nets/dlib_resnet.c) with int8 convolutions
 * (issue 18): quantisation from the float model and the int8 forward pass.
 *
 * Every conv runs as u8 activations × s8 weights (ops/ops_int8.h):
 *   stem     the crop's bytes themselves (scale 1/255, zero point 0); the mean subtraction
 *            is folded into the bias, exact because the stem is VALID (no padding taps)
 *   conv1    trunk x (float, after ReLU) quantised with its calibrated scale; the output is
 *            requantised in the epilogue (bias, ReLU, round to u8) for conv2
 *   conv2    dequantised in the epilogue, the residual add and ReLU fused (plain blocks),
 *            or into a float buffer for the residual_down shortcut
 * The trunk stays float between blocks, so the residual sums lose nothing; the final
 * 256×128 matrix product (0.1% of the work) stays float too.
 *
 * Weights: symmetric int8 per output channel, scale max|w| / 127. Biases: int32 in units of
 * in_scale · w_scale. Activation scales: the given percentile of the conv's input values
 * over the calibration crops (and their mirror images, as the embedding sees both), / 255.
 *
 * The file (facenet quantize): for each conv, NAME/q_filters (I8, HWIO), NAME/q_wscale
 * (F32, Cout), NAME/q_bias (I32, Cout), NAME/q_in_scale (F32, 1); fc (F32); metadata
 * {"quantization":"int8", "calibration": ..., ...}. */
#include "dlib_resnet.h"
#include "ops/ops_int8.h"
#include "tensors.h"

typedef struct {
    fn_qconv q;
    int32_t *bias;   /* Cout */
    float *scale;    /* Cout: the epilogue's multiplier */
    float in_scale;
    int k, cin, cout, stride;
} qlayer;

typedef struct {
    qlayer conv[FN_DLIB_CONVS];
    float *fc; /* (256, 128) */
} qnet;

#define CHUNK 8 /* images per forward chunk, as the float net */
#define STEM_OUT 72
#define TRUNK 35

static const float mean_rgb[3] = { 122.782f, 117.001f, 104.298f };
static const char *const block_names[14] = {
    "conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2", "conv64_3",
    "conv128_down", "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2", "conv256_down_out",
};
static const int block_cout[14] = { 32, 32, 32, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256, 256 };

static void conv_prefix(int i, char *buf, size_t n) {
    if (i == 0) snprintf(buf, n, "conv32_down");
    else snprintf(buf, n, "%s/%s", block_names[(i - 1) / 2], (i - 1) % 2 == 0 ? "conv1" : "conv2");
}

static void conv_geometry(int i, int *k, int *cin, int *cout, int *stride) {
    if (i == 0) { *k = 7; *cin = 3; *cout = 32; *stride = 2; return; }
    const int b = (i - 1) / 2, first = (i - 1) % 2 == 0;
    const int down = b == 3 || b == 7 || b == 10 || b == 13;
    *k = 3;
    *cout = block_cout[b];
    *cin = first ? (b == 0 ? 32 : block_cout[b - 1]) : block_cout[b];
    *stride = first && down ? 2 : 1;
}

static int is_down_block(int b) { return b == 3 || b == 7 || b == 10 || b == 13; }

static void free_qnet(qnet *net) {
    if (!net) return;
    for (int i = 0; i < FN_DLIB_CONVS; i++) {
        fn_qconv_free(&net->conv[i].q);
        fn_free(net->conv[i].bias);
        fn_free(net->conv[i].scale);
    }
    fn_free(net->fc);
    free(net);
}

static void destroy(struct fn_model *m) {
    free_qnet(m->impl);
    m->impl = NULL;
}

/* ------------------------------------------------------------------ forward */
typedef struct { const qnet *net; const fn_image *crops; float *out; } forward_job;

static void qconv(const qlayer *L, const uint8_t *in, int n, int H, int W, fn_qout kind, int residual, int relu,
                  void *out, uint8_t *ws, int *OH, int *OW) {
    fn_conv_shape s;
    fn_conv_shape_init(&s, n, H, W, L->cin, L->cout, L->k, L->k, L->stride, L->stride,
                       L->stride == 1 ? FN_PAD_SAME : FN_PAD_VALID);
    fn_qepilogue e = { kind, L->bias, L->scale, residual, relu, out, L->cout };
    fn_conv2d_u8_forward(in, L->cin, &L->q, &s, &e, ws);
    *OH = s.OH; *OW = s.OW;
}

static size_t workspace_bytes(const qnet *net, int chunk) {
    fn_conv_shape s;
    int H = FN_DLIB_INPUT, W = FN_DLIB_INPUT;
    size_t ws = 0;
    for (int i = 0; i < FN_DLIB_CONVS; i++) {
        const qlayer *L = &net->conv[i];
        fn_conv_shape_init(&s, chunk, H, W, L->cin, L->cout, L->k, L->k, L->stride, L->stride,
                           L->stride == 1 ? FN_PAD_SAME : FN_PAD_VALID);
        size_t b = fn_conv2d_u8_workspace(&s, &L->q);
        if (b > ws) ws = b;
        if (i == 0) { H = W = TRUNK; continue; }          /* after the max-pool */
        if (i % 2 == 0 && is_down_block((i - 1) / 2)) { H /= 2; W /= 2; }
    }
    return ws;
}

static void forward_chunk(const qnet *net, const fn_image *crops, int n, float *out, float *x, float *f1,
                          uint8_t *q0, uint8_t *q1, uint8_t *ws) {
    const int S = FN_DLIB_INPUT;
    for (int i = 0; i < n; i++) memcpy(q0 + (size_t)i * S * S * 3, crops[i].rgb, (size_t)S * S * 3);
    int H, W;
    qconv(&net->conv[0], q0, n, S, S, FN_QOUT_F32, 0, 1, f1, ws, &H, &W); /* 72 */
    const int PH = (H - 3) / 2 + 1, PW = (W - 3) / 2 + 1;                  /* 35 */
    fn_maxpool_forward(x, 32, f1, 32, n, H, W, 32, 3, 2, 0, 0, PH, PW);
    H = PH; W = PW;
    for (int b = 0; b < 14; b++) {
        const qlayer *c1 = &net->conv[1 + 2 * b], *c2 = &net->conv[2 + 2 * b];
        int h1, w1, h2, w2;
        fn_quantize_u8(q0, c1->cin, x, c1->cin, (long)n * H * W, c1->cin, 1.0f / c1->in_scale, 0);
        qconv(c1, q0, n, H, W, FN_QOUT_U8, 0, 1, q1, ws, &h1, &w1);
        if (!is_down_block(b)) { /* x = relu(x + conv2(...)) */
            qconv(c2, q1, n, h1, w1, FN_QOUT_F32, 1, 1, x, ws, &h2, &w2);
            continue;
        }
        qconv(c2, q1, n, h1, w1, FN_QOUT_F32, 0, 0, f1, ws, &h2, &w2);
        float *sc = f1 + (size_t)n * h2 * w2 * c2->cout;
        fn_dlib_resnet_down_shortcut(sc, x, f1, n, H, W, c1->cin, c2->cout, h2, w2);
        H /= 2; W /= 2;
        memcpy(x, sc, sizeof(float) * (size_t)n * H * W * c2->cout);
    }
    float pooled[CHUNK * 256];
    fn_global_avgpool_forward(pooled, x, n, H * W, 256);
    fn_dense_forward(out, pooled, net->fc, NULL, n, 256, FN_DLIB_DIM);
}

static fn_status forward_range(void *ctx, int i0, int i1, int worker) {
    const forward_job *j = ctx;
    const int S = FN_DLIB_INPUT, n = i1 - i0, chunk = n < CHUNK ? n : CHUNK;
    if (chunk <= 0) return FN_OK;
    const size_t stem = (size_t)chunk * STEM_OUT * STEM_OUT * 32, trunk = (size_t)chunk * TRUNK * TRUNK * 32;
    const size_t in = (size_t)chunk * S * S * 3, wsz = workspace_bytes(j->net, chunk);
    float *x = fn_malloc(sizeof(float) * trunk), *f1 = fn_malloc(sizeof(float) * stem);
    uint8_t *q0 = fn_malloc(in > trunk ? in : trunk), *q1 = fn_malloc(trunk), *ws = fn_malloc(wsz ? wsz : 1);
    fn_status st = FN_OK;
    if (!x || !f1 || !q0 || !q1 || !ws) st = fn_fail(FN_ERR_NOMEM, "dlib ResNet int8: out of memory");
    for (int k = 0; st == FN_OK && k < n; k += chunk) {
        const int nb = n - k < chunk ? n - k : chunk;
        forward_chunk(j->net, j->crops + i0 + k, nb, j->out + (size_t)(i0 + k) * FN_DLIB_DIM, x, f1, q0, q1, ws);
    }
    fn_free(x); fn_free(f1); fn_free(q0); fn_free(q1); fn_free(ws);
    return st;
}

static fn_status forward(struct fn_model *m, const fn_image *crops, int n, float *out) {
    if (n <= 0) return FN_OK;
    forward_job j = { m->impl, crops, out };
    return fn_parallel_split(n, 1, forward_range, &j);
}

fn_status fn_dlib_resnet_int8_forward(struct fn_model *m, const fn_image *crops, int n, float *out) {
    for (int i = 0; i < n; i++)
        if (crops[i].w != FN_DLIB_INPUT || crops[i].h != FN_DLIB_INPUT || !crops[i].rgb)
            return fn_fail(FN_ERR_SHAPE, "dlib ResNet int8: crop %d is %dx%d, needs %dx%d", i, crops[i].w,
                           crops[i].h, FN_DLIB_INPUT, FN_DLIB_INPUT);
    return forward(m, crops, n, out);
}

static fn_status embed(struct fn_model *m, const fn_image *crops, int n, float *out) {
    return fn_dlib_resnet_embed_with(m, crops, n, out, forward);
}

/* ------------------------------------------------------------------ loading */
static fn_status get_tensor(const fn_tensor_set *ts, const char *name, fn_dtype dt, int ndim, const int64_t *shape,
                            const void **data) {
    const fn_tensor *t = fn_tensor_set_find(ts, name);
    if (!t) return fn_fail(FN_ERR_FORMAT, "int8 model: missing tensor %s", name);
    int ok = t->dtype == dt && t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) return fn_fail(FN_ERR_FORMAT, "int8 model: tensor %s is not %s of the expected shape", name, fn_dtype_name(dt));
    *data = t->data;
    return FN_OK;
}

static int scale_ok(float s) { return isfinite(s) && s > 0.0f && s < 1e30f; }

/* Builds layer i's runtime form; out_scale: the next layer's input scale for a
 * requantising conv1 (0 for float-output convs). */
static fn_status layer_init(qlayer *L, int i, const int8_t *w, const float *wscale, const int32_t *bias,
                            float in_scale, float out_scale) {
    conv_geometry(i, &L->k, &L->cin, &L->cout, &L->stride);
    L->in_scale = in_scale;
    L->bias = fn_malloc(sizeof(int32_t) * L->cout);
    L->scale = fn_malloc(sizeof(float) * L->cout);
    if (!L->bias || !L->scale) return fn_fail(FN_ERR_NOMEM, "int8 model: out of memory");
    for (int n = 0; n < L->cout; n++) {
        if (!scale_ok(wscale[n])) return fn_fail(FN_ERR_FORMAT, "int8 model: conv %d has a bad weight scale", i);
        L->bias[n] = bias[n];
        L->scale[n] = out_scale > 0 ? in_scale * wscale[n] / out_scale : in_scale * wscale[n];
        if (!isfinite(L->scale[n])) return fn_fail(FN_ERR_FORMAT, "int8 model: conv %d scales overflow", i);
    }
    for (long k = 0; k < (long)L->k * L->k * L->cin * L->cout; k++)
        if (w[k] == -128) return fn_fail(FN_ERR_FORMAT, "int8 model: conv %d has a weight of -128 (symmetric int8 is -127..127)", i);
    return fn_qconv_init(&L->q, w, L->k, L->k, L->cin, L->cout, L->stride, L->stride,
                         L->stride == 1 ? FN_PAD_SAME : FN_PAD_VALID, 0);
}

fn_status fn_dlib_resnet_int8_model_create(const fn_tensor_set *ts, struct fn_model *m) {
    qnet *net = calloc(1, sizeof *net);
    if (!net) return fn_fail(FN_ERR_NOMEM, "out of memory");
    float in_scale[FN_DLIB_CONVS];
    fn_status s = FN_OK;
    for (int i = 0; i < FN_DLIB_CONVS && s == FN_OK; i++) {
        char p[96], name[128];
        conv_prefix(i, p, sizeof p);
        const float *v;
        snprintf(name, sizeof name, "%s/q_in_scale", p);
        s = get_tensor(ts, name, FN_F32, 1, (int64_t[]){ 1 }, (const void **)&v);
        if (s == FN_OK && !scale_ok(v[0])) s = fn_fail(FN_ERR_FORMAT, "int8 model: %s is not a positive finite scale", name);
        if (s == FN_OK) in_scale[i] = v[0];
    }
    for (int i = 0; i < FN_DLIB_CONVS && s == FN_OK; i++) {
        int k, cin, cout, stride;
        conv_geometry(i, &k, &cin, &cout, &stride);
        char p[96], name[128];
        conv_prefix(i, p, sizeof p);
        const void *w, *ws, *b;
        snprintf(name, sizeof name, "%s/q_filters", p);
        s = get_tensor(ts, name, FN_I8, 4, (int64_t[]){ k, k, cin, cout }, &w);
        snprintf(name, sizeof name, "%s/q_wscale", p);
        if (s == FN_OK) s = get_tensor(ts, name, FN_F32, 1, (int64_t[]){ cout }, &ws);
        snprintf(name, sizeof name, "%s/q_bias", p);
        if (s == FN_OK) s = get_tensor(ts, name, FN_I32, 1, (int64_t[]){ cout }, &b);
        const int requant = i > 0 && (i - 1) % 2 == 0; /* conv1 of a block feeds conv2 as u8 */
        if (s == FN_OK) s = layer_init(&net->conv[i], i, w, ws, b, in_scale[i], requant ? in_scale[i + 1] : 0);
    }
    const void *fc;
    if (s == FN_OK) s = get_tensor(ts, "fc", FN_F32, 2, (int64_t[]){ 256, FN_DLIB_DIM }, &fc);
    if (s == FN_OK) {
        if (!(net->fc = fn_malloc(sizeof(float) * 256 * FN_DLIB_DIM))) s = fn_fail(FN_ERR_NOMEM, "out of memory");
        else memcpy(net->fc, fc, sizeof(float) * 256 * FN_DLIB_DIM);
        for (int i = 0; s == FN_OK && i < 256 * FN_DLIB_DIM; i++)
            if (!isfinite(net->fc[i])) s = fn_fail(FN_ERR_FORMAT, "int8 model: fc holds a non-finite value");
    }
    if (s) { free_qnet(net); return s; }
    fn_dlib_resnet_set_facts(m);
    m->int8 = 1;
    m->impl = net;
    m->embed = embed;
    m->destroy = destroy;
    return FN_OK;
}

/* ------------------------------------------------------------------ quantisation */
/* A histogram of non-negative values over [0, hi) that doubles hi (merging bin pairs) when a
 * larger value arrives: exact counts without a first pass for the range. */
#define HBINS 4096
typedef struct { double hi; uint64_t count[HBINS], total; } histogram;
typedef struct { histogram h[FN_DLIB_CONVS]; } calib;

static void hist_add(histogram *h, const float *x, long n) {
    for (long i = 0; i < n; i++) {
        double v = x[i] > 0 ? x[i] : 0;
        if (h->hi == 0) h->hi = v > 0 ? v * 1.0001 : 0;
        while (v >= h->hi && h->hi > 0) {
            for (int b = 0; b < HBINS / 2; b++) h->count[b] = h->count[2 * b] + h->count[2 * b + 1];
            memset(h->count + HBINS / 2, 0, sizeof(uint64_t) * HBINS / 2);
            h->hi *= 2;
        }
        int b = h->hi > 0 ? (int)(v / h->hi * HBINS) : 0;
        h->count[b < HBINS ? b : HBINS - 1]++;
        h->total++;
    }
}

/* the upper edge of the bin where the cumulative count reaches percentile % */
static double hist_percentile(const histogram *h, double percentile) {
    const double want = h->total * percentile / 100.0;
    uint64_t cum = 0;
    for (int b = 0; b < HBINS; b++) {
        cum += h->count[b];
        if (cum >= want) return h->hi * (b + 1) / HBINS;
    }
    return h->hi;
}

static void observe(void *ctx, int conv, const float *x, long count) {
    hist_add(&((calib *)ctx)->h[conv], x, count);
}

/* symmetric per-output-channel int8 of HWIO w (rows, cout): q and scale */
static void quantize_weights(const float *w, long rows, int cout, int8_t *q, float *scale) {
    for (int n = 0; n < cout; n++) {
        float mx = 0;
        for (long r = 0; r < rows; r++) mx = fmaxf(mx, fabsf(w[r * cout + n]));
        scale[n] = mx > 0 ? mx / 127.0f : 1.0f;
        for (long r = 0; r < rows; r++) {
            float v = nearbyintf(w[r * cout + n] / scale[n]);
            q[r * cout + n] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
}

static fn_status add_tensor(fn_tensor_set *ts, const char *prefix, const char *what, fn_dtype dt, int ndim,
                            const int64_t *shape, const void *data, size_t bytes) {
    char name[160];
    if (prefix) snprintf(name, sizeof name, "%s/%s", prefix, what);
    else snprintf(name, sizeof name, "%s", what);
    void *copy = malloc(bytes);
    if (!copy) return fn_fail(FN_ERR_NOMEM, "out of memory");
    memcpy(copy, data, bytes);
    return fn_tensor_set_add(ts, name, dt, ndim, shape, copy, 1);
}

fn_status fn_dlib_resnet_quantize(struct fn_model *m, const fn_image *crops, int n, double percentile,
                                  fn_tensor_set *out, double *act_max) {
    fn_tensor_set_init(out);
    calib *cal = calloc(1, sizeof *cal);
    float *raw = fn_malloc(sizeof(float) * FN_DLIB_DIM * 2);
    if (!cal || !raw) { free(cal); fn_free(raw); return fn_fail(FN_ERR_NOMEM, "out of memory"); }
    const fn_dlib_observer obs = { observe, cal };
    fn_status s = FN_OK;
    fn_progress pr;
    fn_progress_begin(&pr, "calibrating", n);
    uint8_t *mirror = fn_malloc((size_t)FN_DLIB_INPUT * FN_DLIB_INPUT * 3);
    if (!mirror) s = fn_fail(FN_ERR_NOMEM, "out of memory");
    for (int i = 0; s == FN_OK && i < n; i++) { /* each crop and its mirror image, as embed() sees them */
        const int S = FN_DLIB_INPUT;
        if (crops[i].w != S || crops[i].h != S || !crops[i].rgb) { s = fn_fail(FN_ERR_SHAPE, "quantize: calibration crop %d is not %dx%d", i, S, S); break; }
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                memcpy(mirror + ((size_t)y * S + x) * 3, crops[i].rgb + ((size_t)y * S + (S - 1 - x)) * 3, 3);
        fn_image views[2] = { crops[i], { S, S, mirror } };
        s = fn_dlib_resnet_forward_observed(m, views, 2, raw, &obs);
        fn_progress_step(&pr, 1);
    }
    fn_progress_end(&pr);
    fn_free(mirror);
    float in_scale[FN_DLIB_CONVS];
    in_scale[0] = 1.0f / 255.0f;
    for (int i = 1; s == FN_OK && i < FN_DLIB_CONVS; i++) {
        const double p = hist_percentile(&cal->h[i], percentile);
        if (act_max) act_max[i] = cal->h[i].hi;
        in_scale[i] = p > 0 ? (float)(p / 255.0) : 1.0f / 255.0f;
    }
    for (int i = 0; s == FN_OK && i < FN_DLIB_CONVS; i++) {
        fn_dlib_conv c;
        fn_dlib_resnet_conv(m, i, &c);
        const long rows = (long)c.k * c.k * c.cin;
        int8_t *q = fn_malloc((size_t)rows * c.cout);
        float *ws = fn_malloc(sizeof(float) * c.cout);
        int32_t *bq = fn_malloc(sizeof(int32_t) * c.cout);
        if (!q || !ws || !bq) s = fn_fail(FN_ERR_NOMEM, "out of memory");
        if (s == FN_OK) {
            quantize_weights(c.w, rows, c.cout, q, ws);
            for (int o = 0; o < c.cout; o++) {
                double b = c.b[o];
                if (i == 0) /* the stem sees (pixel - mean) / 255: the mean's share is a constant */
                    for (long r = 0; r < rows; r++) b -= (double)c.w[r * c.cout + o] * mean_rgb[r % 3] / 255.0;
                double v = nearbyint(b / ((double)in_scale[i] * ws[o]));
                bq[o] = (int32_t)(v > 2e9 ? 2e9 : v < -2e9 ? -2e9 : v);
            }
            char prefix[96];
            conv_prefix(i, prefix, sizeof prefix);
            s = add_tensor(out, prefix, "q_filters", FN_I8, 4, (int64_t[]){ c.k, c.k, c.cin, c.cout }, q, (size_t)rows * c.cout);
            if (s == FN_OK) s = add_tensor(out, prefix, "q_wscale", FN_F32, 1, (int64_t[]){ c.cout }, ws, sizeof(float) * c.cout);
            if (s == FN_OK) s = add_tensor(out, prefix, "q_bias", FN_I32, 1, (int64_t[]){ c.cout }, bq, sizeof(int32_t) * c.cout);
            if (s == FN_OK) s = add_tensor(out, prefix, "q_in_scale", FN_F32, 1, (int64_t[]){ 1 }, &in_scale[i], sizeof(float));
        }
        fn_free(q); fn_free(ws); fn_free(bq);
    }
    if (s == FN_OK)
        s = add_tensor(out, NULL, "fc", FN_F32, 2, (int64_t[]){ 256, FN_DLIB_DIM }, fn_dlib_resnet_fc(m),
                       sizeof(float) * 256 * FN_DLIB_DIM);
    free(cal);
    fn_free(raw);
    if (s) fn_tensor_set_free(out);
    return s;
}
