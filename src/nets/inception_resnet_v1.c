/* inception_resnet_v1.c — facenet's Inception-ResNet-v1 embedding network (inference),
 * laid out like the paper's figure: stem, 5x block35, reduction A (mixed_6a), 10x block17,
 * reduction B (mixed_7a), 5x block8 + a last block8 (scale 1, no ReLU), global average
 * pool, bottleneck (last_linear + last_bn), L2 normalisation.
 *
 * Any depth and channel width loads (facenet-c's `train --depth/--width-multiplier` exports
 * reduced networks): blocks are counted from the tensor names, every conv's channels are
 * read from its weight's shape, and the input size comes from the model's metadata
 * (`image_size`, 160 without it). The comments give the full network's channel counts.
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
 * Memory: one block for the parameters, one arena for the activations per running worker
 * (planned by a dry run of the forward pass, grown when a larger batch or image size
 * arrives), leased under a mutex so that several threads may embed with one model.
 *
 * Threads: a batch of several images is split between workers (one per BLAS thread), each
 * running the whole network on its share with single-threaded GEMMs. The network's GEMMs
 * are too small to scale over cores (measured: 1 thread 30.8 CPU ms/img at batch 32, 2
 * threads 52 CPU ms/img), whole images scale almost perfectly. Batch 1 keeps the threaded
 * GEMMs. */
#include "inception_resnet_v1.h"
#include "ops/ops.h"
#include <pthread.h>

#define BN_EPS 0.001f
#define MAX_BATCH 32     /* images per pass through the arena; larger requests are chunked */
#define MAX_SIZE 1024    /* largest input side accepted by fn_irv1_forward */
#define MIN_SIZE 75      /* smallest input side whose reduction B output is >= 1 pixel */
#define MAX_BLOCKS 64    /* blocks per stage (the full network has 5, 10, 5) */
#define MAX_CHANNELS 16384


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
    int depth[3];       /* block35, block17, block8 repeats (5, 10, 5 in the full network) */
    block35 *repeat_1;
    reduction_a mixed_6a;
    block17 *repeat_2;
    reduction_b mixed_7a;
    block8 *repeat_3;   /* repeat_3.0 .. depth[2]-1, then `block8` (scale 1, no ReLU) */
    int trunk[3];       /* channels of the three stages' trunks: 256, 896, 1792 */
    int dim;
    float *fc_w, *fc_b; /* (trunk[2], dim) with last_bn folded in; (dim) */
    float *params;
    /* activation arenas, leased by each running worker for its share, so that
     * concurrent fn_model_embed calls on one model never use the same one */
    pthread_mutex_t arena_mu;
    float *arena[FN_MAX_WORKERS];
    size_t arena_floats[FN_MAX_WORKERS];
    int arena_busy[FN_MAX_WORKERS];
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
    fn_status s = get_vec(L, prefix, "bn.weight", n_out, &gamma);
    if (!s) s = get_vec(L, prefix, "bn.bias", n_out, &beta);
    if (!s) s = get_vec(L, prefix, "bn.running_mean", n_out, &mean);
    if (!s) s = get_vec(L, prefix, "bn.running_var", n_out, &var);
    if (s == FN_ERR_SHAPE) {
        /* widths come from the conv weights: either side may be the odd one out */
        char msg[400];
        snprintf(msg, sizeof msg, "%s", fn_last_error());
        return fn_fail(s, "%s (%d outputs in %s)", msg, n_out, name);
    }
    FN_TRY(s);
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

/* The output channels of `prefix.conv.weight` (or of `prefix` itself when it names a
 * tensor): the width of that layer, read from the weight's shape. */
static fn_status width_of(loader *L, const char *prefix, int *c) {
    char name[160];
    snprintf(name, sizeof name, "%s.conv.weight", prefix);
    const fn_tensor *t = fn_tensor_set_find(L->ts, name);
    if (!t) return fn_fail(FN_ERR_MISSING, "tensor '%s' is missing", name);
    if (t->ndim != 4 || t->shape[0] < 1 || t->shape[0] > MAX_CHANNELS)
        return fn_fail(FN_ERR_SHAPE, "tensor '%s' must be (out, in, kh, kw) with 1..%d outputs", name, MAX_CHANNELS);
    *c = (int)t->shape[0];
    return FN_OK;
}

