/* inception_resnet_v1.c — facenet's Inception-ResNet-v1 embedding network (inference),
 * laid out like the paper's figure: stem, 5x block35, reduction A (mixed_6a), 10x block17,
 * reduction B (mixed_7a), 5x block8 + a last block8 (scale 1, no ReLU), global average
 * pool, bottleneck (last_linear + last_bn), L2 normalisation.
 *
 * Weights use facenet-pytorch's state_dict names (OIHW convs). At load each conv becomes
 * HWIO with its batch norm (eps 0.001) folded into weights + bias, and last_bn is folded
 * into the bottleneck. The 1x1 convs of a block that read the same input are merged into
 * one GEMM; their output columns are ordered so that the block's concatenation is a
 * channel slice of the same buffer (no copies):
 *   block35 buffer: [b1 head | b2 head | b0 | b1 | b2]   the up conv reads [b0 | b1 | b2]
 *   block17/block8: [b1 head | b0 | b1]                   the up conv reads [b0 | b1]
 * The up conv accumulates scale * (conv + bias) straight into the trunk (GEMM beta = 1).
 *
 * Memory: one block for the parameters, one arena for the activations per worker (planned
 * by a dry run of the forward pass, grown when a larger batch or image size arrives).
 *
 * Threads: a batch of several images is split between workers (one per BLAS thread), each
 * running the whole network on its share with single-threaded GEMMs. The network's GEMMs
 * are too small to scale over cores (measured: 1 thread 30.8 CPU ms/img at batch 32, 2
 * threads 52 CPU ms/img), whole images scale almost perfectly. Batch 1 keeps the threaded
 * GEMMs. */
#include "inception_resnet_v1.h"
#include "ops/ops.h"

#define BN_EPS 0.001f
#define MAX_BATCH 32     /* images per pass through the arena; larger requests are chunked */
#define MAX_SIZE 1024    /* largest input side accepted by fn_irv1_forward */
#define MIN_SIZE 75      /* smallest input side whose reduction B output is >= 1 pixel */
#define FEATURES 1792


typedef struct {
    int cin, cout, kh, kw, stride;
    fn_padding pad;
    float *w;    /* HWIO (kh, kw, cin, cout), batch norm folded in */
    float *b;    /* cout */
    float *wino; /* Winograd form of w (16, cin, cout) for 3x3 stride-1 convs, else NULL */
} conv;

typedef struct { conv heads, b1_3x3, b2_3x3a, b2_3x3b, up; } block35;       /* heads: [b1|b2|b0] */
typedef struct { conv b0_3x3s2, b1_1x1, b1_3x3, b1_3x3s2; } reduction_a;
typedef struct { conv heads, b1_1x7, b1_7x1, up; } block17;                 /* heads: [b1|b0] */
typedef struct { conv heads, b0_3x3s2, b1_3x3s2, b2_3x3, b2_3x3s2; } reduction_b; /* [b0|b1|b2] */
typedef struct { conv heads, b1_1x3, b1_3x1, up; float scale; int relu; } block8;  /* [b1|b0] */

enum { BUF_A, BUF_B, BUF_CAT, BUF_T, BUF_WS, BUF_POOL, BUF_FC, N_BUF };

typedef struct {
    conv c1a, c2a, c2b, c3b, c4a, c4b;
    block35 repeat_1[5];
    reduction_a mixed_6a;
    block17 repeat_2[10];
    reduction_b mixed_7a;
    block8 repeat_3[6]; /* repeat_3.0-4, then `block8` (scale 1, no ReLU) */
    int dim;
    float *fc_w, *fc_b; /* (1792, dim) with last_bn folded in; (dim) */
    float *params;
    float *arena[FN_MAX_WORKERS];
    size_t arena_floats[FN_MAX_WORKERS];
} irv1;

static const char IRV1_ARCH[] = "inception_resnet_v1";

/* ------------------------------------------------------------------ loading */

typedef struct {
    const fn_tensor_set *ts;
    float *base; /* NULL on the counting pass */
    size_t used; /* floats handed out (each rounded to 16 for 64-byte alignment) */
} loader;

static float *take(loader *L, size_t n) {
    float *p = L->base ? L->base + L->used : NULL;
    L->used += (n + 15) & ~(size_t)15;
    return p;
}

static void conv_init(loader *L, conv *c, int cin, int cout, int kh, int kw, int stride, fn_padding pad) {
    c->cin = cin; c->cout = cout; c->kh = kh; c->kw = kw; c->stride = stride; c->pad = pad;
    c->w = take(L, (size_t)kh * kw * cin * cout);
    c->b = take(L, (size_t)cout);
    c->wino = fn_conv2d_winograd_eligible(kh, kw, stride, stride, cin, cout) ? take(L, (size_t)16 * cin * cout) : NULL;
}

/* Copies an OIHW tensor `name` (n_out, cin, kh, kw) into columns [col, col+n_out) of c->w. */
static fn_status load_weight(loader *L, const char *name, conv *c, int col, int n_out) {
    int64_t shape[4] = {n_out, c->cin, c->kh, c->kw};
    const float *src;
    FN_TRY(fn_tensor_set_get_f32(L->ts, name, 4, shape, &src));
    for (int o = 0; o < n_out; o++)
        for (int i = 0; i < c->cin; i++)
            for (int y = 0; y < c->kh; y++)
                for (int x = 0; x < c->kw; x++)
                    c->w[(((size_t)y * c->kw + x) * c->cin + i) * c->cout + col + o] =
                        src[(((size_t)o * c->cin + i) * c->kh + y) * c->kw + x];
    return FN_OK;
}

static fn_status get_vec(loader *L, const char *prefix, const char *suffix, int n, const float **v) {
    char name[160];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    int64_t shape[1] = {n};
    return fn_tensor_set_get_f32(L->ts, name, 1, shape, v);
}

/* facenet-pytorch BasicConv2d `prefix` (conv.weight + bn.*) into columns [col, col+n_out):
 * w *= gamma / sqrt(var + eps), bias = beta - mean * gamma / sqrt(var + eps). */
static fn_status load_basic(loader *L, const char *prefix, conv *c, int col, int n_out) {
    if (!L->base) return FN_OK;
    char name[160];
    snprintf(name, sizeof name, "%s.conv.weight", prefix);
    FN_TRY(load_weight(L, name, c, col, n_out));
    const float *gamma, *beta, *mean, *var;
    FN_TRY(get_vec(L, prefix, "bn.weight", n_out, &gamma));
    FN_TRY(get_vec(L, prefix, "bn.bias", n_out, &beta));
    FN_TRY(get_vec(L, prefix, "bn.running_mean", n_out, &mean));
    FN_TRY(get_vec(L, prefix, "bn.running_var", n_out, &var));
    size_t rows = (size_t)c->kh * c->kw * c->cin;
    for (int o = 0; o < n_out; o++) {
        if (!(var[o] >= 0)) return fn_fail(FN_ERR_FORMAT, "%s.bn.running_var[%d] is negative or NaN", prefix, o);
        float g = gamma[o] / sqrtf(var[o] + BN_EPS);
        c->b[col + o] = beta[o] - mean[o] * g;
        for (size_t k = 0; k < rows; k++) c->w[k * c->cout + col + o] *= g;
    }
    return FN_OK;
}

/* A single BasicConv2d layer. */
static fn_status basic(loader *L, conv *c, const char *prefix, int cin, int cout, int kh, int kw,
                       int stride, fn_padding pad) {
    conv_init(L, c, cin, cout, kh, kw, stride, pad);
    FN_TRY(load_basic(L, prefix, c, 0, cout));
    if (L->base && c->wino) fn_conv2d_winograd_weights(c->wino, c->w, cin, cout);
    return FN_OK;
}

/* A block's "up" conv: 1x1 with bias, no batch norm (`prefix.conv2d.weight/.bias`). */
static fn_status up_conv(loader *L, conv *c, const char *prefix, int cin, int cout) {
    conv_init(L, c, cin, cout, 1, 1, 1, FN_PAD_VALID);
    if (!L->base) return FN_OK;
    char name[160];
    snprintf(name, sizeof name, "%s.conv2d.weight", prefix);
    FN_TRY(load_weight(L, name, c, 0, cout));
    const float *bias;
    FN_TRY(get_vec(L, prefix, "conv2d.bias", cout, &bias));
    memcpy(c->b, bias, sizeof(float) * cout);
    return FN_OK;
}

#define PREFIX(buf, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), buf)