/* A BasicConv2d whose output width comes from its weight. */
static fn_status basic_auto(loader *L, conv *c, const char *prefix, int cin, int kh, int kw, int stride, fn_padding pad) {
    int cout = 0;
    FN_TRY(width_of(L, prefix, &cout));
    return basic(L, c, prefix, cin, cout, kh, kw, stride, pad);
}

/* A merged 1x1 "heads" conv: the listed BasicConv2d layers side by side, in this order. */
static fn_status heads_auto(loader *L, conv *c, int cin, int n, const char *const *prefixes) {
    int w[4] = {0}, total = 0;
    for (int k = 0; k < n; k++) { FN_TRY(width_of(L, prefixes[k], &w[k])); total += w[k]; }
    conv_init(L, c, cin, total, 1, 1, 1, FN_PAD_VALID);
    for (int k = 0, col = 0; k < n; col += w[k], k++) FN_TRY(load_basic(L, prefixes[k], c, col, w[k]));
    return FN_OK;
}

/* trunk: the block's input (and output) channels */
static fn_status load_block35(loader *L, block35 *b, int i, int trunk) {
    char p[3][96], q[96];
    const char *heads[3] = {PREFIX(p[0], "repeat_1.%d.branch1.0", i), PREFIX(p[1], "repeat_1.%d.branch2.0", i),
                            PREFIX(p[2], "repeat_1.%d.branch0", i)};
    FN_TRY(heads_auto(L, &b->heads, trunk, 3, heads));
    int c1 = 0, c2 = 0;
    FN_TRY(width_of(L, heads[0], &c1));
    FN_TRY(width_of(L, heads[1], &c2));
    int c0 = b->heads.cout - c1 - c2;
    FN_TRY(basic_auto(L, &b->b1_3x3, PREFIX(q, "repeat_1.%d.branch1.1", i), c1, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic_auto(L, &b->b2_3x3a, PREFIX(q, "repeat_1.%d.branch2.1", i), c2, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic_auto(L, &b->b2_3x3b, PREFIX(q, "repeat_1.%d.branch2.2", i), b->b2_3x3a.cout, 3, 3, 1, FN_PAD_SAME));
    return up_conv(L, &b->up, PREFIX(q, "repeat_1.%d", i), c0 + b->b1_3x3.cout + b->b2_3x3b.cout, trunk);
}

/* block17 (prefix "repeat_2.<i>") and block8 ("repeat_3.<i>", "block8") share one shape:
 * [b1 head | b0] heads, b1 = two separable convs (kernels k x 1 shaped as given), up conv. */
static fn_status load_two_branch(loader *L, const char *prefix, int trunk, conv *heads, conv *sep_a, conv *sep_b,
                                 int ka_h, int ka_w, conv *up) {
    char p[2][96], q[96];
    const char *names[2] = {PREFIX(p[0], "%s.branch1.0", prefix), PREFIX(p[1], "%s.branch0", prefix)};
    FN_TRY(heads_auto(L, heads, trunk, 2, names));
    int c1 = 0;
    FN_TRY(width_of(L, names[0], &c1));
    FN_TRY(basic_auto(L, sep_a, PREFIX(q, "%s.branch1.1", prefix), c1, ka_h, ka_w, 1, FN_PAD_SAME));
    FN_TRY(basic_auto(L, sep_b, PREFIX(q, "%s.branch1.2", prefix), sep_a->cout, ka_w, ka_h, 1, FN_PAD_SAME));
    return up_conv(L, up, prefix, heads->cout - c1 + sep_b->cout, trunk);
}

static fn_status load_block17(loader *L, block17 *b, int i, int trunk) {
    char p[96];
    return load_two_branch(L, PREFIX(p, "repeat_2.%d", i), trunk, &b->heads, &b->b1_1x7, &b->b1_7x1, 1, 7, &b->up);
}

/* prefix: "repeat_3.<i>" or "block8" */
static fn_status load_block8(loader *L, block8 *b, const char *prefix, float scale, int relu, int trunk) {
    b->scale = scale; b->relu = relu;
    return load_two_branch(L, prefix, trunk, &b->heads, &b->b1_1x3, &b->b1_3x1, 1, 3, &b->up);
}

/* Blocks per stage, counted from the names of their up convs. */
static fn_status count_blocks(const fn_tensor_set *ts, int depth[3]) {
    static const char *const stage[3] = {"repeat_1", "repeat_2", "repeat_3"};
    for (int s = 0; s < 3; s++) {
        char name[64];
        int d = 0;
        while (d <= MAX_BLOCKS && (snprintf(name, sizeof name, "%s.%d.conv2d.weight", stage[s], d), fn_tensor_set_find(ts, name))) d++;
        if (d > MAX_BLOCKS) return fn_fail(FN_ERR_LIMIT, "more than %d %s blocks", MAX_BLOCKS, stage[s]);
        depth[s] = d;
    }
    return FN_OK;
}

static fn_status load_all(irv1 *net, loader *L) {
    FN_TRY(basic_auto(L, &net->c1a, "conv2d_1a", 3, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &net->c2a, "conv2d_2a", net->c1a.cout, 3, 3, 1, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &net->c2b, "conv2d_2b", net->c2a.cout, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic_auto(L, &net->c3b, "conv2d_3b", net->c2b.cout, 1, 1, 1, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &net->c4a, "conv2d_4a", net->c3b.cout, 3, 3, 1, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &net->c4b, "conv2d_4b", net->c4a.cout, 3, 3, 2, FN_PAD_VALID));
    int trunk = net->trunk[0] = net->c4b.cout;
    for (int i = 0; i < net->depth[0]; i++) FN_TRY(load_block35(L, &net->repeat_1[i], i, trunk));

    reduction_a *ra = &net->mixed_6a;
    FN_TRY(basic_auto(L, &ra->b0_3x3s2, "mixed_6a.branch0", trunk, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &ra->b1_1x1, "mixed_6a.branch1.0", trunk, 1, 1, 1, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &ra->b1_3x3, "mixed_6a.branch1.1", ra->b1_1x1.cout, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic_auto(L, &ra->b1_3x3s2, "mixed_6a.branch1.2", ra->b1_3x3.cout, 3, 3, 2, FN_PAD_VALID));
    trunk = net->trunk[1] = ra->b0_3x3s2.cout + ra->b1_3x3s2.cout + trunk; /* + the max-pooled trunk */
    for (int i = 0; i < net->depth[1]; i++) FN_TRY(load_block17(L, &net->repeat_2[i], i, trunk));

    reduction_b *rb = &net->mixed_7a;
    static const char *const rb_heads[3] = {"mixed_7a.branch0.0", "mixed_7a.branch1.0", "mixed_7a.branch2.0"};
    FN_TRY(heads_auto(L, &rb->heads, trunk, 3, rb_heads));
    int h0 = 0, h1 = 0;
    FN_TRY(width_of(L, rb_heads[0], &h0));
    FN_TRY(width_of(L, rb_heads[1], &h1));
    FN_TRY(basic_auto(L, &rb->b0_3x3s2, "mixed_7a.branch0.1", h0, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &rb->b1_3x3s2, "mixed_7a.branch1.1", h1, 3, 3, 2, FN_PAD_VALID));
    FN_TRY(basic_auto(L, &rb->b2_3x3, "mixed_7a.branch2.1", rb->heads.cout - h0 - h1, 3, 3, 1, FN_PAD_SAME));
    FN_TRY(basic_auto(L, &rb->b2_3x3s2, "mixed_7a.branch2.2", rb->b2_3x3.cout, 3, 3, 2, FN_PAD_VALID));
    trunk = net->trunk[2] = rb->b0_3x3s2.cout + rb->b1_3x3s2.cout + rb->b2_3x3s2.cout + trunk;

    char p[32];
    for (int i = 0; i < net->depth[2]; i++)
        FN_TRY(load_block8(L, &net->repeat_3[i], PREFIX(p, "repeat_3.%d", i), 0.20f, 1, trunk));
    FN_TRY(load_block8(L, &net->repeat_3[net->depth[2]], "block8", 1.0f, 0, trunk));

    /* bottleneck: y = bn(x @ W^T), W (dim, features) -> fc_w (features, dim) scaled per column */
    const int features = trunk;
    net->fc_w = take(L, (size_t)features * net->dim);
    net->fc_b = take(L, (size_t)net->dim);
    if (!L->base) return FN_OK;
    int64_t shape[2] = {net->dim, features};
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
        for (int k = 0; k < features; k++) net->fc_w[(size_t)k * net->dim + o] = w[(size_t)o * features + k] * g;
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

/* x (n, H, W, C) in place, C = 256 in the full network (branches of 32) */
static void block35_forward(fwd *f, const block35 *b, float *x, int H, int W) {
    const int C = b->up.cout, hw = b->heads.cout; /* heads: [b1h | b2h | b0] */
    const int cw = hw + b->b1_3x3.cout + b->b2_3x3b.cout; /* [b1h | b2h | b0 | b1 | b2] */
    float *cat = get(f, BUF_CAT, act_size(f, H, W, cw));
    float *t = get(f, BUF_T, act_size(f, H, W, b->b2_3x3a.cout));
    conv_relu(f, &b->heads, cat, cw, x, C, H, W);
    conv_relu(f, &b->b1_3x3, at(cat, hw), cw, cat, cw, H, W);
    conv_relu(f, &b->b2_3x3a, t, b->b2_3x3a.cout, at(cat, b->b1_3x3.cin), cw, H, W);
    conv_relu(f, &b->b2_3x3b, at(cat, hw + b->b1_3x3.cout), cw, t, b->b2_3x3a.cout, H, W);
    conv_ex(f, &b->up, x, C, at(cat, cw - b->up.cin), cw, H, W, 0.17f, 1.0f, FN_ACT_RELU);
}

/* x (n, H, W, C) -> out (n, OH, OW, b0 + b1 + C) = [b0 384 | b1 256 | maxpool 256] */
static void reduction_a_forward(fwd *f, const reduction_a *r, float *out, const float *x, int H, int W, int C) {
    const int ld = r->b0_3x3s2.cout + r->b1_3x3s2.cout + C;
    float *head = get(f, BUF_CAT, act_size(f, H, W, r->b1_1x1.cout));
    float *t = get(f, BUF_T, act_size(f, H, W, r->b1_3x3.cout));
    conv_relu(f, &r->b0_3x3s2, out, ld, x, C, H, W);
    conv_relu(f, &r->b1_1x1, head, r->b1_1x1.cout, x, C, H, W);
    conv_relu(f, &r->b1_3x3, t, r->b1_3x3.cout, head, r->b1_1x1.cout, H, W);
    conv_relu(f, &r->b1_3x3s2, at(out, r->b0_3x3s2.cout), ld, t, r->b1_3x3.cout, H, W);
    maxpool_3x3s2(f, at(out, r->b0_3x3s2.cout + r->b1_3x3s2.cout), ld, x, C, H, W, C);
}

/* block17 / block8: x (n, H, W, C) in place; heads [b1h | b0], b1 = sep_a then sep_b */
static void two_branch_forward(fwd *f, const conv *heads, const conv *sep_a, const conv *sep_b, const conv *up,
                               float scale, fn_act act, float *x, int H, int W) {
    const int C = up->cout, hw = heads->cout, cw = hw + sep_b->cout; /* [b1h | b0 | b1] */
    float *cat = get(f, BUF_CAT, act_size(f, H, W, cw));
    float *t = get(f, BUF_T, act_size(f, H, W, sep_a->cout));
    conv_relu(f, heads, cat, cw, x, C, H, W);
    conv_relu(f, sep_a, t, sep_a->cout, cat, cw, H, W);
    conv_relu(f, sep_b, at(cat, hw), cw, t, sep_a->cout, H, W);
    conv_ex(f, up, x, C, at(cat, cw - up->cin), cw, H, W, scale, 1.0f, act);
}

/* 896 channels, branches of 128 in the full network */
static void block17_forward(fwd *f, const block17 *b, float *x, int H, int W) {
    two_branch_forward(f, &b->heads, &b->b1_1x7, &b->b1_7x1, &b->up, 0.10f, FN_ACT_RELU, x, H, W);
}

/* x (n, H, W, C) -> out (n, OH, OW, b0 + b1 + b2 + C) = [b0 384 | b1 256 | b2 256 | maxpool 896] */
static void reduction_b_forward(fwd *f, const reduction_b *r, float *out, const float *x, int H, int W, int C) {
    const int hw = r->heads.cout; /* [b0h | b1h | b2h] */
    const int ld = r->b0_3x3s2.cout + r->b1_3x3s2.cout + r->b2_3x3s2.cout + C;
    float *heads = get(f, BUF_CAT, act_size(f, H, W, hw));
    float *t = get(f, BUF_T, act_size(f, H, W, r->b2_3x3.cout));
    conv_relu(f, &r->heads, heads, hw, x, C, H, W);
    conv_relu(f, &r->b0_3x3s2, out, ld, heads, hw, H, W);
    conv_relu(f, &r->b1_3x3s2, at(out, r->b0_3x3s2.cout), ld, at(heads, r->b0_3x3s2.cin), hw, H, W);
    conv_relu(f, &r->b2_3x3, t, r->b2_3x3.cout, at(heads, hw - r->b2_3x3.cin), hw, H, W);
    conv_relu(f, &r->b2_3x3s2, at(out, r->b0_3x3s2.cout + r->b1_3x3s2.cout), ld, t, r->b2_3x3.cout, H, W);
    maxpool_3x3s2(f, at(out, ld - C), ld, x, C, H, W, C);
}

/* 1792 channels, branches of 192 in the full network */
static void block8_forward(fwd *f, const block8 *b, float *x, int H, int W) {
    two_branch_forward(f, &b->heads, &b->b1_1x3, &b->b1_3x1, &b->up, b->scale, b->relu ? FN_ACT_RELU : FN_ACT_NONE,
                       x, H, W);
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
    /* stem, ping-ponging between buffers A and B (full widths 32, 32, 64, 80, 192, 256) */
    const int k1 = net->c1a.cout, k2 = net->c2a.cout, k3 = net->c2b.cout, k4 = net->c3b.cout;
    const int k5 = net->c4a.cout, T0 = net->trunk[0], T1 = net->trunk[1], T2 = net->trunk[2];
    int h1 = conv_out(&net->c1a, S, 3), h2 = conv_out(&net->c2a, h1, 3);
    int h3, pad;
    fn_conv_out_size(h2, 3, 2, FN_PAD_VALID, &h3, &pad);
    int h4 = conv_out(&net->c4a, h3, 3), h5 = conv_out(&net->c4b, h4, 3);
    size_t a_need = maxz(maxz(act_size(f, h1, h1, k1), act_size(f, h2, h2, k3)),
                         maxz(act_size(f, h3, h3, k4), act_size(f, h5, h5, T0)));
    size_t b_need = maxz(maxz(act_size(f, h2, h2, k2), act_size(f, h3, h3, k3)), act_size(f, h4, h4, k5));
    float *a = get(f, BUF_A, a_need), *b = get(f, BUF_B, b_need);
    conv_relu(f, &net->c1a, a, k1, x, 3, S, S);
    conv_relu(f, &net->c2a, b, k2, a, k1, h1, h1);
    conv_relu(f, &net->c2b, a, k3, b, k2, h2, h2);
    maxpool_3x3s2(f, b, k3, a, k3, h2, h2, k3);
    conv_relu(f, &net->c3b, a, k4, b, k3, h3, h3);
    conv_relu(f, &net->c4a, b, k5, a, k4, h3, h3);
    conv_relu(f, &net->c4b, a, T0, b, k5, h4, h4);
    copy_tap(f, taps->stem, a, act_size(f, h5, h5, T0));

    for (int i = 0; i < net->depth[0]; i++) block35_forward(f, &net->repeat_1[i], a, h5, h5);
    int h6 = conv_out(&net->mixed_6a.b0_3x3s2, h5, 3);
    b = get(f, BUF_B, act_size(f, h6, h6, T1));
    reduction_a_forward(f, &net->mixed_6a, b, a, h5, h5, T0);
    copy_tap(f, taps->mixed_6a, b, act_size(f, h6, h6, T1));

    for (int i = 0; i < net->depth[1]; i++) block17_forward(f, &net->repeat_2[i], b, h6, h6);
    int h7 = conv_out(&net->mixed_7a.b0_3x3s2, h6, 3);
    a = get(f, BUF_A, act_size(f, h7, h7, T2));
    reduction_b_forward(f, &net->mixed_7a, a, b, h6, h6, T1);
    copy_tap(f, taps->mixed_7a, a, act_size(f, h7, h7, T2));

    for (int i = 0; i <= net->depth[2]; i++) block8_forward(f, &net->repeat_3[i], a, h7, h7);

    /* global average pool (dropout is the identity at inference), bottleneck, L2 norm */
    float *pooled = get(f, BUF_POOL, (size_t)f->n * T2);
    float *fc = get(f, BUF_FC, (size_t)f->n * net->dim);
    if (f->plan) return;
    fn_global_avgpool_forward(pooled, a, f->n, h7 * h7, T2);
    copy_tap(f, taps->pooled, pooled, (size_t)f->n * T2);
    fn_dense_forward(fc, pooled, net->fc_w, net->fc_b, f->n, T2, net->dim);
    fn_l2norm_forward(out, fc, f->n, net->dim, 1e-10f);
}

/* Plans the buffers for n images of S x S and grows the arena when needed. */
static fn_status arena_prepare(irv1 *net, fwd *f, int n, int S, float **arena, size_t *arena_floats) {
    memset(f, 0, sizeof *f);
    f->net = net; f->n = n; f->plan = 1;
    network_forward(f, NULL, S, NULL, NULL);
    size_t total = 0, off[N_BUF];
    for (int i = 0; i < N_BUF; i++) {
        off[i] = total;
        size_t rounded = (f->need[i] + 15) & ~(size_t)15;
        if (!fn_add_size(total, rounded, &total)) return fn_fail(FN_ERR_LIMIT, "activation arena too large");
    }
    if (total > *arena_floats) {
        size_t bytes;
        if (!fn_mul_size(total, sizeof(float), &bytes)) return fn_fail(FN_ERR_LIMIT, "activation arena too large");
        float *p = fn_malloc(bytes);
        if (!p) return fn_fail(FN_ERR_NOMEM, "out of memory for the activation arena (%zu MiB)", bytes >> 20);
        fn_free(*arena);
        *arena = p;
        *arena_floats = total;
    }
    for (int i = 0; i < N_BUF; i++) f->buf[i] = *arena + off[i];
    f->plan = 0;
    return FN_OK;
}

static void offset_taps(fn_irv1_taps *dst, const fn_irv1_taps *src, fn_irv1_sizes z, const int trunk[3], long i0) {
    dst->stem = src->stem ? src->stem + i0 * z.stem * z.stem * trunk[0] : NULL;
    dst->mixed_6a = src->mixed_6a ? src->mixed_6a + i0 * z.mixed_6a * z.mixed_6a * trunk[1] : NULL;
    dst->mixed_7a = src->mixed_7a ? src->mixed_7a + i0 * z.mixed_7a * z.mixed_7a * trunk[2] : NULL;
    dst->pooled = src->pooled ? src->pooled + i0 * trunk[2] : NULL;
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
    irv1 *net = j->net;
    /* a free arena of the model, or (more workers at once than arenas) one of our own */
    int slot = -1;
    pthread_mutex_lock(&net->arena_mu);
    for (int k = 0; k < FN_MAX_WORKERS && slot < 0; k++)
        if (!net->arena_busy[k]) { slot = k; net->arena_busy[k] = 1; }
    pthread_mutex_unlock(&net->arena_mu);
    float *own = NULL;
    size_t own_floats = 0;
    float **arena = slot >= 0 ? &net->arena[slot] : &own;
    size_t *arena_floats = slot >= 0 ? &net->arena_floats[slot] : &own_floats;
    fn_status s = FN_OK;
    for (int c0 = i0; c0 < i1 && s == FN_OK; c0 += MAX_BATCH) {
        int nb = i1 - c0 < MAX_BATCH ? i1 - c0 : MAX_BATCH;
        fwd f;
        s = arena_prepare(j->net, &f, nb, j->size, arena, arena_floats);
        if (s != FN_OK) break;
        fn_irv1_taps t = {0};
        if (j->taps) offset_taps(&t, j->taps, j->z, j->net->trunk, c0);
        network_forward(&f, j->x + (size_t)c0 * j->size * j->size * 3, j->size,
                        j->out + (size_t)c0 * j->net->dim, &t);
    }
    fn_free(own);
    if (slot >= 0) {
        pthread_mutex_lock(&net->arena_mu);
        net->arena_busy[slot] = 0;
        pthread_mutex_unlock(&net->arena_mu);
    }
    return s;
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

static void irv1_free(irv1 *net) {
    fn_free(net->params);
    for (int k = 0; k < FN_MAX_WORKERS; k++) fn_free(net->arena[k]);
    pthread_mutex_destroy(&net->arena_mu);
    free(net->repeat_1); free(net->repeat_2); free(net->repeat_3);
    free(net);
}

static void irv1_destroy(struct fn_model *m) {
    irv1 *net = m->impl;
    if (!net) return;
    irv1_free(net);
    m->impl = NULL;
}

fn_status fn_irv1_model_create(const fn_tensor_set *ts, struct fn_model *m) {
    const fn_tensor *ll = fn_tensor_set_find(ts, "last_linear.weight");
    if (!ll) return fn_fail(FN_ERR_MISSING, "tensor 'last_linear.weight' is missing");
    if (ll->ndim != 2 || ll->shape[0] < 1 || ll->shape[0] > 65536 || ll->shape[1] < 1)
        return fn_fail(FN_ERR_SHAPE, "tensor 'last_linear.weight' must be (dim, features)");
    /* the input size a reduced export was trained at (facenet-c's train writes it) */
    int input_size = 160;
    char v[64];
    if (fn_tensor_set_meta(ts, "image_size", v, sizeof v)) {
        char *end;
        long x = strtol(v, &end, 10);
        if (*end || end == v || x < MIN_SIZE || x > MAX_SIZE || fn_irv1_tap_sizes((int)x).mixed_7a < 1)
            return fn_fail(FN_ERR_FORMAT, "metadata image_size '%s' is not an input size between %d and %d", v, MIN_SIZE, MAX_SIZE);
        input_size = (int)x;
    }
    fn_standardize std = FN_STD_FIXED;
    if (fn_tensor_set_meta(ts, "standardize", v, sizeof v) && !strcmp(v, "prewhiten")) std = FN_STD_PREWHITEN;
    irv1 *net = calloc(1, sizeof *net);
    if (!net) return fn_fail(FN_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&net->arena_mu, NULL);
    net->dim = (int)ll->shape[0];
    fn_status s = count_blocks(ts, net->depth);
    if (s == FN_OK) {
        net->repeat_1 = calloc((size_t)net->depth[0] + 1, sizeof *net->repeat_1);
        net->repeat_2 = calloc((size_t)net->depth[1] + 1, sizeof *net->repeat_2);
        net->repeat_3 = calloc((size_t)net->depth[2] + 1, sizeof *net->repeat_3);
        if (!net->repeat_1 || !net->repeat_2 || !net->repeat_3) s = fn_fail(FN_ERR_NOMEM, "out of memory");
    }
    loader L = {ts, NULL, 0};
    if (s == FN_OK) s = load_all(net, &L); /* counting pass */
    if (s == FN_OK) {
        net->params = fn_malloc(sizeof(float) * L.used);
        if (!net->params) s = fn_fail(FN_ERR_NOMEM, "out of memory for %zu parameters", L.used);
    }
    if (s == FN_OK) {
        L.base = net->params; L.used = 0;
        s = load_all(net, &L);
    }
    if (s != FN_OK) {
        irv1_free(net);
        return s;
    }
    m->arch = IRV1_ARCH;
    m->dim = net->dim;
    m->input_size = input_size;
    m->crop = FN_CROP_MARGIN;
    m->crop_margin = 44;
    m->standardize = std;
    m->impl = net;
    m->embed = irv1_embed;
    m->destroy = irv1_destroy;
    return FN_OK;
}