static fn_status load_block35(loader *L, block35 *b, int i) {
    char p[96];
    conv_init(L, &b->heads, 256, 96, 1, 1, 1, FN_PAD_VALID);
    FN_TRY(load_basic(L, PREFIX(p, "repeat_1.%d.branch1.0", i), &b->heads, 0, 32));
    FN_TRY(load_basic(L, PREFIX(p, "repeat_1.%d.branch2.0", i), &b->heads, 32, 32));
    FN_TRY(load_basic(L, PREFIX(p, "repeat_1.%d.branch0", i), &b->heads, 64, 32));
    FN_TRY(basic(L, &b->b1_3x3, PREFIX(p, "repeat_1.%d.branch1.1", i), 32, 32, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic(L, &b->b2_3x3a, PREFIX(p, "repeat_1.%d.branch2.1", i), 32, 32, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic(L, &b->b2_3x3b, PREFIX(p, "repeat_1.%d.branch2.2", i), 32, 32, 3, 3, 1, FN_PAD_SAME));
    return up_conv(L, &b->up, PREFIX(p, "repeat_1.%d", i), 96, 256);
}

static fn_status load_block17(loader *L, block17 *b, int i) {
    char p[96];
    conv_init(L, &b->heads, 896, 256, 1, 1, 1, FN_PAD_VALID);
    FN_TRY(load_basic(L, PREFIX(p, "repeat_2.%d.branch1.0", i), &b->heads, 0, 128));
    FN_TRY(load_basic(L, PREFIX(p, "repeat_2.%d.branch0", i), &b->heads, 128, 128));
    FN_TRY(basic(L, &b->b1_1x7, PREFIX(p, "repeat_2.%d.branch1.1", i), 128, 128, 1, 7, 1, FN_PAD_SAME));
    FN_TRY(basic(L, &b->b1_7x1, PREFIX(p, "repeat_2.%d.branch1.2", i), 128, 128, 7, 1, 1, FN_PAD_SAME));
    return up_conv(L, &b->up, PREFIX(p, "repeat_2.%d", i), 256, 896);
}

/* prefix: "repeat_3.<i>" or "block8" */
static fn_status load_block8(loader *L, block8 *b, const char *prefix, float scale, int relu) {
    char p[96];
    b->scale = scale; b->relu = relu;
    conv_init(L, &b->heads, 1792, 384, 1, 1, 1, FN_PAD_VALID);
    FN_TRY(load_basic(L, PREFIX(p, "%s.branch1.0", prefix), &b->heads, 0, 192));
    FN_TRY(load_basic(L, PREFIX(p, "%s.branch0", prefix), &b->heads, 192, 192));
    FN_TRY(basic(L, &b->b1_1x3, PREFIX(p, "%s.branch1.1", prefix), 192, 192, 1, 3, 1, FN_PAD_SAME));
    FN_TRY(basic(L, &b->b1_3x1, PREFIX(p, "%s.branch1.2", prefix), 192, 192, 3, 1, 1, FN_PAD_SAME));
    return up_conv(L, &b->up, prefix, 384, 1792);
}

static fn_status load_all(irv1 *net, loader *L) {
    FN_TRY(basic(L, &net->c1a, "conv2d_1a", 3, 32, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic(L, &net->c2a, "conv2d_2a", 32, 32, 3, 3, 1, FN_PAD_VALID));
    FN_TRY(basic(L, &net->c2b, "conv2d_2b", 32, 64, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic(L, &net->c3b, "conv2d_3b", 64, 80, 1, 1, 1, FN_PAD_VALID));
    FN_TRY(basic(L, &net->c4a, "conv2d_4a", 80, 192, 3, 3, 1, FN_PAD_VALID));
    FN_TRY(basic(L, &net->c4b, "conv2d_4b", 192, 256, 3, 3, 2, FN_PAD_VALID));
    for (int i = 0; i < 5; i++) FN_TRY(load_block35(L, &net->repeat_1[i], i));

    reduction_a *ra = &net->mixed_6a;
    FN_TRY(basic(L, &ra->b0_3x3s2, "mixed_6a.branch0", 256, 384, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic(L, &ra->b1_1x1, "mixed_6a.branch1.0", 256, 192, 1, 1, 1, FN_PAD_VALID));
    FN_TRY(basic(L, &ra->b1_3x3, "mixed_6a.branch1.1", 192, 192, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic(L, &ra->b1_3x3s2, "mixed_6a.branch1.2", 192, 256, 3, 3, 2, FN_PAD_VALID));
    for (int i = 0; i < 10; i++) FN_TRY(load_block17(L, &net->repeat_2[i], i));

    reduction_b *rb = &net->mixed_7a;
    conv_init(L, &rb->heads, 896, 768, 1, 1, 1, FN_PAD_VALID);
    FN_TRY(load_basic(L, "mixed_7a.branch0.0", &rb->heads, 0, 256));
    FN_TRY(load_basic(L, "mixed_7a.branch1.0", &rb->heads, 256, 256));
    FN_TRY(load_basic(L, "mixed_7a.branch2.0", &rb->heads, 512, 256));
    FN_TRY(basic(L, &rb->b0_3x3s2, "mixed_7a.branch0.1", 256, 384, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic(L, &rb->b1_3x3s2, "mixed_7a.branch1.1", 256, 256, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic(L, &rb->b2_3x3, "mixed_7a.branch2.1", 256, 256, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic(L, &rb->b2_3x3s2, "mixed_7a.branch2.2", 256, 256, 3, 3, 2, FN_PAD_VALID));

    char p[32];
    for (int i = 0; i < 5; i++) FN_TRY(load_block8(L, &net->repeat_3[i], PREFIX(p, "repeat_3.%d", i), 0.20f, 1));
    FN_TRY(load_block8(L, &net->repeat_3[5], "block8", 1.0f, 0));

    /* bottleneck: y = bn(x @ W^T), W (dim, 1792) -> fc_w (1792, dim) scaled per column */
    net->fc_w = take(L, (size_t)FEATURES * net->dim);
    net->fc_b = take(L, (size_t)net->dim);
    if (!L->base) return FN_OK;
    int64_t shape[2] = {net->dim, FEATURES};
    const float *w, *gamma, *beta, *mean, *var;
    FN_TRY(fn_tensor_set_get_f32(L->ts, "last_linear.weight", 2, shape, &w));
    FN_TRY(get_vec(L, "last_bn", "weight", net->dim, &gamma));
    FN_TRY(get_vec(L, "last_bn", "bias", net->dim, &beta));
    FN_TRY(get_vec(L, "last_bn", "running_mean", net->dim, &mean));
    FN_TRY(get_vec(L, "last_bn", "running_var", net->dim, &var));
    for (int o = 0; o < net->dim; o++) {
        if (!(var[o] >= 0)) return fn_fail(FN_ERR_FORMAT, "last_bn.running_var[%d] is negative or NaN", o);
        float g = gamma[o] / sqrtf(var[o] + BN_EPS);
        net->fc_b[o] = beta[o] - mean[o] * g;
        for (int k = 0; k < FEATURES; k++) net->fc_w[(size_t)k * net->dim + o] = w[(size_t)o * FEATURES + k] * g;
    }
    return FN_OK;
}

/* ------------------------------------------------------------------ forward */

typedef struct {
    irv1 *net;
    int n;                /* images in this pass */
    int plan;             /* 1: dry run that only records buffer sizes */
    size_t need[N_BUF];   /* floats per buffer (plan) */
    float *buf[N_BUF];    /* run */
} fwd;

/* A buffer of at least `floats` floats (records the size on the dry run, returns NULL). */
static float *get(fwd *f, int which, size_t floats) {
    if (f->plan) {
        if (floats > f->need[which]) f->need[which] = floats;
        return NULL;
    }
    FN_ASSERT(floats <= f->need[which]);
    return f->buf[which];
}

/* A channel slice of a buffer (NULL stays NULL on the dry run). */
static float *at(float *p, size_t offset) { return p ? p + offset : NULL; }

static size_t maxz(size_t a, size_t b) { return a > b ? a : b; }

static size_t act_size(const fwd *f, int h, int w, int c) { return (size_t)f->n * h * w * c; }

static int conv_out(const conv *c, int in, int k) {
    int o, pad;
    fn_conv_out_size(in, k, c->stride, c->pad, &o, &pad);
    return o;
}

/* out (n, OH, OW, [ld_out]) = act(beta * out + alpha * conv(in (n, H, W, [ld_in]))) */
static void conv_ex(fwd *f, const conv *c, float *out, int ld_out, const float *in, int ld_in,
                    int H, int W, float alpha, float beta, fn_act act) {
    fn_conv_shape s;
    fn_conv_shape_init(&s, f->n, H, W, c->cin, c->cout, c->kh, c->kw, c->stride, c->stride, c->pad);
    float *ws = get(f, BUF_WS, fn_conv2d_workspace(&s));
    if (f->plan) return;
    fn_conv2d_forward_ex(out, ld_out, in, ld_in, c->w, c->wino, c->b, &s, alpha, beta, act, ws);
}

/* conv + folded batch norm + ReLU */
static void conv_relu(fwd *f, const conv *c, float *out, int ld_out, const float *in, int ld_in, int H, int W) {
    conv_ex(f, c, out, ld_out, in, ld_in, H, W, 1.0f, 0.0f, FN_ACT_RELU);
}

/* 3x3 stride-2 VALID max pool of (n, H, W, C) into a channel slice */
static void maxpool_3x3s2(fwd *f, float *out, int ld_out, const float *in, int ld_in, int H, int W, int C) {
    if (f->plan) return;
    int OH, OW, pt, pl;
    fn_conv_out_size(H, 3, 2, FN_PAD_VALID, &OH, &pt);
    fn_conv_out_size(W, 3, 2, FN_PAD_VALID, &OW, &pl);
    fn_maxpool_forward(out, ld_out, in, ld_in, f->n, H, W, C, 3, 2, 0, 0, OH, OW);
}

/* x (n, H, W, 256) in place */
static void block35_forward(fwd *f, const block35 *b, float *x, int H, int W) {
    float *cat = get(f, BUF_CAT, act_size(f, H, W, 160)); /* [b1h | b2h | b0 | b1 | b2] */
    float *t = get(f, BUF_T, act_size(f, H, W, 32));
    conv_relu(f, &b->heads, cat, 160, x, 256, H, W);
    conv_relu(f, &b->b1_3x3, at(cat, 96), 160, cat, 160, H, W);
    conv_relu(f, &b->b2_3x3a, t, 32, at(cat, 32), 160, H, W);
    conv_relu(f, &b->b2_3x3b, at(cat, 128), 160, t, 32, H, W);
    conv_ex(f, &b->up, x, 256, at(cat, 64), 160, H, W, 0.17f, 1.0f, FN_ACT_RELU);
}

/* x (n, H, W, 256) -> out (n, OH, OW, 896) = [b0 384 | b1 256 | maxpool 256] */
static void reduction_a_forward(fwd *f, const reduction_a *r, float *out, const float *x, int H, int W) {
    float *head = get(f, BUF_CAT, act_size(f, H, W, 192));
    float *t = get(f, BUF_T, act_size(f, H, W, 192));
    conv_relu(f, &r->b0_3x3s2, out, 896, x, 256, H, W);
    conv_relu(f, &r->b1_1x1, head, 192, x, 256, H, W);
    conv_relu(f, &r->b1_3x3, t, 192, head, 192, H, W);
    conv_relu(f, &r->b1_3x3s2, at(out, 384), 896, t, 192, H, W);
    maxpool_3x3s2(f, at(out, 640), 896, x, 256, H, W, 256);
}

/* x (n, H, W, 896) in place */
static void block17_forward(fwd *f, const block17 *b, float *x, int H, int W) {
    float *cat = get(f, BUF_CAT, act_size(f, H, W, 384)); /* [b1h | b0 | b1] */
    float *t = get(f, BUF_T, act_size(f, H, W, 128));
    conv_relu(f, &b->heads, cat, 384, x, 896, H, W);
    conv_relu(f, &b->b1_1x7, t, 128, cat, 384, H, W);
    conv_relu(f, &b->b1_7x1, at(cat, 256), 384, t, 128, H, W);
    conv_ex(f, &b->up, x, 896, at(cat, 128), 384, H, W, 0.10f, 1.0f, FN_ACT_RELU);
}

/* x (n, H, W, 896) -> out (n, OH, OW, 1792) = [b0 384 | b1 256 | b2 256 | maxpool 896] */
static void reduction_b_forward(fwd *f, const reduction_b *r, float *out, const float *x, int H, int W) {
    float *heads = get(f, BUF_CAT, act_size(f, H, W, 768)); /* [b0h | b1h | b2h] */
    float *t = get(f, BUF_T, act_size(f, H, W, 256));
    conv_relu(f, &r->heads, heads, 768, x, 896, H, W);
    conv_relu(f, &r->b0_3x3s2, out, 1792, heads, 768, H, W);
    conv_relu(f, &r->b1_3x3s2, at(out, 384), 1792, at(heads, 256), 768, H, W);
    conv_relu(f, &r->b2_3x3, t, 256, at(heads, 512), 768, H, W);
    conv_relu(f, &r->b2_3x3s2, at(out, 640), 1792, t, 256, H, W);
    maxpool_3x3s2(f, at(out, 896), 1792, x, 896, H, W, 896);
}

/* x (n, H, W, 1792) in place */
static void block8_forward(fwd *f, const block8 *b, float *x, int H, int W) {
    float *cat = get(f, BUF_CAT, act_size(f, H, W, 576)); /* [b1h | b0 | b1] */
    float *t = get(f, BUF_T, act_size(f, H, W, 192));
    conv_relu(f, &b->heads, cat, 576, x, 1792, H, W);
    conv_relu(f, &b->b1_1x3, t, 192, cat, 576, H, W);
    conv_relu(f, &b->b1_3x1, at(cat, 384), 576, t, 192, H, W);
    conv_ex(f, &b->up, x, 1792, at(cat, 192), 576, H, W, b->scale, 1.0f,
            b->relu ? FN_ACT_RELU : FN_ACT_NONE);
}

fn_irv1_sizes fn_irv1_tap_sizes(int size) {
    fn_irv1_sizes z = {0, 0, 0};
    if (size < 3) return z;
    int h = (size - 3) / 2 + 1;   /* conv2d_1a 3x3/2 VALID */
    h -= 2;                       /* conv2d_2a 3x3 VALID (2b is SAME) */
    h = h >= 3 ? (h - 3) / 2 + 1 : 0; /* maxpool_3a 3x3/2 */
    h -= 2;                       /* conv2d_4a 3x3 VALID */
    h = h >= 3 ? (h - 3) / 2 + 1 : 0; /* conv2d_4b 3x3/2 VALID */
    if (h < 3) return z;
    z.stem = h;
    z.mixed_6a = (h - 3) / 2 + 1;
    if (z.mixed_6a < 3) { z.stem = z.mixed_6a = 0; return z; }
    z.mixed_7a = (z.mixed_6a - 3) / 2 + 1;
    return z;
}

static void copy_tap(fwd *f, float *dst, const float *src, size_t floats) {
    if (!f->plan && dst) memcpy(dst, src, sizeof(float) * floats);
}

/* x (n, S, S, 3) -> out (n, dim) */
static void network_forward(fwd *f, const float *x, int S, float *out, const fn_irv1_taps *tp) {
    irv1 *net = f->net;
    fn_irv1_taps none = {0};
    const fn_irv1_taps *taps = tp ? tp : &none;
    /* stem, ping-ponging between buffers A and B */
    int h1 = conv_out(&net->c1a, S, 3), h2 = conv_out(&net->c2a, h1, 3);
    int h3, pad;
    fn_conv_out_size(h2, 3, 2, FN_PAD_VALID, &h3, &pad);
    int h4 = conv_out(&net->c4a, h3, 3), h5 = conv_out(&net->c4b, h4, 3);
    size_t a_need = maxz(maxz(act_size(f, h1, h1, 32), act_size(f, h2, h2, 64)),
                         maxz(act_size(f, h3, h3, 80), act_size(f, h5, h5, 256)));
    size_t b_need = maxz(maxz(act_size(f, h2, h2, 32), act_size(f, h3, h3, 64)), act_size(f, h4, h4, 192));
    float *a = get(f, BUF_A, a_need), *b = get(f, BUF_B, b_need);
    conv_relu(f, &net->c1a, a, 32, x, 3, S, S);
    conv_relu(f, &net->c2a, b, 32, a, 32, h1, h1);
    conv_relu(f, &net->c2b, a, 64, b, 32, h2, h2);
    maxpool_3x3s2(f, b, 64, a, 64, h2, h2, 64);
    conv_relu(f, &net->c3b, a, 80, b, 64, h3, h3);
    conv_relu(f, &net->c4a, b, 192, a, 80, h3, h3);
    conv_relu(f, &net->c4b, a, 256, b, 192, h4, h4);
    copy_tap(f, taps->stem, a, act_size(f, h5, h5, 256));

    for (int i = 0; i < 5; i++) block35_forward(f, &net->repeat_1[i], a, h5, h5);
    int h6 = conv_out(&net->mixed_6a.b0_3x3s2, h5, 3);
    b = get(f, BUF_B, act_size(f, h6, h6, 896));
    reduction_a_forward(f, &net->mixed_6a, b, a, h5, h5);
    copy_tap(f, taps->mixed_6a, b, act_size(f, h6, h6, 896));

    for (int i = 0; i < 10; i++) block17_forward(f, &net->repeat_2[i], b, h6, h6);
    int h7 = conv_out(&net->mixed_7a.b0_3x3s2, h6, 3);
    a = get(f, BUF_A, act_size(f, h7, h7, 1792));
    reduction_b_forward(f, &net->mixed_7a, a, b, h6, h6);
    copy_tap(f, taps->mixed_7a, a, act_size(f, h7, h7, 1792));

    for (int i = 0; i < 6; i++) block8_forward(f, &net->repeat_3[i], a, h7, h7);

    /* global average pool (dropout is the identity at inference), bottleneck, L2 norm */
    float *pooled = get(f, BUF_POOL, (size_t)f->n * FEATURES);
    float *fc = get(f, BUF_FC, (size_t)f->n * net->dim);
    if (f->plan) return;
    fn_global_avgpool_forward(pooled, a, f->n, h7 * h7, FEATURES);
    copy_tap(f, taps->pooled, pooled, (size_t)f->n * FEATURES);
    fn_dense_forward(fc, pooled, net->fc_w, net->fc_b, f->n, FEATURES, net->dim);
    fn_l2norm_forward(out, fc, f->n, net->dim, 1e-10f);
}

/* Plans the buffers for n images of S x S and grows the arena when needed. */
static fn_status arena_prepare(irv1 *net, fwd *f, int n, int S, int worker) {
    memset(f, 0, sizeof *f);
    f->net = net; f->n = n; f->plan = 1;
    network_forward(f, NULL, S, NULL, NULL);
    size_t total = 0, off[N_BUF];
    for (int i = 0; i < N_BUF; i++) {
        off[i] = total;
        size_t rounded = (f->need[i] + 15) & ~(size_t)15;
        if (!fn_add_size(total, rounded, &total)) return fn_fail(FN_ERR_LIMIT, "activation arena too large");
    }
    if (total > net->arena_floats[worker]) {
        size_t bytes;
        if (!fn_mul_size(total, sizeof(float), &bytes)) return fn_fail(FN_ERR_LIMIT, "activation arena too large");
        float *p = fn_malloc(bytes);
        if (!p) return fn_fail(FN_ERR_NOMEM, "out of memory for the activation arena (%zu MiB)", bytes >> 20);
        fn_free(net->arena[worker]);
        net->arena[worker] = p;
        net->arena_floats[worker] = total;
    }
    for (int i = 0; i < N_BUF; i++) f->buf[i] = net->arena[worker] + off[i];
    f->plan = 0;
    return FN_OK;
}

static void offset_taps(fn_irv1_taps *dst, const fn_irv1_taps *src, fn_irv1_sizes z, long i0) {
    dst->stem = src->stem ? src->stem + i0 * z.stem * z.stem * 256 : NULL;
    dst->mixed_6a = src->mixed_6a ? src->mixed_6a + i0 * z.mixed_6a * z.mixed_6a * 896 : NULL;
    dst->mixed_7a = src->mixed_7a ? src->mixed_7a + i0 * z.mixed_7a * z.mixed_7a * FEATURES : NULL;
    dst->pooled = src->pooled ? src->pooled + i0 * FEATURES : NULL;
}

/* One worker's share: images [i0, i1) in MAX_BATCH chunks through its own arena. */
typedef struct {
    irv1 *net;
    const float *x;
    float *out;
    const fn_irv1_taps *taps;
    fn_irv1_sizes z;
    int size;
} forward_job;

static fn_status share_forward(void *ctx, int i0, int i1, int worker) {
    forward_job *j = ctx;
    for (int c0 = i0; c0 < i1; c0 += MAX_BATCH) {
        int nb = i1 - c0 < MAX_BATCH ? i1 - c0 : MAX_BATCH;
        fwd f;
        FN_TRY(arena_prepare(j->net, &f, nb, j->size, worker));
        fn_irv1_taps t = {0};
        if (j->taps) offset_taps(&t, j->taps, j->z, c0);
        network_forward(&f, j->x + (size_t)c0 * j->size * j->size * 3, j->size,
                        j->out + (size_t)c0 * j->net->dim, &t);
    }
    return FN_OK;
}

fn_status fn_irv1_forward(struct fn_model *m, const float *x, int n, int size, float *out,
                          const fn_irv1_taps *taps) {
    if (!m || m->arch != IRV1_ARCH) return fn_fail(FN_ERR_ARG, "fn_irv1_forward: not an Inception-ResNet-v1 model");
    if (n < 0 || (n > 0 && (!x || !out))) return fn_fail(FN_ERR_ARG, "fn_irv1_forward: bad arguments");
    fn_irv1_sizes z = fn_irv1_tap_sizes(size);
    if (size < MIN_SIZE || size > MAX_SIZE || z.mixed_7a < 1)
        return fn_fail(FN_ERR_SHAPE, "Inception-ResNet-v1 needs an input between %d and %d pixels, got %d",
                       MIN_SIZE, MAX_SIZE, size);
    /* batch 1 keeps the threaded GEMMs; larger batches go to workers of >= 2 images */
    forward_job j = { m->impl, x, out, taps, z, size };
    return fn_parallel_split(n, 2, share_forward, &j);
}

void fn_irv1_standardize(const fn_image *img, fn_standardize std, float *out) {
    size_t count = (size_t)img->w * img->h * 3;
    if (std == FN_STD_PREWHITEN) {
        /* facenet.prewhiten: numpy mean/std (float64, ddof 0) over the whole image */
        double sum = 0, sq = 0;
        for (size_t i = 0; i < count; i++) sum += img->rgb[i];
        double mean = sum / (double)count;
        for (size_t i = 0; i < count; i++) { double d = img->rgb[i] - mean; sq += d * d; }
        double sd = sqrt(sq / (double)count), floor_sd = 1.0 / sqrt((double)count);
        double inv = 1.0 / (sd > floor_sd ? sd : floor_sd);
        for (size_t i = 0; i < count; i++) out[i] = (float)((img->rgb[i] - mean) * inv);
    } else {
        /* the 2018 models: (x - 127.5) / 128 */
        for (size_t i = 0; i < count; i++) out[i] = ((float)img->rgb[i] - 127.5f) * (1.0f / 128.0f);
    }
}

/* ------------------------------------------------------------------ fn_model glue */

static fn_status irv1_embed(struct fn_model *m, const fn_image *crops, int n, float *out) {
    int S = m->input_size;
    int chunk = n < MAX_BATCH ? n : MAX_BATCH;
    size_t per = (size_t)S * S * 3;
    float *x = fn_malloc(sizeof(float) * per * chunk);
    if (!x) return fn_fail(FN_ERR_NOMEM, "out of memory for %d input images", chunk);
    fn_status s = FN_OK;
    for (int i0 = 0; i0 < n && s == FN_OK; i0 += chunk) {
        int nb = n - i0 < chunk ? n - i0 : chunk;
        for (int i = 0; i < nb; i++) fn_irv1_standardize(&crops[i0 + i], m->standardize, x + i * per);
        s = fn_irv1_forward(m, x, nb, S, out + (size_t)i0 * m->dim, NULL);
    }
    fn_free(x);
    return s;
}

static void irv1_destroy(struct fn_model *m) {
    irv1 *net = m->impl;
    if (!net) return;
    fn_free(net->params);
    for (int k = 0; k < FN_MAX_WORKERS; k++) fn_free(net->arena[k]);
    free(net);
    m->impl = NULL;
}

fn_status fn_irv1_model_create(const fn_tensor_set *ts, struct fn_model *m) {
    const fn_tensor *ll = fn_tensor_set_find(ts, "last_linear.weight");
    if (!ll) return fn_fail(FN_ERR_MISSING, "tensor 'last_linear.weight' is missing");
    if (ll->ndim != 2 || ll->shape[1] != FEATURES || ll->shape[0] < 1 || ll->shape[0] > 65536)
        return fn_fail(FN_ERR_SHAPE, "tensor 'last_linear.weight' must be (dim, %d)", FEATURES);
    irv1 *net = calloc(1, sizeof *net);
    if (!net) return fn_fail(FN_ERR_NOMEM, "out of memory");
    net->dim = (int)ll->shape[0];
    loader L = {ts, NULL, 0};
    fn_status s = load_all(net, &L); /* counting pass */
    if (s == FN_OK) {
        net->params = fn_malloc(sizeof(float) * L.used);
        if (!net->params) s = fn_fail(FN_ERR_NOMEM, "out of memory for %zu parameters", L.used);
    }
    if (s == FN_OK) {
        L.base = net->params; L.used = 0;
        s = load_all(net, &L);
    }
    if (s != FN_OK) {
        fn_free(net->params);
        free(net);
        return s;
    }
    m->arch = IRV1_ARCH;
    m->dim = net->dim;
    m->input_size = 160;
    m->crop = FN_CROP_MARGIN;
    m->crop_margin = 44;
    m->standardize = FN_STD_FIXED;
    m->impl = net;
    m->embed = irv1_embed;
    m->destroy = irv1_destroy;
    return FN_OK;
}
